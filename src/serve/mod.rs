//! `bulletin serve`: the project and an address to listen on in, the pages its messages link
//! to out, each in the reader's language. `/u/TOKEN` unsubscribes (a page with one button, or
//! a mail program's RFC 8058 one-click POST) and lets the reader take it back; `/p/TOKEN` is
//! the reader's preference page (languages and topics); `/subscribe` is the double opt-in
//! sign-up form and `/confirm/TOKEN` the link its confirmation mail carries. A GET changes
//! nothing (mail scanners fetch links); a token that does not open gets a 400 page and changes
//! nothing. Meant to run behind the institute's reverse proxy; `GET /healthz` is for it. Every
//! answer carries a content type and refuses to be framed; `net` holds the connection limits,
//! `form` reads the bodies real clients send, `pages` the templates and strings, and the
//! journal's `LiveJournal` keeps writes going to the journal the path names now.

mod approve;
mod directory;
mod form;
mod net;
mod pages;
mod preferences;
mod signup;
mod unsubscribe;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::Config;
use crate::journal::Journal;
use crate::token::Secrets;
use crate::{Error, Result};

/// Bodies larger than this are refused: a one-click POST is 26 bytes, the sign-up form's a few
/// hundred.
const MAX_BODY: usize = 4 * 1024;
/// A request (headers and body) must arrive within this, or it is cut off.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct App {
    config: Config,
    secrets: Secrets,
    journal: Mutex<crate::journal::LiveJournal>,
    pages: pages::Pages,
    directory: directory::Directory,
    /// The sign-up form's relay and limits, when `[signup]` offers it and the relay can work.
    signup: Option<signup::Signup>,
}

/// Serves until the process is stopped. `ready` is told the address actually bound (useful with
/// port 0) and whether the sign-up form is open. `new_journal` accepts a journal made anew
/// where the project has sent before (as `send --new-journal` does).
pub fn run(
    config: &Config,
    store: crate::journal::Store,
    listen: SocketAddr,
    new_journal: bool,
    ready: impl FnOnce(SocketAddr, bool),
) -> Result<()> {
    let secrets = config.token_secrets().map_err(|e| {
        Error::Serve(format!(
            "cannot read unsubscribe tokens: {e}. `serve` needs the secret the links were signed with"
        ))
    })?;
    store.check_continuity(new_journal)?;
    // Made if it is not there yet (a project that has not sent), and opened now, so that a
    // journal that cannot be used stops the server at once.
    drop(store.journal()?);
    let mut journal = store.into_live();
    journal.write(|_| Ok(()))?;
    let pages = pages::Pages::load(config)?;
    let signup = signup::Signup::new(config);
    let signup_open = signup.is_some();
    let app = Arc::new(App {
        config: config.clone(),
        secrets,
        journal: Mutex::new(journal),
        pages,
        directory: directory::Directory::default(),
        signup,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/u/{token}", get(unsubscribe::ask).post(unsubscribe::post))
        .route("/p/{token}", get(preferences::show).post(preferences::save))
        .route("/subscribe", get(signup::form).post(signup::submit))
        .route("/confirm/{token}", get(signup::ask).post(signup::confirm))
        .route("/approve/{token}", get(approve::ask).post(approve::approve))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(app);
    let router = protect(router);
    let limits = net::Limits {
        max_connections: config.serve.max_connections,
        header_timeout: Duration::from_secs_f64(config.serve.header_timeout_secs),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Serve(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Serve(format!("cannot listen on {listen}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Serve(e.to_string()))?;
        ready(bound, signup_open);
        net::serve(listener, router, limits)
            .await
            .map_err(|e| Error::Serve(format!("the server stopped: {e}")))
    })
}

/// Headers every answer carries, errors included: a content type (plain text unless the
/// handler gave one), no framing by other sites (the button must not be clickjacked), no
/// guessing of types, no caching, and no Referer to carry the token elsewhere.
fn protect(router: Router) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer as Set;
    let fixed = |v: &'static str| HeaderValue::from_static(v);
    router
        .layer(Set::if_not_present(
            header::CONTENT_TYPE,
            fixed("text/plain; charset=utf-8"),
        ))
        .layer(Set::overriding(header::X_FRAME_OPTIONS, fixed("DENY")))
        .layer(Set::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            fixed("frame-ancestors 'none'"),
        ))
        .layer(Set::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            fixed("nosniff"),
        ))
        .layer(Set::overriding(
            header::REFERRER_POLICY,
            fixed("no-referrer"),
        ))
        .layer(Set::if_not_present(
            header::CACHE_CONTROL,
            fixed("no-store"),
        ))
}

/// For the proxy or the supervisor: healthy only when an unsubscribe could be recorded now.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let present = app.journal.lock().map(|j| j.present()).unwrap_or(false);
    if present {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the journal is missing: unsubscribes cannot be recorded until it is restored\n",
        )
            .into_response()
    }
}

/// The strings of the pages (and of the confirmation mail) in `lang`, as `serve` shows them.
pub fn page_strings(config: &Config, lang: &str) -> Result<serde_json::Value> {
    Ok(pages::Pages::load(config)?.strings(lang).clone())
}

/// Any other address: a page saying so, in the browser's language.
async fn not_found(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let lang = language_of(&app, &uri, None, Some(&headers));
    app.pages.message(
        StatusCode::NOT_FOUND,
        &lang,
        uri.path(),
        "not_found",
        serde_json::json!({}),
    )
}

/// The language to answer a request in: `?lang=`, else the token's language, else (when the
/// request's headers are given) the browser's `Accept-Language`.
fn language_of(
    app: &App,
    uri: &Uri,
    token: Option<&str>,
    headers: Option<&axum::http::HeaderMap>,
) -> String {
    let q = query_lang(uri);
    app.pages.language(pages::Asked {
        query: q.as_deref(),
        token,
        accept: headers.and_then(unsubscribe::accept),
    })
}

/// The value of `?lang=` in a request's address, if it has one.
fn query_lang(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned())
}

/// Runs `f` on the journal the path names now, off the async threads.
async fn with_journal<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnMut(&Journal) -> Result<T> + Send + 'static,
) -> std::result::Result<T, String> {
    let app = app.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut j = app
            .journal
            .lock()
            .map_err(|_| "the journal lock is poisoned".to_string())?;
        j.write(f).map_err(|e| e.to_string())
    })
    .await;
    match done {
        Ok(r) => r,
        Err(e) => Err(e.to_string()),
    }
}

/// A log line on stdout; a closed stdout (a supervisor gone) must not stop the server.
fn log(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stdout(),
        "{} {}",
        crate::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
        crate::term::clean_lines(line)
    );
}

/// The answer when the journal could not take a change: the client retries, and is never told
/// "done" for a change that did not land.
fn not_recorded(e: &str) -> Response {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "cannot record a change: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the change could not be recorded; please try again\n",
    )
        .into_response()
}

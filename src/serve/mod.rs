//! `bulletin serve`: the project and an address to listen on in, the endpoint that unsubscribe
//! links point to out. `GET /u/TOKEN` shows a page in the recipient's language with one button;
//! `POST /u/TOKEN` (the button, or a mail program's RFC 8058 one-click POST) puts the address on
//! the suppression list at once. A GET changes nothing (mail scanners fetch links); a token that
//! does not open gets a 400 page and changes nothing. Meant to run behind the institute's
//! reverse proxy; `GET /healthz` is for it. Every answer carries a content type and refuses to
//! be framed; `net` holds the connection limits, `form` reads the bodies real clients send, and
//! the journal's `LiveJournal` keeps writes going to the journal the path names now.

mod form;
mod net;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::config::Config;
use crate::journal::Suppression;
use crate::token::Secrets;
use crate::{Error, Result};

/// Bodies larger than this are refused: a one-click POST is 26 bytes, the page's form 11.
const MAX_BODY: usize = 4 * 1024;
/// A request (headers and body) must arrive within this, or it is cut off.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The page's strings when a language's i18n file has no `[unsubscribe_page]` table.
const DEFAULT_PAGE: &str = r#"
title = "Unsubscribe"
question = "Do you want to stop receiving these newsletters?"
button = "Unsubscribe"
done_title = "You are unsubscribed"
done = "You will receive no more newsletters from us at this address."
invalid_title = "This link does not work"
invalid = "It may have been cut short when it was copied. To unsubscribe, reply to one of our newsletters."
"#;

struct App {
    secrets: Secrets,
    journal: Mutex<crate::journal::LiveJournal>,
    tera: tera::Tera,
    /// Per language, the page's strings.
    pages: BTreeMap<String, Value>,
    default_lang: String,
    /// Per language, the sender's name, organisation and postal address.
    senders: BTreeMap<String, Value>,
}

/// Serves until the process is stopped. `ready` is told the address actually bound (useful with
/// port 0).
pub fn run(
    config: &Config,
    store: crate::journal::Store,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let secrets = config.token_secrets().map_err(|e| {
        Error::Serve(format!(
            "cannot read unsubscribe tokens: {e}. `serve` needs the secret the links were signed with"
        ))
    })?;
    store.check_continuity(false)?;
    // Made if it is not there yet (a project that has not sent), and opened now, so that a
    // journal that cannot be used stops the server at once.
    drop(store.journal()?);
    let mut journal = store.into_live();
    journal.write(|_| Ok(()))?;
    let template = crate::limits::read_text_capped(
        &config.templates_dir().join("unsubscribe.html"),
        crate::limits::TEXT_FILE,
    )
    .unwrap_or_else(|_| include_str!("page.html").to_string());
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_template("page.html", &template).map_err(|e| {
        Error::Template(format!(
            "templates/unsubscribe.html: {}",
            crate::render::tera_error_text(&e)
        ))
    })?;
    let default_strings: toml::Table = DEFAULT_PAGE.parse().expect("built-in strings");
    let mut pages = BTreeMap::new();
    let mut senders = BTreeMap::new();
    let s = &config.sender;
    for lang in &config.languages.supported {
        // The language's strings as messages read them (`render`), set as it sets text.
        let strings = crate::render::strings(config, lang);
        let page = match strings.get("unsubscribe_page") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => serde_json::to_value(&default_strings).unwrap_or(Value::Null),
        };
        pages.insert(lang.clone(), page);
        // The organisation and its address as the page's language writes them.
        let own = |key: &str, fallback: &str| {
            strings
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or(fallback)
                .to_string()
        };
        senders.insert(
            lang.clone(),
            json!({
                "name": s.name,
                "organisation": own("organisation", &s.organisation),
                "postal_address": own("postal_address", &s.postal_address),
            }),
        );
    }
    let app = Arc::new(App {
        secrets,
        journal: Mutex::new(journal),
        tera,
        pages,
        default_lang: config.languages.default.clone(),
        senders,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/u/{token}", get(ask).post(unsubscribe))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
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
        ready(bound);
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

/// The language to answer in: the one the recipient's message led with (in the token), if the
/// project still has it.
fn language_of(app: &App, lang: &str) -> String {
    if app.pages.contains_key(lang) {
        lang.to_string()
    } else {
        app.default_lang.clone()
    }
}

fn page(app: &App, status: StatusCode, lang: &str, state: &str, action: &str) -> Response {
    let mut ctx = tera::Context::new();
    ctx.insert("lang", lang);
    ctx.insert("state", state);
    ctx.insert("action", action);
    ctx.insert("p", &app.pages[lang]);
    ctx.insert("sender", &app.senders[lang]);
    match app.tera.render("page.html", &ctx) {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the page template failed: {}\n",
                crate::render::tera_error_text(&e)
            ),
        )
            .into_response(),
    }
}

fn invalid(app: &App) -> Response {
    page(
        app,
        StatusCode::BAD_REQUEST,
        &app.default_lang.clone(),
        "invalid",
        "",
    )
}

async fn ask(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let Some(named) = app.secrets.open(&token) else {
        return invalid(&app);
    };
    let lang = language_of(&app, &named.lang);
    page(&app, StatusCode::OK, &lang, "ask", &format!("/u/{token}"))
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let Some(named) = app.secrets.open(&token) else {
        return invalid(&app);
    };
    let (campaign, email) = (named.campaign, named.email);
    let lang = language_of(&app, &named.lang);
    let fields = match form::fields(req, MAX_BODY).await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let field = |k: &str, v: &str| fields.iter().any(|(a, b)| a == k && b == v);
    // RFC 8058's one-click (a mail program), or the page's own button.
    let one_click = field("List-Unsubscribe", "One-Click");
    let from_page = field("confirm", "yes");
    if !one_click && !from_page {
        return (
            StatusCode::BAD_REQUEST,
            "expected List-Unsubscribe=One-Click (RFC 8058) or the page's form\n",
        )
            .into_response();
    }
    let app2 = app.clone();
    let (c, e) = (campaign.clone(), email.clone());
    let done = tokio::task::spawn_blocking(move || {
        let mut j = app2
            .journal
            .lock()
            .map_err(|_| "the journal lock is poisoned".to_string())?;
        let s = Suppression {
            email: e.clone(),
            reason: "unsubscribed".into(),
            source: "link".into(),
            campaign: Some(c.clone()),
            at_ms: crate::clock::now_ms(),
        };
        let new = j.write(|j| j.suppress(&s)).map_err(|e| e.to_string())?;
        Ok::<_, String>(new)
    })
    .await;
    match done {
        Ok(Ok(new)) => {
            // A log line; a closed stdout (a supervisor gone) must not stop the server.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stdout(),
                "{} {} {} from {campaign} ({})",
                crate::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
                if new {
                    "unsubscribed"
                } else {
                    "already unsubscribed:"
                },
                crate::compose::recipient_key(&campaign, &email),
                if one_click { "one-click" } else { "page" }
            );
            if one_click {
                (StatusCode::OK, "unsubscribed\n").into_response()
            } else {
                page(&app, StatusCode::OK, &lang, "done", "")
            }
        }
        Ok(Err(e)) => not_recorded(&e),
        Err(e) => not_recorded(&e.to_string()),
    }
}

fn not_recorded(e: &str) -> Response {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "cannot record an unsubscribe: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the unsubscribe could not be recorded; please try again\n",
    )
        .into_response()
}

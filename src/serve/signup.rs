//! The double opt-in sign-up: `GET /subscribe` shows the form (email, name, language,
//! interests) in the reader's language; its POST mails a confirmation link through the
//! project's relay, in the chosen language; `/confirm/TOKEN` shows a button whose POST records
//! the consent. Nothing of a stranger's form is kept before they confirm: the link's token
//! carries the request, sealed and dated.
//!
//! The form is public, so it is a way to make bulletin mail anyone. It answers the same
//! whatever the address (known, subscribed, suppressed, over its limit: no way to learn who is
//! on the list), and mails at most `per_address_per_day` confirmations to one address,
//! `per_client_per_day` for one client, `max_per_day` in all, within the relay's caps, one at
//! a time. A filled honeypot field sends nothing.

use std::sync::Arc;

use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::net::Peer;
use super::pages::Asked;
use super::unsubscribe::{accept, invalid};
use super::{form, language_of, log, not_recorded, query_lang, with_journal, App, MAX_BODY};
use crate::config::Config;
use crate::journal::{Confirmed, Subscriber};
use crate::token::SignupRequest;

const DAY_MS: i64 = 24 * 3600 * 1000;
const HOUR_MS: i64 = 3600 * 1000;
/// Confirmation mails may take one part in this many of the relay's hourly and daily caps.
const SHARE_OF_CAPS: usize = 10;

/// The form's relay, key and limits, when it is offered.
pub(super) struct Signup {
    limits: crate::config::Signup,
    settings: Arc<crate::send::client::Settings>,
    relay: String,
    signer: Option<Arc<crate::sign::Signer>>,
    /// One confirmation mail at a time: a flood queues here, it does not open connections.
    sending: Arc<tokio::sync::Semaphore>,
}

impl Signup {
    /// The form's set-up, or `None` (said on stderr) when `[signup]` is absent or its relay
    /// cannot work: the unsubscribe links must be answered all the same.
    pub fn new(config: &Config) -> Option<Signup> {
        let limits = config.signup.clone()?;
        let gate = crate::send::gate::check(config, crate::send::gate::Asked::default());
        let relays = match gate.relays {
            Some(r) if gate.problems.is_empty() => r,
            _ => {
                for p in &gate.problems {
                    eprintln!("the sign-up form is closed: {p}");
                }
                return None;
            }
        };
        let relay = &relays.list[0];
        let signer = crate::project::signer(config).and_then(|r| r.ok().map(Arc::new));
        Some(Signup {
            limits,
            settings: relay.settings.clone(),
            relay: relay.name.to_string(),
            signer,
            sending: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }
}

/// The form's language: the switch's, a hidden field's (the form it was sent from), the
/// browser's.
fn form_language(app: &App, uri: &Uri, headers: &HeaderMap, field: Option<&str>) -> String {
    let q = query_lang(uri);
    app.pages.language(Asked {
        query: q.as_deref().or(field),
        token: None,
        accept: accept(headers),
    })
}

fn form_page(
    app: &App,
    status: StatusCode,
    lang: &str,
    uri: &Uri,
    values: Value,
    error: &str,
) -> Response {
    let chosen_lang = values["language"].as_str().unwrap_or(lang).to_string();
    let topics: Vec<String> = values["interests"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    app.pages.render(
        status,
        lang,
        "subscribe.html",
        uri.path(),
        json!({
            "action": uri.path(),
            "values": values,
            "error": error,
            "language_options": app.pages.language_options(lang, &chosen_lang),
            "topics": app.pages.topics(lang, &topics),
        }),
    )
}

pub(super) async fn form(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = form_language(&app, &uri, &headers, None);
    if app.signup.is_none() {
        return closed(&app, &lang, &uri);
    }
    form_page(
        &app,
        StatusCode::OK,
        &lang,
        &uri,
        json!({"email": "", "name": "", "language": lang}),
        "",
    )
}

fn closed(app: &App, lang: &str, uri: &Uri) -> Response {
    app.pages.message(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        uri.path(),
        "signup_closed",
        json!({}),
    )
}

/// The client a request comes from: the proxy's header when the config names one (its last
/// address, the one the proxy itself added), else the connection's.
fn client(app: &App, headers: &HeaderMap, peer: Option<Peer>) -> String {
    let from_header = app
        .signup
        .as_ref()
        .and_then(|s| s.limits.client_header.as_deref())
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let ip = from_header
        .or_else(|| peer.map(|p| p.0.ip().to_string()))
        .unwrap_or_else(|| "unknown".into());
    network_of(&ip)
}

/// The client a limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber line
/// gets a whole /64, so counting each address would count nothing).
fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        Ok(v4) => v4.to_string(),
        Err(_) => ip.chars().take(64).collect(),
    }
}

/// What the limits allow for one more confirmation mail.
enum Allowed {
    Send,
    /// Not sent, and the answer says nothing of it (the address's limit, the day's, the caps).
    Quietly(&'static str),
    /// The client asked too often: told so (it says nothing about any address).
    Busy,
}

pub(super) async fn submit(
    State(app): State<Arc<App>>,
    peer: Option<Extension<Peer>>,
    req: Request,
) -> Response {
    let form::Posted {
        uri,
        headers,
        fields,
    } = match form::posted(req, MAX_BODY).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let lang = form_language(
        &app,
        &uri,
        &headers,
        Some(get("form_lang")).filter(|s| !s.is_empty()),
    );
    let Some(signup) = app.signup.as_ref() else {
        return closed(&app, &lang, &uri);
    };
    let client = client(&app, &headers, peer.map(|Extension(p)| p));
    let chosen = get("language").trim().to_ascii_lowercase();
    let (languages, interests) = choices(&app, &lang, &chosen, &fields);
    let name: String = crate::text::one_line(get("name"))
        .trim()
        .chars()
        .take(256)
        .collect();
    let values =
        json!({"email": get("email"), "name": name, "language": chosen, "interests": interests});
    let smtputf8 = app.config.smtp.as_ref().is_some_and(|s| s.smtputf8);
    let email = match crate::address::check(get("email")) {
        Ok(e) if smtputf8 || crate::address::wire(&e).is_ascii() => e,
        found => {
            let why = if found.is_ok() {
                "signup_utf8"
            } else {
                "signup_bad_email"
            };
            let error = app.pages.text(&lang, why);
            return form_page(
                &app,
                StatusCode::UNPROCESSABLE_ENTITY,
                &lang,
                &uri,
                values,
                &error,
            );
        }
    };
    let sent_page = || {
        app.pages
            .message(StatusCode::OK, &lang, uri.path(), "signup_sent", json!({}))
    };
    // A robot fills every field; a person never sees this one.
    if !get("website").is_empty() {
        log(&format!(
            "sign-up ignored (the hidden field was filled) from {client}"
        ));
        return sent_page();
    }
    let now = crate::clock::now_ms();
    let allowed = allowed(&app, signup, &email, &client, now).await;
    let key = crate::compose::recipient_key("signup", &email);
    match allowed {
        Err(e) => not_recorded(&e),
        Ok(Allowed::Busy) => {
            log(&format!("sign-up refused: {client} asked too often today"));
            app.pages.message(
                StatusCode::TOO_MANY_REQUESTS,
                &lang,
                uri.path(),
                "signup_busy",
                json!({}),
            )
        }
        Ok(Allowed::Quietly(why)) => {
            log(&format!("sign-up of {key} not mailed: {why}"));
            sent_page()
        }
        Ok(Allowed::Send) => {
            let request = SignupRequest {
                email,
                name,
                languages,
                interests,
                at_ms: now,
                form_version: app.pages.form_version(&lang).to_string(),
            };
            mail_confirmation(&app, request, key);
            sent_page()
        }
    }
}

/// The languages and topics a sign-up asks for: `all`, one the project writes in, else the
/// form's own language; and the project's topics among those ticked.
fn choices(
    app: &App,
    lang: &str,
    chosen: &str,
    fields: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let supported = &app.pages.supported;
    let languages: Vec<String> = if chosen == "all" && supported.len() > 1 {
        let mut all = vec![lang.to_string()];
        all.extend(supported.iter().filter(|l| **l != lang).cloned());
        all
    } else if supported.iter().any(|l| l == chosen) {
        vec![chosen.to_string()]
    } else {
        vec![lang.to_string()]
    };
    let mut interests: Vec<String> = Vec::new();
    for (k, v) in fields {
        if k == "interests" && app.config.interests.contains(v) && !interests.contains(v) {
            interests.push(v.clone());
        }
    }
    (languages, interests)
}

/// What the limits allow for one more sign-up from `client` for `email`, decided and noted in
/// one go under the journal's lock, so that concurrent requests cannot both slip under a limit.
async fn allowed(
    app: &Arc<App>,
    signup: &Signup,
    email: &str,
    client: &str,
    now: i64,
) -> Result<Allowed, String> {
    let (email, client, relay) = (email.to_string(), client.to_string(), signup.relay.clone());
    let limits = signup.limits.clone();
    let rate = app.config.rate.clone();
    with_journal(app, move |j| {
        let counts = j.signup_counts(&email, &client, now - DAY_MS, now - HOUR_MS)?;
        let handed = j.handovers_since(now - DAY_MS)?;
        let last_hour = handed.iter().filter(|&&t| t >= now - HOUR_MS).count();
        // Confirmation mails count against the relay's caps, and may take a tenth of them:
        // a flood of sign-ups must not stall the team's campaigns.
        let share = |cap: u32| (cap as usize / SHARE_OF_CAPS).max(1);
        let capped = rate
            .per_day
            .is_some_and(|d| handed.len() >= d as usize || counts.all >= share(d))
            || rate
                .per_hour
                .is_some_and(|h| last_hour >= h as usize || counts.all_last_hour >= share(h));
        let allowed = if counts.from_client >= limits.per_client_per_day as usize {
            Allowed::Busy
        } else if counts.to_address >= limits.per_address_per_day as usize {
            Allowed::Quietly("this address had its confirmations for the day")
        } else if counts.all >= limits.max_per_day as usize {
            Allowed::Quietly("the day's confirmations are all sent ([signup] max_per_day)")
        } else if capped {
            Allowed::Quietly(
                "sign-ups have had their tenth of the relay's caps ([rate] per_hour or per_day)",
            )
        } else {
            Allowed::Send
        };
        if !matches!(allowed, Allowed::Busy) {
            let mailed = matches!(allowed, Allowed::Send).then_some(relay.as_str());
            j.record_signup(&email, &client, mailed, now)?;
        }
        Ok(allowed)
    })
    .await
}

/// Sends the confirmation mail in the background, so that the answer takes as long whatever
/// happens to it; the outcome goes to the log.
fn mail_confirmation(app: &Arc<App>, request: SignupRequest, key: String) {
    let app = app.clone();
    tokio::spawn(async move {
        let Some(signup) = app.signup.as_ref() else {
            return;
        };
        let Ok(_one) = signup.sending.clone().acquire_owned().await else {
            return;
        };
        let lang = request.languages[0].clone();
        let token = app.secrets.signup_token(&request);
        let link = signup.limits.confirm_url.replace("{token}", &token);
        let strings = app.pages.strings(&lang).clone();
        let nonce = format!("{:016x}", fastrand::u64(..));
        let mail = crate::compose::confirmation_mail(
            &app.config,
            &strings,
            &request,
            &link,
            signup.limits.expires_days,
            crate::clock::now(),
            &nonce,
        );
        let outcome = match mail {
            Ok((envelope_from, mut bytes)) => {
                if let Some(s) = &signup.signer {
                    bytes = s.sign(bytes, crate::clock::now_ms() as u64 / 1000);
                }
                transmit(signup, &envelope_from, &request.email, &bytes).await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(reply) => log(&format!(
                "confirmation mailed for the sign-up of {key}: {reply}"
            )),
            Err(e) => log(&format!(
                "confirmation for the sign-up of {key} not mailed: {e}"
            )),
        }
    });
}

async fn transmit(signup: &Signup, from: &str, to: &str, bytes: &[u8]) -> Result<String, String> {
    let mut client = crate::send::client::Client::connect(signup.settings.clone())
        .await
        .map_err(|e| e.to_string())?;
    let wire = crate::address::wire(to);
    client
        .begin(from, &wire, !wire.is_ascii())
        .await
        .map_err(|e| e.to_string())?;
    let reply = client.finish(bytes).await.map_err(|e| e.to_string())?;
    client.quit().await;
    Ok(reply)
}

/// The sign-up a confirmation token carries, or the page to show instead: invalid (400),
/// expired (410).
fn opened(
    app: &App,
    token: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(SignupRequest, String), Box<Response>> {
    let Some(r) = app.secrets.open_signup(token) else {
        return Err(Box::new(invalid(app, uri, headers)));
    };
    let lang = language_of(app, uri, r.languages.first().map(String::as_str), None);
    let days = app.signup.as_ref().map_or(7, |s| s.limits.expires_days) as i64;
    let age = crate::clock::now_ms() - r.at_ms;
    if !(0..=days * DAY_MS).contains(&age) {
        return Err(Box::new(app.pages.message(
            StatusCode::GONE,
            &lang,
            uri.path(),
            "expired",
            json!({
                "link": format!("/subscribe?lang={lang}"),
                "link_text": app.pages.text(&lang, "signup_title"),
            }),
        )));
    }
    Ok((r, lang))
}

/// When a sign-up was confirmed already (this one or a later one), when that was.
/// When this sign-up (or a later one) was confirmed already: the text to show, which says so,
/// or that the address has left since.
async fn already(app: &Arc<App>, r: &SignupRequest) -> Result<Option<&'static str>, String> {
    let (email, at) = (r.email.clone(), r.at_ms);
    with_journal(app, move |j| {
        let done = j
            .subscriber(&email)?
            .is_some_and(|s| s.requested_at_ms >= at);
        Ok(match (done, j.suppression(&email)?.is_some()) {
            (false, _) => None,
            (true, false) => Some("confirmed_already"),
            (true, true) => Some("confirmed_left"),
        })
    })
    .await
}

fn done(app: &App, lang: &str, uri: &Uri, r: &SignupRequest, text: &str) -> Response {
    let token = app.secrets.token("signup", &r.email, lang);
    let preferences_url = crate::compose::Unsubscribe::new(&app.config, "signup", &token)
        .preferences
        .unwrap_or_default();
    app.pages.message(
        StatusCode::OK,
        lang,
        uri.path(),
        "confirmed",
        json!({
            "text": app.pages.text(lang, text),
            "email": r.email,
            "preferences_url": preferences_url,
            "manage": app.pages.text(lang, "manage_now"),
        }),
    )
}

pub(super) async fn ask(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (r, lang) = match opened(&app, &token, &uri, &headers) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    match already(&app, &r).await {
        Ok(Some(text)) => done(&app, &lang, &uri, &r, text),
        Ok(None) => app.pages.render(
            StatusCode::OK,
            &lang,
            "confirm.html",
            uri.path(),
            json!({"action": format!("{}?lang={lang}", uri.path()), "email": r.email}),
        ),
        Err(e) => not_recorded(&e),
    }
}

pub(super) async fn confirm(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (uri, headers) = match form::posted(req, MAX_BODY).await {
        Ok(p) => (p.uri, p.headers),
        Err(refused) => return refused,
    };
    let (r, lang) = match opened(&app, &token, &uri, &headers) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let s = Subscriber {
        email: r.email.clone(),
        name: r.name.clone(),
        languages: r.languages.clone(),
        interests: r.interests.clone(),
        requested_at_ms: r.at_ms,
        confirmed_at_ms: crate::clock::now_ms(),
        form_version: r.form_version.clone(),
    };
    let key = crate::compose::recipient_key("signup", &r.email);
    match with_journal(&app, move |j| j.confirm_signup(&s)).await {
        Ok(Confirmed::AlreadyDone { .. }) => match already(&app, &r).await {
            Ok(Some(text)) => done(&app, &lang, &uri, &r, text),
            _ => done(&app, &lang, &uri, &r, "confirmed_already"),
        },
        Ok(Confirmed::New { lifted } | Confirmed::Renewed { lifted }) => {
            log(&format!("sign-up confirmed: {key}"));
            if let Some(l) = lifted {
                log(&format!(
                    "{key} taken off the suppression list (it was {} by {} on {}): the reader signed up again and confirmed",
                    l.reason,
                    l.source,
                    crate::clock::from_ms(l.at_ms).format("%Y-%m-%d")
                ));
            }
            done(&app, &lang, &uri, &r, "confirmed")
        }
        Err(e) => not_recorded(&e),
    }
}

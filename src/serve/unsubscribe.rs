//! `/u/TOKEN`: the unsubscribe link. A GET shows the address and one button (or, when it is
//! off the list already, says so and offers to take it back); the POST of that button, or a mail
//! program's RFC 8058 one-click POST, suppresses at once; `action=resubscribe` takes back the
//! reader's own unsubscribe, logged as theirs.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{form, language_of, log, not_recorded, with_journal, App, MAX_BODY};
use crate::journal::Suppression;
use crate::token::Named;

/// The page for a link that does not open, in the language the request asks for.
pub(super) fn invalid(app: &App, uri: &Uri, headers: &HeaderMap) -> Response {
    let lang = language_of(app, uri, None, Some(headers));
    app.pages.message(
        StatusCode::BAD_REQUEST,
        &lang,
        uri.path(),
        "invalid",
        json!({}),
    )
}

pub(super) fn accept(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// The language of a page reached by a token: the switch's, else the token's.
pub(super) fn language(app: &App, uri: &Uri, named: &Named) -> String {
    language_of(app, uri, Some(&named.lang), None)
}

/// The reader's own preference page, when the project has one.
pub(super) fn preferences_url(app: &App, named: &Named, token: &str) -> String {
    crate::compose::Unsubscribe::new(&app.config, &named.campaign, token)
        .preferences
        .unwrap_or_default()
}

/// Whether the reader may take a suppression back themselves: only their own unsubscribe.
/// A bounce, a complaint or the team's decision is not theirs to undo from a link.
fn theirs(s: &Suppression) -> bool {
    s.reason == "unsubscribed"
}

pub(super) async fn ask(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(named) = app.secrets.open(&token) else {
        return invalid(&app, &uri, &headers);
    };
    let lang = language(&app, &uri, &named);
    let email = named.email.clone();
    let now = match with_journal(&app, move |j| j.suppression(&email)).await {
        Ok(s) => s,
        Err(e) => return not_recorded(&e),
    };
    let (state, can) = match &now {
        Some(s) => ("already", theirs(s)),
        None => ("ask", false),
    };
    page(&app, &lang, &uri, &named, &token, state, can)
}

fn page(
    app: &App,
    lang: &str,
    uri: &Uri,
    named: &Named,
    token: &str,
    state: &str,
    can_resubscribe: bool,
) -> Response {
    app.pages.render(
        StatusCode::OK,
        lang,
        "unsubscribe.html",
        uri.path(),
        json!({
            "state": state,
            "action": format!("{}?lang={lang}", uri.path()),
            "email": named.email,
            "can_resubscribe": can_resubscribe,
            "preferences_url": preferences_url(app, named, token),
        }),
    )
}

pub(super) async fn post(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
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
    let Some(named) = app.secrets.open(&token) else {
        return invalid(&app, &uri, &headers);
    };
    let lang = language(&app, &uri, &named);
    let field = |k: &str, v: &str| fields.iter().any(|(a, b)| a == k && b == v);
    // RFC 8058's one-click (a mail program), or the page's own button.
    let one_click = field("List-Unsubscribe", "One-Click");
    let from_page = field("confirm", "yes");
    if field("action", "resubscribe") && !one_click {
        return resubscribe(&app, &lang, &uri, &named, &token).await;
    }
    if !one_click && !from_page {
        return (
            StatusCode::BAD_REQUEST,
            "expected List-Unsubscribe=One-Click (RFC 8058) or the page's form\n",
        )
            .into_response();
    }
    let s = Suppression {
        email: named.email.clone(),
        reason: "unsubscribed".into(),
        source: "link".into(),
        campaign: Some(named.campaign.clone()),
        at_ms: crate::clock::now_ms(),
    };
    match with_journal(&app, move |j| j.suppress(&s)).await {
        Ok(new) => {
            log(&format!(
                "{} {} from {} ({})",
                if new {
                    "unsubscribed"
                } else {
                    "already unsubscribed:"
                },
                crate::compose::recipient_key(&named.campaign, &named.email),
                named.campaign,
                if one_click { "one-click" } else { "page" }
            ));
            if one_click {
                (StatusCode::OK, "unsubscribed\n").into_response()
            } else {
                page(&app, &lang, &uri, &named, &token, "done", true)
            }
        }
        Err(e) => not_recorded(&e),
    }
}

async fn resubscribe(
    app: &Arc<App>,
    lang: &str,
    uri: &Uri,
    named: &Named,
    token: &str,
) -> Response {
    let email = named.email.clone();
    let now = crate::clock::now_ms();
    let done = with_journal(app, move |j| {
        Ok(match j.suppression(&email)? {
            Some(s) if !theirs(&s) => Err(s),
            Some(_) => Ok(j.resubscribe(&email, now)?.is_some()),
            None => Ok(false),
        })
    })
    .await;
    match done {
        Ok(Ok(lifted)) => {
            if lifted {
                log(&format!(
                    "resubscribed {} from {} (page)",
                    crate::compose::recipient_key(&named.campaign, &named.email),
                    named.campaign
                ));
            }
            page(app, lang, uri, named, token, "resubscribed", false)
        }
        Ok(Err(_)) => page(app, lang, uri, named, token, "already", false),
        Err(e) => not_recorded(&e),
    }
}

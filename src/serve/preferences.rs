//! `/p/TOKEN`: the reader's preference page. A GET shows the address, the language(s) they
//! get and their topics, as they last chose them or, before any choice, as the team's lists
//! say; a POST of `language` (a supported code, or `all`) and `interests` (repeated) saves the
//! choice in the journal with its time and source, and shows what changed. From then on the
//! choice beats the lists (`audience` applies it).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::unsubscribe::{invalid, language, preferences_url};
use super::{form, log, not_recorded, with_journal, App, MAX_BODY};
use crate::journal::Choice;
use crate::token::Named;

/// What a reader gets now: languages and topics, and whether the address is suppressed.
struct Now {
    languages: Vec<String>,
    topics: Vec<String>,
    suppressed: bool,
}

async fn current(app: &Arc<App>, named: &Named) -> Result<Now, String> {
    let email = named.email.clone();
    let (choice, signup, suppressed) = with_journal(app, move |j| {
        Ok((
            j.preference(&email)?,
            j.subscriber(&email)?,
            j.suppression(&email)?.is_some(),
        ))
    })
    .await?;
    // The reader's own word first (their choice, else what they signed up for), then the
    // team's lists.
    let (languages, topics) = match (choice, signup) {
        (Some(c), _) => (c.languages, c.interests),
        (None, Some(s)) => (s.languages, s.interests),
        (None, None) => {
            let app2 = app.clone();
            let email = named.email.clone();
            tokio::task::spawn_blocking(move || app2.directory.lookup(&app2.config, &email))
                .await
                .map_err(|e| e.to_string())?
        }
    };
    // No language the project writes in: what the audience gives them, the fallback.
    let languages = if languages.is_empty() {
        match app.config.languages.fallback {
            crate::config::Fallback::Bilingual => app.pages.supported.clone(),
            crate::config::Fallback::Default => vec![app.config.languages.default.clone()],
        }
    } else {
        languages
    };
    Ok(Now {
        languages,
        topics,
        suppressed,
    })
}

/// The radio button a set of languages ticks: `all` for every language in one message.
fn ticked(app: &App, languages: &[String]) -> String {
    let all =
        app.pages.supported.len() > 1 && app.pages.supported.iter().all(|l| languages.contains(l));
    if all {
        "all".into()
    } else {
        languages.first().cloned().unwrap_or_default()
    }
}

#[allow(clippy::too_many_arguments)]
fn page(
    app: &App,
    status: StatusCode,
    lang: &str,
    uri: &Uri,
    named: &Named,
    token: &str,
    now: &Now,
    state: &str,
    changes: Vec<String>,
    error: &str,
) -> Response {
    let unsubscribe_action = crate::compose::Unsubscribe::new(&app.config, &named.campaign, token)
        .url
        .map(|_| format!("/u/{token}?lang={lang}"));
    app.pages.render(
        status,
        lang,
        "preferences.html",
        uri.path(),
        json!({
            "state": state,
            "action": format!("{}?lang={lang}", uri.path()),
            "email": named.email,
            "language_options": app.pages.language_options(lang, &ticked(app, &now.languages)),
            "topics": app.pages.topics(lang, &now.topics),
            "suppressed": now.suppressed,
            "changes": changes,
            "error": error,
            "unsubscribe_action": unsubscribe_action,
            "preferences_url": preferences_url(app, named, token),
        }),
    )
}

pub(super) async fn show(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(named) = app.secrets.open(&token) else {
        return invalid(&app, &uri, &headers);
    };
    let lang = language(&app, &uri, &named);
    match current(&app, &named).await {
        Ok(now) => page(
            &app,
            StatusCode::OK,
            &lang,
            &uri,
            &named,
            &token,
            &now,
            "ask",
            Vec::new(),
            "",
        ),
        Err(e) => not_recorded(&e),
    }
}

pub(super) async fn save(
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
    let before = match current(&app, &named).await {
        Ok(n) => n,
        Err(e) => return not_recorded(&e),
    };
    let Some(languages) = chosen_languages(&app, &named, &fields) else {
        let error = app.pages.text(&lang, "prefs_bad_language");
        return page(
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            &lang,
            &uri,
            &named,
            &token,
            &before,
            "ask",
            Vec::new(),
            &error,
        );
    };
    let topics = chosen_topics(&app, &fields);
    let choice = Choice {
        email: named.email.clone(),
        languages: languages.clone(),
        interests: topics.clone(),
        at_ms: crate::clock::now_ms(),
        source: "page".into(),
    };
    // Timed under the journal's lock: choices are recorded in the order they are made, so
    // the copy beside the journal replays them in that order.
    let timed = with_journal(&app, move |j| {
        let mut c = choice.clone();
        c.at_ms = crate::clock::now_ms();
        j.set_preference(&c)
    });
    if let Err(e) = timed.await {
        return not_recorded(&e);
    }
    log(&format!(
        "preferences of {} from {}: {}; {}",
        crate::compose::recipient_key(&named.campaign, &named.email),
        named.campaign,
        languages.join("+"),
        if topics.is_empty() {
            "no topics".to_string()
        } else {
            topics.join(", ")
        }
    ));
    let after = Now {
        languages,
        topics,
        suppressed: before.suppressed,
    };
    let changes = changes(&app, &lang, &before, &after);
    page(
        &app,
        StatusCode::OK,
        &lang,
        &uri,
        &named,
        &token,
        &after,
        "saved",
        changes,
        "",
    )
}

/// The languages a form asks for: one the project writes in, or `all` (the one the reader's
/// messages lead with first); `None` for anything else.
fn chosen_languages(app: &App, named: &Named, fields: &[(String, String)]) -> Option<Vec<String>> {
    let asked = fields
        .iter()
        .find(|(k, _)| k == "language")
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    let supported = &app.pages.supported;
    match asked.as_deref() {
        Some("all") if supported.len() > 1 => {
            let mut all = vec![named.lang.clone()];
            all.extend(supported.iter().filter(|l| **l != named.lang).cloned());
            all.retain(|l| supported.contains(l));
            Some(all)
        }
        Some(code) if supported.iter().any(|l| l == code) => Some(vec![code.to_string()]),
        _ => None,
    }
}

/// The project's topics a form ticks, in the config's order (unknown ones are dropped).
fn chosen_topics(app: &App, fields: &[(String, String)]) -> Vec<String> {
    let mut topics: Vec<String> = Vec::new();
    for (k, v) in fields {
        let tag = v.trim();
        if k == "interests"
            && app.config.interests.iter().any(|t| t == tag)
            && !topics.iter().any(|t| t == tag)
        {
            topics.push(tag.to_string());
        }
    }
    topics.sort_by_key(|t| app.config.interests.iter().position(|c| c == t));
    topics
}

/// What a choice changed, in the page's language: the language, and each topic added or left.
fn changes(app: &App, lang: &str, before: &Now, after: &Now) -> Vec<String> {
    let mut out = Vec::new();
    let name = |langs: &[String]| match ticked(app, langs).as_str() {
        "all" => app.pages.text(lang, "prefs_all"),
        code => crate::language::native_name(code).to_string(),
    };
    if ticked(app, &before.languages) != ticked(app, &after.languages) {
        out.push(format!(
            "{}{} {} → {}",
            app.pages.text(lang, "prefs_language"),
            app.pages.strings(lang)["colon"].as_str().unwrap_or(":"),
            name(&before.languages),
            name(&after.languages)
        ));
    }
    for t in &after.topics {
        if !before.topics.contains(t) {
            out.push(format!("+ {}", app.pages.topic_label(lang, t)));
        }
    }
    for t in &before.topics {
        if !after.topics.contains(t) {
            out.push(format!("− {}", app.pages.topic_label(lang, t)));
        }
    }
    out
}

//! `/approve/TOKEN`: the link `approve --request` mails each approver. A GET shows the
//! campaign as it is now (subjects per language, recipients) and a button; its POST records
//! the approval, by that approver, of that version. A link for a version that has changed
//! since, an expired, forged or replayed link approves nothing.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::unsubscribe::invalid;
use super::{form, language_of, log, not_recorded, with_journal, App, MAX_BODY};
use crate::token::ApprovalRequest;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The campaign as it is now, as the page shows it.
struct Now {
    /// The approvers the config names now.
    approvers: Vec<String>,
    hash: String,
    subjects: Vec<serde_json::Value>,
    counts: Vec<String>,
    binding: crate::approval::Binding,
    approvals: Vec<crate::journal::Approved>,
}

fn read_now(app: &App, campaign: &str) -> crate::Result<Now> {
    // The config as it is now: an approver taken off the list since the link was mailed can
    // no longer approve, and the campaign is judged as `send` will judge it.
    let config = crate::config::Config::load(&app.config.file)?;
    let store = app
        .journal
        .lock()
        .map_err(|_| crate::Error::Journal("the journal lock is poisoned".into()))?
        .store_for_a_request();
    let approvers = config
        .approval
        .as_ref()
        .map(|a| a.approvers.clone())
        .unwrap_or_default();
    let p = crate::project::prepare(config, &store, campaign, false)?;
    let binding = crate::approval::Binding::of(&p)?;
    let subjects = p
        .campaign
        .languages
        .iter()
        .filter_map(|l| {
            let w = p.renderer.render_web(l).ok()?;
            Some(json!({"lang": l, "name": crate::language::native_name(l), "subject": w.subject}))
        })
        .collect();
    let mut counts = vec![format!("{} recipients", p.audience.stats.recipients)];
    counts.extend(
        p.audience
            .stats
            .by_language
            .iter()
            .map(|(l, n)| format!("{l}: {n}")),
    );
    if !p.audience.left_out.is_empty() {
        counts.push(format!("{} left out", p.audience.left_out.len()));
    }
    let approvals = match store.existing()? {
        Some(j) => j.approvals(campaign)?,
        None => Vec::new(),
    };
    Ok(Now {
        approvers,
        hash: binding.hash.clone(),
        subjects,
        counts,
        binding,
        approvals,
    })
}

fn opened(
    app: &App,
    token: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(ApprovalRequest, String), Box<Response>> {
    let Some(r) = app.secrets.open_approval(token) else {
        return Err(Box::new(invalid(app, uri, headers)));
    };
    let lang = language_of(app, uri, None, Some(headers));
    let days = app.config.approval.as_ref().map_or(7, |a| a.expires_days) as i64;
    let age = crate::clock::now_ms() - r.at_ms;
    if !(0..=days * DAY_MS).contains(&age) {
        return Err(Box::new(app.pages.message(
            StatusCode::GONE,
            &lang,
            uri.path(),
            "approve_expired",
            json!({}),
        )));
    }
    Ok((r, lang))
}

fn page(app: &App, lang: &str, uri: &Uri, r: &ApprovalRequest, now: &Now, state: &str) -> Response {
    let approvals: Vec<String> = now
        .approvals
        .iter()
        .map(|a| {
            format!(
                "{} · {} · {}",
                crate::clock::from_ms(a.at_ms).format("%Y-%m-%d %H:%M UTC"),
                a.by,
                &a.hash[..12]
            )
        })
        .collect();
    app.pages.render(
        StatusCode::OK,
        lang,
        "approve.html",
        uri.path(),
        json!({
            "state": state,
            "campaign": r.campaign,
            "subjects": now.subjects,
            "counts": now.counts,
            "version": &now.hash[..12],
            "approver": r.approver,
            "approvals": approvals,
            "action": format!("{}?lang={lang}", uri.path()),
        }),
    )
}

/// The page's state: no longer an approver, changed since the request, approved already by
/// this approver, or ask.
fn state_of(r: &ApprovalRequest, now: &Now) -> &'static str {
    if !now
        .approvers
        .iter()
        .any(|w| w.eq_ignore_ascii_case(&r.approver))
    {
        "removed"
    } else if now.hash != r.hash {
        "changed"
    } else if now
        .approvals
        .iter()
        .any(|a| a.hash == r.hash && a.by.eq_ignore_ascii_case(&r.approver))
    {
        "already"
    } else {
        "ask"
    }
}

async fn now_of(app: &Arc<App>, campaign: &str) -> Result<Now, String> {
    let (app, campaign) = (app.clone(), campaign.to_string());
    tokio::task::spawn_blocking(move || read_now(&app, &campaign).map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
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
    match now_of(&app, &r.campaign).await {
        Ok(now) => page(&app, &lang, &uri, &r, &now, state_of(&r, &now)),
        Err(e) => not_recorded(&e),
    }
}

pub(super) async fn approve(
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
    let mut now = match now_of(&app, &r.campaign).await {
        Ok(n) => n,
        Err(e) => return not_recorded(&e),
    };
    let state = state_of(&r, &now);
    if state != "ask" {
        return page(&app, &lang, &uri, &r, &now, state);
    }
    let record = now.binding.approved(
        &r.campaign,
        &r.approver,
        None,
        crate::clock::now_ms(),
        "link",
    );
    let kept = record.clone();
    if let Err(e) = with_journal(&app, move |j| j.record_approval(&kept)).await {
        return not_recorded(&e);
    }
    log(&format!(
        "{} approved by {} (link), version {}",
        r.campaign,
        r.approver,
        &r.hash[..16]
    ));
    now.approvals.push(record);
    page(&app, &lang, &uri, &r, &now, "approved")
}

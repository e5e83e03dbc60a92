//! How a recipient's attempt ends for this run: settled (sent, failed, deferred, unknown) and
//! recorded, put back in the queue for a retry, or left to another run that claimed it first.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::client::SmtpError;
use super::shared::{Ctx, Item, Shared};
use super::{Failure, Stop};
use crate::clock;
use crate::journal::{says_no_such_mailbox, Applied, State, Suppression, Update};

/// What the relays last said when a run stops for failures in a row: with several relays,
/// which of them were set aside, so that the message does not read as if one were all.
pub(super) fn failing(ctx: &Ctx, last: String) -> String {
    match ctx.relays.aside_names() {
        names if ctx.relays.several() && !names.is_empty() => {
            format!(
                "{last} (set aside for refusing or timing out: {})",
                names.join(", ")
            )
        }
        _ => last,
    }
}

/// Records a final outcome for this run, for a recipient this run claimed.
pub(super) fn settle(
    ctx: &Ctx,
    idx: usize,
    email: &str,
    state: State,
    code: Option<u16>,
    reply: String,
) {
    let sh = &ctx.shared;
    let counter = match state {
        State::Sent => &sh.counts.sent,
        State::Failed => &sh.counts.failed,
        State::Deferred => &sh.counts.deferred,
        _ => &sh.counts.unknown,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if state != State::Sent {
        let n = sh.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= ctx.smtp.max_consecutive_failures {
            sh.halt(Stop::RelayFailing {
                failures: n,
                last_error: failing(
                    ctx,
                    format!(
                        "{}{reply}",
                        code.map(|c| format!("{c} ")).unwrap_or_default()
                    ),
                ),
            });
        }
        sh.failures.lock().unwrap().push(Failure {
            email: email.to_string(),
            state,
            code,
            reply: reply.clone(),
        });
    }
    let at_ms = clock::now_ms();
    let gone = state == State::Failed && code.is_some_and(|c| says_no_such_mailbox(c, &reply));
    ctx.writer.record(Update::Outcome {
        id: ctx.ids[idx],
        state,
        code,
        reply: Some(reply),
        at_ms,
    });
    if gone {
        ctx.writer.record(Update::Suppress(Suppression {
            email: email.to_string(),
            reason: "bounced".into(),
            source: "relay".into(),
            campaign: Some(ctx.p.campaign.id.clone()),
            at_ms,
        }));
    }
    sh.open.fetch_sub(1, Ordering::SeqCst);
}

/// Settles a recipient this run has not claimed yet (nothing went to the relay): claims it
/// first, so that the outcome is recorded against this run's attempt and never over another's.
pub(super) async fn settle_unclaimed(
    ctx: &Ctx,
    idx: usize,
    email: &str,
    state: State,
    code: Option<u16>,
    reply: String,
) {
    let claim = Update::Claim {
        id: ctx.ids[idx],
        message_id: String::new(),
        at_ms: clock::now_ms(),
        relay: None,
    };
    match ctx.writer.record_now(claim).await {
        Ok(Applied::Done) => {
            ctx.shared.counts.attempted.fetch_add(1, Ordering::Relaxed);
            settle(ctx, idx, email, state, code, reply)
        }
        Ok(other) => not_claimed(&ctx.shared, other),
        Err(e) => ctx.shared.fail(e.to_string()),
    }
}

/// A recipient this run did not get to claim: another run on the journal took them first, or
/// they left the list since the run began. Either way nothing goes to them from here.
pub(super) fn not_claimed(sh: &Shared, why: Applied) {
    let counter = if why == Applied::Suppressed {
        &sh.counts.suppressed
    } else {
        &sh.counts.elsewhere
    };
    counter.fetch_add(1, Ordering::Relaxed);
    sh.open.fetch_sub(1, Ordering::SeqCst);
}

/// A temporary failure: back in the queue after a growing pause, or deferred to the next run
/// once the run's tries are used. `claimed`: the recipient is claimed by this run, and is
/// released (as deferred, with the relay's words) before going back to the queue.
pub(super) async fn retry_or_defer(
    ctx: &Ctx,
    item: Item,
    email: &str,
    e: SmtpError,
    claimed: bool,
) {
    let sh = &ctx.shared;
    let n = sh.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
    if n >= ctx.smtp.max_consecutive_failures {
        sh.halt(Stop::RelayFailing {
            failures: n,
            last_error: failing(ctx, e.to_string()),
        });
    }
    let attempt = item.attempt.saturating_add(1);
    if u32::from(attempt) < ctx.smtp.max_attempts && !sh.stop.load(Ordering::SeqCst) {
        if claimed {
            ctx.writer.record(Update::Outcome {
                id: ctx.ids[item.idx()],
                state: State::Deferred,
                code: e.code(),
                reply: Some(e.reply()),
                at_ms: clock::now_ms(),
            });
        }
        let delay =
            Duration::from_secs_f64(ctx.smtp.retry_delay_secs * 2f64.powi(attempt as i32 - 1));
        let at = sh.start.elapsed() + delay;
        sh.queue.lock().unwrap().push_back(Item {
            idx: item.idx,
            attempt,
            not_before_ms: at.as_millis().min(u128::from(u32::MAX)) as u32,
        });
        return;
    }
    // `settle` counts this failure again; undo ours so one message counts once.
    sh.consecutive.fetch_sub(1, Ordering::SeqCst);
    if claimed {
        settle(ctx, item.idx(), email, State::Deferred, e.code(), e.reply());
    } else {
        settle_unclaimed(ctx, item.idx(), email, State::Deferred, e.code(), e.reply()).await;
    }
}

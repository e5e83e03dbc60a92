//! One connection's work: recipients from the shared queue in, each claimed in the journal, its
//! message handed to the relay and the outcome recorded out; Ctrl-C and retries handled on the
//! way.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{Client, SmtpError};
use super::outcome::{not_claimed, retry_or_defer, settle, settle_unclaimed};
use super::rate::Permit;
use super::shared::{Ctx, Item, Shared};
use super::Stop;
use crate::clock;
use crate::interrupt;
use crate::journal::{Applied, State, Update};

/// How long a message whose data is in transit may take to be answered once a stop is asked:
/// short enough that every command stops within a second.
const IN_TRANSIT_GRACE: Duration = Duration::from_millis(700);

/// Takes the next item that is due; waits for a retry that is not due yet; `None` when done.
async fn next_item(shared: &Shared) -> Option<Item> {
    loop {
        if shared.stop.load(Ordering::SeqCst) || shared.open.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let wait = {
            let mut q = shared.queue.lock().unwrap();
            let now = shared.start.elapsed().as_millis() as u32;
            if let Some(pos) = q.iter().position(|i| i.not_before_ms <= now) {
                return q.remove(pos);
            }
            q.iter()
                .map(|i| Duration::from_millis(u64::from(i.not_before_ms - now)))
                .min()
                .unwrap_or(Duration::from_millis(20))
        };
        tokio::time::sleep(wait.min(Duration::from_millis(200))).await;
    }
}

/// Runs `f` unless `signals` signals arrive first (1: stop what has handed nothing over yet;
/// 2: abort even a message in transit).
async fn unless_signalled<T>(signals: u32, f: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = interrupt::reached(signals) => None,
        v = f => Some(v),
    }
}

/// An open connection and the relay it goes to.
struct Conn {
    client: Client,
    relay: usize,
}

/// Closes `conn` (the relay gone, or the connection to move): its relay's share is freed.
fn drop_conn(ctx: &Ctx, conn: &mut Option<Conn>) {
    if let Some(c) = conn.take() {
        ctx.relays.release(c.relay);
    }
}

/// What a step of the loop decided for the recipient at hand: go on with its result, leave
/// this recipient for the next (it is settled or back in the queue), or stop the loop.
enum Step<T> {
    Go(T),
    Next,
    Stop,
}

/// Takes a step's result, or moves the loop on as the step decided.
macro_rules! step {
    ($e:expr) => {
        match $e {
            Step::Go(v) => v,
            Step::Next => continue,
            Step::Stop => break,
        }
    };
}

/// One connection's loop: take a recipient, produce their message, wait for the rate's permit,
/// have a connection, claim them in the journal, hand the message over; each step settles the
/// recipient or puts them back when it cannot go on.
pub(super) async fn sender(ctx: Arc<Ctx>) {
    let mut conn: Option<Conn> = None;
    while let Some(item) = next_item(&ctx.shared).await {
        let email = ctx.p.audience.recipients[item.idx()]
            .contact
            .email()
            .to_string();
        let composed = step!(compose(&ctx, &item, &email).await);
        let at_ms = step!(permit(&ctx, &item).await);
        step!(connect(&ctx, &mut conn, &item, &email).await);
        let relay = conn.as_ref().expect("connected").relay;
        step!(relay_permit(&ctx, &mut conn, &item, relay).await);
        step!(claim(&ctx, &item, &composed, at_ms, relay).await);
        step!(transmit(&ctx, &mut conn, item, &email, &composed, relay).await);
    }
    if let Some(c) = conn {
        ctx.relays.release(c.relay);
        // A quick goodbye: an interrupted run does not wait on a slow relay.
        let _ = tokio::time::timeout(Duration::from_millis(500), c.client.quit()).await;
    }
}

/// The recipient's message, made as it will go; a recipient whose message cannot be made is
/// settled as failed. Past the sending window's end, the loop stops.
async fn compose(ctx: &Ctx, item: &Item, email: &str) -> Step<crate::compose::Composed> {
    let r = &ctx.p.audience.recipients[item.idx()];
    let composed = match ctx.p.message(r, clock::now(), &ctx.marks) {
        Ok((_, c)) => c,
        Err(e) => {
            let why = format!("cannot produce the message: {}", e.message);
            settle_unclaimed(ctx, item.idx(), email, State::Failed, None, why).await;
            return Step::Next;
        }
    };
    if ctx.deadline_ms.is_some_and(|d| clock::now_ms() >= d) {
        ctx.shared.put_back(*item);
        ctx.shared.halt(Stop::Window);
        return Step::Stop;
    }
    Step::Go(composed)
}

/// The run's rate: the time the message may go, or the stop a cap or a signal makes.
async fn permit(ctx: &Ctx, item: &Item) -> Step<i64> {
    let sh = &ctx.shared;
    let Some(permit) = unless_signalled(1, ctx.limiter.acquire()).await else {
        sh.put_back(*item);
        return Step::Stop;
    };
    match permit {
        Permit::Go(at) => Step::Go(at),
        Permit::Capped {
            cap,
            limit,
            until_ms,
        } => {
            sh.put_back(*item);
            sh.halt(Stop::Capped {
                cap: cap.to_string(),
                limit,
                resume_at_ms: until_ms,
            });
            Step::Stop
        }
    }
}

/// A connection to a live relay, opened when there is none: a relay that refuses is set aside
/// while others are live; when it is the run's only way out, the failure is counted and the
/// recipient retried or deferred.
async fn connect(ctx: &Ctx, conn: &mut Option<Conn>, item: &Item, email: &str) -> Step<()> {
    let sh = &ctx.shared;
    if conn.is_some() {
        return Step::Go(());
    }
    let relay = match ctx.relays.pick() {
        Ok(i) => i,
        Err(back) => {
            // Every relay is set aside: wait for the first to come back.
            sh.put_back(*item);
            let wait = tokio::time::sleep_until(back.into());
            return match unless_signalled(1, wait).await {
                None => Step::Stop,
                Some(()) => Step::Next,
            };
        }
    };
    let settings = ctx.relays.list[relay].settings.clone();
    match unless_signalled(1, Client::connect(settings)).await {
        None => {
            ctx.relays.release(relay);
            sh.put_back(*item);
            Step::Stop
        }
        Some(Ok(client)) => {
            *conn = Some(Conn { client, relay });
            Step::Go(())
        }
        Some(Err(SmtpError::Setup(m))) => {
            ctx.relays.release(relay);
            sh.put_back(*item);
            sh.fail(format!("{}: {m}", ctx.relays.list[relay].name));
            Step::Stop
        }
        Some(Err(e)) => {
            ctx.relays.release(relay);
            // Another relay takes its share; only when none is left is it the run's failure,
            // counted and retried as with a single relay.
            if ctx.relays.several() {
                ctx.relays.set_aside(relay);
                if ctx.relays.any_live() {
                    sh.put_back(*item);
                    return Step::Next;
                }
            }
            retry_or_defer(ctx, *item, email, e, false).await;
            Step::Next
        }
    }
}

/// The relay's own caps: when one is full, the relay waits and the others go on; when every
/// relay is capped, the run stops.
async fn relay_permit(ctx: &Ctx, conn: &mut Option<Conn>, item: &Item, relay: usize) -> Step<()> {
    let sh = &ctx.shared;
    let Some(l) = &ctx.relays.list[relay].limiter else {
        return Step::Go(());
    };
    let Some(permit) = unless_signalled(1, l.acquire()).await else {
        sh.put_back(*item);
        return Step::Stop;
    };
    let Permit::Capped {
        cap,
        limit,
        until_ms,
    } = permit
    else {
        return Step::Go(());
    };
    sh.put_back(*item);
    let wait = Duration::from_millis((until_ms - clock::now_ms()).max(0) as u64);
    ctx.relays.capped_until(relay, Instant::now() + wait);
    if let Some(c) = conn.take() {
        ctx.relays.release(c.relay);
        let _ = tokio::time::timeout(Duration::from_millis(500), c.client.quit()).await;
    }
    if ctx.relays.any_live() {
        return Step::Next;
    }
    let failing = ctx.relays.aside_names();
    let others = if failing.is_empty() {
        String::new()
    } else {
        format!(
            " (and set aside for refusing or timing out: {})",
            failing.join(", ")
        )
    };
    sh.halt(Stop::Capped {
        cap: format!("{} of {}{others}", cap, ctx.relays.list[relay].name),
        limit,
        resume_at_ms: until_ms,
    });
    Step::Stop
}

/// The claim, on disk before anything of the message reaches the relay: if this process dies
/// from here on, the next run sees `sending` and will not send it twice; and if another run on
/// the same journal claimed this recipient first, or they left the list, this one leaves them.
async fn claim(
    ctx: &Ctx,
    item: &Item,
    composed: &crate::compose::Composed,
    at_ms: i64,
    relay: usize,
) -> Step<()> {
    let sh = &ctx.shared;
    let claimed = ctx
        .writer
        .record_now(Update::Claim {
            id: ctx.ids[item.idx()],
            message_id: composed.message_id.clone(),
            at_ms,
            relay: Some(ctx.relays.list[relay].name.clone()),
        })
        .await;
    match claimed {
        Ok(Applied::Done) => {
            sh.counts.attempted.fetch_add(1, Ordering::Relaxed);
            Step::Go(())
        }
        Ok(other) => {
            not_claimed(sh, other);
            Step::Next
        }
        Err(e) => {
            sh.put_back(*item);
            sh.fail(e.to_string());
            Step::Stop
        }
    }
}

/// Hands the message over and settles the recipient with the relay's answer. Until the
/// relay's go-ahead for data nothing of it has been handed over; from then on the message is
/// the relay's unless it says otherwise.
async fn transmit(
    ctx: &Ctx,
    conn: &mut Option<Conn>,
    item: Item,
    email: &str,
    composed: &crate::compose::Composed,
    relay: usize,
) -> Step<()> {
    let sh = &ctx.shared;
    let c = &mut conn.as_mut().expect("connected").client;
    if composed.smtputf8 && !c.smtputf8() {
        let why = format!(
            "{} needs a relay that speaks SMTPUTF8, and {} does not offer it: fix the relay or set smtputf8 = false (such addresses are then refused at check)",
            crate::term::quoted(email),
            ctx.relays.list[relay].name
        );
        settle(ctx, item.idx(), email, State::Deferred, None, why);
        return Step::Next;
    }
    // Until the relay's go-ahead for data, nothing of the message has been handed over: a
    // first Ctrl-C stops here at once and the recipient waits for the next run.
    let begin = c.begin(
        &composed.envelope_from,
        &composed.envelope_to,
        composed.smtputf8,
    );
    match unless_signalled(1, begin).await {
        None => {
            drop_conn(ctx, conn);
            let why = "interrupted before the message was handed over".to_string();
            settle(ctx, item.idx(), email, State::Deferred, None, why);
            return Step::Stop;
        }
        Some(Err(e)) => {
            if matches!(e, SmtpError::Connection(_)) {
                drop_conn(ctx, conn);
                if ctx.relays.several() {
                    ctx.relays.set_aside(relay);
                }
            }
            match e {
                SmtpError::Permanent { code, reply } => {
                    settle(ctx, item.idx(), email, State::Failed, Some(code), reply)
                }
                SmtpError::Setup(m) => {
                    settle(ctx, item.idx(), email, State::Deferred, None, m.clone());
                    sh.fail(m);
                    return Step::Stop;
                }
                other => retry_or_defer(ctx, item, email, other, true).await,
            }
            return Step::Next;
        }
        Some(Ok(())) => {}
    }
    hand_over(ctx, conn, item, email, composed, relay).await
}

/// The data, going: the message is the relay's unless it says otherwise. A first signal gives
/// it a moment to finish (a working relay answers in milliseconds); past that, or at a second
/// signal, it is given up, its fate unknown.
async fn hand_over(
    ctx: &Ctx,
    conn: &mut Option<Conn>,
    item: Item,
    email: &str,
    composed: &crate::compose::Composed,
    relay: usize,
) -> Step<()> {
    let sh = &ctx.shared;
    let c = &mut conn.as_mut().expect("connected").client;
    let in_transit = async {
        tokio::select! {
            _ = interrupt::reached(2) => {}
            _ = async {
                interrupt::reached(1).await;
                tokio::time::sleep(IN_TRANSIT_GRACE).await;
            } => {}
        }
    };
    let finished = tokio::select! {
        biased;
        _ = in_transit => None,
        r = c.finish(&composed.bytes) => Some(r),
    };
    match finished {
        None => {
            drop_conn(ctx, conn);
            let why = "interrupted while the relay had the message and had not answered: it may have been delivered"
                .to_string();
            settle(ctx, item.idx(), email, State::Unknown, None, why);
            return Step::Stop;
        }
        Some(Ok(reply)) => {
            sh.consecutive.store(0, Ordering::SeqCst);
            settle(ctx, item.idx(), email, State::Sent, Some(250), reply);
            ctx.relays.worked(relay);
            // A relay back from being set aside takes its share again.
            if ctx.relays.over_share(relay) {
                if let Some(c) = conn.take() {
                    ctx.relays.release(c.relay);
                    let _ = tokio::time::timeout(Duration::from_millis(500), c.client.quit()).await;
                }
            }
        }
        Some(Err(SmtpError::Permanent { code, reply })) => {
            settle(ctx, item.idx(), email, State::Failed, Some(code), reply)
        }
        // The relay answered "not now": it did not take the message.
        Some(Err(e @ SmtpError::Transient { .. })) => {
            retry_or_defer(ctx, item, email, e, true).await
        }
        Some(Err(e)) => {
            drop_conn(ctx, conn);
            if ctx.relays.several() {
                ctx.relays.set_aside(relay);
            }
            settle(
                ctx,
                item.idx(),
                email,
                State::Unknown,
                None,
                format!(
                    "connection lost after the message was sent, before the relay's answer: {}",
                    e.reply()
                ),
            );
        }
    }
    Step::Go(())
}

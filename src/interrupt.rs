//! Ctrl-C and SIGTERM: signals in, either an exit at once (the default, for commands that have
//! nothing to tidy) or, while a [`Guard`] is held, a request that the running work sees, finishes
//! safely and answers with the conventional exit code (130 for SIGINT, 143 for SIGTERM).
//!
//! Handlers are installed explicitly because a process started in the background by a shell
//! without job control inherits SIGINT as *ignored*: the default disposition cannot be relied on.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Signals received so far.
static COUNT: AtomicU32 = AtomicU32::new(0);
/// The first signal received (its number), 0 when none.
static FIRST: AtomicI32 = AtomicI32::new(0);
/// Guards alive: while there is one, signals are requests, not exits.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

fn channel() -> &'static tokio::sync::watch::Sender<u32> {
    static TX: OnceLock<tokio::sync::watch::Sender<u32>> = OnceLock::new();
    TX.get_or_init(|| tokio::sync::watch::channel(0).0)
}

/// Grace given to guarded work after the second signal before the process exits regardless.
const LAST_GRACE: Duration = Duration::from_secs(3);

/// The code for Ctrl-C, and for an interruption whose signal is unknown.
pub const SIGINT_EXIT: u8 = 130;

/// The exit code for a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
pub fn code_for(signal: i32) -> u8 {
    (128 + signal).clamp(0, 255) as u8
}

/// Installs the handlers; call once, first thing in `main`.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for sig in [SIGINT, SIGTERM] {
            // The first signal is taken in the handler itself, in the order the system delivers
            // them: the thread below reads pending signals in the order of their numbers, so a
            // SIGINT close behind a SIGTERM would otherwise pass for the first.
            // SAFETY: the action is one atomic compare-exchange, which is async-signal-safe.
            let _ = unsafe {
                signal_hook::low_level::register(sig, move || {
                    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                })
            };
        }
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
                    channel().send_replace(n);
                    if GUARDS.load(Ordering::SeqCst) == 0 {
                        // Nothing to tidy: stop now, as the default disposition would.
                        std::process::exit(i32::from(exit_code()));
                    }
                    if n >= 2 {
                        std::thread::spawn(|| {
                            std::thread::sleep(LAST_GRACE);
                            std::process::exit(i32::from(exit_code()));
                        });
                    }
                }
            });
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    COUNT.load(Ordering::SeqCst) > 0
}

/// How many signals arrived: 1 asks to stop cleanly, 2 or more to abort what is in flight.
pub fn count() -> u32 {
    COUNT.load(Ordering::SeqCst)
}

/// The code to exit with after an interruption (130 when none was seen, as for Ctrl-C).
pub fn exit_code() -> u8 {
    match FIRST.load(Ordering::SeqCst) {
        0 => SIGINT_EXIT,
        s => code_for(s),
    }
}

/// The signal's name, for messages.
pub fn signal_name() -> &'static str {
    match FIRST.load(Ordering::SeqCst) {
        15 => "SIGTERM",
        _ => "SIGINT",
    }
}

/// Resolves once `n` signals have arrived.
pub async fn reached(n: u32) {
    let mut rx = channel().subscribe();
    let _ = rx.wait_for(|c| *c >= n).await;
}

/// While alive, signals do not end the process: the work checks [`requested`] and stops itself.
pub struct Guard(());

impl Guard {
    pub fn new() -> Guard {
        GUARDS.fetch_add(1, Ordering::SeqCst);
        Guard(())
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        GUARDS.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_follow_the_shell_convention() {
        assert_eq!(super::code_for(2), 130);
        assert_eq!(super::code_for(15), 143);
    }
}

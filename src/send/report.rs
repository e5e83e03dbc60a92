//! How a run ended: the report `send` prints and `due` logs, and why a run stopped early, in
//! the words both say.

use serde::Serialize;

use crate::journal::State;

/// Why a run ended before its work was done.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    /// SIGINT or SIGTERM: messages in flight were finished and recorded.
    Interrupted,
    /// The sending window closed (the campaign's schedule says when it opens again).
    Window,
    /// A rate cap is full until `resume_at_ms`.
    Capped {
        cap: String,
        limit: u32,
        resume_at_ms: i64,
    },
    /// The relay refused or failed this many times in a row.
    RelayFailing { failures: u32, last_error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub campaign: String,
    pub relay: String,
    pub dry_run: bool,
    pub recipients: usize,
    pub already_sent: usize,
    pub attempted: usize,
    pub sent: usize,
    pub failed: usize,
    pub deferred: usize,
    pub unknown: usize,
    /// Left for a later run (limit, cap, interruption, or deferred).
    pub remaining: usize,
    /// Marked unknown at the start: left `sending` by a run that died.
    pub recovered_unknown: usize,
    /// Recipients another run on the same journal took first: not sent by this one.
    pub taken_elsewhere: usize,
    /// Recipients who left the list (unsubscribed, bounced) while this run was sending: not
    /// mailed.
    pub suppressed_during_run: usize,
    pub elapsed_secs: f64,
    pub messages_per_second: f64,
    pub stopped: Option<Stop>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub email: String,
    pub state: State,
    pub code: Option<u16>,
    pub reply: String,
}

impl Stop {
    /// What stopped the run, in the one clause `send` and `due` both say; `when` writes a time
    /// (each in its own way: `send` for a person at a terminal, `due` in the project's zone).
    pub fn describe(&self, when: impl Fn(i64) -> String) -> String {
        match self {
            Stop::Interrupted => "interrupted: every message is recorded (those not yet handed to the relay as deferred)".into(),
            Stop::Window => "the sending window closed".into(),
            Stop::Capped {
                cap,
                limit,
                resume_at_ms,
            } => format!(
                "paused by the {cap} cap of {limit} until {}",
                when(*resume_at_ms)
            ),
            Stop::RelayFailing {
                failures,
                last_error,
            } => format!("stopped after {failures} failures in a row; the relay last said: {last_error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stop_is_described_with_its_figures() {
        let when = |ms: i64| format!("t{ms}");
        let capped = Stop::Capped {
            cap: "per_hour".into(),
            limit: 7,
            resume_at_ms: 9,
        };
        assert_eq!(
            capped.describe(when),
            "paused by the per_hour cap of 7 until t9"
        );
        let failing = Stop::RelayFailing {
            failures: 3,
            last_error: "421 busy".into(),
        };
        assert!(failing
            .describe(when)
            .contains("3 failures in a row; the relay last said: 421 busy"));
        assert!(Stop::Interrupted
            .describe(when)
            .starts_with("interrupted: every message is recorded"));
    }
}

//! Every way a command can end in, its exit code out: the one place that decides them (the
//! README and each command's `--help` list the same codes).

use crate::due::DueOutcome;
use crate::send::{Report, Stop};
use crate::Error;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (for `due`: also nothing due, or paused by a cap or window until a later run).
    Success,
    /// An error someone must fix: bad input, a refused action.
    Failure,
    /// The command was called wrongly (clap says so itself for the arguments; this is the
    /// environment's share, such as a `BULLETIN_NOW` that is no time).
    Usage,
    /// `send` stopped by a rate cap or the end of a sending window: run again later.
    Paused,
    /// Temporary: the relay failed, messages were deferred, or another run holds the journal.
    TempFail,
    /// Stopped by SIGINT (130) or SIGTERM (143).
    Interrupted,
}

/// Whose codes a description lists: the main help's (every command's) or one command's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    Every,
    Send,
    Due,
}

impl Exit {
    /// Every way out, in the order descriptions list them.
    pub const ALL: [Exit; 6] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Paused,
        Exit::TempFail,
        Exit::Interrupted,
    ];

    /// What this exit means to whoever reads `whose` help, or `None` when those commands never
    /// end this way (`due` turns a pause into success, so that cron does not mail about it).
    pub fn meaning(self, whose: Whose) -> Option<&'static str> {
        Some(match (self, whose) {
            (Exit::Success, Whose::Every) => {
                "success (or, for `due`, nothing due, or paused by a rate cap or sending window)"
            }
            (Exit::Success, Whose::Send) => "done",
            (Exit::Success, Whose::Due) => {
                "done, nothing due, or paused by a rate cap or sending window (continues next run)"
            }
            (Exit::Failure, Whose::Due) => "error (a campaign or the config needs fixing)",
            (Exit::Failure, _) => "error to fix (bad input, a refused action)",
            (Exit::Usage, Whose::Every) => "wrong usage",
            (Exit::Usage, _) => return None,
            (Exit::Paused, Whose::Every) => {
                "`send` stopped by a rate cap or its sending window (run again later)"
            }
            (Exit::Paused, Whose::Send) => {
                "stopped by a rate cap or the sending window (run again after the time shown)"
            }
            (Exit::Paused, Whose::Due) => return None,
            (Exit::TempFail, _) => {
                "temporary failure: a relay unreachable or failing, messages deferred, or another run is sending (try again later)"
            }
            (Exit::Interrupted, _) => "interrupted by Ctrl-C (SIGINT), 143 by SIGTERM",
        })
    }

    /// The one description of the codes, as help texts and the README give it: "Exit codes:
    /// 0 ...; 1 ...; ...".
    pub fn described(whose: Whose) -> String {
        let parts: Vec<String> = Exit::ALL
            .iter()
            .filter_map(|e| {
                let code = match e {
                    // The code shown for an interruption is SIGINT's; its meaning names SIGTERM's.
                    Exit::Interrupted => crate::interrupt::SIGINT_EXIT,
                    _ => e.code(),
                };
                e.meaning(whose).map(|m| format!("{code} {m}"))
            })
            .collect();
        format!("Exit codes: {}.", parts.join("; "))
    }

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Paused => 3,
            Exit::TempFail => 75,
            Exit::Interrupted => crate::interrupt::exit_code(),
        }
    }

    /// The exit of a command that failed with `e`.
    pub fn of_error(e: &anyhow::Error) -> Exit {
        let lib = e
            .downcast_ref::<Error>()
            .or_else(|| match e.downcast_ref() {
                Some(crate::send::SendError::Other(inner)) => Some(inner),
                _ => None,
            });
        match lib {
            Some(Error::Busy(_)) => Exit::TempFail,
            Some(Error::Interrupted(_)) => Exit::Interrupted,
            _ => Exit::Failure,
        }
    }

    /// The exit of a finished `send` run.
    pub fn of_send(r: &Report) -> Exit {
        match &r.stopped {
            Some(Stop::Interrupted) => Exit::Interrupted,
            Some(Stop::Capped { .. }) | Some(Stop::Window) => Exit::Paused,
            Some(Stop::RelayFailing { .. }) => Exit::TempFail,
            None if r.deferred > 0 => Exit::TempFail,
            None => Exit::Success,
        }
    }
}

impl From<DueOutcome> for Exit {
    fn from(d: DueOutcome) -> Exit {
        match d {
            DueOutcome::Ok => Exit::Success,
            DueOutcome::Error => Exit::Failure,
            DueOutcome::TempFail => Exit::TempFail,
            DueOutcome::Interrupted => Exit::Interrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README lists the codes in the words the main help uses: both come from `described`.
    #[test]
    fn the_readme_describes_the_codes_as_the_help_does() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("Exit codes:")
            .expect("the README lists exit codes");
        let paragraph = readme[start..].split("\n\n").next().unwrap_or_default();
        let flat = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        let described = Exit::described(Whose::Every);
        assert!(
            flat.starts_with(&described),
            "README.md's exit codes differ from Exit::described:\n  README: {flat}\n  code:   {described}"
        );
    }

    #[test]
    fn every_code_is_described_where_it_can_happen() {
        for e in Exit::ALL {
            assert!(e.meaning(Whose::Every).is_some(), "{e:?}");
        }
        assert!(Exit::described(Whose::Send).contains("3 stopped by a rate cap"));
        assert!(!Exit::described(Whose::Due).contains(" 3 "));
        assert!(!Exit::described(Whose::Send).contains("2 wrong usage"));
    }

    #[test]
    fn codes() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Paused.code(), 3);
        assert_eq!(Exit::TempFail.code(), 75);
        let busy = anyhow::Error::new(Error::Busy("x".into()));
        assert_eq!(Exit::of_error(&busy), Exit::TempFail);
        let other = anyhow::anyhow!("x");
        assert_eq!(Exit::of_error(&other), Exit::Failure);
    }
}

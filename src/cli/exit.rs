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

impl Exit {
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

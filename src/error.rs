//! Typed errors of the library: the caller tells apart bad input (a list of problems to show the
//! user) from I/O failures and from refusals that protect the user's files.

use std::path::PathBuf;

use crate::problems::Problems;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project's files hold mistakes; every one found is listed, each naming its file and line.
    #[error("{0}")]
    Invalid(Problems),

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The journal could not be read or written: nothing is sent without it.
    #[error("delivery journal: {0}")]
    Journal(String),

    /// Another run holds the project's send lock.
    #[error("{0}")]
    Busy(String),

    /// A folder or file that bulletin will not touch, so that nothing of the user's is lost.
    #[error("{0}")]
    Refused(String),

    /// Stopped by SIGINT or SIGTERM; what was half done has been cleaned away.
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<Problems> for Error {
    fn from(p: Problems) -> Self {
        Error::Invalid(p)
    }
}

impl Problems {
    /// Turns collected problems into an error if any of them is one; warnings alone pass. Here
    /// rather than in `problems`, which knows nothing of the errors above it.
    pub fn into_result(self) -> Result<Problems> {
        if self.has_errors() {
            Err(Error::Invalid(self))
        } else {
            Ok(self)
        }
    }
}

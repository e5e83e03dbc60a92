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

    /// Said whole in one line: the system's reason is part of the message, not a cause
    /// printed again after it.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
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

    /// No config file where one was looked for: not in a project folder.
    #[error("no config file at {}: run bulletin in a project folder, pass --config FILE, or create a project with `bulletin init DIR`", .0.display())]
    NoConfig(PathBuf),

    /// No campaign of that name in the campaigns folder; `known` are those there are.
    #[error("no campaign \"{name}\" in {}: {}", folder.display(), if known.is_empty() { "the folder has no campaign files".to_string() } else { format!("campaigns there are {}", known.join(", ")) })]
    UnknownCampaign {
        name: String,
        folder: PathBuf,
        known: Vec<String>,
    },

    /// The journal cannot be the one the project sent from (missing, replaced, older than the
    /// last run): sending from it could mail everyone again.
    #[error("{0}")]
    Discontinuous(String),

    /// A file given as a contact list is not one bulletin can read as such (a spreadsheet, a
    /// binary file, too large to decode whole).
    #[error("{0}")]
    NotAList(String),

    /// A template, the project's or a built-in one, cannot be used.
    #[error("{0}")]
    Template(String),

    /// A recipient's message could not be produced.
    #[error("cannot produce the message for {0}")]
    Message(String),

    /// The server could not start, or stopped.
    #[error("{0}")]
    Serve(String),

    /// Stopped by SIGINT or SIGTERM; what was half done has been cleaned away.
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            cause: source,
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

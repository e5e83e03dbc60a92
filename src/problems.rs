//! Problems found in a project's files: each names the file, the line when there is one, what is
//! wrong and what to do. Stages collect them so that one `check` lists every problem at once.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.line {
            Some(l) => write!(f, "{tag}: {}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{tag}: {}: {}", self.file.display(), self.message),
        }
    }
}

/// An ordered collection of problems; it is an error as soon as one of them is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, file: &Path, line: Option<usize>, message: impl Into<String>) {
        self.push(Severity::Error, file, line, message.into());
    }

    pub fn warning(&mut self, file: &Path, line: Option<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, file, line, message.into());
    }

    fn push(&mut self, severity: Severity, file: &Path, line: Option<usize>, message: String) {
        self.0.push(Problem {
            severity,
            file: file.to_path_buf(),
            line,
            message,
        });
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    /// Drops repeats: a template shared by several campaigns is reported once.
    pub fn dedup(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.0
            .retain(|p| seen.insert((p.file.clone(), p.line, p.message.clone())));
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Warning)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<&Problem> = self.0.iter().collect();
        // Errors first so that the reason for failing is on screen even when warnings are many.
        sorted.sort_by_key(|p| std::cmp::Reverse(p.severity));
        for (i, p) in sorted.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        let n = self.errors().count();
        if n > 0 {
            write!(f, "\n{n} error{} found", if n == 1 { "" } else { "s" })?;
        }
        Ok(())
    }
}

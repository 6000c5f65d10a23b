//! Typed profile errors. Each one says what is wrong, where, and how to fix it.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

/// One thing wrong in one profile file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, quoting the file's own values.
    pub what: String,
    /// What to change.
    pub fix: String,
}

impl Problem {
    /// A problem without a known position yet.
    pub fn new(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// Everything wrong in one file, printed one problem per paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The file, as the user named it (or `devices/<file>` for a built-in one).
    pub origin: String,
    /// At least one problem.
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&self.origin)?;
            if let Some(line) = problem.line {
                write!(f, ":{line}")?;
                if let Some(column) = problem.column {
                    write!(f, ":{column}")?;
                }
            }
            write!(f, ": {}\n  fix: {}", problem.what, problem.fix)?;
        }
        Ok(())
    }
}

/// Why a profile could not be loaded or found.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {}: {source}\n  fix: check the path and that the file is readable", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but is not a valid profile.
    #[error("{0}")]
    Invalid(Problems),
    /// Two user profiles use one id.
    #[error(
        "device id `{id}` is defined twice: in {} and in {}; the second is skipped\n  fix: give one of them another `id`, or delete one",
        first.display(),
        second.display()
    )]
    DuplicateId {
        /// The id.
        id: String,
        /// The file that was kept.
        first: PathBuf,
        /// The file that was skipped.
        second: PathBuf,
    },
    /// No profile has the id asked for.
    #[error("{}", unknown_device_message(id, suggestions))]
    UnknownDevice {
        /// The id asked for.
        id: String,
        /// The nearest known ids, best first.
        suggestions: Vec<String>,
    },
    /// What was asked for names several devices (a model without its hardware revision).
    #[error(
        "`{text}` names {} devices: {}\n  fix: name the one for your router's hardware revision (on the label under it), e.g. `{}`",
        ids.len(),
        ids.join(", "),
        ids.first().map_or("ID", String::as_str)
    )]
    AmbiguousDevice {
        /// What was asked for.
        text: String,
        /// The devices it names.
        ids: Vec<String>,
    },
}

fn unknown_device_message(id: &str, suggestions: &[String]) -> String {
    let mut message = format!("no device profile has the id `{id}`");
    if !suggestions.is_empty() {
        let quoted: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
        let _ = write!(message, "; did you mean {}?", quoted.join(", "));
    }
    message.push_str(
        "\n  fix: `rescue-wizard devices` lists every device; `rescue-wizard devices QUERY` searches them",
    );
    message
}

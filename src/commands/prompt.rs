//! The yes/no question on the terminal, and the consent to network changes built on it.

use crate::UsageError;

/// Asks the technician to approve network changes, unless `--yes` was given.
pub(super) fn consent(changes: &[String], yes: bool) -> Result<(), UsageError> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    let lines = changes.join("\n  ");
    if !std::io::stdin().is_terminal() {
        return Err(UsageError::new(format!(
            "rescue-wizard needs to change the network:\n  {lines}\n  fix: add --yes to allow it (everything is undone when rescue-wizard ends)"
        )));
    }
    if ask(&format!("rescue-wizard will:\n  {lines}\nGo ahead? [y/N] ")) {
        Ok(())
    } else {
        Err(UsageError::new("nothing was changed"))
    }
}

/// Asks a yes/no question on the terminal; no terminal (or no answer) means no.
pub(crate) fn ask(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes")
}

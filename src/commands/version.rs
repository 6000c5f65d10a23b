//! `rescue-wizard version`, `completions` and `man`: the program describing itself.

use crate::Outcome;
use crate::cli::Shell;

/// `rescue-wizard version`.
pub(super) fn version() -> Outcome {
    println!("rescue-wizard {}", env!("CARGO_PKG_VERSION"));
    Outcome::Done
}

/// `rescue-wizard completions SHELL`.
pub(super) fn completions(shell: Shell) -> anyhow::Result<Outcome> {
    crate::cli::write_completions(shell, &mut std::io::stdout().lock())?;
    Ok(Outcome::Done)
}

/// `rescue-wizard man`.
pub(super) fn man() -> anyhow::Result<Outcome> {
    crate::cli::write_man_page(&mut std::io::stdout().lock())?;
    Ok(Outcome::Done)
}

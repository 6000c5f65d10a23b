//! What each sub-command does: turn parsed arguments into library calls and a front-end.

use crate::Outcome;
use crate::cli::{Cli, Command};

/// Runs the chosen sub-command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Serve(_) | Command::Push(_) | Command::Get(_) => {
            anyhow::bail!("this command is being built")
        }
    }
}

//! What each sub-command does: turn parsed arguments into library calls and a front-end.

use crate::Outcome;
use crate::cli::{Cli, Command};

/// Runs the chosen sub-command.
// The transfer commands await; on this branch they are not wired yet, so nothing does.
#[allow(clippy::unused_async)]
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Serve(_) | Command::Push(_) | Command::Get(_) => {
            anyhow::bail!("this command is being built")
        }
        Command::Devices(args) => crate::profile::command::run(&args),
    }
}

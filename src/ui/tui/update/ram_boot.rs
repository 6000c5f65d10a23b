//! The console's third answer at the write question, where the profile offers it: boot the
//! proven image from RAM, write nothing (docs/console.md, "Boot from RAM"). Kept apart from
//! the question's `Y` and `N` so that the wizard's console screens stay as they are.

use std::time::Duration;

use super::super::model::{Effect, FeedKind, FeedLine, RunState};
use crate::engine::Command;

/// [`crate::engine::Event::ConsoleRamBoot`]: offered (`B` takes it while the question stands),
/// or the path taken, after which nothing is offered any more.
pub(super) fn offered(run: &mut RunState, command: &str, chosen: bool) {
    run.ram_boot_offered = (!chosen).then(|| command.to_owned());
}

/// `B` at the question: the question goes, the answer is said in the feed and sent once.
pub(super) fn chosen(run: &mut RunState, at: Duration) -> Option<Effect> {
    let command = run.ram_boot_offered.take()?;
    run.write_asked.take()?;
    run.feed.push(FeedLine {
        at,
        kind: FeedKind::Info,
        text: format!("you chose the boot from RAM: `{command}`; nothing is erased or written"),
    });
    Some(Effect::Send(Command::BootFromRam))
}

//! The boot from RAM offered at the console's write question: `B` appears only where the run
//! offered it, says what it does, answers once through [`Command::BootFromRam`], and the
//! question goes.

use super::{event, press, rows};
use crate::engine::{Command, Event};
use crate::ui::tui::keys::Key;
use crate::ui::tui::model::{Effect, Model};

const BOOT: &str = "bootm 0x81000000";

/// The live screen of a console run at the write question (`console_write`'s), with the boot
/// from RAM offered beside it when `offered`.
fn asked(offered: bool) -> Model {
    let mut model = super::console_write::asked();
    if offered {
        let effects = event(
            &mut model,
            4.7,
            Event::ConsoleRamBoot {
                command: BOOT.into(),
                chosen: false,
                what: format!("or boot the proven image from RAM instead with `{BOOT}`"),
            },
        );
        assert!(effects.is_empty(), "{effects:?}");
    }
    model
}

#[test]
fn b_boots_from_ram_once_where_offered_and_the_question_goes() {
    let mut model = asked(true);
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains("b to boot it from RAM") && screen.contains("instead (nothing written)"),
        "{screen}"
    );
    let effects = press(&mut model, &[Key::Char('b')]);
    assert!(
        matches!(&effects[..], [Effect::Send(Command::BootFromRam)]),
        "{effects:?}"
    );
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains("you chose the boot from RAM: `bootm"),
        "{screen}"
    );
    assert!(!screen.contains("y to write"), "{screen}");
    // No second answer: neither b again nor y.
    assert!(press(&mut model, &[Key::Char('b')]).is_empty());
    assert!(press(&mut model, &[Key::Char('y')]).is_empty());
}

#[test]
fn without_the_offer_b_does_nothing_and_is_not_shown() {
    let mut model = asked(false);
    let screen = rows(&model).join("\n");
    assert!(!screen.contains("boot it from RAM"), "{screen}");
    assert!(press(&mut model, &[Key::Char('b')]).is_empty());
    // The question still stands for Y and N.
    assert!(
        screen.contains("y to write, n to leave the flash as it is"),
        "{screen}"
    );
}

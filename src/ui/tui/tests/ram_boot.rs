//! The boot from RAM offered at the console's write question: `B` appears only where the run
//! offered it, says what it does, answers once through [`Command::BootFromRam`], and the
//! question goes.

use std::path::PathBuf;

use super::{event, on_live_screen, press, rows};
use crate::engine::{Command, Event, Phase};
use crate::ui::tui::keys::Key;
use crate::ui::tui::model::{Effect, Model};

const BOOT: &str = "bootm 0x81000000";

/// The live screen of a console run at the write question, with the boot from RAM offered
/// before it (as the dialogue tells them) when `offered`.
fn asked(offered: bool) -> Model {
    let mut model = on_live_screen();
    event(
        &mut model,
        0.5,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    event(
        &mut model,
        1.0,
        Event::ConsoleOpened {
            port: PathBuf::from("/dev/ttyUSB0"),
            baud: 115_200,
        },
    );
    if offered {
        event(
            &mut model,
            4.5,
            Event::ConsoleRamBoot {
                command: BOOT.into(),
                chosen: false,
                what: format!("or boot the proven image from RAM instead with `{BOOT}`"),
            },
        );
    }
    let effects = event(
        &mut model,
        4.6,
        Event::ConsoleWriteAsked {
            what: "erase 0x9f020000..0x9f3e0000 (3.75 MiB) and write the image proven by CRC-32 0x1234abcd".into(),
            erase_from: 0x9f02_0000,
            erase_to: 0x9f3e_0000,
            crc: "1234abcd".into(),
            commands: vec!["erase 0x9f020000 +0x3c0000".into()],
        },
    );
    assert!(effects.is_empty(), "{effects:?}");
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

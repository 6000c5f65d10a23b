//! The console's question before it writes the flash: the live screen says exactly what will
//! be erased and written, `Y` and `N` answer it through [`Command::ConfirmWrite`], and nothing
//! is sent before the question or twice after it.

use std::path::PathBuf;

use super::{event, on_live_screen, press, rows, snapshot};
use crate::engine::{Command, Event, Phase, RunOutcome};
use crate::ui::tui::keys::Key;
use crate::ui::tui::model::{Effect, Model, Msg, RunEnd, Screen};
use crate::ui::tui::update::update;

/// The question as the run words it (`engine::run::method::console`, from the dialogue).
const WHAT: &str =
    "erase 0x9f020000..0x9f3e0000 (3.75 MiB) and write the image proven by CRC-32 0x1234abcd";

/// The live screen of a console run: the port open, the bootloader's lines, the image
/// proven in RAM, and the question.
pub(super) fn asked() -> Model {
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
    for (secs, line) in [
        (2.0, "Autobooting in 1 seconds"),
        (2.1, "ar7240> tftpboot 0x81000000 wr841nv9-factory.bin"),
        (4.0, "Bytes transferred = 3932160 (3c0000 hex)"),
    ] {
        event(&mut model, secs, Event::ConsoleLine { line: line.into() });
    }
    event(
        &mut model,
        4.5,
        Event::ConsoleCrc {
            region: "the image loaded in RAM".into(),
            ours: "1234abcd".into(),
            theirs: "1234abcd".into(),
            equal: true,
        },
    );
    let effects = event(
        &mut model,
        4.6,
        Event::ConsoleWriteAsked {
            what: WHAT.into(),
            erase_from: 0x9f02_0000,
            erase_to: 0x9f3e_0000,
            crc: "1234abcd".into(),
            commands: vec![
                "erase 0x9f020000 +0x3c0000".into(),
                "cp.b 0x81000000 0x9f020000 0x3c0000".into(),
            ],
        },
    );
    // The question is the technician's: the wizard answers nothing by itself.
    assert!(effects.is_empty(), "{effects:?}");
    model
}

#[test]
fn the_write_question_says_what_is_erased_and_written_and_waits() {
    let model = asked();
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains(
            "? erase 0x9f020000..0x9f3e0000 (3.75 MiB) and write the image proven by CRC-32"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("0x1234abcd: y to write, n to leave the flash as it is"),
        "{screen}"
    );
    snapshot("console_write_asked", &model);
}

#[test]
fn y_sends_the_go_once_and_the_question_goes() {
    let mut model = asked();
    let effects = press(&mut model, &[Key::Char('y')]);
    assert!(
        matches!(&effects[..], [Effect::Send(Command::ConfirmWrite(true))]),
        "{effects:?}"
    );
    let screen = rows(&model).join("\n");
    assert!(!screen.contains("y to write"), "{screen}");
    assert!(!screen.contains("Y write flash"), "{screen}");
    assert!(screen.contains("you said yes: erase"), "{screen}");
    // A second y is no second answer.
    assert!(press(&mut model, &[Key::Char('y')]).is_empty());
}

#[test]
fn n_leaves_the_flash_as_it_is() {
    let mut model = asked();
    let effects = press(&mut model, &[Key::Char('N')]);
    assert!(
        matches!(&effects[..], [Effect::Send(Command::ConfirmWrite(false))]),
        "{effects:?}"
    );
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains("you said no: the flash stays as it is"),
        "{screen}"
    );
    assert!(press(&mut model, &[Key::Char('n')]).is_empty());
}

#[test]
fn y_before_the_question_answers_nothing() {
    let mut model = on_live_screen();
    assert!(press(&mut model, &[Key::Char('y'), Key::Char('n')]).is_empty());
}

#[test]
fn at_the_question_the_status_says_the_image_waits_in_ram_not_that_it_moves() {
    let mut model = asked();
    event(
        &mut model,
        4.7,
        Event::PhaseStarted {
            phase: Phase::Transfer,
        },
    );
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains(
            "the image is in the router's RAM, proven by CRC-32: waiting for your answer"
        ),
        "{screen}"
    );
    assert!(!screen.contains("the image is moving"), "{screen}");
}

#[test]
fn a_declined_write_ends_on_the_bootloaders_prompt_not_on_a_router_that_restarts() {
    let mut model = asked();
    press(&mut model, &[Key::Char('n')]);
    event(&mut model, 5.0, Event::PhaseStarted { phase: Phase::Done });
    event(
        &mut model,
        5.1,
        Event::Finished {
            outcome: RunOutcome::Transferred,
            summary: "the image is in the router's RAM; nothing was written".into(),
            checklist: Vec::new(),
        },
    );
    update(
        &mut model,
        Msg::RunEnded(RunEnd {
            outcome: RunOutcome::Transferred,
            report: Ok("/root/.local/state/rescue-wizard/reports/console.md".into()),
            refused: None,
            undo_failures: Vec::new(),
        }),
    );
    assert_eq!(model.screen, Screen::Done);
    let text = rows(&model).join("\n");
    assert!(
        text.contains("Nothing was written: the router waits at its bootloader's prompt"),
        "{text}"
    );
    assert!(!text.contains("give the router a few minutes"), "{text}");
}

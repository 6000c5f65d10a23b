//! The port screen's serial adapter, for a console run given `--serial auto`: the one adapter
//! present is taken, several are listed with their USB ids and descriptions and the technician
//! picks one, none keeps the question open until one is plugged in; the one taken is the
//! plan's port, and the prepare screen says to wire it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{on_port_screen, press, rows, snapshot};
use crate::console::port::Adapter;
use crate::engine::plan::{SERIAL_AUTO, Serial};
use crate::ui::tui::keys::Key;
use crate::ui::tui::model::{Effect, Model, Msg, Screen};
use crate::ui::tui::update::update;

/// Two adapters as sysfs describes them: an FTDI and a CH340.
fn two_adapters() -> Vec<Adapter> {
    vec![
        Adapter {
            path: PathBuf::from("/dev/ttyUSB0"),
            usb_id: Some((0x0403, 0x6001)),
            description: Some("FTDI FT232R USB UART".into()),
            serial_number: Some("A50285BI".into()),
        },
        Adapter {
            path: PathBuf::from("/dev/ttyUSB1"),
            usb_id: Some((0x1a86, 0x7523)),
            description: Some("QinHeng Electronics CH340 serial converter".into()),
            serial_number: None,
        },
    ]
}

/// The port screen of a TL-WR841N v9 run given `--serial` with `port`.
fn with_serial(port: &str) -> Model {
    let mut model = on_port_screen();
    model.settings.serial = Some(Serial {
        port: PathBuf::from(port),
        baud: None,
        after_proof: crate::engine::plan::AfterProof::AskToWrite,
    });
    model
}

/// The serial port the plan's console leg opens.
fn planned_port(model: &Model) -> &Path {
    &model
        .plan
        .as_ref()
        .and_then(|plan| plan.console.as_ref())
        .expect("a console leg")
        .port
}

#[test]
fn with_two_adapters_the_port_screen_asks_which_and_plans_the_one_taken() {
    let mut model = with_serial(SERIAL_AUTO);
    update(&mut model, Msg::Adapters(two_adapters()));
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Port, "the question comes first");
    assert!(model.port.adapters.asking);
    snapshot("serial_adapters_asked", &model);
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains("/dev/ttyUSB0    0403:6001 FTDI FT232R USB UART, serial A50285BI"),
        "{screen}"
    );
    assert!(
        screen.contains("/dev/ttyUSB1    1a86:7523 QinHeng Electronics CH340"),
        "{screen}"
    );
    // The keys move the adapters now; Enter takes the highlighted one.
    press(&mut model, &[Key::Down, Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    assert_eq!(planned_port(&model), Path::new("/dev/ttyUSB1"));
    // The prepare screen says which adapter to wire, and what the console leg does.
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Prepare);
    snapshot("serial_adapter_prepare", &model);
    let screen = rows(&model).join(" ");
    assert!(
        screen.contains("the serial adapter /dev/ttyUSB1 is wired to the router's console"),
        "{screen}"
    );
}

#[test]
fn esc_leaves_the_adapter_question_for_the_ports_and_enter_asks_again() {
    let mut model = with_serial(SERIAL_AUTO);
    update(&mut model, Msg::Adapters(two_adapters()));
    press(&mut model, &[Key::Enter, Key::Down, Key::Esc]);
    assert_eq!(model.screen, Screen::Port);
    assert!(!model.port.adapters.asking);
    assert_eq!(model.port.adapters.chosen, None);
    // The keys move the ports again.
    press(&mut model, &[Key::Down]);
    assert_eq!(model.port.selected, 1);
    press(&mut model, &[Key::Up, Key::Enter]);
    assert!(model.port.adapters.asking, "asked again");
    // The highlight stayed on the adapter last looked at.
    press(&mut model, &[Key::Enter]);
    assert_eq!(planned_port(&model), Path::new("/dev/ttyUSB1"));
}

#[test]
fn with_one_adapter_it_is_taken_without_a_question() {
    let mut model = with_serial(SERIAL_AUTO);
    update(&mut model, Msg::Adapters(two_adapters()[..1].to_vec()));
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    assert!(!model.port.adapters.asking);
    assert_eq!(planned_port(&model), Path::new("/dev/ttyUSB0"));
}

#[test]
fn with_no_adapter_the_question_waits_for_one_to_be_plugged_in() {
    let mut model = with_serial(SERIAL_AUTO);
    update(&mut model, Msg::Adapters(Vec::new()));
    press(&mut model, &[Key::Enter]);
    assert!(model.port.adapters.asking);
    snapshot("serial_adapters_none", &model);
    let screen = rows(&model).join(" ");
    assert!(
        screen.contains("no USB serial adapter found: plug the one wired to the router's"),
        "{screen}"
    );
    // Enter has nothing to take.
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Port);
    // The list is read again every second while the screen is shown: adapters too.
    let effects = update(&mut model, Msg::Tick(Duration::from_mins(1)));
    assert!(
        matches!(&effects[..], [Effect::ListPorts, Effect::ListAdapters]),
        "{effects:?}"
    );
    update(&mut model, Msg::Adapters(two_adapters()[1..].to_vec()));
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    assert_eq!(planned_port(&model), Path::new("/dev/ttyUSB1"));
}

#[test]
fn a_port_given_by_path_is_neither_listed_nor_asked_for() {
    let mut model = with_serial("/dev/ttyUSB3");
    let effects = update(&mut model, Msg::Tick(Duration::from_mins(1)));
    assert!(matches!(&effects[..], [Effect::ListPorts]), "{effects:?}");
    let screen = rows(&model).join(" ");
    assert!(!screen.contains("Serial adapters"), "{screen}");
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    assert_eq!(planned_port(&model), Path::new("/dev/ttyUSB3"));
}

#[test]
fn the_baud_rate_given_reaches_the_plan_over_the_profiles() {
    let mut model = with_serial(SERIAL_AUTO);
    if let Some(serial) = model.settings.serial.as_mut() {
        serial.baud = Some(57_600);
    }
    update(&mut model, Msg::Adapters(two_adapters()[..1].to_vec()));
    press(&mut model, &[Key::Enter]);
    let console = model
        .plan
        .as_ref()
        .and_then(|plan| plan.console.as_ref())
        .expect("a console leg");
    assert_eq!(
        (console.port.as_path(), console.baud),
        (Path::new("/dev/ttyUSB0"), 57_600)
    );
}

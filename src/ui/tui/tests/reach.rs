//! The screens a test starts from, reached by keys and the answers to effects as the
//! technician reaches them: the image screen, the port screen, the live screen of a run.

use super::*;

/// A real-mode wizard on the image screen, with the TL-WR841N v9 chosen.
pub(super) fn on_image_screen() -> Model {
    let (mut model, first) = init(setup(RunKind::Real));
    assert!(matches!(&first[..], [Effect::ListDir(dir)] if dir == Path::new(DOWNLOADS)));
    list_downloads(&mut model);
    type_text(&mut model, "wr841 v9");
    let effects = press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Image);
    // The folder is read again on the way in.
    assert!(matches!(&effects[..], [Effect::ListDir(dir)] if dir == Path::new(DOWNLOADS)));
    model
}

/// The image checked and taken, the port list read: the port screen.
pub(super) fn on_port_screen() -> Model {
    let mut model = on_image_screen();
    press(&mut model, &[Key::Down]);
    let effects = take_image(&mut model, "wr841nv9-factory.bin", &firmware(3_932_160));
    assert!(matches!(&effects[..], [Effect::ListPorts]));
    update(&mut model, Msg::Ports(interfaces()));
    model
}

/// Through the network and prepare screens: the run starts.
pub(super) fn on_live_screen() -> Model {
    let mut model = on_port_screen();
    let effects = start_run(&mut model);
    assert!(matches!(&effects[..], [Effect::StartRun(plan)] if plan.network.is_some()));
    model
}

/// The device found by `search` chosen, `name` (the only file in Downloads, `image` its bytes)
/// checked and taken, the port list read: the port screen of a real run.
pub(super) fn on_port_screen_with(search: &str, name: &str, image: &[u8]) -> Model {
    let (mut model, _) = init(setup(RunKind::Real));
    update(
        &mut model,
        Msg::Listed {
            dir: DOWNLOADS.into(),
            entries: Ok(vec![FileEntry {
                name: name.into(),
                dir: false,
                size: image.len() as u64,
            }]),
        },
    );
    type_text(&mut model, search);
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Image);
    take_image(&mut model, name, image);
    update(&mut model, Msg::Ports(interfaces()));
    model
}

/// On the image screen with `name` highlighted (`image` its bytes): Enter checks it, the check
/// answers, Enter takes it to the port screen; the effects of that last key.
fn take_image(model: &mut Model, name: &str, image: &[u8]) -> Vec<Effect> {
    let effects = press(model, &[Key::Enter]);
    let [Effect::Inspect { path, .. }] = &effects[..] else {
        panic!("{effects:?}");
    };
    let inspection = inspected(model, name, image);
    assert_eq!(path, &inspection.path);
    update(
        model,
        Msg::Inspected {
            path: path.clone(),
            result: Ok(Box::new(inspection)),
        },
    );
    let effects = press(model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Port, "{}", rows(model).join("\n"));
    effects
}

/// From the port screen through the network and prepare screens: the run starts on the live
/// screen; the effects of the last key (the run's start, with its plan).
pub(super) fn start_run(model: &mut Model) -> Vec<Effect> {
    press(model, &[Key::Enter, Key::Enter]);
    assert_eq!(model.screen, Screen::Prepare);
    let effects = press(model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Live);
    effects
}

//! A device or an image given on the command line: where the wizard opens and what it
//! highlights.

use super::*;

#[test]
fn an_image_given_is_highlighted_and_checked_once_the_device_is_chosen() {
    let given = PathBuf::from(DOWNLOADS).join("wr841nv9-factory.bin");
    let (mut model, first) = init(Setup {
        image: Some(given.clone()),
        ..setup(RunKind::Real)
    });
    assert!(matches!(&first[..], [Effect::ListDir(dir)] if dir == Path::new(DOWNLOADS)));
    list_downloads(&mut model);
    // Highlighted in the picker (the first file would be the stock image), and named on the
    // device screen the wizard opens with.
    assert_eq!(model.image.selected_file(), Some(given.clone()));
    assert_eq!(model.screen, Screen::Device);
    assert!(
        rows(&model)[1].contains("Which router is wr841nv9-factory.bin for?"),
        "{:?}",
        rows(&model)
    );
    type_text(&mut model, "wr841 v9");
    let effects = press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Image);
    assert!(
        matches!(&effects[..], [Effect::ListDir(_), Effect::Inspect { path, .. }] if *path == given),
        "{effects:?}"
    );
    // Checked once: going back and choosing again is the technician's own pick.
    press(&mut model, &[Key::Esc]);
    let effects = press(&mut model, &[Key::Enter]);
    assert!(matches!(&effects[..], [Effect::ListDir(_)]), "{effects:?}");
}

#[test]
fn a_device_and_an_image_given_open_at_the_image_check() {
    let given = PathBuf::from(DOWNLOADS).join("wr841nv9-factory.bin");
    let (mut model, first) = init(Setup {
        // An alias in another case: the lookup's names, not only ids.
        search: "WR841N v9".into(),
        image: Some(given.clone()),
        ..setup(RunKind::Real)
    });
    assert_eq!(model.screen, Screen::Image);
    assert_eq!(
        model.device.chosen.as_ref().map(|p| p.id.as_str()),
        Some("tl-wr841n-v9")
    );
    assert!(
        matches!(&first[..], [Effect::ListDir(_), Effect::Inspect { path, .. }] if *path == given),
        "{first:?}"
    );
    list_downloads(&mut model);
    let inspection = inspected(&model, "wr841nv9-factory.bin", &firmware(3_932_160));
    update(
        &mut model,
        Msg::Inspected {
            path: given,
            result: Ok(Box::new(inspection)),
        },
    );
    let screen = rows(&model).join("\n");
    assert!(
        screen.contains("The image fits this device: press Enter to use it."),
        "{screen}"
    );
    assert!(screen.contains("READY"), "{screen}");
}

#[test]
fn a_device_given_alone_is_highlighted_on_the_device_screen() {
    let (model, _) = init(Setup {
        search: "TL-WR841N v9".into(),
        ..setup(RunKind::Real)
    });
    assert_eq!(model.screen, Screen::Device);
    assert_eq!(
        crate::ui::tui::update::highlighted(&model).map(|p| p.id.as_str()),
        Some("tl-wr841n-v9")
    );
    // Its steps are on the screen beside it.
    let screen = rows(&model).join("\n");
    assert!(screen.contains("steps"), "{screen}");
}

//! The device and image pickers: a manual device's steps, long ids and names cut alike.

use super::*;

#[test]
fn a_manual_device_shows_its_steps_one_at_a_time() {
    let (mut model, _) = init(setup(RunKind::Real));
    type_text(&mut model, "dlink-dir-1960-a1");
    assert_eq!(model.device.hits[0], "dlink-dir-1960-a1");
    let profile = model
        .catalogue
        .get("dlink-dir-1960-a1")
        .unwrap()
        .profile
        .clone();
    assert!(!profile.method.is_automated());
    assert!(profile.steps.len() >= 2, "{profile:?}");
    press(&mut model, &[Key::Enter]);
    // Not a dead end, and not the next screen: its steps, over the device list.
    assert_eq!(model.screen, Screen::Device);
    assert_eq!(model.overlay, Some(Overlay::Manual(0)));
    let text = draw(&model, 80, 24).backend().to_string();
    assert!(text.contains("by hand: step 1 of"), "{text}");
    assert!(text.contains("router's LAN port"), "{text}");
    let first: String = profile.steps[0].action.chars().take(30).collect();
    assert!(text.contains(&first), "{first}: {text}");
    // Enter paces them; ← goes back; Enter on the last closes them.
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.overlay, Some(Overlay::Manual(1)));
    let text = draw(&model, 80, 24).backend().to_string();
    assert!(text.contains("by hand: step 2 of"), "{text}");
    press(&mut model, &[Key::Left]);
    assert_eq!(model.overlay, Some(Overlay::Manual(0)));
    for _ in 0..profile.steps.len() {
        press(&mut model, &[Key::Enter]);
    }
    assert_eq!(model.overlay, None);
    assert_eq!(model.screen, Screen::Device);
    // Esc closes them at any step; nothing else moved.
    press(&mut model, &[Key::Enter, Key::Esc]);
    assert_eq!(model.overlay, None);
    assert!(!model.quit);
}

#[test]
fn long_device_ids_keep_the_models_in_one_column() {
    let mut catalogue = Catalogue::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = crate::profile::catalogue::embedded_files()
        .iter()
        .find(|(file, _)| *file == "tl-wr841n-v9.yaml")
        .unwrap()
        .1
        .replace(
            "id: tl-wr841n-v9",
            "id: tl-wr841n-v9-bench-unit-with-a-long-name",
        );
    let file = dir.path().join("long.yaml");
    std::fs::write(&file, yaml).unwrap();
    catalogue.add_profile_file(&file).unwrap();
    let (mut model, _) = init(Setup {
        catalogue,
        ..setup(RunKind::Real)
    });
    type_text(&mut model, "wr841n");
    assert!(model.device.hits.len() > 3, "{:?}", model.device.hits);
    let text = draw(&model, 80, 24).backend().to_string();
    // Every row's model starts in the same column.
    // Every row's model starts in the same column of the list (its first 32 columns).
    let columns: Vec<usize> = text
        .lines()
        .map(|line| line.chars().take(32).collect::<String>())
        .filter(|list| list.contains("tl-wr841n-v"))
        .filter_map(|list| list.find("TL-WR").map(|at| list[..at].chars().count()))
        .collect();
    assert!(columns.len() > 3, "{text}");
    assert!(
        columns.iter().all(|c| *c == columns[0]),
        "{columns:?}\n{text}"
    );
    // The long id is cut, not spilled into the model column.
    assert!(text.contains("tl-wr841n-v9-be…"), "{text}");
}

#[test]
fn names_cut_alike_in_the_picker_are_told_apart() {
    let mut model = on_image_screen();
    let long = |name: &str, size| FileEntry {
        name: name.into(),
        dir: false,
        size,
    };
    update(
        &mut model,
        Msg::Listed {
            dir: DOWNLOADS.into(),
            entries: Ok(vec![
                long(
                    "openwrt-23.05.2-ath79-tiny-tplink_tl-wr841-v9-squashfs-factory.bin",
                    3_932_160,
                ),
                long(
                    "openwrt-23.05.3-ath79-tiny-tplink_tl-wr841-v9-squashfs-factory.bin",
                    3_932_160,
                ),
                long(
                    "openwrt-23.05.3-ath79-tiny-tplink_tl-wr841-v9-squashfs-factory-stripped.bin",
                    3_800_000,
                ),
            ]),
        },
    );
    snapshot("image_picker_names_cut_alike", &model);
    let rows = rows(&model);
    let names: Vec<String> = rows[3..6]
        .iter()
        .map(|row| {
            let inside = row.split('│').nth(1).unwrap_or_default();
            // "> name size": the names have no spaces.
            inside
                .trim()
                .trim_start_matches("> ")
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(names.len(), 3, "{rows:?}");
    assert!(names.iter().all(|name| name.contains('…')), "{names:?}");
    assert!(
        names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
        "{names:?}"
    );
    // The start and the end of each are kept.
    assert!(
        names.iter().all(|name| name.starts_with("openwrt-")),
        "{names:?}"
    );
    assert!(names[2].ends_with("tripped.bin"), "{names:?}");
}

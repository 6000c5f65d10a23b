//! The live screen's activity pane: scrolled back, and an HTTP upload's page and progress.

use super::*;

/// The live screen with `count` lines in the feed after what the run said so far.
fn live_with_lines(count: usize) -> Model {
    let mut model = on_live_screen();
    for n in 0..count {
        event(
            &mut model,
            1.0 + n as f64,
            Event::NetworkNoticed {
                what: format!("notice {n:02}"),
            },
        );
    }
    model
}

/// The feed pane's title count ("N newer below") and the notices it shows, in order.
fn feed_pane(model: &Model) -> (usize, Vec<usize>) {
    let rows = rows(model);
    let below = rows
        .iter()
        .find_map(|row| {
            let at = row.find("Activity: ")?;
            row[at + "Activity: ".len()..]
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let shown = rows
        .iter()
        .filter_map(|row| {
            let at = row.find("notice ")?;
            row[at + "notice ".len()..].get(..2)?.parse().ok()
        })
        .collect();
    (below, shown)
}

#[test]
fn the_live_pane_scrolled_back_is_full_and_counts_what_is_below_truly() {
    let mut model = live_with_lines(40);
    let total = model.run.as_ref().unwrap().feed.len();
    let (below, following) = feed_pane(&model);
    assert_eq!(below, 0);
    assert_eq!(following.last(), Some(&39));
    let pane = following.len();
    assert!(pane >= 5, "{following:?}");

    // Up: one entry back, the pane as full as before, one newer below.
    press(&mut model, &[Key::Up]);
    let (below, shown) = feed_pane(&model);
    assert_eq!((below, shown.len(), shown.last()), (1, pane, Some(&38)));

    // Home: the oldest entries fill the whole pane, and the count is what is really below.
    press(&mut model, &[Key::Home]);
    snapshot("live_scrolled_to_the_top", &model);
    let (below, shown) = feed_pane(&model);
    assert_eq!(shown.len(), pane, "{shown:?}");
    assert_eq!(shown.first(), Some(&0), "{shown:?}");
    assert!(!rows(&model).join("\n").contains("starting the run"));
    let last = *shown.last().unwrap();
    // The notices are the feed's last 40 entries: entry index = total - 40 + notice.
    assert_eq!(below, total - (total - 40 + last + 1), "{shown:?}");

    // End follows again; Down from one back does too.
    press(&mut model, &[Key::End]);
    assert_eq!(feed_pane(&model), (0, following.clone()));
    press(&mut model, &[Key::Up, Key::Down]);
    assert_eq!(feed_pane(&model), (0, following));
}

/// An upload to a bootloader's web page reads in the live pane as a TFTP transfer does: the
/// page not up yet, then up, the bytes the router acknowledged against the image's size, and
/// the page's own words once it has the image.
#[test]
fn an_http_upload_shows_the_page_its_progress_and_its_answer() {
    let mut model = on_live_screen();
    event(
        &mut model,
        0.5,
        Event::HttpPageDown {
            reason: "connection refused".into(),
            tries: 3,
        },
    );
    event(&mut model, 2.0, Event::HttpPageUp { attempt: 1 });
    event(
        &mut model,
        2.1,
        Event::PhaseStarted {
            phase: Phase::Transfer,
        },
    );
    let total = 16_672_358;
    event(
        &mut model,
        6.0,
        Event::TransferProgressed {
            bytes: 4_404_019,
            total,
            rate: 1_100_000,
            timeouts: 0,
        },
    );
    let screen = rows(&model).join("\n");
    assert!(screen.contains("upload page answered"), "{screen}");
    assert!(screen.contains("26%") || screen.contains("4.2"), "{screen}");
    event(
        &mut model,
        16.0,
        Event::TransferProgressed {
            bytes: total,
            total,
            rate: 1_200_000,
            timeouts: 0,
        },
    );
    event(
        &mut model,
        16.2,
        Event::HttpAnswered {
            said: "UPDATE IN PROGRESS".into(),
            accepted: true,
        },
    );
    let screen = rows(&model).join("\n");
    // The feed wraps at 80 columns: the page's words, then what they mean, on the next row.
    assert!(
        screen.contains("the page said UPDATE IN PROGRESS: the"),
        "{screen}"
    );
    assert!(screen.contains("router is writing flash"), "{screen}");
    assert!(screen.contains("100%"), "{screen}");
}

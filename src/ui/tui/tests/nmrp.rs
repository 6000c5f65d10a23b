//! An NMRP run in the wizard, phase by phase: the engine's events in the order an NMRP run
//! sends them (the wait, the advertising count, the answer, the configuration, the upload, the
//! keep-alives, the close or the rejection, a link flap), each phase drawn and compared with its
//! snapshot. The rejection's causes are the run's own (`method::nmrp::causes` on this plan).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::{DOWNLOADS, event, on_port_screen_with, rows, show_steps, snapshot, start_run};
use crate::engine::run::method::nmrp::causes;
use crate::engine::{Event, Phase, RunOutcome};
use crate::nmrp::session::{Phase as Exchange, Rejection};
use crate::ui::tui::model::{Effect, Model, Msg, RunEnd, Screen};
use crate::ui::tui::update::update;

const IMAGE: &str = "R6220-V1.1.0.86.chk";
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 164, 183, 253);
const ROUTER_MAC: &str = "02:4e:54:47:52:01";
const TOTAL: u64 = 8 * 1024 * 1024 + 5;

/// The R6220 chosen, its .chk checked, the port taken, the network and the steps confirmed:
/// the live screen of an NMRP run.
fn on_nmrp_live_screen() -> Model {
    let image = crate::image::sample::netgear_chk("R6220", 4096, 8192);
    let mut model = on_port_screen_with("netgear-r6220", IMAGE, &image);
    let effects = start_run(&mut model);
    assert!(
        matches!(&effects[..], [Effect::StartRun(plan)] if plan.image.path == Path::new(DOWNLOADS).join(IMAGE))
    );
    model
}

/// The phases of the exchange, in order: a script runs up to one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Upto {
    Waiting,
    Configured,
    Uploading,
    WritingFlash,
}

/// The events of an NMRP run from its start to `upto`, as the engine sends them.
#[expect(
    clippy::too_many_lines,
    reason = "a scripted run, one engine event a line: splitting hides the order it tests"
)]
fn script(model: &mut Model, upto: Upto) {
    let plan = model.plan.clone().unwrap();
    event(
        model,
        0.1,
        Event::PhaseStarted {
            phase: Phase::Preflight,
        },
    );
    event(
        model,
        0.3,
        Event::NetworkChanged {
            change: "added 10.164.183.252/24 to enp3s0".into(),
        },
    );
    event(
        model,
        0.5,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    show_steps(model, 0.5, 3);
    event(
        model,
        0.5,
        Event::WaitingForRouter {
            what:
                "the router's NMRP answer (rescue-wizard advertises every 100 ms): switch it on now"
                    .into(),
            timeout: plan.timeout,
        },
    );
    for second in 0..=12_u32 {
        event(
            model,
            0.5 + f64::from(second),
            Event::NmrpAdvertising {
                sent: 1 + 10 * second,
                since: Duration::from_secs(u64::from(second)),
            },
        );
    }
    if upto == Upto::Waiting {
        return;
    }
    event(
        model,
        14.0,
        Event::NmrpRouterAnswered {
            mac: ROUTER_MAC.into(),
        },
    );
    event(
        model,
        14.0,
        Event::NmrpConfigured {
            router: ROUTER,
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            region: Some("WW".into()),
        },
    );
    if upto == Upto::Configured {
        return;
    }
    event(
        model,
        14.1,
        Event::NmrpUploadRequested {
            file: "firmware".into(),
            router_mac: ROUTER_MAC.into(),
        },
    );
    event(
        model,
        14.2,
        Event::PhaseStarted {
            phase: Phase::Transfer,
        },
    );
    let peer = SocketAddr::from((ROUTER, 69));
    event(
        model,
        14.2,
        Event::TransferStarted {
            peer,
            file: "firmware".into(),
            blksize: 1456,
            windowsize: 1,
            total: TOTAL,
        },
    );
    event(
        model,
        18.2,
        Event::TransferProgressed {
            bytes: TOTAL * 45 / 100,
            total: TOTAL,
            rate: 944_000,
            timeouts: 0,
        },
    );
    if upto == Upto::Uploading {
        return;
    }
    event(
        model,
        23.1,
        Event::TransferFinished {
            peer,
            bytes: TOTAL,
            took: Duration::from_millis(8_900),
            sha256: "ab".repeat(32),
            confirmed: true,
        },
    );
    event(
        model,
        23.1,
        Event::PhaseStarted {
            phase: Phase::Flashing,
        },
    );
    event(
        model,
        23.1,
        Event::FlashingStarted {
            expected: plan.flash,
            after: None,
        },
    );
    for count in 1..=12_u32 {
        let since_upload = Duration::from_secs(u64::from(count) * 185 / 12);
        event(
            model,
            23.1 + since_upload.as_secs_f64(),
            Event::NmrpKeepAlive {
                count,
                since_upload,
            },
        );
    }
}

fn screen(model: &Model) -> String {
    rows(model).join("\n")
}

#[test]
fn waiting_for_the_router_counts_the_advertisements_and_says_switch_it_on() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::Waiting);
    let text = screen(&model);
    assert!(
        text.contains("waiting for the router to answer · 0:12 of"),
        "{text}"
    );
    assert!(
        text.contains("advertising: 121 sent in 0:12, one every 100 ms"),
        "{text}"
    );
    assert!(text.contains("switch the router on now"), "{text}");
    // The count ticks above the feed, not in it: twelve seconds add no twelve lines.
    let run = model.run.as_ref().unwrap();
    assert!(
        !run.feed.iter().any(|l| l.text.contains("advertisement")),
        "{:?}",
        run.feed
    );
    snapshot("nmrp_waiting", &model);
}

#[test]
fn a_link_flap_while_advertising_says_what_it_means() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::Waiting);
    event(
        &mut model,
        13.0,
        Event::NetworkNoticed {
            what: "enp3s0: link lost (router off or rebooting, or cable out)".into(),
        },
    );
    event(
        &mut model,
        13.0,
        Event::NmrpLinkChanged {
            up: false,
            during: Exchange::Advertising,
        },
    );
    let text = screen(&model);
    assert!(text.contains("link lost: the router is off or"), "{text}");
    assert!(text.contains("advertising goes on"), "{text}");
    snapshot("nmrp_link_lost", &model);
    event(
        &mut model,
        15.0,
        Event::NmrpLinkChanged {
            up: true,
            during: Exchange::Advertising,
        },
    );
    let text = screen(&model);
    assert!(text.contains("link back: advertising at once"), "{text}");
    // Once the router answers, the link's return is old news.
    event(
        &mut model,
        15.5,
        Event::NmrpRouterAnswered {
            mac: ROUTER_MAC.into(),
        },
    );
    let nmrp = model.run.as_ref().unwrap().nmrp.as_ref().unwrap();
    assert_eq!(nmrp.link, None);
}

#[test]
fn configured_shows_the_address_and_region_given() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::Configured);
    let text = screen(&model);
    assert!(
        text.contains("configured: the router took 10.164.183.253 (255.255.255.0), region WW"),
        "{text}"
    );
    assert!(text.contains("it asks for the image next"), "{text}");
    snapshot("nmrp_configured", &model);
}

#[test]
fn uploading_shows_the_name_bytes_of_the_total_and_the_rate() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::Uploading);
    let text = screen(&model);
    assert!(
        text.contains("uploading \"firmware\" to 10.164.183.253"),
        "{text}"
    );
    assert!(
        text.contains("45%  3.6 MiB of 8.0 MiB  921.9 KiB/s"),
        "{text}"
    );
    snapshot("nmrp_uploading", &model);
}

#[test]
fn writing_flash_counts_the_keep_alives_and_the_time_since_the_upload() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::WritingFlash);
    let text = screen(&model);
    assert!(
        text.contains("writing flash: keep-alive 12 at 3:05 after the upload"),
        "{text}"
    );
    assert!(text.contains("do not switch the router off"), "{text}");
    assert!(text.contains("DO NOT SWITCH THE ROUTER OFF"), "{text}");
    // NMRP's 30-minute wait is no countdown of the flashing: it is not shown as one.
    assert!(!text.contains("s left"), "{text}");
    snapshot("nmrp_writing_flash", &model);
}

#[test]
fn done_says_switch_it_off_and_on_and_the_done_screen_says_it_again() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::WritingFlash);
    event(
        &mut model,
        223.0,
        Event::NmrpClosed {
            keep_alives: 12,
            since_upload: Duration::from_secs(200),
        },
    );
    let text = screen(&model);
    assert!(
        text.contains(
            "done: image written, session closed (12 keep-alives, 3:20 after the upload)"
        ),
        "{text}"
    );
    assert!(
        text.contains("switch the router off and on now: it does not restart by itself"),
        "{text}"
    );
    snapshot("nmrp_done", &model);
    event(
        &mut model,
        223.2,
        Event::PhaseStarted { phase: Phase::Done },
    );
    event(
        &mut model,
        223.4,
        Event::Finished {
            outcome: RunOutcome::Flashed,
            summary: "the router wrote the image and closed the NMRP session: switch it off and on now; it does not restart by itself".into(),
            checklist: Vec::new(),
        },
    );
    update(
        &mut model,
        Msg::RunEnded(RunEnd {
            outcome: RunOutcome::Flashed,
            report: Ok("/root/.local/state/rescue-wizard/reports/r6220.md".into()),
            refused: None,
            undo_failures: Vec::new(),
        }),
    );
    assert_eq!(model.screen, Screen::Done);
    let text = screen(&model);
    assert!(
        text.contains("the router closed after 12 keep-alives, 3:20 after"),
        "{text}"
    );
}

#[test]
fn a_rejection_shows_the_routers_words_and_the_causes_that_apply() {
    let mut model = on_nmrp_live_screen();
    script(&mut model, Upto::Uploading);
    let rejection = Rejection::RouterSaid("Firmware checksum error".into());
    let causes = causes(&rejection, model.plan.as_ref().unwrap());
    // Every block went out; the router answers the last one with its words instead of the
    // ACK, which ends the push, and the run says only that it was rejected.
    event(
        &mut model,
        22.9,
        Event::TransferProgressed {
            bytes: TOTAL - 1456,
            total: TOTAL,
            rate: 944_000,
            timeouts: 0,
        },
    );
    event(
        &mut model,
        23.0,
        Event::NmrpRejected {
            why: rejection.to_string(),
            causes: causes.clone(),
        },
    );
    let text = screen(&model);
    assert!(
        text.contains("rejected: the router answered the upload with \"Firmware checksum"),
        "{text}"
    );
    assert!(text.contains("likely causes:"), "{text}");
    // A .chk is no .trx: that cause does not apply and is not shown.
    assert!(!text.contains(".trx"), "{text}");
    snapshot("nmrp_rejected", &model);
    event(
        &mut model,
        23.3,
        Event::Finished {
            outcome: RunOutcome::Failed,
            summary: "the recovery failed: see the checklist for what to fix, then run again"
                .into(),
            checklist: Vec::new(),
        },
    );
    assert_eq!(model.screen, Screen::Done);
    let text = screen(&model);
    assert!(
        text.contains("rejected: the router answered the upload with"),
        "{text}"
    );
    assert!(text.contains("\"Firmware checksum"), "{text}");
    assert!(text.contains("another model or another region"), "{text}");
}

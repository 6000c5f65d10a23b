//! Every screen, reached the way the technician reaches it: keys, the answers to effects and
//! engine events fed to [`update`] as messages (never a clock or a sleep), then drawn on a
//! `TestBackend` and compared with its snapshot in `snapshots/`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::keys::Key;
use super::model::{Effect, FileEntry, Hint, Model, Msg, Overlay, RunEnd, RunKind, Screen, Setup};
use super::update::{init, update};
use super::view;
use crate::engine::checklist::{self, Evidence};
use crate::engine::{Command, Event, Phase, RunOutcome, Settings};
use crate::image::Inspection;
use crate::net::check::{Check, CheckKind, CheckOutcome};
use crate::net::iface::{Interface, InterfaceKind, Ipv4Cidr};
use crate::net::observe::WireSign;
use crate::net::wire::{ArpKind, Mac, TftpKind, WireEvent};
use crate::profile::Catalogue;

const DOWNLOADS: &str = "/home/tech/Downloads";
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 86);
const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 66);
const BOOTLOADER: Mac = Mac([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41]);

fn setup(mode: RunKind) -> Setup {
    Setup {
        mode,
        catalogue: Catalogue::builtin().unwrap(),
        settings: match mode {
            RunKind::Real => Settings::default(),
            RunKind::Demo => Settings {
                timeout: Some(Duration::from_mins(1)),
                port: Some(0),
                loopback: Some(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)),
                flash: Some(Duration::from_secs(8)),
                ..Settings::default()
            },
        },
        start_dir: PathBuf::from(DOWNLOADS),
        downloads: Some(PathBuf::from(DOWNLOADS)),
        colours: true,
        search: String::new(),
        image: None,
        scratch: None,
    }
}

fn draw(model: &Model, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, model)).unwrap();
    terminal
}

fn snapshot(name: &str, model: &Model) {
    insta::assert_snapshot!(name, draw(model, 80, 24).backend());
}

fn press(model: &mut Model, keys: &[Key]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|key| update(model, Msg::Key(*key)))
        .collect()
}

fn type_text(model: &mut Model, text: &str) {
    for c in text.chars() {
        update(model, Msg::Key(Key::Char(c)));
    }
}

fn event(model: &mut Model, secs: f64, event: Event) -> Vec<Effect> {
    let at = Duration::from_secs_f64(secs);
    update(model, Msg::Tick(at));
    update(model, Msg::Engine { at, event })
}

/// A TL-WR841N v9 firmware: TP-Link header naming the device, then data.
fn firmware(len: usize) -> Vec<u8> {
    crate::image::sample::tp_link_firmware(0x0841_0009, len)
}

/// A TP-Link stock image that carries the bootloader: 128 KiB of it before the firmware.
fn stock_with_bootloader() -> Vec<u8> {
    crate::image::sample::tp_link_stock_with_bootloader(0x0841_0009, 256 * 1024)
}

/// The real preflight of `bytes` named `name`, as if the file were in ~/Downloads.
fn inspected(model: &Model, name: &str, bytes: &[u8]) -> Inspection {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let profile = model.device.chosen.as_ref().unwrap();
    let mut inspection = crate::image::inspect(&path, Some(profile)).unwrap();
    let tmp = dir.path().display().to_string();
    let moved = |p: &Path| PathBuf::from(p.display().to_string().replace(&tmp, DOWNLOADS));
    inspection.path = moved(&inspection.path);
    if let Some(offer) = inspection.strip.as_mut() {
        offer.copy = moved(&offer.copy);
        offer.reason = offer.reason.replace(&tmp, DOWNLOADS);
    }
    for finding in &mut inspection.findings {
        finding.what = finding.what.replace(&tmp, DOWNLOADS);
        finding.fix = finding.fix.as_ref().map(|f| f.replace(&tmp, DOWNLOADS));
    }
    inspection
}

/// The wizard is told what the downloads folder holds ([`downloads`]).
fn list_downloads(model: &mut Model) {
    update(
        model,
        Msg::Listed {
            dir: DOWNLOADS.into(),
            entries: Ok(downloads()),
        },
    );
}

fn downloads() -> Vec<FileEntry> {
    vec![
        FileEntry {
            name: "openwrt".into(),
            dir: true,
            size: 4096,
        },
        FileEntry {
            name: "TL-WR841Nv9_boot.bin".into(),
            dir: false,
            size: 393_728,
        },
        FileEntry {
            name: "wr841nv9-factory.bin".into(),
            dir: false,
            size: 3_932_160,
        },
    ]
}

fn interfaces() -> Vec<Interface> {
    use crate::net::iface::sample::{loopback, port};
    vec![
        loopback(),
        port(
            2,
            "enp3s0",
            InterfaceKind::Wired,
            "00:e0:4c:68:00:01",
            &[Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 5), 24)],
            Some(true),
        ),
        port(
            3,
            "wlp2s0",
            InterfaceKind::Wireless,
            "a4:c3:f0:00:00:02",
            &[Ipv4Cidr::new(Ipv4Addr::new(192, 168, 178, 20), 24)],
            Some(true),
        ),
    ]
}

fn wire_arp() -> Event {
    Event::Wire {
        wire: WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: ROUTER,
            sender_mac: BOOTLOADER,
            target_ip: Ipv4Addr::new(192, 168, 0, 10),
        },
    }
}

fn evidence() -> Evidence {
    Evidence {
        listening: Some(SocketAddr::new(HOST.into(), 69)),
        image: Some((
            PathBuf::from("/home/tech/Downloads/wr841nv9-factory.bin"),
            3_932_160,
        )),
        self_test: Some(Ok(())),
        interface: Some("enp3s0".into()),
        carrier: Some(true),
        host: Some(HOST),
        router: Some(ROUTER),
        ..Evidence::default()
    }
}

/// The engine announces the plan's first `count` steps at `secs`.
fn show_steps(model: &mut Model, secs: f64, count: usize) {
    let steps = model.plan.as_ref().unwrap().steps.clone();
    for (n, step) in steps.into_iter().enumerate().take(count) {
        event(
            model,
            secs,
            Event::Step {
                number: n + 1,
                action: step.action,
                seconds: step.seconds,
                led: step.led,
            },
        );
    }
}

/// The run from its start to the transfer at 45 %, the router asking for another address.
#[expect(
    clippy::too_many_lines,
    reason = "a scripted run, one engine event a line: splitting hides the order it tests"
)]
fn run_to_transfer(model: &mut Model) {
    event(
        model,
        0.1,
        Event::PhaseStarted {
            phase: Phase::Preflight,
        },
    );
    event(
        model,
        0.2,
        Event::Checked {
            check: Check {
                kind: CheckKind::Port69,
                item: "UDP port 69".into(),
                verdict: CheckOutcome::Pass,
                detail: "free".into(),
                fix: None,
            },
        },
    );
    event(
        model,
        0.3,
        Event::NetworkChanged {
            change: "added 192.168.0.66/24 to enp3s0".into(),
        },
    );
    event(
        model,
        0.4,
        Event::Listening {
            addr: SocketAddr::new(HOST.into(), 69),
        },
    );
    event(
        model,
        0.6,
        Event::SelfTestPassed {
            bytes: 3_932_160,
            took: Duration::from_millis(180),
        },
    );
    event(
        model,
        0.7,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    show_steps(model, 0.8, 2);
    event(
        model,
        0.9,
        Event::WaitingForRouter {
            what: "the router's request for wr841nv9_tp_recovery.bin".into(),
            timeout: Duration::from_mins(10),
        },
    );
    event(model, 12.0, wire_arp());
    let effects = event(
        model,
        12.1,
        Event::Noticed {
            finding: WireSign::WantsServerAddress {
                router: ROUTER,
                wants: Ipv4Addr::new(192, 168, 0, 10),
                expected: Some(HOST),
            },
        },
    );
    assert!(effects.is_empty());
    let mut seen = evidence();
    seen.router_seen = Some(ROUTER);
    seen.router_wants = vec![Ipv4Addr::new(192, 168, 0, 10)];
    event(
        model,
        12.2,
        Event::ChecklistUpdated {
            checklist: checklist::evaluate(&seen),
        },
    );
    event(
        model,
        14.0,
        Event::Wire {
            wire: WireEvent::Tftp {
                op: TftpKind::Read,
                file: "wr841nv9_tp_recovery.bin".into(),
                from: SocketAddrV4::new(ROUTER, 1024),
                mac: BOOTLOADER,
                to: HOST,
                ttl: 64,
            },
        },
    );
    event(
        model,
        14.0,
        Event::PhaseStarted {
            phase: Phase::Transfer,
        },
    );
    event(
        model,
        14.0,
        Event::RequestReceived {
            peer: SocketAddr::new(ROUTER.into(), 1024),
            file: "wr841nv9_tp_recovery.bin".into(),
        },
    );
    event(
        model,
        14.1,
        Event::TransferStarted {
            peer: SocketAddr::new(ROUTER.into(), 1024),
            file: "wr841nv9_tp_recovery.bin".into(),
            blksize: 512,
            windowsize: 1,
            total: 3_932_160,
        },
    );
    event(
        model,
        18.0,
        Event::TransferProgressed {
            bytes: 1_769_472,
            total: 3_932_160,
            rate: 453_000,
            timeouts: 2,
        },
    );
}

#[test]
fn device_search_narrows_as_you_type() {
    let (mut model, _) = init(setup(RunKind::Real));
    let everything = model.device.hits.len();
    assert!(everything > 20, "{everything}");
    type_text(&mut model, "wr841 v9");
    assert_eq!(model.device.hits, vec!["tl-wr841n-v9"]);
    snapshot("device_search", &model);
    // `q` is typed while there is a search, and quits once it is empty.
    assert!(press(&mut model, &[Key::Char('q')]).is_empty());
    assert_eq!(model.device.query, "wr841 v9q");
    press(&mut model, &[Key::Esc]);
    assert!(model.device.query.is_empty());
    assert_eq!(model.device.hits.len(), everything);
    assert!(matches!(
        &press(&mut model, &[Key::Char('q')])[..],
        [Effect::Quit]
    ));
    assert!(model.quit);
}

#[test]
fn a_device_the_run_cannot_automate_is_explained() {
    let (mut model, _) = init(setup(RunKind::Real));
    type_text(&mut model, "dlink-dir-1960-a1");
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Device);
    let problem = model.device.problem.clone().unwrap();
    assert!(
        problem.contains("devices show dlink-dir-1960-a1"),
        "{problem}"
    );
}

#[test]
fn image_with_a_bootloader_offers_the_stripped_copy() {
    let mut model = on_image_screen();
    snapshot("image_picker", &model);
    // The stock image is the first file, highlighted already.
    let effects = press(&mut model, &[Key::Enter]);
    let [Effect::Inspect { path, .. }] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(path, Path::new("/home/tech/Downloads/TL-WR841Nv9_boot.bin"));
    let inspection = inspected(&model, "TL-WR841Nv9_boot.bin", &stock_with_bootloader());
    assert!(inspection.strip.is_some());
    update(
        &mut model,
        Msg::Inspected {
            path: path.clone(),
            result: Ok(Box::new(inspection.clone())),
        },
    );
    snapshot("image_strip_offer", &model);
    // Enter does not take an image that must be stripped; S writes the copy.
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Image);
    let effects = press(&mut model, &[Key::Char('S')]);
    assert!(matches!(&effects[..], [Effect::Strip(_)]));
    let copy = inspection.strip.unwrap().copy;
    let effects = update(&mut model, Msg::Stripped(Ok(copy.clone())));
    assert!(
        matches!(&effects[..], [Effect::ListDir(_), Effect::Inspect { path, .. }] if *path == copy)
    );
}

#[test]
fn the_downloads_folder_is_one_key_away() {
    let mut model = on_image_screen();
    let effects = press(&mut model, &[Key::Left]);
    assert!(matches!(&effects[..], [Effect::ListDir(dir)] if dir == Path::new("/home/tech")));
    let effects = press(&mut model, &[Key::Char('d')]);
    assert!(matches!(&effects[..], [Effect::ListDir(dir)] if dir == Path::new(DOWNLOADS)));
}

#[test]
fn port_list_recommends_the_wired_port_with_a_link() {
    let mut model = on_port_screen();
    assert_eq!(model.port.recommended.as_deref(), Some("enp3s0"));
    assert_eq!(model.port.interfaces.len(), 2, "loopback is left out");
    snapshot("port_list", &model);
    // The list is read again every second while the screen is shown.
    assert!(update(&mut model, Msg::Tick(Duration::from_millis(500))).is_empty());
    assert!(matches!(
        &update(&mut model, Msg::Tick(Duration::from_millis(1100)))[..],
        [Effect::ListPorts]
    ));
    // Wi-Fi cannot reach a bootloader: the plan says why and the screen stays.
    press(&mut model, &[Key::Down, Key::Enter]);
    assert_eq!(model.screen, Screen::Port);
    assert!(
        model
            .port
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("Wi-Fi")),
        "{:?}",
        model.port.problem
    );
}

#[test]
fn network_screen_shows_expected_against_now_and_what_changes() {
    let mut model = on_port_screen();
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    snapshot("network_plan", &model);
    // Skipping leaves the network alone.
    press(&mut model, &[Key::Char('s')]);
    assert_eq!(model.screen, Screen::Prepare);
    assert!(model.plan.as_ref().unwrap().network.is_none());
}

#[test]
fn prepare_lists_the_steps_with_timings_and_leds() {
    let mut model = on_port_screen();
    press(&mut model, &[Key::Enter, Key::Enter]);
    snapshot("prepare_steps", &model);
}

#[test]
fn live_shows_feed_gauge_checklist_and_the_adopt_hint() {
    let mut model = on_live_screen();
    run_to_transfer(&mut model);
    assert!(matches!(
        model.run.as_ref().unwrap().hint,
        Some(Hint::Adopt { .. })
    ));
    snapshot("live_transfer", &model);
    insta::assert_snapshot!("live_transfer_120x40", draw(&model, 120, 40).backend());
    let effects = press(&mut model, &[Key::Char('a')]);
    assert!(matches!(
        &effects[..],
        [Effect::Send(Command::AdoptAddress { addr })] if *addr == Ipv4Addr::new(192, 168, 0, 10)
    ));
    assert!(model.run.as_ref().unwrap().hint.is_none());
}

#[test]
fn quitting_during_the_transfer_or_flashing_asks_first() {
    let mut model = on_live_screen();
    run_to_transfer(&mut model);
    assert!(press(&mut model, &[Key::Char('q')]).is_empty());
    assert_eq!(model.overlay, Some(Overlay::ConfirmQuit));
    snapshot("quit_confirm_transfer", &model);
    // No: nothing happens.
    assert!(press(&mut model, &[Key::Char('n')]).is_empty());
    assert_eq!(model.overlay, None);
    event(
        &mut model,
        27.0,
        Event::TransferFinished {
            peer: SocketAddr::new(ROUTER.into(), 1024),
            bytes: 3_932_160,
            took: Duration::from_secs(13),
            sha256: "9f2c".into(),
            confirmed: true,
        },
    );
    event(
        &mut model,
        27.0,
        Event::PhaseStarted {
            phase: Phase::Flashing,
        },
    );
    event(
        &mut model,
        27.0,
        Event::FlashingStarted {
            expected: Duration::from_mins(3),
            after: Some(Ipv4Addr::new(192, 168, 1, 1)),
        },
    );
    event(
        &mut model,
        70.0,
        Event::FlashingCountdown {
            remaining: Duration::from_secs(137),
        },
    );
    // Ctrl-C is a key in raw mode: the same question.
    assert!(press(&mut model, &[Key::CtrlC]).is_empty());
    snapshot("quit_confirm_flashing", &model);
    // Yes: the run is cancelled, and the wizard leaves once it has ended.
    let effects = press(&mut model, &[Key::Char('y')]);
    assert!(matches!(&effects[..], [Effect::Send(Command::Cancel)]));
    assert!(!model.quit);
    event(
        &mut model,
        70.5,
        Event::Interrupted {
            phase: Phase::Flashing,
            advice: "do not switch it off for another 12 s".into(),
        },
    );
    let effects = update(
        &mut model,
        Msg::RunEnded(RunEnd {
            outcome: RunOutcome::Interrupted,
            report: Ok("/home/tech/.local/state/rescue-wizard/reports/r.md".into()),
            refused: None,
            undo_failures: Vec::new(),
        }),
    );
    assert!(matches!(&effects[..], [Effect::Quit]));
    assert!(model.quit);
    // Stopped while the router writes its flash: the warning outlives the full screen.
    let said = crate::ui::tui::farewell::farewell(&model);
    assert!(
        said.iter()
            .any(|l| l == "stopped: do not switch it off for another 12 s"),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|l| l == "report: /home/tech/.local/state/rescue-wizard/reports/r.md"),
        "{said:?}"
    );
}

#[test]
fn quitting_while_waiting_cancels_without_asking() {
    let mut model = on_live_screen();
    event(
        &mut model,
        0.7,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    let effects = press(&mut model, &[Key::Char('q')]);
    assert!(matches!(&effects[..], [Effect::Send(Command::Cancel)]));
    assert_eq!(model.overlay, None);
    // Keys wait while the run stops; SIGTERM does not cancel twice.
    assert!(press(&mut model, &[Key::Char('q')]).is_empty());
    assert!(update(&mut model, Msg::Stop).is_empty());
}

#[test]
fn done_after_a_flashed_run() {
    let mut model = on_live_screen();
    run_to_transfer(&mut model);
    press(&mut model, &[Key::Char('a')]);
    for (at, e) in [
        (
            27.0,
            Event::TransferFinished {
                peer: SocketAddr::new(ROUTER.into(), 1024),
                bytes: 3_932_160,
                took: Duration::from_secs(13),
                sha256: "9f2c".into(),
                confirmed: true,
            },
        ),
        (
            95.0,
            Event::RouterBack {
                ip: Ipv4Addr::new(192, 168, 1, 1),
                after: Duration::from_secs(68),
            },
        ),
        (95.1, Event::PhaseStarted { phase: Phase::Done }),
        (
            95.2,
            Event::NetworkRestored {
                change: "added 192.168.0.66/24 to enp3s0".into(),
            },
        ),
        (
            95.3,
            Event::Finished {
                outcome: RunOutcome::Flashed,
                summary: "the router answers at 192.168.1.1: open http://192.168.1.1 to finish setting it up".into(),
                checklist: Vec::new(),
            },
        ),
    ] {
        event(&mut model, at, e);
    }
    assert_eq!(model.screen, Screen::Done);
    update(
        &mut model,
        Msg::RunEnded(RunEnd {
            outcome: RunOutcome::Flashed,
            report: Ok(
                "/home/tech/.local/state/rescue-wizard/reports/tl-wr841n-v9-2026-11-24-16-05-09.md"
                    .into(),
            ),
            refused: None,
            undo_failures: Vec::new(),
        }),
    );
    snapshot("done_flashed", &model);
    // Leaving the full screen leaves the outcome, the transfer and the report on the normal
    // one.
    assert_eq!(
        crate::ui::tui::farewell::farewell(&model),
        vec![
            "rescue-wizard: flashed: the router answers at 192.168.1.1: open http://192.168.1.1 to finish setting it up".to_owned(),
            "transfer: 3.8 MiB in 13.0 s, 295.4 KiB/s, 2 resends".to_owned(),
            "report: /home/tech/.local/state/rescue-wizard/reports/tl-wr841n-v9-2026-11-24-16-05-09.md".to_owned(),
        ]
    );
    assert!(matches!(
        &press(&mut model, &[Key::Enter])[..],
        [Effect::Quit]
    ));
}

#[test]
fn troubleshoot_after_silence_lists_each_fix_and_retries() {
    let mut model = on_live_screen();
    event(
        &mut model,
        0.7,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    let mut seen = evidence();
    seen.carrier = Some(false);
    seen.waited = Duration::from_mins(1);
    let items = checklist::evaluate(&seen);
    event(
        &mut model,
        61.0,
        Event::Stalled {
            what: "the router has been silent for 60 s".into(),
            fix: checklist::current_fix(&items),
            checklist: items.clone(),
        },
    );
    assert!(matches!(
        model.run.as_ref().unwrap().hint,
        Some(Hint::Stalled { .. })
    ));
    snapshot("live_stalled", &model);
    event(
        &mut model,
        600.0,
        Event::Finished {
            outcome: RunOutcome::TimedOut,
            summary: "the router never spoke; work through the checklist".into(),
            checklist: items,
        },
    );
    update(
        &mut model,
        Msg::RunEnded(RunEnd {
            outcome: RunOutcome::TimedOut,
            report: Ok("/home/tech/.local/state/rescue-wizard/reports/r.md".into()),
            refused: None,
            undo_failures: Vec::new(),
        }),
    );
    assert_eq!(model.screen, Screen::Done);
    snapshot("done_troubleshoot", &model);
    // Retry: back to the steps with the same device, image and port.
    press(&mut model, &[Key::Char('r')]);
    assert_eq!(model.screen, Screen::Prepare);
    assert!(model.run.is_none());
    let effects = press(&mut model, &[Key::Enter]);
    assert!(matches!(&effects[..], [Effect::StartRun(_)]));
}

#[test]
fn help_lists_the_keys_of_the_screen() {
    let mut model = on_image_screen();
    press(&mut model, &[Key::Char('?')]);
    assert_eq!(model.overlay, Some(Overlay::Help));
    snapshot("help_image", &model);
    // Any key closes it and does nothing else.
    assert!(press(&mut model, &[Key::Enter]).is_empty());
    assert_eq!(model.overlay, None);
    assert_eq!(model.screen, Screen::Image);
}

#[test]
fn the_demo_shows_loopback_and_no_changes() {
    let (mut model, _) = init(Setup {
        search: "tl-wr841n-v9".into(),
        ..setup(RunKind::Demo)
    });
    assert_eq!(model.device.hits[0], "tl-wr841n-v9");
    press(&mut model, &[Key::Enter]);
    update(
        &mut model,
        Msg::Listed {
            dir: DOWNLOADS.into(),
            entries: Ok(downloads()),
        },
    );
    press(&mut model, &[Key::Down]);
    let inspection = inspected(&model, "wr841nv9-factory.bin", &firmware(3_932_160));
    update(
        &mut model,
        Msg::Inspected {
            path: inspection.path.clone(),
            result: Ok(Box::new(inspection)),
        },
    );
    // No port list is read in the demo.
    assert!(press(&mut model, &[Key::Enter]).is_empty());
    assert_eq!(model.screen, Screen::Port);
    snapshot("demo_port", &model);
    press(&mut model, &[Key::Enter]);
    assert_eq!(model.screen, Screen::Network);
    assert!(model.plan.as_ref().unwrap().network.is_none());
    snapshot("demo_network", &model);
}

#[test]
fn no_color_draws_with_modifiers_only() {
    let mut model = on_live_screen();
    run_to_transfer(&mut model);
    let coloured = draw(&model, 80, 24);
    let colour = |c: Color| c != Color::Reset;
    assert!(
        coloured
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|cell| colour(cell.fg) || colour(cell.bg))
    );
    model.colours = false;
    let plain = draw(&model, 80, 24);
    let cells = plain.backend().buffer().content();
    assert!(
        cells
            .iter()
            .all(|cell| !colour(cell.fg) && !colour(cell.bg)),
        "a colour was drawn with NO_COLOR"
    );
    assert!(
        cells.iter().any(|cell| !cell.modifier.is_empty()),
        "the highlight needs a modifier"
    );
    // The same words either way.
    assert_eq!(plain.backend().to_string(), coloured.backend().to_string());
}

#[test]
fn every_screen_fits_80_by_24_and_follows_a_resize() {
    let mut model = on_live_screen();
    run_to_transfer(&mut model);
    let mut terminal = draw(&model, 120, 40);
    terminal.backend_mut().resize(80, 24);
    terminal.draw(|frame| view::draw(frame, &model)).unwrap();
    assert_eq!(
        terminal.backend().to_string(),
        draw(&model, 80, 24).backend().to_string()
    );
    // The title, the next step and the keys are on every screen.
    let text = terminal.backend().to_string();
    assert!(text.contains("6/7 Live"), "{text}");
    assert!(text.contains("adopt"), "{text}");
    assert!(text.contains("? help"), "{text}");
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((path, text));
        }
    }
    found
}

#[test]
fn the_layers_keep_to_themselves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // The engine and what it drives never name a terminal library.
    for module in ["engine", "net", "tftp", "profile", "image"] {
        for (path, text) in sources(&src.join(module)) {
            for word in ["ratatui", "crossterm", "indicatif"] {
                assert!(!text.contains(word), "{} names {word}", path.display());
            }
        }
    }
    // The wizard opens no socket and touches no host setting: the engine does.
    let this = Path::new(file!()).file_name().unwrap();
    for (path, text) in sources(&src.join("ui/tui")) {
        if path.file_name() == Some(this) {
            continue;
        }
        for word in [
            "UdpSocket",
            "TcpStream",
            "tokio::net",
            "socket2",
            "pnet",
            "netlink",
            "HostSetup",
            "iface::list",
        ] {
            assert!(!text.contains(word), "{} names {word}", path.display());
        }
    }
}

#[test]
fn q_quits_from_a_search_the_wizard_opened_with() {
    // The demo opens with its device searched for: `q` is not a letter of the technician's.
    let (mut model, _) = init(Setup {
        search: "tl-wr841n-v9".into(),
        ..setup(RunKind::Demo)
    });
    assert!(matches!(
        &press(&mut model, &[Key::Char('q')])[..],
        [Effect::Quit]
    ));
    assert_eq!(model.device.query, "tl-wr841n-v9");
    // Once the technician types, `q` is a letter again.
    let (mut model, _) = init(Setup {
        search: "tl-wr841n".into(),
        ..setup(RunKind::Demo)
    });
    type_text(&mut model, " v");
    assert!(press(&mut model, &[Key::Char('q')]).is_empty());
    assert_eq!(model.device.query, "tl-wr841n vq");
}

#[test]
fn the_help_names_each_key_once() {
    let (mut model, _) = init(setup(RunKind::Real));
    for screen in [
        Screen::Device,
        Screen::Image,
        Screen::Port,
        Screen::Live,
        Screen::Done,
    ] {
        model.screen = screen;
        let labels: Vec<&str> = crate::ui::tui::keys::shown(&model)
            .map(|b| b.label)
            .collect();
        for (i, label) in labels.iter().enumerate() {
            assert!(!label.is_empty(), "{screen:?}: {labels:?}");
            let shared = |l: &&str| {
                *l == *label || l.chars().any(|c| "↑↓←→".contains(c) && label.contains(c))
            };
            assert!(
                !labels[..i].iter().any(shared),
                "{screen:?} shows {label} twice: {labels:?}"
            );
        }
    }
}

/// The screen's rows as text, without the backend's quotes.
fn rows(model: &Model) -> Vec<String> {
    draw(model, 80, 24)
        .backend()
        .to_string()
        .lines()
        .map(|line| line.trim_matches('"').to_owned())
        .collect()
}

mod reach;
use reach::{on_image_screen, on_live_screen, on_port_screen, on_port_screen_with, start_run};

mod given;
mod live_pane;
mod pickers;

mod console_pane;
mod console_write;
mod dhcp;
mod nmrp;
mod ram_boot;
mod serial_adapters;

//! The typed reader of the `--json` stream (`tests/support/events.rs`) reads what rescue-wizard
//! itself prints: each event the reader names, built as `rescue_wizard::engine::Event` and
//! printed by `ui::json::JsonLines`, parses back to the values it carried; an event the reader
//! does not name parses as `Other`. A renamed event or field fails here first.

mod support;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, UNIX_EPOCH};

use rescue_wizard::engine::checklist::{Item, ItemStatus};
use rescue_wizard::engine::{Event, Phase, RunOutcome};
use rescue_wizard::net::check::{Check, CheckKind, CheckOutcome};
use rescue_wizard::net::observe::{HoldStep, WireSign};
use rescue_wizard::net::wire::{ArpKind, EchoKind, Mac, Seen, TftpKind, WireEvent};
use rescue_wizard::nmrp::session::Phase as NmrpPhase;
use rescue_wizard::ui::json::JsonLines;
use rescue_wizard::ui::watch::WatchLines;
use support::events::{self, ChecklistItem, ChecklistStatus, Finding, RunEvent, WatchLine, Wire};

/// `event` as `--json` prints it, read back by the typed reader.
fn read(event: &Event) -> RunEvent {
    let line = JsonLines::new().line(event);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Each event the reader names, as the run makes it, with what the reader must give back; and
/// one event it does not name.
#[expect(
    clippy::too_many_lines,
    reason = "one table, a row per event the reader names"
)]
fn cases() -> Vec<(Event, RunEvent)> {
    let peer = SocketAddr::from(([192, 168, 1, 20], 3456));
    let router = Ipv4Addr::new(192, 168, 0, 50);
    vec![
        (
            Event::Planned {
                device: "dlink-dap-1330-a1".into(),
                model: "D-Link DAP-1330".into(),
                method: "http".into(),
                interface: Some("port0".into()),
                host: Some("192.168.0.10/24".into()),
                router: Some(router),
                file: None,
                image: "/images/fw.bin".into(),
                size: 300_000,
                sha256: "00".repeat(32),
            },
            RunEvent::Planned {
                router: Some(router),
                image: "/images/fw.bin".into(),
                sha256: "00".repeat(32),
            },
        ),
        (
            Event::PhaseStarted {
                phase: Phase::Transfer,
            },
            RunEvent::PhaseStarted {
                phase: Phase::Transfer,
            },
        ),
        (
            Event::WaitingForRouter {
                what: "a request".into(),
                timeout: Duration::from_mins(10),
            },
            RunEvent::WaitingForRouter {
                what: "a request".into(),
            },
        ),
        (
            Event::DhcpLeased {
                client: "8c:de:f9:12:34:56".into(),
                address: Ipv4Addr::new(192, 168, 1, 20),
                vendor_class: None,
                boot_file: "openwrt-initramfs.bin".into(),
                bootp: true,
            },
            RunEvent::DhcpLeased {
                client: "8c:de:f9:12:34:56".into(),
                address: Ipv4Addr::new(192, 168, 1, 20),
                boot_file: "openwrt-initramfs.bin".into(),
                bootp: true,
            },
        ),
        (
            Event::DhcpProbed {
                answered: vec![Ipv4Addr::new(192, 168, 1, 254)],
                stopped: true,
                said: "another DHCP server answered".into(),
            },
            RunEvent::DhcpProbed {
                answered: vec![Ipv4Addr::new(192, 168, 1, 254)],
                stopped: true,
                said: "another DHCP server answered".into(),
            },
        ),
        (
            Event::DhcpOtherServer {
                address: Ipv4Addr::new(192, 168, 1, 254),
                mac: Some("52:54:00:12:34:56".into()),
                said: "answered the probe".into(),
            },
            RunEvent::DhcpOtherServer {
                address: Ipv4Addr::new(192, 168, 1, 254),
                mac: Some("52:54:00:12:34:56".into()),
            },
        ),
        (
            Event::NetworkChanged {
                change: "added 192.168.1.2/24 to port0".into(),
            },
            RunEvent::NetworkChanged {
                change: "added 192.168.1.2/24 to port0".into(),
            },
        ),
        (
            Event::NetworkRestored {
                change: "added 192.168.1.2/24 to port0".into(),
            },
            RunEvent::NetworkRestored {
                change: "added 192.168.1.2/24 to port0".into(),
            },
        ),
        (
            Event::TransferStarted {
                peer,
                file: "fw.bin".into(),
                blksize: 1468,
                windowsize: 1,
                total: 300_000,
            },
            RunEvent::TransferStarted {},
        ),
        (
            Event::TransferProgressed {
                bytes: 150_000,
                total: 300_000,
                rate: 1_000_000,
                timeouts: 0,
            },
            RunEvent::TransferProgressed { bytes: 150_000 },
        ),
        (
            Event::TransferFinished {
                peer,
                bytes: 300_000,
                took: Duration::from_secs(2),
                sha256: "00".repeat(32),
                confirmed: true,
            },
            RunEvent::TransferFinished {
                peer,
                bytes: 300_000,
                took: 2.0,
                sha256: "00".repeat(32),
                confirmed: true,
            },
        ),
        (
            Event::TransferFailed {
                peer: Some(peer),
                reason: "the page said UPDATE FAILED".into(),
            },
            RunEvent::TransferFailed {
                reason: "the page said UPDATE FAILED".into(),
            },
        ),
        (
            Event::HttpPageDown {
                reason: "connection refused".into(),
                tries: 1,
            },
            RunEvent::HttpPageDown {},
        ),
        (Event::HttpPageUp { attempt: 2 }, RunEvent::HttpPageUp {}),
        (
            Event::HttpRetrying {
                reason: "reset".into(),
                attempt: 2,
                reached: 4096,
            },
            RunEvent::HttpRetrying {},
        ),
        (
            Event::HttpVerified {
                size: 900_001,
                md5: "ab".repeat(16),
            },
            RunEvent::HttpVerified {
                size: 900_001,
                md5: "ab".repeat(16),
            },
        ),
        (
            Event::HttpAnswered {
                said: "UPDATE IN PROGRESS".into(),
                accepted: true,
            },
            RunEvent::HttpAnswered {
                said: "UPDATE IN PROGRESS".into(),
                accepted: true,
            },
        ),
        (
            Event::FlashingStarted {
                expected: Duration::from_secs(2),
                after: Some(router),
            },
            RunEvent::FlashingStarted {
                after: Some(router),
            },
        ),
        (
            Event::FlashingCountdown {
                remaining: Duration::from_secs(1),
            },
            RunEvent::FlashingCountdown {},
        ),
        (
            Event::RouterBack {
                ip: router,
                after: Duration::from_secs(3),
            },
            RunEvent::RouterBack {
                ip: router,
                after: 3.0,
            },
        ),
        (
            Event::Finished {
                outcome: RunOutcome::TimedOut,
                summary: "nothing happened".into(),
                checklist: Vec::new(),
            },
            RunEvent::Finished {
                outcome: RunOutcome::TimedOut,
                summary: "nothing happened".into(),
                checklist: Vec::new(),
            },
        ),
        (
            Event::RequestReceived {
                peer,
                file: "recovery.bin".into(),
            },
            RunEvent::RequestReceived {
                peer,
                file: "recovery.bin".into(),
            },
        ),
        (
            Event::ConsoleOpened {
                port: "/dev/ttyUSB0".into(),
                baud: 115_200,
            },
            RunEvent::ConsoleOpened {},
        ),
        (
            Event::ConsoleNoted {
                what: "loading the image at 0x40200000".into(),
            },
            RunEvent::ConsoleNoted {
                what: "loading the image at 0x40200000".into(),
            },
        ),
        (
            Event::ConsoleTyped {
                command: "crc32 0x40200000 0x1000".into(),
            },
            RunEvent::ConsoleTyped {
                command: "crc32 0x40200000 0x1000".into(),
            },
        ),
        (
            Event::ConsoleCrc {
                region: "RAM".into(),
                ours: "0123abcd".into(),
                theirs: "0123abcd".into(),
                equal: true,
            },
            RunEvent::ConsoleCrc {
                ours: "0123abcd".into(),
                theirs: "0123abcd".into(),
            },
        ),
        (
            Event::ConsoleFlash {
                state: "verified".into(),
                note: "the flash holds the image".into(),
            },
            RunEvent::ConsoleFlash {
                state: "verified".into(),
                note: "the flash holds the image".into(),
            },
        ),
        (
            Event::ConsoleWriteAsked {
                what: "erase 0x4100000..0x4120000 (128 KiB)".into(),
                erase_from: 0x0410_0000,
                erase_to: 0x0412_0000,
                crc: "0123abcd".into(),
                commands: vec!["erase 0x4100000 +0x20000".into()],
            },
            RunEvent::ConsoleWriteAsked {
                what: "erase 0x4100000..0x4120000 (128 KiB)".into(),
                crc: "0123abcd".into(),
            },
        ),
        (
            Event::ConsoleLine { line: "=> ".into() },
            RunEvent::ConsoleLine { line: "=> ".into() },
        ),
        (
            Event::ConsoleRamBoot {
                command: "bootm 0x40200000".into(),
                chosen: true,
                what: "boot the image from RAM".into(),
            },
            RunEvent::ConsoleRamBoot { chosen: true },
        ),
        (
            Event::ConsoleTranscript { text: "=> ".into() },
            RunEvent::Other,
        ),
    ]
}

#[test]
fn each_event_the_reader_names_reads_back_from_the_line_rescue_wizard_prints() {
    for (event, expected) in cases() {
        assert_eq!(read(&event), expected, "{event:?}");
    }
}

/// A firewall check that warns, as the preflight makes it, and as the reader gives it back.
fn firewall_warning() -> (Check, events::Check) {
    (
        Check::new(
            CheckKind::Firewall,
            "firewall",
            CheckOutcome::Warn,
            "a rule may drop UDP 69",
            Some("--allow-firewall".into()),
        ),
        events::Check {
            kind: events::CheckKind::Firewall,
            verdict: events::CheckVerdict::Warn,
        },
    )
}

/// A checklist item that failed, with its fix, and as the reader gives it back.
fn failed_item() -> (Item, ChecklistItem) {
    (
        Item {
            item: "cable and link",
            status: ItemStatus::Fail,
            detail: "no carrier".into(),
            fix: Some("plug the cable in".into()),
        },
        ChecklistItem {
            item: "cable and link".into(),
            status: ChecklistStatus::Fail,
            fix: Some("plug the cable in".into()),
        },
    )
}

/// The run's checks, notes, stops and the NMRP exchange, each with what the reader gives back.
#[expect(
    clippy::too_many_lines,
    reason = "one table, a row per event the reader names"
)]
fn checks_stops_and_nmrp() -> Vec<(Event, RunEvent)> {
    let router = Ipv4Addr::new(192, 168, 0, 86);
    let mac = Mac([0x02, 0, 0, 0, 0, 0x86]);
    let (check, read_check) = firewall_warning();
    let (item, read_item) = failed_item();
    vec![
        (
            Event::Checked {
                check: check.clone(),
            },
            RunEvent::Checked {
                check: read_check.clone(),
            },
        ),
        (
            Event::PreflightFailed {
                reason: "a firewall rule drops UDP 69".into(),
                blocking: vec![check],
            },
            RunEvent::PreflightFailed {
                blocking: vec![read_check],
            },
        ),
        (
            Event::Listening {
                addr: SocketAddr::from(([192, 168, 0, 66], 69)),
            },
            RunEvent::Listening {},
        ),
        (
            Event::SelfTestPassed {
                bytes: 512,
                took: Duration::from_millis(3),
            },
            RunEvent::SelfTestPassed {},
        ),
        (
            Event::Step {
                number: 1,
                action: "hold reset".into(),
                seconds: Some(2),
                led: None,
            },
            RunEvent::Step {},
        ),
        (
            Event::Wire {
                wire: WireEvent::Echo {
                    op: EchoKind::Request,
                    from: router,
                    mac,
                    to: Ipv4Addr::new(192, 168, 0, 66),
                    ttl: 64,
                },
            },
            RunEvent::Wire {},
        ),
        (
            Event::Noticed {
                finding: WireSign::RouterSeen {
                    ip: router,
                    mac,
                    expected: Some(true),
                },
            },
            RunEvent::Noticed {
                finding: Finding::RouterSeen { ip: router },
            },
        ),
        (
            Event::ConsentNeeded {
                changes: vec!["add 192.168.0.66/24 to port0".into()],
            },
            RunEvent::ConsentNeeded {},
        ),
        (
            Event::NetworkNoticed {
                what: "link lost on port0".into(),
            },
            RunEvent::NetworkNoticed {
                what: "link lost on port0".into(),
            },
        ),
        (
            Event::Stalled {
                what: "no sign of the router".into(),
                fix: None,
                checklist: vec![item.clone()],
            },
            RunEvent::Stalled {
                what: "no sign of the router".into(),
                checklist: vec![read_item.clone()],
            },
        ),
        (
            Event::Finished {
                outcome: RunOutcome::TimedOut,
                summary: "nothing happened".into(),
                checklist: vec![item],
            },
            RunEvent::Finished {
                outcome: RunOutcome::TimedOut,
                summary: "nothing happened".into(),
                checklist: vec![read_item],
            },
        ),
        (
            Event::Interrupted {
                phase: Phase::Waiting,
                advice: "nothing was sent to the router".into(),
            },
            RunEvent::Interrupted {
                phase: Phase::Waiting,
                advice: "nothing was sent to the router".into(),
            },
        ),
        (
            Event::ReportWritten {
                path: "/tmp/report.md".into(),
            },
            RunEvent::ReportWritten {
                path: "/tmp/report.md".into(),
            },
        ),
        (
            Event::NmrpAdvertising {
                sent: 12,
                since: Duration::from_secs(1),
            },
            RunEvent::NmrpAdvertising { sent: 12 },
        ),
        (
            Event::NmrpRouterAnswered {
                mac: "00:00:00:00:00:00".into(),
            },
            RunEvent::NmrpRouterAnswered {
                mac: "00:00:00:00:00:00".into(),
            },
        ),
        (
            Event::NmrpConfigured {
                router: Ipv4Addr::new(10, 164, 183, 253),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                region: Some("WW".into()),
            },
            RunEvent::NmrpConfigured {
                router: Ipv4Addr::new(10, 164, 183, 253),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                region: Some("WW".into()),
            },
        ),
        (
            Event::NmrpUploadRequested {
                file: "firmware".into(),
                router_mac: "02:4e:54:47:52:01".into(),
            },
            RunEvent::NmrpUploadRequested {},
        ),
        (
            Event::NmrpKeepAlive {
                count: 3,
                since_upload: Duration::from_millis(1_500),
            },
            RunEvent::NmrpKeepAlive {
                count: 3,
                since_upload: 1.5,
            },
        ),
        (
            Event::NmrpClosed {
                keep_alives: 3,
                since_upload: Duration::from_secs(2),
            },
            RunEvent::NmrpClosed { keep_alives: 3 },
        ),
        (
            Event::NmrpRejected {
                why: "checksum error".into(),
                causes: vec!["the image is for another model".into()],
            },
            RunEvent::NmrpRejected {
                why: "checksum error".into(),
                causes: vec!["the image is for another model".into()],
            },
        ),
        (
            Event::NmrpLinkChanged {
                up: false,
                during: NmrpPhase::Advertising,
            },
            RunEvent::NmrpLinkChanged {
                up: false,
                during: events::NmrpPhase::Advertising,
            },
        ),
        (
            Event::NmrpRouterSilent {
                keep_alives: 3,
                since_upload: Duration::from_mins(30),
            },
            RunEvent::NmrpRouterSilent {},
        ),
    ]
}

#[test]
fn the_runs_checks_stops_and_nmrp_events_read_back_from_the_lines_rescue_wizard_prints() {
    for (event, expected) in checks_stops_and_nmrp() {
        let read = read(&event);
        assert_eq!(read, expected, "{event:?}");
        assert_eq!(
            read.is_nmrp(),
            matches!(
                event,
                Event::NmrpAdvertising { .. }
                    | Event::NmrpRouterAnswered { .. }
                    | Event::NmrpConfigured { .. }
                    | Event::NmrpUploadRequested { .. }
                    | Event::NmrpKeepAlive { .. }
                    | Event::NmrpClosed { .. }
                    | Event::NmrpRejected { .. }
                    | Event::NmrpLinkChanged { .. }
                    | Event::NmrpRouterSilent { .. }
            ),
            "{event:?}"
        );
    }
}

/// Every `--json` line carries `at`, read with the event beside it.
#[test]
fn a_json_line_reads_back_with_its_time() {
    let json = JsonLines::new();
    let line = json.line(&Event::NetworkChanged {
        change: "added 192.168.0.66/24 to port0".into(),
    });
    let stamped = events::stamped(&line);
    assert_eq!(stamped.len(), 1, "{line}");
    assert!(stamped[0].at >= 0.0, "{line}");
    assert_eq!(
        stamped[0].event,
        RunEvent::NetworkChanged {
            change: "added 192.168.0.66/24 to port0".into()
        }
    );
}

/// `watch --json` prints frames and findings: each reads back as the watch printed it.
#[test]
fn each_watch_line_the_reader_names_reads_back_from_the_line_the_watch_prints() {
    let start = UNIX_EPOCH + Duration::from_secs(1_000);
    let lines = WatchLines::new(true, start);
    let at = start + Duration::from_millis(500);
    let board = Ipv4Addr::new(10, 0, 2, 15);
    let host = Ipv4Addr::new(10, 0, 2, 2);
    let mac = Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let seen = |event| Seen { at, event };
    let wire: Vec<(String, WatchLine)> = vec![
        (
            lines.wire_line(&seen(WireEvent::Arp {
                op: ArpKind::Request,
                sender_ip: board,
                sender_mac: mac,
                target_ip: host,
            })),
            WatchLine::Wire {
                wire: Wire::Arp {
                    op: events::ArpOp::Request,
                    sender_ip: board,
                    target_ip: host,
                },
                at: 1_000.5,
            },
        ),
        (
            lines.wire_line(&seen(WireEvent::Echo {
                op: EchoKind::Reply,
                from: host,
                mac,
                to: board,
                ttl: 64,
            })),
            WatchLine::Wire {
                wire: Wire::Echo {
                    op: events::EchoOp::Reply,
                    from: host,
                    to: board,
                    ttl: 64,
                },
                at: 1_000.5,
            },
        ),
        (
            lines.wire_line(&seen(WireEvent::Tftp {
                op: TftpKind::Read,
                file: "recovery.bin".into(),
                from: SocketAddrV4::new(board, 3456),
                mac,
                to: host,
                ttl: 64,
            })),
            WatchLine::Wire {
                wire: Wire::Tftp {},
                at: 1_000.5,
            },
        ),
        (
            lines.finding_line(
                at,
                &WireSign::WantsServerAddress {
                    router: board,
                    wants: host,
                    expected: None,
                },
            ),
            WatchLine::Finding {
                finding: Finding::WantsServerAddress {
                    router: board,
                    wants: host,
                },
                at: 1_000.5,
            },
        ),
        (
            lines.finding_line(
                at,
                &WireSign::SilentAfterPowerOn {
                    silent_for: Duration::from_secs(21),
                    hold: Some(HoldStep {
                        action: "hold reset".into(),
                        seconds: 5,
                    }),
                },
            ),
            WatchLine::Finding {
                finding: Finding::SilentAfterPowerOn {
                    silent_for: Duration::from_secs(21),
                    hold: Some(events::HoldStep {
                        action: "hold reset".into(),
                        seconds: 5,
                    }),
                },
                at: 1_000.5,
            },
        ),
    ];
    for (line, expected) in wire {
        let read: WatchLine = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(read, expected, "{line}");
    }
}

//! The typed reader of the `--json` stream (`tests/support/events.rs`) reads what rescue-wizard
//! itself prints: each event the reader names, built as `rescue_wizard::engine::Event` and
//! printed by `ui::json::JsonLines`, parses back to the values it carried; an event the reader
//! does not name parses as `Other`. A renamed event or field fails here first.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rescue_wizard::engine::{Event, Phase, RunOutcome};
use rescue_wizard::ui::json::JsonLines;
use support::events::RunEvent;

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
            },
        ),
        (
            Event::DhcpOtherServer {
                address: Ipv4Addr::new(192, 168, 1, 254),
                mac: None,
                said: "answered the probe".into(),
            },
            RunEvent::DhcpOtherServer {
                address: Ipv4Addr::new(192, 168, 1, 254),
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
            RunEvent::TransferFinished { bytes: 300_000 },
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
            RunEvent::RouterBack { ip: router },
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
            },
        ),
        (
            Event::RequestReceived {
                peer,
                file: "recovery.bin".into(),
            },
            RunEvent::RequestReceived {
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
        (Event::ConsoleLine { line: "=> ".into() }, RunEvent::Other),
    ]
}

#[test]
fn each_event_the_reader_names_reads_back_from_the_line_rescue_wizard_prints() {
    for (event, expected) in cases() {
        assert_eq!(read(&event), expected, "{event:?}");
    }
}

//! The console leg's alarms in virtual time: the bootloader's lines are the router
//! speaking, and the write question is the technician's wait, which no silence or stall
//! alarm counts; a TFTP leg that truly stops still stalls.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::{ROUTER, Rig, arp_from, plan_with};
use crate::console::ConsoleEvent;
use crate::engine::event::{Command, Event};
use crate::engine::plan::{AfterProof, NetworkConsent, Serial, ServerAddress, Settings};
use crate::engine::run::machine::{Input, Setting};
use crate::engine::run::method::console::ConsoleNews;
use crate::net::observe::WireSign;

/// An image that fits the TL-WR841N v9's firmware region (0x3c0000 bytes).
const SIZE: u64 = 3 * 1024 * 1024 + 123;

/// The TL-WR841N v9 (its profile has a `console:` recipe) with `--serial /dev/ttyUSB0`,
/// consent given at once.
fn console_rig() -> Rig {
    let settings = Settings {
        interface: Some("enp3s0".into()),
        serial: Some(Serial {
            port: PathBuf::from("/dev/ttyUSB0"),
            baud: None,
            after_proof: AfterProof::AskToWrite,
        }),
        ..Settings::default()
    };
    let plan = plan_with("tl-wr841n-v9", SIZE, &settings);
    assert!(plan.console.is_some(), "the plan has no console leg");
    Rig::with_plan(
        plan,
        Setting::Host {
            consent: NetworkConsent::Ask,
            server_address: ServerAddress::Suggest,
        },
    )
}

/// Through the wait, the router's ARP at 10 s, its `tftpboot` moving the whole image and the
/// console's write question at 20 s: the state the real run stood in when the alarms came.
/// Through the wait, the router's ARP at 10 s and its `tftpboot` moving the whole image by
/// 15 s.
fn loaded() -> Rig {
    let mut rig = console_rig();
    rig.through_self_test();
    rig.at(10.0).feed(arp_from(
        ROUTER,
        SystemTime::UNIX_EPOCH + Duration::from_secs(10),
    ));
    rig.at(12.0);
    rig.request(1).acked(1, SIZE / 2);
    rig.at(15.0).acked(1, SIZE).finished_transfer(1);
    rig
}

fn at_the_question() -> Rig {
    let mut rig = loaded();
    rig.at(20.0).feed(Input::Console(ConsoleNews::Dialogue(
        ConsoleEvent::ConfirmationAsked {
            commands: vec!["erase 0x9f020000 +0x7c0000".into()],
            erase_from: 0x9f02_0000,
            erase_to: 0x9f7e_0000,
            crc: 0x1234_5678,
        },
    )));
    rig
}

/// The alarms a run can raise about the router's silence or a stopped transfer.
fn alarms(rig: &Rig) -> Vec<String> {
    rig.events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Stalled { .. }
                    | Event::Noticed {
                        finding: WireSign::RouterAway { .. },
                    }
                    | Event::RouterLeft { .. }
            )
        })
        .map(ToString::to_string)
        .collect()
}

/// Ticks every second from `from` to `to` (seconds since the start).
fn tick_through(rig: &mut Rig, from: u32, to: u32) {
    for s in from..=to {
        rig.at(f64::from(s)).feed(Input::Tick);
    }
}

#[test]
fn ten_minutes_at_the_write_question_raise_no_alarm() {
    let mut rig = at_the_question();
    tick_through(&mut rig, 21, 620);
    assert_eq!(alarms(&rig), Vec::<String>::new(), "{}", rig.text());
    assert_eq!(rig.finished(), None, "{}", rig.text());

    // The answer ends the technician's wait; the router's silence counts from it, so a
    // minute after a late answer the bootloader is still within its time.
    rig.at(620.5)
        .feed(Input::Command(Some(Command::ConfirmWrite(false))));
    tick_through(&mut rig, 621, 640);
    assert_eq!(alarms(&rig), Vec::<String>::new(), "{}", rig.text());
}

#[test]
fn console_lines_keep_the_router_alive() {
    let mut rig = loaded();
    // Five minutes of the bootloader printing (an erase's progress, a crc32 over a big
    // region) and no frame on the wire: it is the router speaking all the while.
    for s in 16..=316 {
        if s % 10 == 0 {
            rig.at(f64::from(s)).feed(Input::Console(ConsoleNews::Line(
                "Erasing at 0x9f3f0000".into(),
            )));
        }
        rig.at(f64::from(s)).feed(Input::Tick);
    }
    assert_eq!(alarms(&rig), Vec::<String>::new(), "{}", rig.text());
}

#[test]
fn a_tftp_leg_that_stops_still_stalls_on_a_console_run() {
    let mut rig = console_rig();
    rig.through_self_test();
    rig.at(12.0).request(1).acked(1, SIZE / 4);
    tick_through(&mut rig, 13, 12 + 61);
    let alarms = alarms(&rig);
    assert!(
        alarms
            .iter()
            .any(|a| a.contains("the transfer has not moved for 60 s")),
        "{alarms:?}\n{}",
        rig.text()
    );
}

//! A DHCP run in the wizard: the probe for another server and the lease are on the live
//! screen before the transfer, in the engine's own words ("gave 192.168.31.100 to …, a
//! `Mips_boot` loader, boot file test.bin").

use std::net::Ipv4Addr;

use super::{event, on_port_screen_with, rows, start_run};
use crate::engine::{Event, Phase};
use crate::ui::tui::model::{Effect, Model};

const IMAGE: &str = "miwifi_r4a_firmware.bin";
const ROUTER_MAC: &str = "8c:de:f9:12:34:56";

/// The Xiaomi 4A Gigabit chosen, its stock image taken, the port and the steps confirmed: the
/// live screen of a DHCP run.
fn on_dhcp_live_screen() -> Model {
    let image = vec![0x5a_u8; 64 * 1024];
    let mut model = on_port_screen_with("xiaomi-mi-router-4a-gigabit", IMAGE, &image);
    let effects = start_run(&mut model);
    assert!(
        matches!(&effects[..], [Effect::StartRun(plan)] if plan.method == crate::profile::Method::DhcpTftp),
        "{effects:?}"
    );
    model
}

/// The activity pane's text as one line: its wrapped lines joined, the frame dropped.
fn activity(model: &Model) -> String {
    let text: Vec<String> = rows(model)
        .iter()
        .filter_map(|row| {
            let inner = row.strip_prefix('│')?;
            Some(
                inner
                    .split('│')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            )
        })
        .collect();
    text.join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_probe_and_the_lease_are_on_the_live_screen_before_the_transfer() {
    let mut model = on_dhcp_live_screen();
    event(
        &mut model,
        0.2,
        Event::DhcpProbed {
            answered: Vec::new(),
            stopped: false,
            said: "no other DHCP server answered a probe on this port within 5 s".into(),
        },
    );
    event(
        &mut model,
        0.3,
        Event::PhaseStarted {
            phase: Phase::Waiting,
        },
    );
    event(
        &mut model,
        9.0,
        Event::DhcpLeased {
            client: ROUTER_MAC.into(),
            address: Ipv4Addr::new(192, 168, 31, 100),
            vendor_class: Some("Mips_boot".into()),
            boot_file: "test.bin".into(),
            bootp: false,
        },
    );
    let feed = activity(&model);
    for said in [
        "no other DHCP server answered a probe on this port within 5 s",
        "gave 192.168.31.100 to 8c:de:f9:12:34:56, a Mips_boot loader, boot file test.bin",
    ] {
        assert!(
            feed.contains(said),
            "{said:?} not in the activity pane:\n{feed}"
        );
    }
}

#[test]
fn another_server_answering_the_probe_is_named_as_a_problem() {
    let mut model = on_dhcp_live_screen();
    let said = "another DHCP server answered rescue-wizard's probe on this port: 192.168.31.254 (52:54:00:aa:bb:cc) offered 192.168.31.50. Switch off the other DHCP server on this segment, or unplug this computer from the LAN: the router may take its lease and never ask us";
    event(
        &mut model,
        0.2,
        Event::DhcpOtherServer {
            address: Ipv4Addr::new(192, 168, 31, 254),
            mac: Some("52:54:00:aa:bb:cc".into()),
            said: "another DHCP server answers on this port: 192.168.31.254 (52:54:00:aa:bb:cc)"
                .into(),
        },
    );
    event(
        &mut model,
        5.2,
        Event::DhcpProbed {
            answered: vec![Ipv4Addr::new(192, 168, 31, 254)],
            stopped: true,
            said: said.into(),
        },
    );
    let feed = activity(&model);
    for said in [
        "another DHCP server answers on this port: 192.168.31.254 (52:54:00:aa:bb:cc)",
        "192.168.31.254 (52:54:00:aa:bb:cc) offered 192.168.31.50. Switch off the other DHCP server on this segment",
    ] {
        assert!(
            feed.contains(said),
            "{said:?} not in the activity pane:\n{feed}"
        );
    }
}

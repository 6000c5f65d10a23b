use super::*;
use crate::net::iface::InterfaceKind;
use std::net::Ipv4Addr;

#[test]
fn plan_adds_only_what_is_missing() {
    let mut iface = Interface {
        index: 3,
        name: "eth0".into(),
        kind: InterfaceKind::Wired,
        mac: None,
        up: false,
        carrier: false,
        ipv4: vec![Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 5), 24)],
        mtu: Some(1500),
        managed_by_network_manager: None,
    };
    let host = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24);
    let plan = NetworkChanges::for_interface(&iface, host);
    assert_eq!(plan.add, Some(host));
    assert!(plan.link_up);
    assert_eq!(plan.describe().len(), 2);
    iface.up = true;
    iface.ipv4.push(host);
    assert!(NetworkChanges::for_interface(&iface, host).is_empty());
}

fn link(index: u32, name: &str, mac: &str) -> platform::LinkInfo {
    platform::LinkInfo {
        index,
        name: name.into(),
        mac: Some(mac.into()),
        up: true,
    }
}

fn firewall_rule() -> Change {
    Change::FirewallRule {
        rule: crate::net::firewall::AllowRule {
            subnet: crate::net::firewall::Subnet::new(Ipv4Addr::new(192, 168, 0, 0), 24).unwrap(),
            iface: "port0".into(),
            rules: vec![crate::net::firewall::AddedRule::Nftables {
                family: "inet".into(),
                table: "own".into(),
                chain: "input".into(),
                handle: Some(4),
            }],
            manual: Vec::new(),
        },
        ifindex: Some(5),
        mac: Some("02:00:00:00:00:05".into()),
    }
}

fn unmanaged() -> Change {
    Change::NetworkManagerUnmanaged {
        ifname: "port0".into(),
        ifindex: Some(5),
        mac: Some("02:00:00:00:00:05".into()),
    }
}

/// The decision for the name-keyed undos (firewall, NetworkManager), over the recorded and
/// the current interface: `NetworkManager` is not on the test machines, so this is where
/// its undo's check is proven.
#[test]
fn name_keyed_undos_touch_only_the_same_interface() {
    for change in [firewall_rule(), unmanaged()] {
        let recorded = change.recorded_port().unwrap();
        assert!(change.keyed_by_name());
        let same = link(5, "port0", "02:00:00:00:00:05");
        assert_eq!(port_now(&recorded, Some(&same), true), PortNow::Same);
        assert_eq!(left_alone(&change, &recorded, &PortNow::Same), None);
        // The same name, another MAC (a veth made again, an adapter swapped), whether or
        // not it got the same index.
        for other in [
            link(5, "port0", "02:00:00:00:00:99"),
            link(9, "port0", "02:00:00:00:00:99"),
            link(9, "port0", "02:00:00:00:00:05"),
        ] {
            let now = port_now(&recorded, Some(&other), true);
            let PortNow::Replaced(why) = &now else {
                panic!("{other:?}: {now:?}");
            };
            assert!(
                why.contains(&format!("port0 is now index {}", other.index)),
                "{why}"
            );
            let note = left_alone(&change, &recorded, &now).expect("left alone");
            let command = match &change {
                Change::FirewallRule { .. } => "`sudo nft delete rule inet own input handle 4`",
                _ => "`sudo nmcli device set port0 managed yes`",
            };
            assert!(note.contains(command) && note.contains("fix:"), "{note}");
        }
        // Gone: the firewall rule is removed (it names no interface now); NetworkManager's
        // setting went with the device.
        let gone = port_now(&recorded, None, true);
        assert!(matches!(gone, PortNow::Gone(_)), "{gone:?}");
        let decision = left_alone(&change, &recorded, &gone);
        match &change {
            Change::FirewallRule { .. } => assert_eq!(decision, None),
            _ => assert!(decision.unwrap().contains("NetworkManager forgot")),
        }
    }
}

#[test]
fn index_keyed_undos_compare_what_holds_the_index() {
    let change = Change::LinkUp {
        ifindex: 5,
        ifname: "port0".into(),
        mac: Some("02:00:00:00:00:05".into()),
    };
    let recorded = change.recorded_port().unwrap();
    assert!(!change.keyed_by_name());
    let now = port_now(
        &recorded,
        Some(&link(5, "eth9", "02:00:00:00:00:05")),
        false,
    );
    let why = left_alone(&change, &recorded, &now).unwrap();
    assert!(why.starts_with("index 5 is now eth9"), "{why}");
    assert_eq!(
        port_now(
            &recorded,
            Some(&link(5, "port0", "02:00:00:00:00:05")),
            false
        ),
        PortNow::Same
    );
}

#[test]
fn labels_fit_the_kernel_limit() {
    assert_eq!(label_for("eth0").as_deref(), Some("eth0:rw"));
    assert_eq!(label_for("enx00e04c680001"), None);
}

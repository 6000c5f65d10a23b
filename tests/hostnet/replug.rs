//! A port unplugged and plugged back during a run: its address and its static ARP entry come
//! back, and the journal follows the new interface.

use super::*;

#[test]
fn a_replugged_port_gets_its_address_again_and_the_journal_follows_it() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let server = lab.serve();
    let (old_index, _) = link_of(&lab.ns, "port0");
    // Unplugged, and plugged back in: the same name, a new index and MAC, down.
    let unplugged_at = Instant::now();
    lab.make_port0_again();
    let (new_index, new_mac) = link_of(&lab.ns, "port0");
    assert_ne!(new_index, old_index);
    eventually("the address is on the new port0", || lab.has(RESCUE));
    eventually("the new port0 is up", || link_is_up(&lab.ns, "port0"));
    println!(
        "address and link back {:?} after the port was deleted and created again",
        unplugged_at.elapsed()
    );
    let journal = std::fs::read_to_string(&lab.journals()[0]).unwrap();
    assert!(
        journal.contains(&format!("\"ifindex\":{new_index}")) && journal.contains(&new_mac),
        "{journal}"
    );
    let (output, rest) = server.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0), "{rest:?}");
    assert!(!lab.has(RESCUE), "{rest:?}");
    assert!(
        !rest
            .iter()
            .any(|l| l.contains("warning") || l.contains("could not")),
        "{rest:?}"
    );
    assert!(!lab.journal());
    let text = next_start(&lab);
    assert!(!text.contains("undone") && !text.contains("note"), "{text}");
}

/// The permanent ARP entries on `dev` in `ns`.
fn permanent_neighbours(ns: &str, dev: &str) -> String {
    String::from_utf8_lossy(
        &ip(&["-n", ns, "neigh", "show", "dev", dev, "nud", "permanent"]).stdout,
    )
    .into_owned()
}

#[test]
fn a_replugged_port_gets_the_static_arp_entry_back_too() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, vec![7u8; 2000]).unwrap();
    let mac = "ba:be:fa:ce:08:41";
    let server = lab.serve_with(&image, &["--router-mac", mac]);
    assert!(
        permanent_neighbours(&lab.ns, "port0").contains(mac),
        "{}",
        permanent_neighbours(&lab.ns, "port0")
    );
    // Unplugged and plugged back in: the kernel dropped the entry with the old interface.
    ip(&["-n", &lab.ns, "link", "del", "port0"]);
    ip(&[
        "link", "add", "port0", "netns", &lab.ns, "type", "veth", "peer", "name", "router0",
        "netns", &lab.peer,
    ]);
    ip(&["-n", &lab.peer, "link", "set", "router0", "up"]);
    eventually("the address is on the new port0", || lab.has(RESCUE));
    eventually("the static ARP entry is on the new port0", || {
        permanent_neighbours(&lab.ns, "port0").contains(mac)
    });
    let (new_index, _) = link_of(&lab.ns, "port0");
    let journal = std::fs::read_to_string(&lab.journals()[0]).unwrap();
    assert!(
        journal.contains(&format!("\"ifindex\":{new_index}")) && journal.contains(mac),
        "{journal}"
    );
    let (output, rest) = server.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0), "{rest:?}");
    assert!(!lab.has(RESCUE), "{rest:?}");
    assert!(
        !permanent_neighbours(&lab.ns, "port0").contains(mac),
        "{}",
        permanent_neighbours(&lab.ns, "port0")
    );
    assert!(!lab.journal());
}

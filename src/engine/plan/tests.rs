use super::*;
use crate::net::iface::{Interface, InterfaceKind};
use crate::profile::{Catalogue, Profile};

fn interfaces() -> Vec<Interface> {
    use crate::net::iface::sample::{loopback, port};
    vec![
        loopback(),
        port(
            2,
            "enp3s0",
            InterfaceKind::Wired,
            "00:e0:4c:68:00:01",
            &[],
            Some(false),
        ),
        port(
            3,
            "wlp2s0",
            InterfaceKind::Wireless,
            "a4:c3:f0:00:00:02",
            &[Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 23), 24)],
            None,
        ),
    ]
}

fn profile(id: &str) -> Profile {
    let (catalogue, _) = Catalogue::load(None).unwrap();
    catalogue.get(id).unwrap().profile.clone()
}

fn image() -> ImageFacts {
    ImageFacts {
        path: PathBuf::from("/home/tech/wr841nv9-factory.bin"),
        size: 3_932_160,
        sha256: "9f2c".into(),
    }
}

#[test]
fn a_pull_plan_reads_as_the_technician_will_see_it() {
    let plan = build(
        &profile("tl-wr841n-v9"),
        image(),
        &interfaces(),
        &Settings::default(),
    )
    .unwrap();
    let expected = "\
device   tl-wr841n-v9 (TP-Link TL-WR841N/ND)
method   the router pulls the image; rescue-wizard serves it over TFTP
image    /home/tech/wr841nv9-factory.bin (3932160 bytes, sha256 9f2c)
port     enp3s0 (enp3s0 is the only wired port with a cable in; link up)
laptop   192.168.0.66/24
router   192.168.0.86
steps
  1. check the image, the privileges, UDP port 69 and the firewall
  2. with consent: add 192.168.0.66/24 to enp3s0 (in addition to its own addresses, removed again when rescue-wizard ends)
  3. serve the image on 192.168.0.66:69 under any name asked for (expected: wr841nv9_tp_recovery.bin); blocks up to 1468 bytes, windows up to 16
  4. fetch the image from our own server through that address and compare its sha256
  5. show the device's 3 step(s) and watch the wire (ARP, ping, requests); give up after 600 s
  6. count down 180 s of flashing (the profile gives none: a typical time); watch for the router at 192.168.1.1
  7. restore the network and write the report
";
    assert_eq!(plan.to_string(), expected);
}

#[test]
fn a_push_plan_names_the_router_and_the_remote_name() {
    let settings = Settings {
        interface: Some("enp3s0".into()),
        after_transfer: AfterTransfer::Exit,
        ..Settings::default()
    };
    let plan = build(
        &profile("ubiquiti-unifi-ap"),
        image(),
        &interfaces(),
        &settings,
    )
    .unwrap();
    let text = plan.to_string();
    assert!(
        text.contains(
            "push the image to 192.168.1.20:69 as \"wr841nv9-factory.bin\" the moment its server answers"
        ),
        "{text}"
    );
    assert!(text.contains("chosen with --interface"), "{text}");
    assert!(
        text.contains("end once the transfer is confirmed"),
        "{text}"
    );
    assert!(!plan.serves());
}

/// The listing's word "automated" is a promise: every profile it gives as automated gets a
/// plan on a wired port, and every one it gives as manual is refused with the steps.
#[test]
fn every_profile_listed_as_automated_can_be_planned() {
    let (catalogue, _) = Catalogue::load(None).unwrap();
    let settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    let mut planned = 0;
    for entry in catalogue.entries() {
        let p = &entry.profile;
        let result = build(p, image(), &interfaces(), &settings);
        if p.is_automated() {
            assert!(
                result.is_ok(),
                "{} is listed as automated: {result:?}",
                p.id
            );
            planned += 1;
        } else {
            assert!(result.is_err(), "{} is listed as manual but planned", p.id);
        }
    }
    assert!(planned > 200, "only {planned} profiles planned");
}

#[test]
fn wifi_and_manual_methods_are_refused_with_the_fix() {
    let settings = Settings {
        interface: Some("wlp2s0".into()),
        ..Settings::default()
    };
    let err = build(&profile("tl-wr841n-v9"), image(), &interfaces(), &settings).unwrap_err();
    assert!(
        err.to_string().contains("wlp2s0 is a Wi-Fi interface"),
        "{err}"
    );
    let err = build(
        &profile("dlink-dir-1960-a1"),
        image(),
        &interfaces(),
        &Settings::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("devices show dlink-dir-1960-a1"),
        "{err}"
    );
}

#[test]
fn an_nmrp_device_is_planned_with_its_addresses_and_region() {
    let settings = Settings {
        interface: Some("enp3s0".into()),
        after_transfer: AfterTransfer::Exit,
        region: Some("ww".into()),
        ..Settings::default()
    };
    let plan = build(&profile("netgear-r6220"), image(), &interfaces(), &settings).unwrap();
    assert_eq!(
        plan.transfer,
        Transfer::Nmrp {
            router: Ipv4Addr::new(10, 164, 183, 253),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            region: crate::nmrp::packet::Region::from_name("WW"),
        }
    );
    assert_eq!(
        plan.host,
        Some(Ipv4Cidr::new(Ipv4Addr::new(10, 164, 183, 252), 24))
    );
    // The router's keep-alives and close need answers: the run never ends at the upload.
    assert_eq!(plan.after_transfer, AfterTransfer::Watch);
    assert_eq!(plan.after, None);
    assert!(plan.to_string().contains("region WW"), "{plan}");
    let settings = Settings {
        interface: Some("enp3s0".into()),
        region: Some("Mars".into()),
        ..Settings::default()
    };
    let err = build(&profile("netgear-r6220"), image(), &interfaces(), &settings).unwrap_err();
    assert!(
        err.to_string().contains("\"Mars\" is not a region"),
        "{err}"
    );
    assert!(
        err.to_string().contains("fix: give --region as one of"),
        "{err}"
    );
}

#[test]
fn dhcp_and_bootp_devices_lease_their_router_address_and_boot_file() {
    let settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    let plan = build(
        &profile("xiaomi-mi-router-4a-gigabit"),
        image(),
        &interfaces(),
        &settings,
    )
    .unwrap();
    let Transfer::Dhcp {
        lease, expected, ..
    } = &plan.transfer
    else {
        panic!("{:?}", plan.transfer);
    };
    assert_eq!(lease.router, Ipv4Addr::new(192, 168, 31, 100));
    assert_eq!(lease.boot_file, "test.bin");
    assert_eq!(lease.protocol, crate::dhcp::lease::Protocol::Dhcp);
    assert_eq!(expected, &["test.bin".to_owned()]);
    assert_eq!(plan.router, Some(Ipv4Addr::new(192, 168, 31, 100)));
    assert!(plan.serves());
    let text = plan.to_string();
    assert!(
        text.contains("answer DHCP on enp3s0 only: give the router 192.168.31.100, our address 192.168.31.1 as its server (siaddr), boot file test.bin"),
        "{text}"
    );
    // MikroTik etherboot: BOOTP, and the image's own name as boot file.
    let plan = build(
        &profile("mikrotik-routerboard"),
        image(),
        &interfaces(),
        &settings,
    )
    .unwrap();
    let Transfer::Dhcp { lease, .. } = &plan.transfer else {
        panic!("{:?}", plan.transfer);
    };
    assert_eq!(lease.protocol, crate::dhcp::lease::Protocol::Bootp);
    assert_eq!(lease.router, Ipv4Addr::new(192, 168, 1, 20));
    assert_eq!(lease.boot_file, "wr841nv9-factory.bin");
}

/// A profile recovered by the console alone, as `tests/console_run.rs` runs it.
const CONSOLE_ONLY: &str =
    include_str!("../../../tests/fixtures/profiles/qemu-virt-console-method.yaml");

#[test]
fn a_console_method_profile_is_planned_with_its_console_leg_and_needs_a_port() {
    let profile = crate::profile::parse_profile(CONSOLE_ONLY, "console-only.yaml").unwrap();
    assert!(profile.is_automated());
    let mut settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    let err = build(&profile, image(), &interfaces(), &settings).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no serial port was given") && text.contains("--serial auto"),
        "{text}"
    );
    settings.serial = Some(Serial {
        port: PathBuf::from("/dev/ttyUSB0"),
        baud: None,
        after_proof: AfterProof::AskToWrite,
    });
    let plan = build(&profile, image(), &interfaces(), &settings).unwrap();
    assert!(plan.serves());
    let console = plan.console.as_ref().unwrap();
    assert_eq!(
        (console.baud, console.load_addr),
        (115_200, Some(0x4020_0000))
    );
    let text = plan.to_string();
    assert!(
        text.contains(
            "on the serial console /dev/ttyUSB0 at 115200 baud: stop autoboot, set ipaddr and serverip, `tftpboot` to 0x40200000"
        ) && text.contains("writing the NOR flash at 0x4100000 needs --yes"),
        "{text}"
    );
}

/// A run on the wired port with `--serial /dev/ttyUSB0 --yes`.
fn with_serial() -> Settings {
    Settings {
        interface: Some("enp3s0".into()),
        serial: Some(Serial {
            port: PathBuf::from("/dev/ttyUSB0"),
            baud: None,
            after_proof: AfterProof::Write,
        }),
        ..Settings::default()
    }
}

/// Every catalogue recipe plans with `--serial`: the console leg carries it, with the
/// profile's numbers, whatever the profile's network method.
#[test]
fn every_catalogue_console_recipe_plans_with_serial() {
    let (catalogue, _) = Catalogue::load(None).unwrap();
    let settings = with_serial();
    let mut planned = Vec::new();
    for entry in catalogue.entries() {
        let p = &entry.profile;
        let Some(console) = &p.console else { continue };
        let flash = console.flash.as_ref().unwrap();
        assert!(
            console.source.is_some(),
            "{}: a recipe names its source",
            p.id
        );
        let plan =
            build(p, image(), &interfaces(), &settings).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        assert_eq!(plan.method, Method::Console, "{}", p.id);
        let leg = plan.console.as_ref().unwrap();
        assert_eq!(leg.recipe.as_ref().unwrap().offset, flash.offset);
        let text = plan.to_string();
        assert!(
            text.contains(&crate::console::script::hex(flash.offset)),
            "{}: {text}",
            p.id
        );
        planned.push(p.id.clone());
    }
    for id in ["tl-wr841n-v9", "tl-wr740n-v4", "glinet-b1300"] {
        assert!(
            planned.iter().any(|p| p == id),
            "{id} has no recipe: {planned:?}"
        );
    }
}

#[test]
fn an_image_larger_than_the_recipes_region_is_refused_before_the_run() {
    let settings = with_serial();
    let whole_flash = ImageFacts {
        size: 4 << 20,
        ..image()
    };
    let err = build(
        &profile("tl-wr841n-v9"),
        whole_flash,
        &interfaces(),
        &settings,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("the image is 4194304 bytes, and tl-wr841n-v9's firmware region at 0x9f020000 holds 3932160 bytes"),
        "{err}"
    );
}

#[test]
fn a_dhcp_section_sets_pool_boot_files_by_class_and_who_is_answered() {
    let settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    let mut xiaomi = profile("xiaomi-mi-router-4a-gigabit");
    xiaomi.dhcp = crate::profile::Dhcp {
        boot_file: Some("recovery.bin".into()),
        images_by_vendor_class: [
            ("U-Boot".to_owned(), "generic.bin".to_owned()),
            ("U-Boot.armv7".to_owned(), "armv7.bin".to_owned()),
            ("Mips_boot".to_owned(), "test.bin".to_owned()),
        ]
        .into(),
        pool: Some(crate::profile::Pool {
            first: Ipv4Addr::new(192, 168, 31, 120),
            last: Ipv4Addr::new(192, 168, 31, 122),
        }),
        client_mac: None,
        vendor_class: Some("Mips_boot".into()),
    };
    let plan = build(&xiaomi, image(), &interfaces(), &settings).unwrap();
    let Transfer::Dhcp { lease, .. } = &plan.transfer else {
        panic!("{:?}", plan.transfer);
    };
    assert_eq!(lease.router, Ipv4Addr::new(192, 168, 31, 120));
    assert_eq!(plan.router, Some(Ipv4Addr::new(192, 168, 31, 120)));
    assert_eq!(lease.pool.len(), 3);
    assert_eq!(lease.boot_file, "recovery.bin");
    let config = lease.config(plan.host.unwrap()).unwrap();
    // The longest prefix wins, whatever the order in the file.
    assert_eq!(config.boot_file_for(Some("U-Boot.armv7")), "armv7.bin");
    assert_eq!(config.boot_file_for(Some("U-Boot.armv8")), "generic.bin");
    assert_eq!(config.boot_file_for(Some("Mips_boot.v1")), "test.bin");
    assert_eq!(config.boot_file_for(None), "recovery.bin");
    assert_eq!(
        config.answer,
        crate::dhcp::lease::Answer::VendorClass("Mips_boot".into())
    );
    let text = plan.to_string();
    assert!(
        text.contains("give the router (only vendor class Mips_boot...) 192.168.31.120 (pool up to 192.168.31.122)"),
        "{text}"
    );
    xiaomi.dhcp.vendor_class = None;
    xiaomi.dhcp.client_mac = Some("8C:DE:F9:12:34:56".into());
    let plan = build(&xiaomi, image(), &interfaces(), &settings).unwrap();
    let Transfer::Dhcp { lease, .. } = &plan.transfer else {
        panic!("{:?}", plan.transfer);
    };
    assert_eq!(
        lease.answer,
        crate::dhcp::lease::Answer::Mac(crate::net::wire::Mac([
            0x8c, 0xde, 0xf9, 0x12, 0x34, 0x56
        ]))
    );
    // No section: today's behaviour, the profile's router address and file name.
    assert_eq!(
        profile("xiaomi-mi-router-4a-gigabit").dhcp,
        crate::profile::Dhcp::default()
    );
}

#[test]
fn a_loopback_run_changes_nothing() {
    let settings = Settings {
        loopback: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: Some(0),
        flash: Some(Duration::from_secs(3)),
        ..Settings::default()
    };
    let plan = build(&profile("tl-wr841n-v9"), image(), &[], &settings).unwrap();
    assert!(plan.network.is_none());
    assert!(plan.changes().is_empty());
    assert_eq!(plan.flash, Duration::from_secs(3));
    let text = plan.to_string();
    assert!(text.contains("serve the image on 127.0.0.1:0"), "{text}");
    assert!(text.contains("change nothing on the network"), "{text}");
}

#[test]
fn a_profile_without_the_next_block_on_resend_gives_a_server_that_never_learns_it() {
    // U-Boot 1.1.x stores any block unchecked: its profile says `next-block-on-resend:
    // false`, and the run's server must neither send nor learn the next block on a resend.
    let old_uboot = profile("tl-wr940n-v4");
    assert_eq!(old_uboot.tftp.next_block_on_resend, Some(false));
    let server = |profile: &Profile| {
        let plan = build(profile, image(), &interfaces(), &Settings::default()).unwrap();
        plan.transfer.server_config(image().path).unwrap()
    };
    let config = server(&old_uboot);
    assert!(!config.timing.resend_next_block);
    assert!(!config.timing.learn_next_block);
    assert_eq!(NextBlock::of(&config.timing), NextBlock::Never);

    // Without a word from the profile, the server learns it from the peer; with `true`, it
    // sends it from the start.
    let mut unsaid = old_uboot.clone();
    unsaid.tftp.next_block_on_resend = None;
    assert_eq!(NextBlock::of(&server(&unsaid).timing), NextBlock::Learn);
    let mut safe = old_uboot;
    safe.tftp.next_block_on_resend = Some(true);
    assert_eq!(NextBlock::of(&server(&safe).timing), NextBlock::Always);
}

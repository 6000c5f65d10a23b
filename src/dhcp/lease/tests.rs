use super::*;

const ROUTER: Mac = Mac([0x8c, 0xde, 0xf9, 0x12, 0x34, 0x56]);
const OTHER: Mac = Mac([0x02, 0, 0, 0, 0, 0x99]);
const US: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 1);
const LEASED: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 100);
const SPARE: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 101);

fn config() -> LeaseConfig {
    LeaseConfig::new(Ipv4Cidr::new(US, 24), vec![LEASED, SPARE], "test.bin").unwrap()
}

fn responder() -> Responder {
    Responder::new(config())
}

fn dhcp(client: Mac, kind: MessageType, extra: Vec<DhcpOption>) -> Message {
    let mut m = Message::new(Op::REQUEST, 0x0bad_cafe, client);
    let mut options = vec![DhcpOption::new(code::MESSAGE_TYPE, [kind.0])];
    options.extend(extra);
    m.vendor = Vendor::Options(options);
    m
}

fn vendor(class: &str) -> DhcpOption {
    DhcpOption::new(code::VENDOR_CLASS, class.as_bytes())
}

fn request_for(client: Mac, address: Ipv4Addr, server: Ipv4Addr) -> Message {
    dhcp(
        client,
        MessageType::REQUEST,
        vec![
            DhcpOption::address(code::REQUESTED_ADDRESS, address),
            DhcpOption::address(code::SERVER_ID, server),
        ],
    )
}

fn only_reply(step: &Step) -> &Reply {
    assert_eq!(step.replies.len(), 1, "{step:?}");
    &step.replies[0]
}

#[test]
fn discover_gets_an_offer_with_server_file_and_option_67() {
    let mut r = responder();
    let now = Instant::now();
    let step = r.on_request(
        &dhcp(ROUTER, MessageType::DISCOVER, vec![vendor("Mips_boot")]),
        now,
    );
    let reply = only_reply(&step);
    let offer = &reply.message;
    assert_eq!(offer.op, Op::REPLY);
    assert_eq!(offer.xid, 0x0bad_cafe);
    assert_eq!(offer.message_type(), Some(MessageType::OFFER));
    assert_eq!(offer.yiaddr, LEASED);
    assert_eq!(
        offer.siaddr, US,
        "U-Boot takes the TFTP server from siaddr only"
    );
    assert_eq!(offer.file_name(), b"test.bin");
    assert_eq!(
        offer.option(code::BOOT_FILE).as_deref(),
        Some(&b"test.bin"[..])
    );
    assert_eq!(offer.address_option(code::SERVER_ID), Some(US));
    assert_eq!(
        offer.address_option(code::SUBNET_MASK),
        Some(Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(offer.client_mac(), Some(ROUTER));
    assert_eq!(reply.to, Destination::Broadcast);
    assert_eq!(
        step.events,
        vec![LeaseEvent::Offered {
            client: ROUTER,
            address: LEASED,
            vendor_class: Some("Mips_boot".into()),
            boot_file: "test.bin".into()
        }]
    );
}

#[test]
fn request_for_the_offer_gets_an_ack_and_the_gave_event() {
    let mut r = responder();
    let now = Instant::now();
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    let mut request = request_for(ROUTER, LEASED, US);
    if let Vendor::Options(options) = &mut request.vendor {
        options.push(vendor("Mips_boot"));
    }
    let step = r.on_request(&request, now + Duration::from_secs(1));
    let ack = &only_reply(&step).message;
    assert_eq!(ack.message_type(), Some(MessageType::ACK));
    assert_eq!(ack.yiaddr, LEASED);
    assert_eq!(ack.siaddr, US);
    assert_eq!(ack.file_name(), b"test.bin");
    assert_eq!(
        ack.option(code::LEASE_TIME),
        Some(86_400u32.to_be_bytes().to_vec())
    );
    let event = &step.events[0];
    assert_eq!(
        event.to_string(),
        "gave 192.168.31.100 to 8c:de:f9:12:34:56, a Mips_boot loader, boot file test.bin"
    );
}

#[test]
fn bootp_request_gets_a_bootp_reply_without_any_dhcp_option() {
    let mut r = responder();
    let mut request = Message::new(Op::REQUEST, 5, ROUTER);
    request.vendor = Vendor::Options(vec![vendor("Mips_boot")]);
    let step = r.on_request(&request, Instant::now());
    let reply = &only_reply(&step).message;
    assert_eq!(
        reply.message_type(),
        None,
        "RouterBOOT drops replies with option 53"
    );
    for dhcp_only in [
        code::MESSAGE_TYPE,
        code::SERVER_ID,
        code::LEASE_TIME,
        code::RENEWAL_TIME,
        code::REBINDING_TIME,
    ] {
        assert_eq!(reply.option(dhcp_only), None, "option {dhcp_only}");
    }
    assert_eq!(reply.yiaddr, LEASED);
    assert_eq!(reply.siaddr, US);
    assert_eq!(reply.file_name(), b"test.bin");
    assert_eq!(
        reply.option(code::BOOT_FILE).as_deref(),
        Some(&b"test.bin"[..])
    );
    assert_eq!(
        step.events[0].to_string(),
        "gave 192.168.31.100 to 8c:de:f9:12:34:56, a Mips_boot loader, boot file test.bin (BOOTP)"
    );
}

#[test]
fn plain_bootp_request_without_cookie_gets_an_opaque_vendor_area() {
    let mut r = responder();
    let mut request = Message::new(Op::REQUEST, 5, ROUTER);
    request.vendor = Vendor::Opaque(vec![0; 64]);
    let step = r.on_request(&request, Instant::now());
    let reply = &only_reply(&step).message;
    assert_eq!(reply.vendor, Vendor::Opaque(vec![0; 64]));
    assert_eq!(reply.to_bytes().len(), 300);
    assert_eq!(reply.file_name(), b"test.bin");
    assert_eq!(reply.siaddr, US);
}

#[test]
fn once_a_router_is_answered_only_its_mac_is() {
    let mut r = responder();
    let now = Instant::now();
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    assert_eq!(r.router(), Some(ROUTER));
    let step = r.on_request(&dhcp(OTHER, MessageType::DISCOVER, vec![]), now);
    assert!(step.replies.is_empty());
    assert_eq!(
        step.events,
        vec![LeaseEvent::Ignored {
            client: Some(OTHER),
            vendor_class: None,
            why: Ignored::NotTheRouter { router: ROUTER }
        }]
    );
    // Its retries are not answered either, and not reported again.
    let step = r.on_request(&dhcp(OTHER, MessageType::DISCOVER, vec![]), now);
    assert_eq!(step, Step::default());
    // The router itself is still answered, with the same address.
    let step = r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    assert_eq!(only_reply(&step).message.yiaddr, LEASED);
}

#[test]
fn a_named_mac_is_the_only_one_answered() {
    let mut config = config();
    config.answer = Answer::Mac(ROUTER);
    let mut r = Responder::new(config);
    let step = r.on_request(&dhcp(OTHER, MessageType::DISCOVER, vec![]), Instant::now());
    assert!(step.replies.is_empty());
    assert_eq!(
        step.events[0].to_string(),
        "did not answer 02:00:00:00:00:99: only 8c:de:f9:12:34:56 is answered"
    );
    let step = r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), Instant::now());
    assert_eq!(step.replies.len(), 1);
}

#[test]
fn a_named_vendor_class_is_the_only_one_answered_then_its_mac() {
    let mut config = config();
    config.answer = Answer::VendorClass("Mips_boot".into());
    let mut r = Responder::new(config);
    let now = Instant::now();
    let step = r.on_request(
        &dhcp(OTHER, MessageType::DISCOVER, vec![vendor("U-Boot.armv7")]),
        now,
    );
    assert!(step.replies.is_empty());
    assert_eq!(
        step.events[0],
        LeaseEvent::Ignored {
            client: Some(OTHER),
            vendor_class: Some("U-Boot.armv7".into()),
            why: Ignored::NotTheVendorClass {
                wanted: "Mips_boot".into()
            }
        }
    );
    let step = r.on_request(&dhcp(OTHER, MessageType::DISCOVER, vec![]), now);
    assert!(
        step.replies.is_empty(),
        "no vendor class is not the one named"
    );
    let step = r.on_request(
        &dhcp(ROUTER, MessageType::DISCOVER, vec![vendor("Mips_boot")]),
        now,
    );
    assert_eq!(step.replies.len(), 1);
    // Its REQUEST may leave option 60 out; its MAC is what counts now.
    let step = r.on_request(&request_for(ROUTER, LEASED, US), now);
    assert_eq!(
        only_reply(&step).message.message_type(),
        Some(MessageType::ACK)
    );
}

#[test]
fn boot_file_is_picked_by_vendor_class() {
    let mut config = config();
    config.boot_choices = vec![
        BootChoice {
            vendor_class: "ARM64__boot".into(),
            boot_file: "arm64.elf".into(),
        },
        BootChoice {
            vendor_class: "Mips".into(),
            boot_file: "mips.elf".into(),
        },
    ];
    let mut r = Responder::new(config);
    let step = r.on_request(
        &dhcp(ROUTER, MessageType::DISCOVER, vec![vendor("Mips_boot")]),
        Instant::now(),
    );
    assert_eq!(only_reply(&step).message.file_name(), b"mips.elf");
    assert_eq!(r.config().boot_file_for(Some("ARM64__boot")), "arm64.elf");
    assert_eq!(r.config().boot_file_for(Some("ARM__boot")), "test.bin");
    assert_eq!(r.config().boot_file_for(None), "test.bin");
}

#[test]
fn replies_broadcast_unless_the_client_has_an_address() {
    let mut request = Message::new(Op::REQUEST, 1, ROUTER);
    assert_eq!(destination(&request), Destination::Broadcast);
    request.ciaddr = LEASED;
    assert_eq!(destination(&request), Destination::Client(LEASED));
    request.flags = crate::dhcp::packet::FLAG_BROADCAST;
    assert_eq!(destination(&request), Destination::Broadcast);
    request.giaddr = Ipv4Addr::new(10, 0, 0, 1);
    assert_eq!(
        destination(&request),
        Destination::Relay(Ipv4Addr::new(10, 0, 0, 1))
    );
    assert_eq!(
        Destination::Broadcast.socket_addr().to_string(),
        "255.255.255.255:68"
    );
    assert_eq!(
        Destination::Relay(Ipv4Addr::new(10, 0, 0, 1))
            .socket_addr()
            .to_string(),
        "10.0.0.1:67"
    );
    // A renewing client (ciaddr set) is answered at its address.
    let mut r = responder();
    let now = Instant::now();
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    r.on_request(&request_for(ROUTER, LEASED, US), now);
    let mut renew = dhcp(ROUTER, MessageType::REQUEST, vec![]);
    renew.ciaddr = LEASED;
    let step = r.on_request(&renew, now);
    let reply = only_reply(&step);
    assert_eq!(reply.to, Destination::Client(LEASED));
    assert_eq!(reply.message.message_type(), Some(MessageType::ACK));
}

#[test]
fn request_for_another_address_is_refused_with_a_broadcast_nak() {
    let mut r = responder();
    let now = Instant::now();
    // INIT-REBOOT: a client remembering an address from another network.
    let mut request = dhcp(
        ROUTER,
        MessageType::REQUEST,
        vec![DhcpOption::address(
            code::REQUESTED_ADDRESS,
            Ipv4Addr::new(10, 0, 0, 5),
        )],
    );
    request.flags = 0;
    let step = r.on_request(&request, now);
    let reply = only_reply(&step);
    assert_eq!(reply.to, Destination::Broadcast);
    assert_eq!(reply.message.message_type(), Some(MessageType::NAK));
    assert_eq!(reply.message.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        step.events,
        vec![LeaseEvent::Refused {
            client: ROUTER,
            asked: Ipv4Addr::new(10, 0, 0, 5),
            instead: LEASED
        }]
    );
    // INIT-REBOOT for the address it may have: ACK, without a DISCOVER first.
    let step = r.on_request(
        &dhcp(
            ROUTER,
            MessageType::REQUEST,
            vec![DhcpOption::address(code::REQUESTED_ADDRESS, LEASED)],
        ),
        now,
    );
    assert_eq!(
        only_reply(&step).message.message_type(),
        Some(MessageType::ACK)
    );
}

#[test]
fn a_declined_address_is_never_offered_again() {
    let mut r = responder();
    let now = Instant::now();
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    r.on_request(&request_for(ROUTER, LEASED, US), now);
    let step = r.on_request(
        &dhcp(
            ROUTER,
            MessageType::DECLINE,
            vec![DhcpOption::address(code::REQUESTED_ADDRESS, LEASED)],
        ),
        now,
    );
    assert!(step.replies.is_empty(), "DECLINE is not answered");
    assert_eq!(
        step.events,
        vec![LeaseEvent::Declined {
            client: ROUTER,
            address: LEASED
        }]
    );
    let step = r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    assert_eq!(only_reply(&step).message.yiaddr, SPARE, "the pool's next");
    r.on_request(
        &dhcp(
            ROUTER,
            MessageType::DECLINE,
            vec![DhcpOption::address(code::REQUESTED_ADDRESS, SPARE)],
        ),
        now,
    );
    let step = r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    assert!(step.replies.is_empty());
    assert!(matches!(
        step.events[0],
        LeaseEvent::Ignored {
            why: Ignored::PoolExhausted,
            ..
        }
    ));
}

#[test]
fn release_frees_the_address_and_an_offer_expires() {
    let mut config = config();
    config.answer = Answer::FirstClient;
    let mut r = Responder::new(config);
    let now = Instant::now();
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    let mut release = dhcp(ROUTER, MessageType::RELEASE, vec![]);
    release.ciaddr = LEASED;
    let step = r.on_request(&release, now);
    assert!(step.replies.is_empty());
    assert_eq!(
        step.events[0].to_string(),
        "8c:de:f9:12:34:56 gave 192.168.31.100 back"
    );
    // An offer not taken up is held for OFFER_HOLD only.
    let mut two =
        Responder::new(LeaseConfig::new(Ipv4Cidr::new(US, 24), vec![LEASED, SPARE], "f").unwrap());
    two.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    assert_eq!(two.bindings.len(), 1);
    two.on_request(
        &dhcp(ROUTER, MessageType::DISCOVER, vec![]),
        now + OFFER_HOLD + Duration::from_secs(1),
    );
    assert_eq!(
        two.bindings.len(),
        1,
        "the stale offer went, a new one came"
    );
    assert!(two.bindings[0].until > now + OFFER_HOLD);
}

#[test]
fn a_request_naming_another_server_names_it_and_is_not_answered() {
    let mut r = responder();
    let now = Instant::now();
    let other = Ipv4Addr::new(192, 168, 31, 254);
    r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    let step = r.on_request(
        &request_for(ROUTER, Ipv4Addr::new(192, 168, 31, 50), other),
        now,
    );
    assert!(step.replies.is_empty());
    assert_eq!(
        step.events,
        vec![LeaseEvent::OtherServer {
            address: other,
            mac: None,
            seen: OtherServerSeen::ClientChose { client: ROUTER }
        }]
    );
    let step = r.on_request(
        &request_for(ROUTER, Ipv4Addr::new(192, 168, 31, 50), other),
        now,
    );
    assert!(step.events.is_empty(), "each other server is named once");
}

#[test]
fn replies_of_other_servers_are_named_once_and_ours_never() {
    let mut r = responder();
    let now = Instant::now();
    let mut offer = Message::new(Op::REPLY, 9, OTHER);
    offer.yiaddr = Ipv4Addr::new(192, 168, 31, 50);
    offer.vendor = Vendor::Options(vec![
        DhcpOption::new(code::MESSAGE_TYPE, [MessageType::OFFER.0]),
        DhcpOption::address(code::SERVER_ID, Ipv4Addr::new(192, 168, 31, 254)),
    ]);
    let step = r.on_reply_seen(&offer, Ipv4Addr::new(192, 168, 31, 254), now);
    assert_eq!(
        step.events[0].to_string(),
        "another DHCP server answers on this port: 192.168.31.254, its DHCPOFFER gave \
         192.168.31.50 to 02:00:00:00:00:99; the router may take that server's answer \
         instead of ours: unplug it or stop it"
    );
    assert!(
        r.on_reply_seen(&offer, Ipv4Addr::new(192, 168, 31, 254), now)
            .events
            .is_empty()
    );
    // Our own broadcast, looped back to our client-port socket.
    let step = r.on_request(&dhcp(ROUTER, MessageType::DISCOVER, vec![]), now);
    let ours = step.replies[0].message.clone();
    assert!(r.on_reply_seen(&ours, US, now).events.is_empty());
    // A BOOTP server without a server identifier is named by its source address.
    let mut bootp = Message::new(Op::REPLY, 3, OTHER);
    bootp.vendor = Vendor::Opaque(vec![0; 64]);
    let step = r.on_reply_seen(&bootp, Ipv4Addr::new(192, 168, 31, 2), now);
    assert!(matches!(
        &step.events[0],
        LeaseEvent::OtherServer { address, seen: OtherServerSeen::Reply { kind: None, .. }, .. }
            if *address == Ipv4Addr::new(192, 168, 31, 2)
    ));
    // Requests heard on the client port are not servers.
    let request = dhcp(OTHER, MessageType::DISCOVER, vec![]);
    assert!(
        r.on_reply_seen(&request, Ipv4Addr::new(192, 168, 31, 3), now)
            .events
            .is_empty()
    );
}

#[test]
fn replies_and_odd_messages_on_the_server_port_are_not_answered() {
    let mut r = responder();
    let now = Instant::now();
    let reply = Message::new(Op::REPLY, 1, ROUTER);
    let step = r.on_request(&reply, now);
    assert!(step.replies.is_empty());
    assert!(matches!(
        step.events[0],
        LeaseEvent::Ignored {
            why: Ignored::NotARequest,
            ..
        }
    ));
    let mut token_ring = dhcp(ROUTER, MessageType::DISCOVER, vec![]);
    token_ring.htype = 6;
    let step = r.on_request(&token_ring, now);
    assert!(step.replies.is_empty());
    assert!(matches!(
        step.events[0],
        LeaseEvent::Ignored {
            client: None,
            why: Ignored::NotEthernet,
            ..
        }
    ));
    let step = r.on_request(&dhcp(ROUTER, MessageType::OFFER, vec![]), now);
    assert!(step.replies.is_empty());
    assert_eq!(r.router(), None, "nothing answered, no router yet");
}

#[test]
fn configurations_that_cannot_work_are_refused_with_the_fix() {
    let server = Ipv4Cidr::new(US, 24);
    let err = LeaseConfig::new(server, vec![], "f").unwrap_err();
    assert_eq!(err, ConfigError::EmptyPool);
    let err = LeaseConfig::new(server, vec![US], "f").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the address to lease, 192.168.31.1, is this computer's own")
    );
    let err = LeaseConfig::new(server, vec![Ipv4Addr::new(192, 168, 1, 1)], "f").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the address to lease, 192.168.1.1, is not in this computer's subnet 192.168.31.1/24.\n  \
         fix: lease an address of 192.168.31.0/24, or give the port an address in 192.168.1.1's subnet"
    );
    for edge in [
        Ipv4Addr::new(192, 168, 31, 0),
        Ipv4Addr::new(192, 168, 31, 255),
    ] {
        assert_eq!(
            LeaseConfig::new(server, vec![edge], "f").unwrap_err(),
            ConfigError::NotAHost(edge)
        );
    }
    let err = LeaseConfig::new(server, vec![LEASED], "x".repeat(200)).unwrap_err();
    assert!(err.to_string().contains("holds at most 127"), "{err}");
}

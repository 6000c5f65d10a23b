//! What the wire tells the technician: wire events in, plain-language findings out.
//!
//! Pure: the [`Observer`] is fed [`Seen`] events and the time, and returns findings; it never
//! reads a clock or a socket, so every rule is tested with made-up events.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::net::wire::{ArpKind, DhcpKind, Mac, Seen, WireEvent};

/// How long the router must be silent before it counts as gone (a reboot, a power cycle).
pub const DEFAULT_AWAY_AFTER: Duration = Duration::from_secs(5);

/// What the profile (or the technician) expects on this link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    /// Every IPv4 address this computer has on the port: frames from these are ours.
    pub ours: Vec<Ipv4Addr>,
    /// The server address the bootloader is expected to want.
    pub host: Option<Ipv4Addr>,
    /// The router's expected address.
    pub router: Option<Ipv4Addr>,
    /// File names the bootloader is expected to ask for.
    pub files: Vec<String>,
}

/// A device on the link other than this computer, as far as the wire shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its hardware address, last seen.
    pub mac: Mac,
    /// When it was first seen.
    pub first_seen: SystemTime,
    /// When it was last seen.
    pub last_seen: SystemTime,
    /// The last IP time-to-live seen from it.
    pub ttl: Option<u8>,
    /// Whether it has been silent for longer than the away threshold.
    pub away: bool,
}

/// Something the wire tells the technician.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// A device answered or spoke for the first time.
    RouterSeen {
        /// Its address.
        ip: Ipv4Addr,
        /// Its hardware address.
        mac: Mac,
        /// Whether it is the address the profile expects (`None`: the profile names none).
        expected: Option<bool>,
    },
    /// The router asks for (ARPs for, or sends its request to) a server address this
    /// computer does not have. Fix: adopt that address on the port.
    WantsServerAddress {
        /// The router.
        router: Ipv4Addr,
        /// The address it wants.
        wants: Ipv4Addr,
        /// The address the profile said it would want.
        expected: Option<Ipv4Addr>,
    },
    /// The router asks for a file name the profile does not know.
    UnknownFile {
        /// The router.
        router: Ipv4Addr,
        /// The name it asked for.
        file: String,
        /// The names the profile knows.
        expected: Vec<String>,
    },
    /// A device asks for an address over DHCP or BOOTP.
    WantsDhcp {
        /// Its hardware address.
        mac: Mac,
        /// DHCP (discover/request) or plain BOOTP.
        op: DhcpKind,
    },
    /// The router has been silent for a while.
    RouterAway {
        /// Its address.
        ip: Ipv4Addr,
        /// When it was last heard.
        silent_for: Duration,
    },
    /// The router speaks again after being away.
    RouterBack {
        /// Its address.
        ip: Ipv4Addr,
        /// How long it was silent.
        away_for: Duration,
    },
    /// The router's hardware address changed (bootloader and system often differ).
    MacChanged {
        /// Its address.
        ip: Ipv4Addr,
        /// The address seen before.
        before: Mac,
        /// The address seen now.
        after: Mac,
    },
    /// The router's IP time-to-live changed: another program (bootloader, system) answers.
    TtlChanged {
        /// Its address.
        ip: Ipv4Addr,
        /// The TTL seen before.
        before: u8,
        /// The TTL seen now.
        after: u8,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::RouterSeen { ip, mac, expected } => {
                write!(f, "router seen: {ip} ({mac})")?;
                if *expected == Some(false) {
                    write!(f, ", not the address the profile names")?;
                }
                Ok(())
            }
            Finding::WantsServerAddress {
                router,
                wants,
                expected,
            } => {
                write!(
                    f,
                    "the router at {router} asks for a server at {wants}, which this computer does not have"
                )?;
                if let Some(expected) = expected
                    && expected != wants
                {
                    write!(f, "; the profile said {expected}")?;
                }
                write!(f, ". fix: give this computer {wants}")
            }
            Finding::UnknownFile {
                router,
                file,
                expected,
            } => {
                write!(
                    f,
                    "the router at {router} asks for \"{}\", a name the profile does not know",
                    file.escape_debug()
                )?;
                if !expected.is_empty() {
                    write!(f, " (it knows {})", expected.join(", "))?;
                }
                write!(f, "; serve with --any-name to give it the image anyway")
            }
            Finding::WantsDhcp { mac, op } => {
                let how = if *op == DhcpKind::Bootp {
                    "BOOTP"
                } else {
                    "DHCP"
                };
                write!(
                    f,
                    "{mac} asks for an address over {how}: it is not waiting at a fixed address, so the profile is probably wrong for this unit"
                )
            }
            Finding::RouterAway { ip, silent_for } => write!(
                f,
                "the router at {ip} has been silent for {} s (rebooting, or powered off)",
                silent_for.as_secs()
            ),
            Finding::RouterBack { ip, away_for } => write!(
                f,
                "the router at {ip} is back after {} s of silence (it rebooted)",
                away_for.as_secs()
            ),
            Finding::MacChanged { ip, before, after } => write!(
                f,
                "the router at {ip} changed its hardware address from {before} to {after}"
            ),
            Finding::TtlChanged { ip, before, after } => write!(
                f,
                "the router at {ip} now answers with TTL {after} instead of {before}: another program answers (bootloader or system)"
            ),
        }
    }
}

/// Turns wire events into findings, remembering what it has already said.
#[derive(Debug, Clone)]
pub struct Observer {
    expect: Expectation,
    away_after: Duration,
    devices: BTreeMap<Ipv4Addr, Sighting>,
    wanted: BTreeSet<(Ipv4Addr, Ipv4Addr)>,
    unknown_files: BTreeSet<String>,
    dhcp: BTreeSet<[u8; 6]>,
}

impl Observer {
    /// An observer for this link; a device silent for `away_after` counts as gone.
    pub fn new(expect: Expectation, away_after: Duration) -> Self {
        Self {
            expect,
            away_after,
            devices: BTreeMap::new(),
            wanted: BTreeSet::new(),
            unknown_files: BTreeSet::new(),
            dhcp: BTreeSet::new(),
        }
    }

    /// The devices seen so far, by address.
    pub fn devices(&self) -> impl Iterator<Item = &Sighting> {
        self.devices.values()
    }

    /// Whether `ip` is another device: not this computer, and a unicast host address.
    fn is_other(&self, ip: Ipv4Addr) -> bool {
        !ip.is_unspecified()
            && !ip.is_broadcast()
            && !ip.is_multicast()
            && !self.expect.ours.contains(&ip)
    }

    /// Takes one event; returns what it newly tells.
    pub fn observe(&mut self, seen: &Seen) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some((ip, mac)) = seen.event.sender()
            && self.is_other(ip)
        {
            self.sighted(ip, mac, seen.event.ttl(), seen.at, &mut findings);
        }
        match &seen.event {
            WireEvent::Arp {
                op: ArpKind::Request,
                sender_ip,
                target_ip,
                ..
            } if self.is_other(*sender_ip) && self.is_other(*target_ip) => {
                self.wants(*sender_ip, *target_ip, &mut findings);
            }
            WireEvent::Tftp { from, to, file, .. } if self.is_other(*from.ip()) => {
                if self.is_other(*to) {
                    self.wants(*from.ip(), *to, &mut findings);
                }
                if !self.expect.files.is_empty()
                    && !self.expect.files.iter().any(|known| known == file)
                    && self.unknown_files.insert(file.clone())
                {
                    findings.push(Finding::UnknownFile {
                        router: *from.ip(),
                        file: file.clone(),
                        expected: self.expect.files.clone(),
                    });
                }
            }
            WireEvent::Dhcp { op, client_mac } if self.dhcp.insert(client_mac.0) => {
                findings.push(Finding::WantsDhcp {
                    mac: *client_mac,
                    op: *op,
                });
            }
            _ => {}
        }
        findings
    }

    /// Lets time pass: devices silent for longer than the threshold are reported gone.
    pub fn tick(&mut self, now: SystemTime) -> Vec<Finding> {
        let away_after = self.away_after;
        self.devices
            .values_mut()
            .filter_map(|device| {
                let silent_for = now.duration_since(device.last_seen).ok()?;
                (!device.away && silent_for >= away_after).then(|| {
                    device.away = true;
                    Finding::RouterAway {
                        ip: device.ip,
                        silent_for,
                    }
                })
            })
            .collect()
    }

    fn sighted(
        &mut self,
        ip: Ipv4Addr,
        mac: Mac,
        ttl: Option<u8>,
        at: SystemTime,
        findings: &mut Vec<Finding>,
    ) {
        let Some(device) = self.devices.get_mut(&ip) else {
            self.devices.insert(
                ip,
                Sighting {
                    ip,
                    mac,
                    first_seen: at,
                    last_seen: at,
                    ttl,
                    away: false,
                },
            );
            findings.push(Finding::RouterSeen {
                ip,
                mac,
                expected: self.expect.router.map(|r| r == ip),
            });
            return;
        };
        let silent_for = at.duration_since(device.last_seen).unwrap_or_default();
        if device.away || silent_for >= self.away_after {
            if !device.away {
                findings.push(Finding::RouterAway { ip, silent_for });
            }
            findings.push(Finding::RouterBack {
                ip,
                away_for: silent_for,
            });
            device.away = false;
        }
        if device.mac != mac {
            findings.push(Finding::MacChanged {
                ip,
                before: device.mac,
                after: mac,
            });
            device.mac = mac;
        }
        if let Some(after) = ttl {
            if let Some(before) = device.ttl
                && before != after
            {
                findings.push(Finding::TtlChanged { ip, before, after });
            }
            device.ttl = Some(after);
        }
        device.last_seen = device.last_seen.max(at);
    }

    fn wants(&mut self, router: Ipv4Addr, wants: Ipv4Addr, findings: &mut Vec<Finding>) {
        if self.wanted.insert((router, wants)) {
            findings.push(Finding::WantsServerAddress {
                router,
                wants,
                expected: self.expect.host,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddrV4;

    use super::*;
    use crate::net::wire::{EchoKind, TftpKind};

    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const LAPTOP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 66);
    const ROUTER_MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
    }

    fn seen(seconds: u64, event: WireEvent) -> Seen {
        Seen {
            at: at(seconds),
            event,
        }
    }

    fn observer() -> Observer {
        Observer::new(
            Expectation {
                ours: vec![LAPTOP],
                host: Some(LAPTOP),
                router: Some(Ipv4Addr::new(192, 168, 0, 86)),
                files: vec!["wr841nv9_tp_recovery.bin".into()],
            },
            DEFAULT_AWAY_AFTER,
        )
    }

    fn who_has(target: Ipv4Addr) -> WireEvent {
        WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: ROUTER,
            sender_mac: ROUTER_MAC,
            target_ip: target,
        }
    }

    fn echo(ttl: u8, mac: Mac) -> WireEvent {
        WireEvent::Echo {
            op: EchoKind::Reply,
            from: ROUTER,
            mac,
            to: LAPTOP,
            ttl,
        }
    }

    #[test]
    fn the_router_asks_for_a_server_address_that_is_not_ours() {
        let mut o = observer();
        let wanted = Ipv4Addr::new(192, 168, 1, 10);
        let findings = o.observe(&seen(0, who_has(wanted)));
        assert_eq!(
            findings,
            vec![
                Finding::RouterSeen {
                    ip: ROUTER,
                    mac: ROUTER_MAC,
                    expected: Some(false)
                },
                Finding::WantsServerAddress {
                    router: ROUTER,
                    wants: wanted,
                    expected: Some(LAPTOP)
                },
            ]
        );
        assert_eq!(
            findings[1].to_string(),
            "the router at 192.168.1.1 asks for a server at 192.168.1.10, which this computer does not have; the profile said 192.168.0.66. fix: give this computer 192.168.1.10"
        );
        // Said once; asking for our own address is fine.
        assert_eq!(o.observe(&seen(1, who_has(wanted))), vec![]);
        assert_eq!(o.observe(&seen(2, who_has(LAPTOP))), vec![]);
        let device = o.devices().next().unwrap();
        assert_eq!((device.first_seen, device.last_seen), (at(0), at(2)));
    }

    #[test]
    fn our_own_frames_are_not_the_router() {
        let mut o = observer();
        let ours = WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: LAPTOP,
            sender_mac: Mac([2, 0, 0, 0, 0, 0x66]),
            target_ip: ROUTER,
        };
        assert_eq!(o.observe(&seen(0, ours)), vec![]);
        assert_eq!(o.devices().count(), 0);
    }

    #[test]
    fn unknown_file_names_and_requests_to_another_address() {
        let mut o = observer();
        let request = |file: &str, to| WireEvent::Tftp {
            op: TftpKind::Read,
            file: file.into(),
            from: SocketAddrV4::new(ROUTER, 3000),
            mac: ROUTER_MAC,
            to,
            ttl: 64,
        };
        let findings = o.observe(&seen(0, request("C0A80101.img", LAPTOP)));
        assert_eq!(
            findings[1],
            Finding::UnknownFile {
                router: ROUTER,
                file: "C0A80101.img".into(),
                expected: vec!["wr841nv9_tp_recovery.bin".into()],
            }
        );
        assert!(findings[1].to_string().contains("\"C0A80101.img\""));
        assert_eq!(
            o.observe(&seen(1, request("wr841nv9_tp_recovery.bin", LAPTOP))),
            vec![]
        );
        let elsewhere = Ipv4Addr::new(192, 168, 1, 2);
        assert_eq!(
            o.observe(&seen(2, request("wr841nv9_tp_recovery.bin", elsewhere))),
            vec![Finding::WantsServerAddress {
                router: ROUTER,
                wants: elsewhere,
                expected: Some(LAPTOP)
            }]
        );
        // Without names in the profile, no name is unknown.
        let mut o = Observer::new(Expectation::default(), DEFAULT_AWAY_AFTER);
        assert_eq!(o.observe(&seen(0, request("x", LAPTOP))).len(), 2);
    }

    #[test]
    fn a_device_that_wants_dhcp_is_reported_once() {
        let mut o = observer();
        let discover = WireEvent::Dhcp {
            op: DhcpKind::Discover,
            client_mac: ROUTER_MAC,
        };
        let findings = o.observe(&seen(0, discover.clone()));
        assert_eq!(
            findings,
            vec![Finding::WantsDhcp {
                mac: ROUTER_MAC,
                op: DhcpKind::Discover
            }]
        );
        assert!(findings[0].to_string().contains("over DHCP"));
        assert_eq!(o.observe(&seen(1, discover)), vec![]);
    }

    #[test]
    fn the_router_goes_away_and_comes_back_with_another_ttl() {
        let mut o = observer();
        o.observe(&seen(0, echo(64, ROUTER_MAC)));
        assert_eq!(o.tick(at(4)), vec![]);
        assert_eq!(
            o.tick(at(6)),
            vec![Finding::RouterAway {
                ip: ROUTER,
                silent_for: Duration::from_secs(6)
            }]
        );
        assert_eq!(o.tick(at(7)), vec![], "said once");
        let new_mac = Mac([2, 0, 0, 0, 0, 2]);
        let back = o.observe(&seen(30, echo(255, new_mac)));
        assert_eq!(
            back,
            vec![
                Finding::RouterBack {
                    ip: ROUTER,
                    away_for: Duration::from_secs(30)
                },
                Finding::MacChanged {
                    ip: ROUTER,
                    before: ROUTER_MAC,
                    after: new_mac
                },
                Finding::TtlChanged {
                    ip: ROUTER,
                    before: 64,
                    after: 255
                },
            ]
        );
        assert_eq!(
            back[2].to_string(),
            "the router at 192.168.1.1 now answers with TTL 255 instead of 64: another program answers (bootloader or system)"
        );
        // A gap noticed only by the next frame (no tick in between) still counts.
        assert_eq!(
            o.observe(&seen(60, echo(255, new_mac))),
            vec![
                Finding::RouterAway {
                    ip: ROUTER,
                    silent_for: Duration::from_secs(30)
                },
                Finding::RouterBack {
                    ip: ROUTER,
                    away_for: Duration::from_secs(30)
                },
            ]
        );
        // Frames arriving out of order never move the clock back.
        assert_eq!(o.observe(&seen(59, echo(255, new_mac))), vec![]);
        assert_eq!(o.devices().next().unwrap().last_seen, at(60));
    }
}

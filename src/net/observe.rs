//! What the wire tells the technician: wire events in, plain-language signs out.
//!
//! Pure: the [`Observer`] is fed [`Seen`] events and the time, and returns [`WireSign`]s (the
//! router was seen, wants another server address, went away, came back...); it never
//! reads a clock or a socket, so every rule is tested with made-up events.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::net::wire::{ArpKind, DhcpKind, Mac, Seen, WireEvent};
use crate::profile::schema::Step;

/// How long the router must be silent before it counts as gone (a reboot, a power cycle).
pub const DEFAULT_AWAY_AFTER: Duration = Duration::from_secs(5);

/// How long a router may stay silent after power-on when the profile gives no hold time:
/// bootloaders that wait for a server speak within a few seconds of power-on.
pub const DEFAULT_SILENT_AFTER_POWER_ON: Duration = Duration::from_secs(20);

/// Added to the profile's hold time: the bootloader's network comes up after the hold.
pub const POWER_ON_MARGIN: Duration = Duration::from_secs(10);

/// What the profile says about the first seconds after power-on, for the advice given when the
/// router stays silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerOnTiming {
    /// Silence for this long after power-on is worth a word.
    pub silent_after: Duration,
    /// The profile's step that holds (or releases) the button, with its seconds.
    pub hold: Option<HoldStep>,
}

/// A procedure step that times the button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldStep {
    /// The step as the profile words it.
    pub action: String,
    /// How long, in seconds.
    pub seconds: u32,
}

impl Default for PowerOnTiming {
    fn default() -> Self {
        Self {
            silent_after: DEFAULT_SILENT_AFTER_POWER_ON,
            hold: None,
        }
    }
}

impl PowerOnTiming {
    /// The timing of a profile's steps: the first step with seconds that holds or releases a
    /// button (not a "wait for the flash write" step), plus [`POWER_ON_MARGIN`].
    pub fn from_steps(steps: &[Step]) -> Self {
        let hold = steps.iter().find_map(|step| {
            let action = step.action.to_lowercase();
            let times_the_button = ["hold", "release", "press"]
                .iter()
                .any(|word| action.contains(word));
            match step.seconds {
                Some(seconds) if times_the_button => Some(HoldStep {
                    action: step.action.clone(),
                    seconds,
                }),
                _ => None,
            }
        });
        match hold {
            Some(hold) => Self {
                silent_after: Duration::from_secs(u64::from(hold.seconds)) + POWER_ON_MARGIN,
                hold: Some(hold),
            },
            None => Self::default(),
        }
    }
}

/// What the profile (or the technician) expects on this link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireExpectation {
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

/// A sign on the wire: something the router's traffic (or its silence) tells the technician.
/// Serialized with the tag `finding`, as events and reports have always written it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum WireSign {
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
    /// Nothing at all came from the router for a while after it was switched on.
    SilentAfterPowerOn {
        /// How long since power-on.
        silent_for: Duration,
        /// The profile's button step, when it times one.
        hold: Option<HoldStep>,
    },
}

/// A fix a front-end can offer for a finding, and carry out with the host network's
/// journaled changes (undone when rescue-wizard ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "remedy", rename_all = "kebab-case")]
pub enum Remedy {
    /// Give this computer the address the router asks for, on the watched port.
    AdoptAddress {
        /// The address.
        addr: Ipv4Addr,
    },
}

impl WireSign {
    /// The fix that can be carried out for this finding, if there is one.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            WireSign::WantsServerAddress { wants, .. } => {
                Some(Remedy::AdoptAddress { addr: *wants })
            }
            _ => None,
        }
    }
}

impl fmt::Display for WireSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireSign::RouterSeen { ip, mac, expected } => {
                write!(f, "router seen: {ip} ({mac})")?;
                if *expected == Some(false) {
                    write!(f, ", not the address the profile names")?;
                }
                Ok(())
            }
            WireSign::WantsServerAddress {
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
            WireSign::UnknownFile {
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
            WireSign::WantsDhcp { mac, op } => {
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
            WireSign::RouterAway { ip, silent_for } => write!(
                f,
                "the router at {ip} has been silent for {} s (rebooting, or powered off)",
                silent_for.as_secs()
            ),
            WireSign::RouterBack { ip, away_for } => write!(
                f,
                "the router at {ip} is back after {} s of silence (it rebooted)",
                away_for.as_secs()
            ),
            WireSign::MacChanged { ip, before, after } => write!(
                f,
                "the router at {ip} changed its hardware address from {before} to {after}"
            ),
            WireSign::TtlChanged { ip, before, after } => write!(
                f,
                "the router at {ip} now answers with TTL {after} instead of {before}: another program answers (bootloader or system)"
            ),
            WireSign::SilentAfterPowerOn { silent_for, hold } => {
                write!(
                    f,
                    "nothing seen from the router in the {} s since it was switched on. ",
                    silent_for.as_secs()
                )?;
                match hold {
                    Some(hold) => write!(
                        f,
                        "the profile says \"{}\" for {} s: released too early, it boots normally \
                         (hold longer); held far longer, some units skip recovery (try shorter)",
                        hold.action, hold.seconds
                    )?,
                    None => write!(
                        f,
                        "power it off, hold the recovery button while switching it on, and keep \
                         holding a few seconds longer than last time"
                    )?,
                }
                write!(
                    f,
                    "; check that the cable is in the port the profile names and its link light \
                     is on; start the watch before switching the router on"
                )
            }
        }
    }
}

/// Turns wire events into findings, remembering what it has already said.
#[derive(Debug, Clone)]
pub struct Observer {
    expect: WireExpectation,
    away_after: Duration,
    devices: BTreeMap<Ipv4Addr, Sighting>,
    wanted: BTreeSet<(Ipv4Addr, Ipv4Addr)>,
    unknown_files: BTreeSet<String>,
    dhcp: BTreeSet<[u8; 6]>,
    power_on: PowerOnTiming,
    /// When the router was switched on, until it is heard or the advice has been given.
    powered: Option<SystemTime>,
}

impl Observer {
    /// An observer for this link; a device silent for `away_after` counts as gone.
    pub fn new(expect: WireExpectation, away_after: Duration) -> Self {
        Self {
            expect,
            away_after,
            devices: BTreeMap::new(),
            wanted: BTreeSet::new(),
            unknown_files: BTreeSet::new(),
            dhcp: BTreeSet::new(),
            power_on: PowerOnTiming::default(),
            powered: None,
        }
    }

    /// Uses the profile's timing for the advice after power-on (see [`Observer::router_powered`]).
    #[must_use]
    pub fn with_power_on(mut self, timing: PowerOnTiming) -> Self {
        self.power_on = timing;
        self
    }

    /// The technician switched the router on at `now`: if nothing at all comes from it within
    /// the profile's time, [`Observer::tick`] gives timing advice, once for this power-on.
    pub fn router_powered(&mut self, now: SystemTime) {
        self.powered = Some(now);
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
    pub fn observe(&mut self, seen: &Seen) -> Vec<WireSign> {
        let mut findings = Vec::new();
        let mut heard = matches!(seen.event, WireEvent::Dhcp { .. });
        if let Some((ip, mac)) = seen.event.sender()
            && self.is_other(ip)
        {
            heard = true;
            self.sighted(ip, mac, seen.event.ttl(), seen.at, &mut findings);
        }
        if heard && self.powered.is_some_and(|powered| seen.at >= powered) {
            self.powered = None;
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
                    findings.push(WireSign::UnknownFile {
                        router: *from.ip(),
                        file: file.clone(),
                        expected: self.expect.files.clone(),
                    });
                }
            }
            WireEvent::Dhcp { op, client_mac } if self.dhcp.insert(client_mac.0) => {
                findings.push(WireSign::WantsDhcp {
                    mac: *client_mac,
                    op: *op,
                });
            }
            _ => {}
        }
        findings
    }

    /// The device at `ip` was heard at `at` by another way than the wire (its serial
    /// console): it is not silent, though no frame of it came. A device not seen on the wire
    /// yet, or reported away, is left for its next frame to tell.
    pub fn heard_elsewhere(&mut self, ip: Ipv4Addr, at: SystemTime) {
        if let Some(device) = self.devices.get_mut(&ip)
            && !device.away
        {
            device.last_seen = device.last_seen.max(at);
        }
    }

    /// Lets time pass: devices silent for longer than the threshold are reported gone, and a
    /// router silent since power-on gets timing advice.
    pub fn tick(&mut self, now: SystemTime) -> Vec<WireSign> {
        let away_after = self.away_after;
        let mut findings: Vec<WireSign> = self
            .devices
            .values_mut()
            .filter_map(|device| {
                let silent_for = now.duration_since(device.last_seen).ok()?;
                (!device.away && silent_for >= away_after).then(|| {
                    device.away = true;
                    WireSign::RouterAway {
                        ip: device.ip,
                        silent_for,
                    }
                })
            })
            .collect();
        if let Some(powered) = self.powered
            && let Ok(silent_for) = now.duration_since(powered)
            && silent_for >= self.power_on.silent_after
        {
            self.powered = None;
            findings.push(WireSign::SilentAfterPowerOn {
                silent_for,
                hold: self.power_on.hold.clone(),
            });
        }
        findings
    }

    fn sighted(
        &mut self,
        ip: Ipv4Addr,
        mac: Mac,
        ttl: Option<u8>,
        at: SystemTime,
        findings: &mut Vec<WireSign>,
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
            findings.push(WireSign::RouterSeen {
                ip,
                mac,
                expected: self.expect.router.map(|r| r == ip),
            });
            return;
        };
        let silent_for = at.duration_since(device.last_seen).unwrap_or_default();
        if device.away || silent_for >= self.away_after {
            if !device.away {
                findings.push(WireSign::RouterAway { ip, silent_for });
            }
            findings.push(WireSign::RouterBack {
                ip,
                away_for: silent_for,
            });
            device.away = false;
        }
        if device.mac != mac {
            findings.push(WireSign::MacChanged {
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
                findings.push(WireSign::TtlChanged { ip, before, after });
            }
            device.ttl = Some(after);
        }
        device.last_seen = device.last_seen.max(at);
    }

    fn wants(&mut self, router: Ipv4Addr, wants: Ipv4Addr, findings: &mut Vec<WireSign>) {
        if self.wanted.insert((router, wants)) {
            findings.push(WireSign::WantsServerAddress {
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
            WireExpectation {
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
                WireSign::RouterSeen {
                    ip: ROUTER,
                    mac: ROUTER_MAC,
                    expected: Some(false)
                },
                WireSign::WantsServerAddress {
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
            WireSign::UnknownFile {
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
            vec![WireSign::WantsServerAddress {
                router: ROUTER,
                wants: elsewhere,
                expected: Some(LAPTOP)
            }]
        );
        // Without names in the profile, no name is unknown.
        let mut o = Observer::new(WireExpectation::default(), DEFAULT_AWAY_AFTER);
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
            vec![WireSign::WantsDhcp {
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
            vec![WireSign::RouterAway {
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
                WireSign::RouterBack {
                    ip: ROUTER,
                    away_for: Duration::from_secs(30)
                },
                WireSign::MacChanged {
                    ip: ROUTER,
                    before: ROUTER_MAC,
                    after: new_mac
                },
                WireSign::TtlChanged {
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
                WireSign::RouterAway {
                    ip: ROUTER,
                    silent_for: Duration::from_secs(30)
                },
                WireSign::RouterBack {
                    ip: ROUTER,
                    away_for: Duration::from_secs(30)
                },
            ]
        );
        // Frames arriving out of order never move the clock back.
        assert_eq!(o.observe(&seen(59, echo(255, new_mac))), vec![]);
        assert_eq!(o.devices().next().unwrap().last_seen, at(60));
    }

    fn step(action: &str, seconds: Option<u32>) -> Step {
        Step {
            action: action.into(),
            seconds,
            led: None,
        }
    }

    #[test]
    fn the_hold_step_sets_the_power_on_timing() {
        let steps = [
            step(
                "Connect the laptop to a LAN port and power the router off.",
                None,
            ),
            step(
                "Hold the WPS/Reset button and power the router on; keep holding.",
                Some(7),
            ),
            step("Wait for the router to write flash and reboot.", Some(150)),
        ];
        let timing = PowerOnTiming::from_steps(&steps);
        assert_eq!(timing.silent_after, Duration::from_secs(17));
        assert_eq!(timing.hold.as_ref().map(|h| h.seconds), Some(7));
        // A wait with seconds is not a hold; without a hold, the default.
        assert_eq!(
            PowerOnTiming::from_steps(&steps[2..]),
            PowerOnTiming::default()
        );
        assert_eq!(
            PowerOnTiming::default().silent_after,
            DEFAULT_SILENT_AFTER_POWER_ON
        );
    }

    #[test]
    fn silence_after_power_on_gives_timing_advice_once() {
        let steps = [step(
            "Hold the reset button and power the router on.",
            Some(7),
        )];
        let mut o = observer().with_power_on(PowerOnTiming::from_steps(&steps));
        assert_eq!(o.tick(at(100)), vec![], "not switched on yet");
        o.router_powered(at(100));
        assert_eq!(o.tick(at(116)), vec![]);
        let findings = o.tick(at(117));
        assert_eq!(
            findings,
            vec![WireSign::SilentAfterPowerOn {
                silent_for: Duration::from_secs(17),
                hold: Some(HoldStep {
                    action: "Hold the reset button and power the router on.".into(),
                    seconds: 7
                }),
            }]
        );
        assert_eq!(
            findings[0].to_string(),
            "nothing seen from the router in the 17 s since it was switched on. the profile says \
             \"Hold the reset button and power the router on.\" for 7 s: released too early, it \
             boots normally (hold longer); held far longer, some units skip recovery (try \
             shorter); check that the cable is in the port the profile names and its link light \
             is on; start the watch before switching the router on"
        );
        assert_eq!(o.tick(at(200)), vec![], "once per power-on");
        // The next power-on is watched again.
        o.router_powered(at(300));
        assert_eq!(o.tick(at(317)).len(), 1);
    }

    #[test]
    fn a_router_heard_after_power_on_needs_no_advice() {
        let mut o = observer();
        o.router_powered(at(1));
        // Frames from before the power-on do not count; our own frames do not either.
        o.observe(&seen(0, echo(64, ROUTER_MAC)));
        o.observe(&seen(0, who_has(LAPTOP)));
        let ours = WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: LAPTOP,
            sender_mac: Mac([2, 0, 0, 0, 0, 0x66]),
            target_ip: ROUTER,
        };
        o.observe(&seen(3, ours));
        // The 5 s away rule speaks for the router seen at 0; the advice waits for 20 s.
        assert_eq!(o.tick(at(20)).len(), 1);
        let advice = o.tick(at(21));
        assert!(
            matches!(
                advice[..],
                [WireSign::SilentAfterPowerOn { hold: None, .. }]
            ),
            "{advice:?}"
        );
        assert!(
            advice[0]
                .to_string()
                .contains("keep holding a few seconds longer")
        );
        // A DHCP discover is the router speaking.
        o.router_powered(at(100));
        o.observe(&seen(
            104,
            WireEvent::Dhcp {
                op: DhcpKind::Discover,
                client_mac: ROUTER_MAC,
            },
        ));
        assert_eq!(o.tick(at(130)), vec![]);
        // So is an ARP request.
        o.router_powered(at(200));
        o.observe(&seen(201, who_has(LAPTOP)));
        assert!(
            !o.tick(at(300))
                .iter()
                .any(|f| matches!(f, WireSign::SilentAfterPowerOn { .. }))
        );
    }
}

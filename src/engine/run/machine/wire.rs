//! What the wire says: frames from the router (and not our own) as evidence, and what
//! the observer finds in them.

use super::{
    ArpKind, EchoKind, Effect, Event, Gap, Instant, Ipv4Addr, Machine, Phase, Seen, ServerAddress,
    Setting, WireEvent, WireSign,
};

impl Machine {
    pub(super) fn wire(&mut self, seen: &Seen, now: Instant, out: &mut Vec<Effect>) {
        let from = wire_source(&seen.event);
        if from.is_some_and(|ip| self.ours.contains(&ip) || ip.is_unspecified()) {
            // Our own frames: not evidence of the router.
            return;
        }
        out.push(Effect::Emit(Event::Wire {
            wire: seen.event.clone(),
        }));
        if let Some(ip) = from {
            self.evidence.router_seen = Some(ip);
            self.last_activity = now;
            self.stall_reported = false;
            self.speaker = Some(ip);
            if let Some(Gap::Back(away_for)) = self.quiet.heard(now) {
                out.push(Effect::Emit(Event::Noticed {
                    finding: WireSign::RouterBack { ip, away_for },
                }));
            }
        }
        match &seen.event {
            WireEvent::Arp {
                op: ArpKind::Request,
                target_ip,
                sender_ip,
                ..
            } if sender_ip != target_ip
                && !self.evidence.router_wants.contains(target_ip)
                && !self.known.contains(sender_ip) =>
            {
                self.evidence.router_wants.push(*target_ip);
            }
            WireEvent::Echo {
                op: EchoKind::Reply,
                ..
            } => self.evidence.router_answered = true,
            WireEvent::Tftp { .. } => self.evidence.requests_on_wire += 1,
            _ => {}
        }
        for finding in self.observer.observe(seen) {
            self.finding(finding, out);
        }
        if self.phase == Phase::Flashing
            && let Some(ip) = from
            && self.known.contains(&ip)
        {
            self.router_back(ip, now, out);
        }
    }

    pub(super) fn finding(&mut self, finding: WireSign, out: &mut Vec<Effect>) {
        let adopts = matches!(
            self.setting,
            Setting::Host {
                server_address: ServerAddress::Adopt,
                ..
            }
        );
        if let (true, Some(crate::net::observe::Remedy::AdoptAddress { addr })) =
            (adopts, finding.remedy())
            && !self.ours.contains(&addr)
        {
            out.push(Effect::Emit(Event::Noticed { finding }));
            self.adopt(addr, out);
            return;
        }
        // The router at an address it takes after flashing is reported as its return, not
        // as a stranger.
        if let WireSign::RouterSeen { ip, .. } = &finding
            && self.known.contains(ip)
        {
            return;
        }
        // Gaps are told by `after::Quiet`, which knows a router announcing itself every 20 s
        // from one that reboots.
        if matches!(
            finding,
            WireSign::RouterAway { .. } | WireSign::RouterBack { .. }
        ) {
            return;
        }
        out.push(Effect::Emit(Event::Noticed { finding }));
    }
}

/// The IPv4 address a frame came from, when it says.
fn wire_source(event: &WireEvent) -> Option<Ipv4Addr> {
    match event {
        // An ICMP error carries no hardware address, so `sender` leaves it out; its source
        // address still tells who spoke.
        WireEvent::Unreachable { from, .. } => Some(*from),
        _ => event.sender().map(|(ip, _)| ip),
    }
}

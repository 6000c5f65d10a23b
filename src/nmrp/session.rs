//! The host side of NMRP as a sans-I/O machine: fed Ethernet frames, ticks, link changes and the
//! upload's result, with the time; returns the frames to send and what happened. It never
//! touches a socket or a clock.
//!
//! The exchange (docs/nmrp.md has it whole):
//!
//! ```text
//! host                                   router (Netgear bootloader)
//!  ADVERTISE (broadcast, every 100 ms) ->   listens ~3 s after power-on
//!                                      <-   CONF_REQ          (every 0.5 s, 5 retries)
//!  CONF_ACK  (DEV-IP, FW-UP, region)   ->
//!                                      <-   TFTP_UL_REQ (FILE-NAME "firmware")
//!  ... TFTP write request and data to the router's TFTP server (the driver's job) ...
//!                                      <-   KEEP_ALIVE_REQ    (while writing flash)
//!  KEEP_ALIVE_ACK                      ->
//!                                      <-   CLOSE_REQ         (1 s, 2 retries)
//!  CLOSE_ACK                           ->   "NMRP is complete. Please switch OFF power."
//! ```
//!
//! Router-side rules honoured (Netgear U-Boot `net/nmrp.c`, `NmrpHandler`): the reserved field
//! is zero and the options sum exactly to the length (the codec emits nothing else); and the
//! router ignores a message whose code equals the code of the message before it ("ignore same
//! packet"), in every state, without resetting that memory when it restarts listening. So a
//! code the router must act on is never sent twice in a row: a `KEEP_ALIVE_ACK`, which every
//! state but `KEEP_ALIVE` ignores, goes first ("a dedup breaker"). ADVERTISE is the one code sent
//! over and over; a breaker precedes one ADVERTISE a second and the first after the link comes
//! back, so that a router that restarted listening with ADVERTISE as its last code (after its
//! `CONF_REQ` retries went unanswered) hears the next one.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::packet::{
    BROADCAST, Code, FIRMWARE_FILE_NAME, Frame, MAGIC, Message, NmrpOption, Region,
};
use crate::net::wire::Mac;
use crate::tftp::packet::escape_name;

pub use super::upload_failure::UploadFailure;

/// The router's address when neither the caller nor the profile names one: nmrpflash's
/// `NMRP_DEFAULT_IP_REMOTE`.
pub const DEFAULT_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(10, 164, 183, 253);
/// The laptop's address that goes with [`DEFAULT_ROUTER_IP`]: nmrpflash's `NMRP_DEFAULT_IP_LOCAL`.
pub const DEFAULT_HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 164, 183, 252);
/// The netmask that goes with them: /24.
pub const DEFAULT_NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
/// How often ADVERTISE goes out: the router listens only about 3 s after power-on
/// (`NMRP_TIMEOUT_LISTEN`), so at least every 100 ms.
pub const DEFAULT_ADVERTISE_INTERVAL: Duration = Duration::from_millis(100);
/// How often a dedup breaker precedes an ADVERTISE: three chances inside the listen window.
pub const DEFAULT_BREAKER_INTERVAL: Duration = Duration::from_secs(1);
/// After a `CONF_ACK`, how long without a `TFTP_UL_REQ` or another `CONF_REQ` before advertising
/// again: the router sends `TFTP_UL_REQ` at once, and re-sends `CONF_REQ` every 0.5 s
/// (`NMRP_TIMEOUT_REQ / 2`) until its 5 retries run out and it listens afresh.
pub const DEFAULT_CONFIGURE_PATIENCE: Duration = Duration::from_millis(1500);
/// How long to wait after the upload, and between keep-alives, before calling the router
/// silent: writing flash has taken over 15 minutes on an R6220 (nmrpflash issue #52).
pub const DEFAULT_FLASH_WAIT: Duration = Duration::from_mins(30);

/// What the host tells the router, and its patience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The laptop's MAC on the port to the router: frames to others are not for us.
    pub host_mac: Mac,
    /// The address the router takes for its TFTP server (DEV-IP).
    pub router_ip: Ipv4Addr,
    /// The router's netmask (DEV-IP).
    pub netmask: Ipv4Addr,
    /// The region to write into the router (DEV-REGION), if asked for.
    pub region: Option<Region>,
    /// How often to advertise.
    pub advertise_interval: Duration,
    /// How often a dedup breaker precedes an ADVERTISE.
    pub breaker_interval: Duration,
    /// See [`DEFAULT_CONFIGURE_PATIENCE`].
    pub configure_patience: Duration,
    /// See [`DEFAULT_FLASH_WAIT`].
    pub flash_wait: Duration,
}

impl Config {
    /// The defaults for a laptop whose port has MAC `host_mac`.
    pub fn new(host_mac: Mac) -> Self {
        Self {
            host_mac,
            router_ip: DEFAULT_ROUTER_IP,
            netmask: DEFAULT_NETMASK,
            region: None,
            advertise_interval: DEFAULT_ADVERTISE_INTERVAL,
            breaker_interval: DEFAULT_BREAKER_INTERVAL,
            configure_patience: DEFAULT_CONFIGURE_PATIENCE,
            flash_wait: DEFAULT_FLASH_WAIT,
        }
    }
}

/// One input to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A whole Ethernet frame read from the port (any protocol; others are ignored).
    Frame(&'a [u8]),
    /// Time passed: the driver calls this at [`Session::next_deadline`] or sooner.
    Tick,
    /// The port lost its carrier (the router was switched off, or a cable pulled).
    LinkDown,
    /// The port has a carrier again: the router may have restarted.
    LinkUp,
    /// The driver's TFTP upload finished: the router confirmed every block.
    UploadDone,
    /// The driver's TFTP upload failed: how. Text the router sent instead of a TFTP packet
    /// ([`UploadFailure::RouterSaid`]: EX2700 sends its checksum error as plain text in a UDP
    /// datagram) is the router's own rejection.
    UploadFailed(&'a UploadFailure),
}

/// Why the router turned the image down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// It asked for its configuration again after the upload.
    ConfRequestAfterUpload,
    /// It asked for the upload again after the upload.
    SecondUploadRequest,
    /// It said so in text during the upload.
    RouterSaid(String),
}

impl Rejection {
    /// The causes that lead a Netgear bootloader to turn an image down, most common first
    /// (nmrpflash issues #13, #14, #29, #50, #86, #129, #159).
    pub const CAUSES: [&'static str; 3] = [
        "the image is for another model or another region",
        "the image is a .trx (or another raw format) where the bootloader wants Netgear's .chk",
        "the image is older than the firmware on the router and the bootloader blocks downgrades",
    ];
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ConfRequestAfterUpload => {
                f.write_str("the router asked for its configuration again after the upload")
            }
            Self::SecondUploadRequest => {
                f.write_str("the router asked for the image again after the upload")
            }
            Self::RouterSaid(text) => write!(f, "the router answered the upload with \"{text}\""),
        }
    }
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The router wrote the image and closed: switch it off and on (it never reboots by itself:
    /// "NMRP is complete. Please switch OFF power.").
    SwitchOffAndOn {
        /// Keep-alives answered while it wrote flash.
        keep_alives: u32,
        /// From the end of the upload to the close.
        since_upload: Duration,
    },
    /// The router turned the image down.
    Rejected(Rejection),
    /// The upload failed for another reason: how, with the words the technician reads.
    UploadFailed(UploadFailure),
    /// Nothing came from the router for [`Config::flash_wait`] after the upload or the last
    /// keep-alive: it may still be writing, or its bootloader is stuck.
    RouterSilent {
        /// Keep-alives answered before it fell silent.
        keep_alives: u32,
        /// From the end of the upload.
        since_upload: Duration,
    },
}

/// What happened, for the front-end and the driver. Past tense, plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A router asked for its configuration: it is in recovery mode.
    RouterAnswered {
        /// Its MAC as its frames carry it (00:00:00:00:00:00 on units with cleared NVRAM).
        mac: Mac,
    },
    /// The `CONF_ACK` went out.
    Configured {
        /// The address given to the router.
        router_ip: Ipv4Addr,
        /// Its netmask.
        netmask: Ipv4Addr,
        /// The region written, if any.
        region: Option<Region>,
    },
    /// The router asked for the image: the driver pushes it over TFTP now, to `router_ip`
    /// port 69 under `file_name`, with a static ARP entry `router_ip` -> `router_mac`.
    UploadRequested {
        /// The name the router gave (FILE-NAME), or "firmware".
        file_name: String,
        /// The router's MAC, for the static ARP entry.
        router_mac: Mac,
        /// The router's address.
        router_ip: Ipv4Addr,
    },
    /// An NMRP frame arrived during the upload and was dropped (Orbi units send stray
    /// `CONF_REQ` and `TFTP_UL_REQ` there, nmrpflash issue #131).
    StrayDrained {
        /// Its code.
        code: Code,
    },
    /// The link went down and came back during the upload: the router restarted, so the
    /// driver stops its push (its result no longer counts) and the session advertises again.
    UploadAbandoned,
    /// The router sent a keep-alive while writing flash, and it was answered.
    KeepAliveAnswered {
        /// How many so far.
        count: u32,
        /// Since the end of the upload.
        since_upload: Duration,
    },
    /// The session is over.
    Finished(SessionEnd),
}

/// What one input produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Whole Ethernet frames to send, in order.
    pub frames: Vec<Vec<u8>>,
    /// What happened, in order.
    pub events: Vec<Event>,
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Advertising until a router answers.
    Advertising,
    /// `CONF_ACK` sent, waiting for `TFTP_UL_REQ`.
    Configuring,
    /// The driver is pushing the image.
    Uploading,
    /// The router is writing flash: keep-alives until `CLOSE_REQ`.
    Flashing,
    /// Over; a repeated `CLOSE_REQ` is still answered.
    Finished,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Advertising {
        next_advertise: Instant,
    },
    Configuring {
        since: Instant,
    },
    Uploading {
        router: Mac,
    },
    Flashing {
        router: Mac,
        upload_done: Instant,
        last_heard: Instant,
    },
    Finished {
        router: Option<Mac>,
    },
}

/// The host side of one NMRP recovery.
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    state: State,
    /// When the next ADVERTISE gets a breaker in front of it.
    next_breaker: Instant,
    /// The code of the last message sent: the router's dedup memory, as far as we know it.
    last_sent: Option<Code>,
    keep_alives: u32,
    /// When the upload ended, for keep-alives answered before the driver reported it.
    upload_done: Option<Instant>,
    /// The link went down while the image was being pushed.
    link_lost_in_upload: bool,
    /// ADVERTISEs sent so far.
    advertised: u32,
}

impl Session {
    /// A session that starts advertising at `now` (the first tick sends the first ADVERTISE).
    pub fn new(config: Config, now: Instant) -> Self {
        Self {
            config,
            state: State::Advertising {
                next_advertise: now,
            },
            next_breaker: now,
            last_sent: None,
            keep_alives: 0,
            upload_done: None,
            link_lost_in_upload: false,
            advertised: 0,
        }
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Advertising { .. } => Phase::Advertising,
            State::Configuring { .. } => Phase::Configuring,
            State::Uploading { .. } => Phase::Uploading,
            State::Flashing { .. } => Phase::Flashing,
            State::Finished { .. } => Phase::Finished,
        }
    }

    /// Keep-alives answered so far.
    pub fn keep_alives(&self) -> u32 {
        self.keep_alives
    }

    /// ADVERTISEs sent so far, across power cycles and link flaps: what the technician sees
    /// counting while the router is switched on.
    pub fn advertised(&self) -> u32 {
        self.advertised
    }

    /// When the driver must call [`Input::Tick`] at the latest; `None` when only frames matter.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Advertising { next_advertise } => Some(next_advertise),
            State::Configuring { since, .. } => Some(since + self.config.configure_patience),
            State::Flashing { last_heard, .. } => Some(last_heard + self.config.flash_wait),
            State::Uploading { .. } | State::Finished { .. } => None,
        }
    }

    /// Feeds one input at time `now`.
    pub fn handle(&mut self, input: Input<'_>, now: Instant) -> Step {
        let mut step = Step::default();
        match input {
            Input::Frame(bytes) => self.on_frame(bytes, now, &mut step),
            Input::Tick => self.on_tick(now, &mut step),
            Input::LinkDown => {
                if matches!(self.state, State::Uploading { .. }) {
                    self.link_lost_in_upload = true;
                }
            }
            Input::LinkUp => {
                // The router may have been power-cycled: a fresh bootloader listens for 3 s
                // from now. Advertise at once, breaker first. During the upload that means the
                // push is lost (a bootloader's TFTP loop does not take its link down; a power
                // cycle does): the driver stops it. While the router writes flash, nothing
                // changes: it answers or falls silent.
                // Only a loss seen during the upload counts: the carrier is read late, so a
                // link that came back while advertising may be reported after the router
                // already asked for the image.
                let restarted = matches!(self.state, State::Uploading { .. })
                    && std::mem::take(&mut self.link_lost_in_upload);
                if restarted {
                    step.events.push(Event::UploadAbandoned);
                }
                if restarted
                    || matches!(
                        self.state,
                        State::Advertising { .. } | State::Configuring { .. }
                    )
                {
                    self.next_breaker = now;
                    self.state = State::Advertising {
                        next_advertise: now,
                    };
                    self.on_tick(now, &mut step);
                }
            }
            Input::UploadDone => {
                if let State::Uploading { router } = self.state {
                    let upload_done = *self.upload_done.get_or_insert(now);
                    self.state = State::Flashing {
                        router,
                        upload_done,
                        last_heard: now,
                    };
                }
            }
            Input::UploadFailed(failure) => {
                if let State::Uploading { router } = self.state {
                    let outcome = match failure {
                        UploadFailure::RouterSaid { text, .. } => {
                            SessionEnd::Rejected(Rejection::RouterSaid(text.clone()))
                        }
                        other => SessionEnd::UploadFailed(other.clone()),
                    };
                    self.finish(Some(router), outcome, &mut step);
                }
            }
        }
        step
    }

    fn on_tick(&mut self, now: Instant, step: &mut Step) {
        match self.state {
            State::Advertising { next_advertise } if now >= next_advertise => {
                if now >= self.next_breaker {
                    self.next_breaker = now + self.config.breaker_interval;
                    self.send_breaker(BROADCAST, step);
                }
                let advertise =
                    Message::new(Code::ADVERTISE, vec![NmrpOption::MagicNo(MAGIC.to_vec())]);
                self.send(BROADCAST, advertise, step);
                self.advertised = self.advertised.saturating_add(1);
                // Catch up from `now`, not from the missed deadline: a late tick sends one
                // ADVERTISE, not a burst.
                let interval = self.config.advertise_interval;
                let mut next = next_advertise + interval;
                if next <= now {
                    next = now + interval;
                }
                self.state = State::Advertising {
                    next_advertise: next,
                };
            }
            State::Configuring { since, .. } if now >= since + self.config.configure_patience => {
                // Neither TFTP_UL_REQ nor another CONF_REQ: the CONF_ACK was lost with the
                // router's last retries, and it listens for ADVERTISE again.
                self.next_breaker = now;
                self.state = State::Advertising {
                    next_advertise: now,
                };
                self.on_tick(now, step);
            }
            State::Flashing {
                upload_done,
                last_heard,
                router,
            } if now >= last_heard + self.config.flash_wait => {
                let outcome = SessionEnd::RouterSilent {
                    keep_alives: self.keep_alives,
                    since_upload: now.saturating_duration_since(upload_done),
                };
                self.finish(Some(router), outcome, step);
            }
            _ => {}
        }
    }

    /// One frame from the wire: dispatched to the handler of the code the router sent.
    fn on_frame(&mut self, bytes: &[u8], now: Instant, step: &mut Step) {
        let Ok(frame) = Frame::parse(bytes) else {
            return;
        };
        if !self.is_for_this_session(&frame) {
            return;
        }
        let code = frame.message.code;
        if matches!(self.state, State::Uploading { .. }) && code != Code::KEEP_ALIVE_REQ {
            // While the upload runs only a KEEP_ALIVE_REQ means something (the router
            // writing flash); nmrpflash drains the rest too (`nmrp_discard`).
            step.events.push(Event::StrayDrained { code });
            return;
        }
        match code {
            Code::CONF_REQ => self.on_conf_req(frame.src, now, step),
            Code::TFTP_UL_REQ => self.on_upload_request(frame.src, &frame.message, step),
            Code::KEEP_ALIVE_REQ => self.on_keep_alive_req(now, step),
            Code::CLOSE_REQ => self.on_close_req(frame.src, now, step),
            _ => {}
        }
    }

    /// Whether a frame belongs to this session. Our own frames (a capture socket sees them
    /// too), frames for another host, and messages a router would call invalid do not.
    fn is_for_this_session(&self, frame: &Frame) -> bool {
        frame.src != self.config.host_mac
            && (frame.dst == self.config.host_mac || frame.dst == BROADCAST)
            && frame.message.is_reserved_zero()
    }

    /// `CONF_REQ`: the router heard an ADVERTISE (or a `CONF_ACK` was lost) and asks for its
    /// configuration. After the upload it means the router started over.
    fn on_conf_req(&mut self, from: Mac, now: Instant, step: &mut Step) {
        match self.state {
            State::Advertising { .. } | State::Configuring { .. } => {
                step.events.push(Event::RouterAnswered { mac: from });
                self.configure(from, now, step);
            }
            State::Flashing { router, .. } => self.finish(
                Some(router),
                SessionEnd::Rejected(Rejection::ConfRequestAfterUpload),
                step,
            ),
            State::Uploading { .. } | State::Finished { .. } => {}
        }
    }

    /// `TFTP_UL_REQ`: the router asks for the image. After the upload it means the router
    /// wants it again.
    fn on_upload_request(&mut self, from: Mac, message: &Message, step: &mut Step) {
        match self.state {
            // While advertising: our CONF_ACK reached the router after all.
            State::Advertising { .. } | State::Configuring { .. } => {
                let file_name = message
                    .file_name()
                    .map_or_else(|| FIRMWARE_FILE_NAME.to_owned(), escape_name);
                self.state = State::Uploading { router: from };
                self.link_lost_in_upload = false;
                step.events.push(Event::UploadRequested {
                    file_name,
                    router_mac: from,
                    router_ip: self.config.router_ip,
                });
            }
            State::Flashing { router, .. } => self.finish(
                Some(router),
                SessionEnd::Rejected(Rejection::SecondUploadRequest),
                step,
            ),
            State::Uploading { .. } | State::Finished { .. } => {}
        }
    }

    /// `KEEP_ALIVE_REQ`: the router is writing flash, and says it is alive.
    fn on_keep_alive_req(&mut self, now: Instant, step: &mut Step) {
        let (router, upload_done) = match self.state {
            // The router is writing flash before the driver saw the last ACK through.
            State::Uploading { router } => (router, *self.upload_done.get_or_insert(now)),
            State::Flashing {
                router,
                upload_done,
                ..
            } => (router, upload_done),
            State::Advertising { .. } | State::Configuring { .. } | State::Finished { .. } => {
                return;
            }
        };
        self.state = State::Flashing {
            router,
            upload_done,
            last_heard: now,
        };
        self.keep_alive(router, now, upload_done, step);
    }

    /// `CLOSE_REQ`: the router has written flash and closes the session.
    fn on_close_req(&mut self, from: Mac, now: Instant, step: &mut Step) {
        match self.state {
            State::Flashing {
                router,
                upload_done,
                ..
            } => {
                self.send_close_ack(router, step);
                let outcome = SessionEnd::SwitchOffAndOn {
                    keep_alives: self.keep_alives,
                    since_upload: now.saturating_duration_since(upload_done),
                };
                self.finish(Some(router), outcome, step);
            }
            // The router repeats CLOSE_REQ when our CLOSE_ACK was lost (1 s, 2 retries).
            State::Finished {
                router: Some(router),
            } if from == router => self.send_close_ack(router, step),
            _ => {}
        }
    }

    fn send_close_ack(&mut self, router: Mac, step: &mut Step) {
        self.send(
            router_dst(router),
            Message::new(Code::CLOSE_ACK, vec![]),
            step,
        );
    }

    fn configure(&mut self, router: Mac, now: Instant, step: &mut Step) {
        let mut options = vec![
            // DEV-IP is mandatory: without it the router ignores the CONF_ACK.
            NmrpOption::DevIp {
                addr: self.config.router_ip,
                mask: self.config.netmask,
            },
            // FW-UP: without it (and without ST-UP) the router goes straight to closing.
            NmrpOption::FwUp,
        ];
        if let Some(region) = self.config.region {
            options.push(NmrpOption::DevRegion(region));
        }
        self.send(
            router_dst(router),
            Message::new(Code::CONF_ACK, options),
            step,
        );
        self.state = State::Configuring { since: now };
        step.events.push(Event::Configured {
            router_ip: self.config.router_ip,
            netmask: self.config.netmask,
            region: self.config.region,
        });
    }

    fn keep_alive(&mut self, router: Mac, now: Instant, upload_done: Instant, step: &mut Step) {
        // Consecutive KEEP_ALIVE_ACKs are deduplicated by the router, and that is harmless:
        // an ACK only lengthens its alive timer, which it resets whenever it sends a request.
        self.send(
            router_dst(router),
            Message::new(Code::KEEP_ALIVE_ACK, vec![]),
            step,
        );
        self.keep_alives += 1;
        step.events.push(Event::KeepAliveAnswered {
            count: self.keep_alives,
            since_upload: now.saturating_duration_since(upload_done),
        });
    }

    fn finish(&mut self, router: Option<Mac>, outcome: SessionEnd, step: &mut Step) {
        self.state = State::Finished { router };
        step.events.push(Event::Finished(outcome));
    }

    /// Sends `message`, with a dedup breaker first when the router would otherwise drop it as
    /// a repeat of the message before.
    fn send(&mut self, dst: Mac, message: Message, step: &mut Step) {
        let code = message.code;
        if Some(code) == self.last_sent && code != Code::ADVERTISE && code != Code::KEEP_ALIVE_ACK {
            self.send_breaker(dst, step);
        }
        self.push(dst, message, step);
    }

    fn send_breaker(&mut self, dst: Mac, step: &mut Step) {
        if self.last_sent != Some(Code::KEEP_ALIVE_ACK) {
            self.push(dst, Message::new(Code::KEEP_ALIVE_ACK, vec![]), step);
        }
    }

    fn push(&mut self, dst: Mac, message: Message, step: &mut Step) {
        self.last_sent = Some(message.code);
        let frame = Frame {
            dst,
            src: self.config.host_mac,
            message,
        };
        step.frames.push(frame.to_bytes());
    }
}

/// Where frames for `router` go: its MAC, or broadcast when its MAC is all zeros (a unit with
/// cleared NVRAM, nmrpflash issue #151) or a group address, which no NIC filter matches
/// reliably; every NIC takes broadcast.
pub fn router_dst(router: Mac) -> Mac {
    if router.0 == [0; 6] || router.0[0] & 1 == 1 {
        BROADCAST
    } else {
        router
    }
}

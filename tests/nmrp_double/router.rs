//! The NMRP side of a Netgear bootloader as a sans-I/O machine, written from Netgear's published
//! U-Boot (`Netgear/RAXE500:bootloaders/u-boot-2019.07/net/nmrp.c` and `nmrp.h`, Delta Networks
//! code): its seven states, its timers, its checks and its quirks.
//!
//! - `NmrpStart` listens for ADVERTISE: a 0.1 s timer, then 1 s timers; when their count
//!   exceeds `NMRP_TIMEOUT_LISTEN` (3) it boots the installed image as usual (about 3.1 s).
//! - `NmrpHandler` drops a message whose reserved field is not zero, or whose options do not
//!   sum exactly to its length; then it drops a message whose code equals the code of the
//!   message before it ("ignore same packet"), a memory that only a power cycle clears.
//! - ADVERTISE with the magic "NTGR" (compared over the option's length) in state 0: LISTENING,
//!   `CONF_REQ` every 0.5 s; after `NMRP_MAX_RETRY_CONF` (5) retries, listen afresh.
//! - `CONF_ACK` in LISTENING without DEV-IP is ignored; with it, the router takes the address,
//!   writes DEV-REGION, and with FW-UP goes CONFIGING: `TFTP_UL_REQ` with FILE-NAME "firmware",
//!   and its TFTP server waits for the image. Without FW-UP (nor ST-UP) it goes CLOSING.
//! - After the upload, `KEEP_ALIVE`: a `KEEP_ALIVE_REQ` whenever its alive timer runs out while it
//!   writes flash; `KEEP_ALIVE_ACK` only lengthens that timer.
//! - CLOSING: `CLOSE_REQ`, 1 s for `CLOSE_ACK`, `NMRP_MAX_RETRY_CLOSE` (2) retries; then CLOSED:
//!   "NMRP is complete. Please switch OFF power." It never reboots by itself.
//!
//! A rejected image (another model, a .trx) makes the bootloader ask again: a `CONF_REQ` (as
//! Broadcom CFE logs show) or a second `TFTP_UL_REQ`; the EX2700 first says why in plain text
//! on the TFTP port. The double does each, on request.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::{
    BROADCAST, Code, FIRMWARE_FILE_NAME, Frame, Message, NmrpOption, Region,
};

/// "NTGR" and the NUL after it in the router's string constant: `memcmp` reads that far.
const MAGIC_Z: &[u8] = b"NTGR\0";
/// `NmrpStart`'s first timer.
const LISTEN_FIRST: Duration = Duration::from_millis(100);
/// `Nmrp_Listen_Timeout`'s timer.
const LISTEN_NEXT: Duration = Duration::from_secs(1);
/// `NMRP_TIMEOUT_LISTEN`.
const LISTEN_COUNT: u32 = 3;
/// `NMRP_TIMEOUT_REQ * HZ / 2`.
const CONF_RETRY: Duration = Duration::from_millis(500);
/// `NMRP_MAX_RETRY_CONF`.
const CONF_RETRIES: u32 = 5;
/// `Nmrp_Closing_Timeout`'s first timer.
const CLOSE_RETRY: Duration = Duration::from_secs(1);
/// `NMRP_MAX_RETRY_CLOSE`.
const CLOSE_RETRIES: u32 = 2;
/// `NMRP_MAX_RETRY_TFTP_UL`.
const UPLOAD_RETRIES: u32 = 4;

/// What the image check decides once the image is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it: keep-alives, then close.
    Accept,
    /// Reject it and ask for the configuration again.
    RejectWithConfReq,
    /// Reject it and ask for the upload again.
    RejectWithUploadReq,
    /// Reject it as Netgear's EX2700 does on a checksum error: its TFTP server sends these
    /// words in a bare UDP datagram where the last ACK would be (nmrpflash's `tftp.c`), and it
    /// asks for the upload again.
    RejectWithText(&'static str),
}

/// How this router behaves.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// The MAC its frames carry (all zeros for a unit with cleared NVRAM).
    pub mac: Mac,
    /// Keep-alive requests sent while writing flash, before closing.
    pub keep_alives: u32,
    /// Time between keep-alive requests (15 s on real units; shorter in tests).
    pub keep_alive_interval: Duration,
    /// What the image check says.
    pub verdict: Verdict,
    /// How long the TFTP server waits for a write request before the upload request is sent
    /// again.
    pub upload_wait: Duration,
    /// This many of its first `CONF_REQ` frames are lost on the wire (a link that flaps just
    /// after the router heard an ADVERTISE).
    pub lost_conf_reqs: u32,
}

impl Behaviour {
    /// A router at `mac` that accepts the image and closes after `keep_alives` keep-alives,
    /// `keep_alive_interval` apart.
    pub fn accepting(mac: Mac, keep_alives: u32, keep_alive_interval: Duration) -> Self {
        Self {
            mac,
            keep_alives,
            keep_alive_interval,
            verdict: Verdict::Accept,
            upload_wait: Duration::from_secs(10),
            lost_conf_reqs: 0,
        }
    }
}

/// The seven states of `nmrp.h`, plus "booted as usual" for a router whose window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// State 0: listening for ADVERTISE.
    Idle,
    /// `STATE_LISTENING`: `CONF_REQ` sent, waiting for `CONF_ACK`.
    Listening,
    /// `STATE_CONFIGING`: `TFTP_UL_REQ` sent, the TFTP server waits for a write request.
    Configing,
    /// `STATE_TFTPUPLOADING`: the image is coming in.
    TftpUploading,
    /// `STATE_KEEP_ALIVE`: writing flash.
    KeepAlive,
    /// `STATE_CLOSING`: `CLOSE_REQ` sent.
    Closing,
    /// `STATE_CLOSED`: done; switch the power off.
    Closed,
    /// The listen window closed without an ADVERTISE: the installed image boots.
    BootedAsUsual,
}

/// What the router did, for the test to wait on and check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A listen timer ran out and the window is still open (the console prints "T").
    StillListening(u32),
    /// `CONF_REQ` sent after an ADVERTISE.
    Answered,
    /// Its retries went unanswered: listening afresh, its dedup memory kept.
    ListeningAgain {
        /// The code of the last message it accepted: a message with this code is dropped.
        last_code: Code,
    },
    /// It took its address from `CONF_ACK`; its TFTP server must serve there.
    Configured {
        /// DEV-IP address.
        ip: Ipv4Addr,
        /// DEV-IP mask.
        mask: Ipv4Addr,
        /// DEV-REGION, if sent.
        region: Option<Region>,
        /// Whether FW-UP was there.
        fw_up: bool,
    },
    /// A keep-alive request went out.
    KeepAliveSent(u32),
    /// "NMRP is complete. Please switch OFF power."
    Complete,
    /// The listen window closed.
    BootedAsUsual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Listen,
    Conf,
    Upload,
    Alive,
    Close,
}

/// One Netgear bootloader's NMRP side, from power-on.
#[derive(Debug)]
pub struct Router {
    behaviour: Behaviour,
    state: State,
    /// `NmrpLastBlock`: the code of the last accepted message; 0 at power-on only.
    last_code: u8,
    /// `NmrpServerEther`: where its frames go.
    host: Mac,
    timer: Option<(Instant, Timer)>,
    listen_count: u32,
    conf_count: u32,
    close_count: u32,
    upload_count: u32,
    keep_alives_sent: u32,
    /// `KEEP_ALIVE_ACKs` that reached the handler (after dedup).
    pub keep_alive_acks: u32,
    /// Messages dropped by the dedup rule.
    pub deduplicated: u32,
    /// Messages dropped for a reserved field that is not zero.
    pub reserved_dropped: u32,
    /// Every well-formed message from the host, in order, before the checks that drop some.
    pub heard: Vec<Message>,
}

impl Router {
    /// Power on: the bootloader starts NMRP and listens (`NmrpStart`).
    pub fn power_on(behaviour: Behaviour, now: Instant) -> Self {
        Self {
            behaviour,
            state: State::Idle,
            last_code: 0,
            host: BROADCAST,
            timer: Some((now + LISTEN_FIRST, Timer::Listen)),
            listen_count: 0,
            conf_count: 0,
            close_count: 0,
            upload_count: 0,
            keep_alives_sent: 0,
            keep_alive_acks: 0,
            deduplicated: 0,
            reserved_dropped: 0,
            heard: Vec::new(),
        }
    }

    /// Where it is.
    pub fn state(&self) -> State {
        self.state
    }

    /// When [`Router::on_tick`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timer.map(|(at, _)| at)
    }

    /// Whether its NIC takes a frame sent to `dst`: its own MAC or broadcast.
    pub fn accepts(&self, dst: Mac) -> bool {
        dst == self.behaviour.mac || dst == BROADCAST
    }

    fn restart_listening(&mut self, now: Instant) {
        // `NmrpStart` again: state 0, counters reset, `NmrpLastBlock` untouched.
        self.state = State::Idle;
        self.listen_count = 0;
        self.conf_count = 0;
        self.timer = Some((now + LISTEN_FIRST, Timer::Listen));
    }

    /// Sends a `CONF_REQ`, unless the wire loses it.
    fn conf_req(&mut self, out: &mut Vec<Vec<u8>>) {
        if self.behaviour.lost_conf_reqs > 0 {
            self.behaviour.lost_conf_reqs -= 1;
        } else {
            out.push(self.frame(Code::CONF_REQ, vec![]));
        }
    }

    fn frame(&self, code: Code, options: Vec<NmrpOption>) -> Vec<u8> {
        Frame {
            dst: self.host,
            src: self.behaviour.mac,
            message: Message::new(code, options),
        }
        .to_bytes()
    }

    fn upload_request(&self) -> Vec<u8> {
        self.frame(
            Code::TFTP_UL_REQ,
            vec![NmrpOption::FileName(FIRMWARE_FILE_NAME.as_bytes().to_vec())],
        )
    }

    /// Timers: run at [`Router::next_deadline`].
    pub fn on_tick(&mut self, now: Instant, out: &mut Vec<Vec<u8>>, seen: &mut Vec<Happening>) {
        let Some((at, timer)) = self.timer else {
            return;
        };
        if now < at {
            return;
        }
        self.timer = None;
        match timer {
            Timer::Listen => {
                self.listen_count += 1;
                if self.listen_count > LISTEN_COUNT {
                    self.state = State::BootedAsUsual;
                    seen.push(Happening::BootedAsUsual);
                } else {
                    seen.push(Happening::StillListening(self.listen_count));
                    self.timer = Some((now + LISTEN_NEXT, Timer::Listen));
                }
            }
            Timer::Conf => {
                self.conf_count += 1;
                if self.conf_count > CONF_RETRIES {
                    self.restart_listening(now);
                    seen.push(Happening::ListeningAgain {
                        last_code: Code(self.last_code),
                    });
                } else {
                    self.conf_req(out);
                    self.timer = Some((now + CONF_RETRY, Timer::Conf));
                }
            }
            Timer::Upload => {
                self.upload_count += 1;
                if self.upload_count > UPLOAD_RETRIES {
                    self.restart_listening(now);
                    seen.push(Happening::ListeningAgain {
                        last_code: Code(self.last_code),
                    });
                } else {
                    out.push(self.upload_request());
                    self.timer = Some((now + self.behaviour.upload_wait, Timer::Upload));
                }
            }
            Timer::Alive => {
                if self.keep_alives_sent < self.behaviour.keep_alives {
                    self.keep_alives_sent += 1;
                    out.push(self.frame(Code::KEEP_ALIVE_REQ, vec![]));
                    seen.push(Happening::KeepAliveSent(self.keep_alives_sent));
                    self.timer = Some((now + self.behaviour.keep_alive_interval, Timer::Alive));
                } else {
                    self.close(now, out);
                }
            }
            Timer::Close => {
                self.close_count += 1;
                if self.close_count > CLOSE_RETRIES {
                    self.state = State::Closed;
                    seen.push(Happening::Complete);
                } else {
                    out.push(self.frame(Code::CLOSE_REQ, vec![]));
                    self.timer = Some((now + CLOSE_RETRY, Timer::Close));
                }
            }
        }
    }

    fn close(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        self.state = State::Closing;
        self.close_count = 0;
        out.push(self.frame(Code::CLOSE_REQ, vec![]));
        self.timer = Some((now + CLOSE_RETRY, Timer::Close));
    }

    /// A frame from the wire (any protocol; others are ignored).
    pub fn on_frame(
        &mut self,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<Vec<u8>>,
        seen: &mut Vec<Happening>,
    ) {
        if matches!(self.state, State::BootedAsUsual | State::Closed) {
            return;
        }
        // `Nmrp_Parse_Opts` failing (options not summing to the length) drops the frame, as
        // does any other malformation.
        let Ok(frame) = Frame::parse(bytes) else {
            return;
        };
        if !self.accepts(frame.dst) || frame.src == self.behaviour.mac {
            return;
        }
        let message = frame.message;
        self.heard.push(message.clone());
        if !message.is_reserved_zero() {
            self.reserved_dropped += 1;
            return;
        }
        // "ignore same packet"
        if message.code.0 == self.last_code {
            self.deduplicated += 1;
            return;
        }
        self.last_code = message.code.0;
        match message.code {
            Code::ADVERTISE if self.state == State::Idle => {
                let magic_matches = message
                    .magic()
                    .is_some_and(|value| MAGIC_Z.starts_with(value));
                if magic_matches {
                    self.host = frame.src;
                    self.state = State::Listening;
                    self.conf_count = 0;
                    self.conf_req(out);
                    self.timer = Some((now + CONF_RETRY, Timer::Conf));
                    seen.push(Happening::Answered);
                }
            }
            Code::CONF_ACK if self.state == State::Listening => {
                let Some((ip, mask)) = message.dev_ip() else {
                    return;
                };
                let fw_up = message.has_fw_up();
                seen.push(Happening::Configured {
                    ip,
                    mask,
                    region: message.region(),
                    fw_up,
                });
                if fw_up {
                    self.state = State::Configing;
                    self.upload_count = 0;
                    out.push(self.upload_request());
                    self.timer = Some((now + self.behaviour.upload_wait, Timer::Upload));
                } else {
                    self.close(now, out);
                }
            }
            Code::KEEP_ALIVE_ACK if self.state == State::KeepAlive => {
                self.keep_alive_acks += 1;
            }
            Code::CLOSE_ACK if self.state == State::Closing => {
                self.state = State::Closed;
                self.timer = None;
                seen.push(Happening::Complete);
            }
            _ => {}
        }
    }

    /// The TFTP server took a write request.
    pub fn upload_started(&mut self) {
        if self.state == State::Configing {
            self.state = State::TftpUploading;
            self.timer = None;
        }
    }

    /// The TFTP server received the whole image; the image check says `verdict`.
    pub fn upload_finished(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        if self.state != State::TftpUploading {
            return;
        }
        match self.behaviour.verdict {
            Verdict::Accept => {
                // "TFTP upload done": the alive timer starts; the first request goes out when
                // it runs out.
                self.state = State::KeepAlive;
                self.keep_alives_sent = 0;
                self.timer = Some((now + self.behaviour.keep_alive_interval, Timer::Alive));
            }
            Verdict::RejectWithConfReq => {
                self.state = State::Listening;
                self.conf_count = 0;
                self.conf_req(out);
                self.timer = Some((now + CONF_RETRY, Timer::Conf));
            }
            Verdict::RejectWithUploadReq | Verdict::RejectWithText(_) => {
                self.state = State::Configing;
                out.push(self.upload_request());
                self.timer = Some((now + self.behaviour.upload_wait, Timer::Upload));
            }
        }
    }
}

//! The NMRP host session in virtual time: each rule of the exchange and each unlucky ordering,
//! fed frames built by hand, with no socket and no clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::{BROADCAST, Code, Frame, MAGIC, Message, NmrpOption, Region};
use rescue_wizard::nmrp::session::{
    Config, DEFAULT_ROUTER_IP, Event, Input, Phase, Rejection, Session, SessionEnd, Step,
    UploadFailure,
};

const HOST: Mac = Mac([0x02, 0, 0, 0, 0, 0x01]);
const ROUTER: Mac = Mac([0x02, 0, 0, 0, 0, 0x02]);

fn router_frame(src: Mac, code: Code, options: Vec<NmrpOption>) -> Vec<u8> {
    Frame {
        dst: HOST,
        src,
        message: Message::new(code, options),
    }
    .to_bytes()
}

fn sent(step: &Step) -> Vec<Frame> {
    step.frames
        .iter()
        .map(|f| Frame::parse(f).unwrap())
        .collect()
}

fn codes(step: &Step) -> Vec<Code> {
    sent(step).iter().map(|f| f.message.code).collect()
}

struct Rig {
    session: Session,
    now: Instant,
}

impl Rig {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        Self {
            session: Session::new(config, now),
            now,
        }
    }

    fn at(&mut self, after: Duration) {
        self.now += after;
    }

    fn feed(&mut self, input: Input<'_>) -> Step {
        self.session.handle(input, self.now)
    }

    fn router_says(&mut self, code: Code, options: Vec<NmrpOption>) -> Step {
        let frame = router_frame(ROUTER, code, options);
        self.feed(Input::Frame(&frame))
    }

    /// Ticks at every deadline up to `until` from now, collecting every step.
    fn run_for(&mut self, until: Duration) -> Vec<Step> {
        let end = self.now + until;
        let mut steps = Vec::new();
        while let Some(deadline) = self.session.next_deadline() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            steps.push(self.feed(Input::Tick));
        }
        self.now = end;
        steps
    }

    /// Advertise, `CONF_REQ`, `TFTP_UL_REQ`, upload done: the session is flashing.
    fn reach_flashing(&mut self) {
        self.feed(Input::Tick);
        self.router_says(Code::CONF_REQ, vec![]);
        self.router_says(
            Code::TFTP_UL_REQ,
            vec![NmrpOption::FileName(b"firmware".to_vec())],
        );
        self.at(Duration::from_secs(2));
        self.feed(Input::UploadDone);
        assert_eq!(self.session.phase(), Phase::Flashing);
    }
}

fn finished(step: &Step) -> Option<&SessionEnd> {
    step.events.iter().find_map(|e| match e {
        Event::Finished(outcome) => Some(outcome),
        _ => None,
    })
}

#[test]
fn advertises_every_100_ms_with_one_breaker_a_second() {
    let mut rig = Rig::new(Config::new(HOST));
    let steps = rig.run_for(Duration::from_millis(2_950));
    let frames: Vec<Frame> = steps.iter().flat_map(sent).collect();
    let advertises: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.message.code == Code::ADVERTISE)
        .collect();
    // Ticks at 0, 100, ..., 2900 ms: 30 ADVERTISEs inside the router's 3 s listen window.
    assert_eq!(advertises.len(), 30);
    for advertise in &advertises {
        assert_eq!(advertise.dst, BROADCAST);
        assert_eq!(advertise.src, HOST);
        assert_eq!(advertise.message.magic(), Some(&MAGIC[..]));
    }
    let breakers = frames
        .iter()
        .filter(|f| f.message.code == Code::KEEP_ALIVE_ACK)
        .count();
    assert_eq!(breakers, 3, "a breaker at 0, 1 and 2 s");
    assert_eq!(frames[0].message.code, Code::KEEP_ALIVE_ACK);
    assert_eq!(frames[1].message.code, Code::ADVERTISE);
    assert_eq!(rig.session.phase(), Phase::Advertising);
}

#[test]
fn a_late_tick_sends_one_advertise_not_a_burst() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.at(Duration::from_secs(5));
    let step = rig.feed(Input::Tick);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK, Code::ADVERTISE]);
    assert_eq!(
        rig.session.next_deadline(),
        Some(rig.now + Duration::from_millis(100))
    );
}

#[test]
fn conf_req_gets_the_default_address_and_fw_up() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    let step = rig.router_says(Code::CONF_REQ, vec![]);
    let frames = sent(&step);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].dst, ROUTER);
    assert_eq!(
        frames[0].message,
        Message::new(
            Code::CONF_ACK,
            vec![
                NmrpOption::DevIp {
                    addr: Ipv4Addr::new(10, 164, 183, 253),
                    mask: Ipv4Addr::new(255, 255, 255, 0)
                },
                NmrpOption::FwUp
            ]
        )
    );
    assert_eq!(
        step.events,
        vec![
            Event::RouterAnswered { mac: ROUTER },
            Event::Configured {
                router_ip: DEFAULT_ROUTER_IP,
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                region: None
            }
        ]
    );
    // No more advertising once the router answered.
    assert_eq!(rig.session.phase(), Phase::Configuring);
    rig.at(Duration::from_millis(500));
    assert!(rig.feed(Input::Tick).frames.is_empty());
}

#[test]
fn conf_ack_carries_the_callers_address_mask_and_region() {
    let mut config = Config::new(HOST);
    config.router_ip = Ipv4Addr::new(192, 168, 1, 1);
    config.netmask = Ipv4Addr::new(255, 255, 0, 0);
    config.region = Region::from_name("WW");
    let mut rig = Rig::new(config);
    rig.feed(Input::Tick);
    let step = rig.router_says(Code::CONF_REQ, vec![]);
    let ack = &sent(&step)[0].message;
    assert_eq!(
        ack.dev_ip(),
        Some((Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(255, 255, 0, 0)))
    );
    assert!(ack.has_fw_up());
    assert_eq!(ack.region(), Some(Region(2)));
}

#[test]
fn upload_request_names_the_routers_file_or_firmware() {
    for (options, name) in [
        (
            vec![NmrpOption::FileName(b"string table 01".to_vec())],
            "string table 01",
        ),
        (vec![], "firmware"),
    ] {
        let mut rig = Rig::new(Config::new(HOST));
        rig.feed(Input::Tick);
        rig.router_says(Code::CONF_REQ, vec![]);
        let step = rig.router_says(Code::TFTP_UL_REQ, options);
        assert!(step.frames.is_empty());
        assert_eq!(
            step.events,
            vec![Event::UploadRequested {
                file_name: name.into(),
                router_mac: ROUTER,
                router_ip: DEFAULT_ROUTER_IP
            }]
        );
        assert_eq!(rig.session.phase(), Phase::Uploading);
        assert_eq!(rig.session.next_deadline(), None);
    }
}

#[test]
fn stray_frames_during_the_upload_are_drained() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    for code in [Code::CONF_REQ, Code::TFTP_UL_REQ, Code::CLOSE_REQ] {
        let step = rig.router_says(code, vec![]);
        assert!(step.frames.is_empty());
        assert_eq!(step.events, vec![Event::StrayDrained { code }]);
    }
    assert_eq!(rig.session.phase(), Phase::Uploading);
}

#[test]
fn twenty_keep_alives_then_close_means_switch_off_and_on() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.reach_flashing();
    for count in 1..=20 {
        rig.at(Duration::from_secs(15));
        let step = rig.router_says(Code::KEEP_ALIVE_REQ, vec![]);
        assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK]);
        assert_eq!(sent(&step)[0].dst, ROUTER);
        assert_eq!(
            step.events,
            vec![Event::KeepAliveAnswered {
                count,
                since_upload: Duration::from_secs(15 * u64::from(count))
            }]
        );
    }
    rig.at(Duration::from_secs(1));
    let step = rig.router_says(Code::CLOSE_REQ, vec![]);
    assert_eq!(codes(&step), vec![Code::CLOSE_ACK]);
    assert_eq!(
        finished(&step),
        Some(&SessionEnd::SwitchOffAndOn {
            keep_alives: 20,
            since_upload: Duration::from_secs(301)
        })
    );
    assert_eq!(rig.session.phase(), Phase::Finished);
}

#[test]
fn a_repeated_close_req_is_answered_with_a_breaker_first() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.reach_flashing();
    rig.router_says(Code::CLOSE_REQ, vec![]);
    // Our CLOSE_ACK was lost: the router repeats CLOSE_REQ after 1 s. A second CLOSE_ACK
    // right after the first would be dropped by a router that did get the first, and the
    // router that did not must hear it: a breaker goes first.
    rig.at(Duration::from_secs(1));
    let step = rig.router_says(Code::CLOSE_REQ, vec![]);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK, Code::CLOSE_ACK]);
    assert!(step.events.is_empty());
}

#[test]
fn a_repeated_conf_req_gets_a_breaker_before_the_second_conf_ack() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    assert_eq!(
        codes(&rig.router_says(Code::CONF_REQ, vec![])),
        vec![Code::CONF_ACK]
    );
    rig.at(Duration::from_millis(500));
    let step = rig.router_says(Code::CONF_REQ, vec![]);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK, Code::CONF_ACK]);
}

#[test]
fn no_code_the_router_acts_on_goes_out_twice_in_a_row() {
    // A long unlucky run: repeated CONF_REQs, a lost CONF_ACK, re-advertising, keep-alives,
    // repeated CLOSE_REQs. Only ADVERTISE and KEEP_ALIVE_ACK may follow themselves.
    let mut rig = Rig::new(Config::new(HOST));
    let mut all = Vec::new();
    all.extend(rig.run_for(Duration::from_millis(300)));
    for _ in 0..3 {
        all.push(rig.router_says(Code::CONF_REQ, vec![]));
        rig.at(Duration::from_millis(500));
    }
    all.extend(rig.run_for(Duration::from_secs(3)));
    all.push(rig.router_says(Code::CONF_REQ, vec![]));
    all.push(rig.router_says(Code::TFTP_UL_REQ, vec![]));
    all.push(rig.feed(Input::UploadDone));
    for _ in 0..5 {
        all.push(rig.router_says(Code::KEEP_ALIVE_REQ, vec![]));
    }
    for _ in 0..3 {
        all.push(rig.router_says(Code::CLOSE_REQ, vec![]));
    }
    let sequence: Vec<Code> = all.iter().flat_map(codes).collect();
    assert!(sequence.contains(&Code::CLOSE_ACK));
    for pair in sequence.windows(2) {
        if pair[0] == pair[1] {
            assert!(
                pair[0] == Code::ADVERTISE || pair[0] == Code::KEEP_ALIVE_ACK,
                "{} twice in a row in {sequence:?}",
                pair[0]
            );
        }
    }
}

#[test]
fn a_lost_conf_ack_sends_the_session_back_to_advertising() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    // Nothing more from the router for 1.5 s: it listens afresh, with ADVERTISE as the last
    // code it heard, so the next ADVERTISE needs a breaker in front.
    let steps = rig.run_for(Duration::from_millis(1_500));
    assert_eq!(rig.session.phase(), Phase::Advertising);
    let step = steps.last().unwrap();
    assert_eq!(codes(step), vec![Code::KEEP_ALIVE_ACK, Code::ADVERTISE]);
}

#[test]
fn an_upload_request_while_advertising_is_followed() {
    // The CONF_ACK arrived after the session gave up waiting: the router asks for the upload.
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    let step = rig.router_says(Code::TFTP_UL_REQ, vec![]);
    assert!(matches!(step.events[..], [Event::UploadRequested { .. }]));
}

#[test]
fn a_link_flap_while_advertising_advertises_at_once_with_a_breaker() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.run_for(Duration::from_millis(450));
    assert!(rig.feed(Input::LinkDown).frames.is_empty());
    rig.at(Duration::from_millis(20));
    let step = rig.feed(Input::LinkUp);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK, Code::ADVERTISE]);
    // And the cadence continues from there.
    assert_eq!(
        rig.session.next_deadline(),
        Some(rig.now + Duration::from_millis(100))
    );
}

#[test]
fn a_link_flap_during_the_upload_abandons_it_and_advertises_again() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    rig.feed(Input::LinkDown);
    rig.at(Duration::from_secs(2));
    let step = rig.feed(Input::LinkUp);
    assert_eq!(step.events, vec![Event::UploadAbandoned]);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK, Code::ADVERTISE]);
    assert_eq!(rig.session.phase(), Phase::Advertising);
    // The push the driver stopped reports late: it no longer counts.
    let step = rig.feed(Input::UploadFailed(&UploadFailure::Transfer(
        "stopped".into(),
    )));
    assert_eq!(step, Step::default());
    // The restarted router answers, and the session starts over.
    let step = rig.router_says(Code::CONF_REQ, vec![]);
    assert_eq!(codes(&step), vec![Code::CONF_ACK]);
}

#[test]
fn a_link_return_reported_late_during_the_upload_changes_nothing() {
    // The link went while advertising and came back; the router answered and asked for the
    // image before the driver read the carrier again.
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.feed(Input::LinkDown);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    let step = rig.feed(Input::LinkUp);
    assert_eq!(step, Step::default());
    assert_eq!(rig.session.phase(), Phase::Uploading);
}

#[test]
fn a_link_flap_while_the_router_writes_flash_changes_nothing() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.reach_flashing();
    assert!(rig.feed(Input::LinkDown).frames.is_empty());
    assert!(rig.feed(Input::LinkUp).frames.is_empty());
    assert_eq!(rig.session.phase(), Phase::Flashing);
}

#[test]
fn a_router_with_an_all_zero_mac_is_answered_by_broadcast() {
    let zero = Mac([0; 6]);
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    let conf_req = router_frame(zero, Code::CONF_REQ, vec![]);
    let step = rig.feed(Input::Frame(&conf_req));
    assert_eq!(step.events[0], Event::RouterAnswered { mac: zero });
    assert_eq!(sent(&step)[0].dst, BROADCAST);
    let upload = router_frame(zero, Code::TFTP_UL_REQ, vec![]);
    let step = rig.feed(Input::Frame(&upload));
    assert_eq!(
        step.events,
        vec![Event::UploadRequested {
            file_name: "firmware".into(),
            router_mac: zero,
            router_ip: DEFAULT_ROUTER_IP
        }]
    );
}

#[test]
fn conf_req_after_the_upload_is_a_rejection() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.reach_flashing();
    let step = rig.router_says(Code::CONF_REQ, vec![]);
    assert_eq!(
        finished(&step),
        Some(&SessionEnd::Rejected(Rejection::ConfRequestAfterUpload))
    );
    assert_eq!(Rejection::CAUSES.len(), 3);
    assert!(Rejection::CAUSES.iter().any(|c| c.contains(".chk")));
}

#[test]
fn a_second_upload_request_after_the_upload_is_a_rejection() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.reach_flashing();
    rig.router_says(Code::KEEP_ALIVE_REQ, vec![]);
    let step = rig.router_says(Code::TFTP_UL_REQ, vec![]);
    assert_eq!(
        finished(&step),
        Some(&SessionEnd::Rejected(Rejection::SecondUploadRequest))
    );
}

#[test]
fn printable_text_from_the_router_during_the_upload_is_its_rejection() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    let step = rig.feed(Input::UploadFailed(&UploadFailure::RouterSaid {
        text: "checksum error".into(),
        words: "the router sent text".into(),
    }));
    let outcome = finished(&step).unwrap();
    assert_eq!(
        outcome,
        &SessionEnd::Rejected(Rejection::RouterSaid("checksum error".into()))
    );
    if let SessionEnd::Rejected(why) = outcome {
        assert_eq!(
            why.to_string(),
            "the router answered the upload with \"checksum error\""
        );
    }
}

#[test]
fn a_failed_upload_ends_the_session() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    let step = rig.feed(Input::UploadFailed(&UploadFailure::Transfer(
        "no ACK 0".into(),
    )));
    assert_eq!(
        finished(&step),
        Some(&SessionEnd::UploadFailed(UploadFailure::Transfer(
            "no ACK 0".into()
        )))
    );
}

#[test]
fn a_keep_alive_before_the_driver_reports_the_upload_is_answered() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    rig.router_says(Code::CONF_REQ, vec![]);
    rig.router_says(Code::TFTP_UL_REQ, vec![]);
    let step = rig.router_says(Code::KEEP_ALIVE_REQ, vec![]);
    assert_eq!(codes(&step), vec![Code::KEEP_ALIVE_ACK]);
    assert_eq!(rig.session.phase(), Phase::Flashing);
    // The late report changes nothing.
    rig.feed(Input::UploadDone);
    assert_eq!(rig.session.phase(), Phase::Flashing);
    assert_eq!(rig.session.keep_alives(), 1);
}

#[test]
fn a_router_silent_for_the_flash_wait_is_reported() {
    let mut config = Config::new(HOST);
    config.flash_wait = Duration::from_mins(30);
    let mut rig = Rig::new(config);
    rig.reach_flashing();
    rig.at(Duration::from_mins(10));
    rig.router_says(Code::KEEP_ALIVE_REQ, vec![]);
    // 30 minutes from the last keep-alive, not from the upload.
    assert!(rig.run_for(Duration::from_mins(29)).is_empty());
    let steps = rig.run_for(Duration::from_mins(2));
    assert_eq!(
        finished(&steps[0]),
        Some(&SessionEnd::RouterSilent {
            keep_alives: 1,
            since_upload: Duration::from_mins(40)
        })
    );
}

#[test]
fn frames_a_router_would_refuse_or_not_for_us_are_ignored() {
    let mut rig = Rig::new(Config::new(HOST));
    rig.feed(Input::Tick);
    // Reserved field not zero.
    let mut bad = router_frame(ROUTER, Code::CONF_REQ, vec![]);
    bad[14] = 0x01;
    assert_eq!(rig.feed(Input::Frame(&bad)), Step::default());
    // For another host.
    let mut other = router_frame(ROUTER, Code::CONF_REQ, vec![]);
    other[..6].copy_from_slice(&[0x02, 9, 9, 9, 9, 9]);
    assert_eq!(rig.feed(Input::Frame(&other)), Step::default());
    // Our own frame, as a capture socket sees it.
    let own = router_frame(HOST, Code::CONF_REQ, vec![]);
    assert_eq!(rig.feed(Input::Frame(&own)), Step::default());
    // Not NMRP at all.
    assert_eq!(rig.feed(Input::Frame(&[0u8; 60])), Step::default());
    assert_eq!(rig.session.phase(), Phase::Advertising);
}

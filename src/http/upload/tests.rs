use super::*;

const ADDR: &str = "192.168.1.1:80";

fn image(len: usize) -> Arc<[u8]> {
    (0..len)
        .map(|i| (i * 7 % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn sends(out: &[Output]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn notes(out: &[Output]) -> Vec<Note> {
    out.iter()
        .filter_map(|o| match o {
            Output::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn finished(out: &[Output]) -> Option<Result<Uploaded, Failure>> {
    notes(out).into_iter().find_map(|n| match n {
        Note::Finished(r) => Some(r),
        _ => None,
    })
}

/// A router that acknowledges each segment as it arrives, one at a time, checking the
/// in-flight rule; records the segments.
struct Peer {
    segments: Vec<Vec<u8>>,
    acked: u64,
    most_in_flight: usize,
}

impl Peer {
    fn new() -> Self {
        Self {
            segments: Vec::new(),
            acked: 0,
            most_in_flight: 0,
        }
    }

    /// Takes `out`'s segments, then acknowledges them one by one until nothing more is
    /// sent; returns every output seen.
    fn exchange(&mut self, up: &mut Uploader, out: Vec<Output>, now: Instant) -> Vec<Output> {
        let mut pending: VecDeque<Vec<u8>> = sends(&out).into();
        let mut all = out;
        self.most_in_flight = self.most_in_flight.max(pending.len());
        while let Some(segment) = pending.pop_front() {
            self.acked += segment.len() as u64;
            self.segments.push(segment);
            let more = up.handle(Input::Acked(self.acked), now);
            let new = sends(&more);
            pending.extend(new);
            self.most_in_flight = self.most_in_flight.max(pending.len());
            all.extend(more);
        }
        all
    }

    fn stream(&self) -> Vec<u8> {
        self.segments.concat()
    }
}

use std::collections::VecDeque;
use std::io;

fn start(page: Page, img: &Arc<[u8]>, now: Instant) -> Uploader {
    let mut up = Uploader::new(page, Arc::clone(img), "openwrt.bin", now);
    assert_eq!(up.poll(now), vec![Output::Connect]);
    up
}

fn u_boot_mod() -> Page {
    Page::new(Flavour::UbootMod, ADDR.parse().unwrap())
}

#[test]
fn u_boot_mod_head_and_part_header_fill_the_first_segment_alone() {
    let now = Instant::now();
    let img = image(50_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    let first = sends(&out);
    // Only the first segment until it is acknowledged.
    assert_eq!(first.len(), 1);
    let text = String::from_utf8(first[0].clone()).unwrap();
    assert!(text.starts_with("POST / HTTP/1.1\r\n"));
    assert!(text.contains("Content-Length: "));
    assert!(text.contains("boundary="));
    assert!(text.ends_with("Content-Type: application/octet-stream\r\n\r\n"));
    let mut peer = Peer::new();
    let all = peer.exchange(&mut up, out, now);
    // At most two segments in flight (uIP's 3000-byte window), all body segments full
    // but the last.
    assert!(peer.most_in_flight <= 2, "{}", peer.most_in_flight);
    let body = &peer.segments[1..];
    assert!(body[..body.len() - 1].iter().all(|s| s.len() == SEGMENT));
    let form = Form::upload(&u_boot_mod(), "openwrt.bin", &img);
    let mut expected = form.head.clone();
    expected.extend_from_slice(&form.part);
    expected.extend_from_slice(&img);
    expected.extend_from_slice(&form.closing);
    assert_eq!(peer.stream(), expected);
    assert!(notes(&all).contains(&Note::Acknowledged {
        bytes: 50_000,
        total: 50_000
    }));
    assert!(!up.awaits_acks());
    up.handle(
        Input::Received(
            b"HTTP/1.0 200 OK\r\nServer: uIP/0.9\r\n\r\n<h1>UPDATE IN PROGRESS</h1>".to_vec(),
        ),
        now,
    );
    let later = now + Duration::from_millis(5);
    let out = up.handle(Input::Closed, later);
    assert_eq!(out[0], Output::Close);
    let done = finished(&out).unwrap().unwrap();
    assert_eq!(done.bytes, 50_000);
    assert_eq!(done.said, "UPDATE IN PROGRESS");
    assert!(up.finished());
}

#[test]
fn u_boot_mod_failure_page_is_a_refusal() {
    let now = Instant::now();
    let img = image(20_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    Peer::new().exchange(&mut up, out, now);
    up.handle(
        Input::Received(
            b"HTTP/1.0 200 OK\r\n\r\n<h1>UPDATE FAILED</h1> too big or too small".to_vec(),
        ),
        now,
    );
    let out = up.handle(Input::Closed, now);
    assert!(notes(&out).contains(&Note::Answered(Answer::Refused("UPDATE FAILED".into()))));
    assert_eq!(
        finished(&out),
        Some(Err(Failure::Refused("UPDATE FAILED".into())))
    );
}

#[test]
fn an_answer_with_neither_text_is_quoted_as_unclear() {
    let now = Instant::now();
    let img = image(20_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    Peer::new().exchange(&mut up, out, now);
    up.handle(
        Input::Received(
            b"HTTP/1.0 404 File not found\r\n\r\n<html><b>404</b>  gone</html>".to_vec(),
        ),
        now,
    );
    let out = up.handle(Input::Closed, now);
    assert_eq!(
        finished(&out),
        Some(Err(Failure::Unclear("404 gone".into())))
    );
}

#[test]
fn dlink_pauses_after_the_handshake_sends_the_head_alone_and_one_segment_in_flight() {
    let now = Instant::now();
    let img = image(30_000);
    let page = Page::new(Flavour::Dlink, "192.168.0.1:80".parse().unwrap());
    let mut up = start(page.clone(), &img, now);
    let out = up.handle(Input::Connected, now);
    assert!(
        sends(&out).is_empty(),
        "a request right after the handshake is reset"
    );
    assert!(up.poll(now + Duration::from_millis(100)).is_empty());
    let at = now + Flavour::Dlink.pause_after_connect();
    let out = up.poll(at);
    let first = sends(&out);
    assert_eq!(first.len(), 1);
    let text = String::from_utf8(first[0].clone()).unwrap();
    assert!(text.starts_with("POST /cgi/index HTTP/1.1\r\n"));
    assert!(text.ends_with("Connection: close\r\n\r\n"), "head alone");
    let mut peer = Peer::new();
    peer.exchange(&mut up, out, at);
    assert_eq!(peer.most_in_flight, 1);
    assert!(peer.segments[1].starts_with(b"--rescue-wizard-"));
    assert!(String::from_utf8_lossy(&peer.segments[1]).contains("name=\"files\""));
    up.handle(
        Input::Received(b"HTTP/1.1 200 OK\r\n\r\nDevice is Upgrading the Firmware".to_vec()),
        at,
    );
    let out = up.handle(Input::Closed, at);
    assert!(finished(&out).unwrap().is_ok());
}

#[test]
fn mediatek_checks_size_and_md5_then_asks_result() {
    let now = Instant::now();
    let img = image(40_000);
    let page = Page::new(Flavour::Mediatek, ADDR.parse().unwrap());
    let mut up = start(page, &img, now);
    let out = up.handle(Input::Connected, now);
    assert!(String::from_utf8_lossy(&sends(&out)[0]).starts_with("POST /upload HTTP/1.1"));
    Peer::new().exchange(&mut up, out, now);
    let md5 = hex(&Md5::digest(&img));
    up.handle(
        Input::Received(format!("HTTP/1.1 200 OK\r\n\r\n40000 {md5}").into_bytes()),
        now,
    );
    let out = up.handle(Input::Closed, now);
    assert_eq!(out[0], Output::Close);
    assert!(notes(&out).contains(&Note::Verified {
        size: 40_000,
        md5: md5.clone()
    }));
    assert_eq!(out.last(), Some(&Output::Connect));
    let out = up.handle(Input::Connected, now);
    assert_eq!(
        sends(&out),
        vec![b"GET /result HTTP/1.1\r\nHost: 192.168.1.1\r\nUser-Agent: rescue-wizard\r\nConnection: close\r\n\r\n".to_vec()]
    );
    let n = sends(&out)[0].len() as u64;
    up.handle(Input::Acked(n), now);
    // /result writes the flash before it answers: minutes, not the upload's patience.
    assert!(
        up.poll(now + ANSWER_PATIENCE + Duration::from_secs(1))
            .is_empty()
    );
    up.handle(
        Input::Received(b"HTTP/1.0 200 OK\r\n\r\nsuccess".to_vec()),
        now,
    );
    let out = up.handle(Input::Closed, now);
    let done = finished(&out).unwrap().unwrap();
    assert_eq!(done.bytes, 40_000);
}

#[test]
fn mediatek_mismatch_writes_nothing() {
    let now = Instant::now();
    let img = image(40_000);
    let page = Page::new(Flavour::Mediatek, ADDR.parse().unwrap());
    let mut up = start(page, &img, now);
    let out = up.handle(Input::Connected, now);
    Peer::new().exchange(&mut up, out, now);
    up.handle(
        Input::Received(b"HTTP/1.1 200 OK\r\n\r\n39999 00112233445566778899aabbccddeeff".to_vec()),
        now,
    );
    let out = up.handle(Input::Closed, now);
    assert!(
        !out.contains(&Output::Connect),
        "no /result after a mismatch"
    );
    assert!(matches!(
        finished(&out),
        Some(Err(Failure::Mismatch { size: 39_999, .. }))
    ));
}

#[test]
fn mediatek_fail_answer_is_a_refusal() {
    let now = Instant::now();
    let img = image(40_000);
    let page = Page::new(Flavour::Mediatek, ADDR.parse().unwrap());
    let mut up = start(page, &img, now);
    let out = up.handle(Input::Connected, now);
    Peer::new().exchange(&mut up, out, now);
    up.handle(
        Input::Received(b"HTTP/1.1 200 OK\r\n\r\nfail".to_vec()),
        now,
    );
    let out = up.handle(Input::Closed, now);
    assert_eq!(finished(&out), Some(Err(Failure::Refused("fail".into()))));
}

#[test]
fn a_reset_mid_upload_starts_again_from_the_first_byte_and_says_why() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    let first = sends(&out)[0].len() as u64;
    let out = up.handle(Input::Acked(first), now);
    let body = sends(&out);
    assert_eq!(body.len(), 2);
    up.handle(Input::Acked(first + SEGMENT as u64), now);
    let out = up.handle(
        Input::Lost("Connection reset by peer (os error 104)".into()),
        now,
    );
    assert_eq!(out[0], Output::Close);
    assert!(notes(&out).contains(&Note::Retrying {
        reason: "Connection reset by peer (os error 104)".into(),
        attempt: 2,
        reached: SEGMENT as u64,
    }));
    assert!(up.poll(now + RETRY_PAUSE / 2).is_empty());
    let later = now + RETRY_PAUSE;
    assert_eq!(up.poll(later), vec![Output::Connect]);
    let out = up.handle(Input::Connected, later);
    assert!(notes(&out).contains(&Note::PageUp { attempt: 2 }));
    assert!(String::from_utf8_lossy(&sends(&out)[0]).starts_with("POST / HTTP/1.1"));
}

#[test]
fn a_close_before_the_whole_image_is_a_loss() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    let first = sends(&out)[0].len() as u64;
    up.handle(Input::Acked(first), now);
    let out = up.handle(Input::Closed, now);
    assert!(notes(&out).iter().any(|n| matches!(
        n,
        Note::Retrying { reason, .. } if reason == "the page closed the connection after 0 of 30000 bytes"
    )));
}

#[test]
fn connections_lost_five_times_give_up() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    let mut at = now;
    let mut last = Vec::new();
    for _ in 0..MAX_LOSSES {
        up.handle(Input::Connected, at);
        last = up.handle(Input::Lost("reset".into()), at);
        at += RETRY_PAUSE;
        up.poll(at);
    }
    assert!(matches!(finished(&last), Some(Err(Failure::GaveUp(_)))));
    assert!(up.finished());
}

#[test]
fn a_page_not_up_yet_is_tried_again_and_told_now_and_then() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    let mut at = now;
    let mut told = 0;
    for _ in 0..20 {
        let out = up.handle(
            Input::ConnectFailed(IoFailure::new(
                io::ErrorKind::ConnectionRefused,
                "Connection refused",
            )),
            at,
        );
        told += notes(&out).len();
        assert!(up.poll(at + CONNECT_PAUSE / 2).is_empty());
        at += CONNECT_PAUSE;
        assert_eq!(up.poll(at), vec![Output::Connect]);
    }
    // The first, the tenth and the twentieth.
    assert_eq!(told, 3);
    let out = up.handle(Input::Connected, at);
    assert!(notes(&out).contains(&Note::PageUp { attempt: 1 }));
}

#[test]
fn a_page_gone_too_long_after_a_loss_gives_up() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    up.handle(Input::Connected, now);
    up.handle(Input::Lost("reset".into()), now);
    let mut at = now + RETRY_PAUSE;
    let mut end = None;
    while end.is_none() && at < now + RECONNECT_PATIENCE * 2 {
        up.poll(at);
        end = finished(&up.handle(
            Input::ConnectFailed(IoFailure::new(
                io::ErrorKind::HostUnreachable,
                "No route to host",
            )),
            at,
        ));
        at += CONNECT_PAUSE;
    }
    let Some(Err(Failure::GaveUp(why))) = end else {
        panic!("{end:?}")
    };
    assert!(why.contains("did not come back within 120 s"), "{why}");
    assert!(at >= now + RECONNECT_PATIENCE);
}

#[test]
fn an_image_over_the_limit_is_refused_before_connecting() {
    let now = Instant::now();
    let mut page = u_boot_mod();
    page.size_limit = Some(10_000);
    let mut up = Uploader::new(page, image(10_001), "a.bin", now);
    let out = up.poll(now);
    assert!(!out.contains(&Output::Connect));
    assert_eq!(
        finished(&out),
        Some(Err(Failure::TooLarge {
            size: 10_001,
            limit: 10_000
        }))
    );
}

#[test]
fn no_acknowledgement_for_the_patience_is_a_loss() {
    let now = Instant::now();
    let img = image(30_000);
    let mut up = start(u_boot_mod(), &img, now);
    up.handle(Input::Connected, now);
    assert!(
        up.poll(now + ACK_PATIENCE.saturating_sub(Duration::from_millis(1)))
            .is_empty()
    );
    let out = up.poll(now + ACK_PATIENCE);
    assert!(notes(&out).iter().any(|n| matches!(
        n,
        Note::Retrying { reason, .. } if reason.contains("acknowledged nothing for 20 s")
    )));
}

#[test]
fn progress_is_told_at_most_ten_times_a_second() {
    let now = Instant::now();
    let img = image(200_000);
    let mut up = start(u_boot_mod(), &img, now);
    let out = up.handle(Input::Connected, now);
    let all = Peer::new().exchange(&mut up, out, now);
    let progress: Vec<_> = notes(&all)
        .into_iter()
        .filter(|n| matches!(n, Note::Acknowledged { .. }))
        .collect();
    // All at one instant: the first and the last only.
    assert_eq!(progress.len(), 2, "{progress:?}");
}

//! The web failsafe uploader against doubles of each page flavour (`tests/http_doubles`), each
//! on the router's address in a network namespace of its own, the uploader in another,
//! joined by a veth pair. The image must arrive intact (its SHA-256 compared) through each;
//! and each double, given an upload that breaks its rule the way browsers and curl do,
//! refuses it: the uploader's segment discipline is why it works.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_doubles;
#[allow(unused_imports)]
mod nmrp_double;
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use http_doubles::{Behaviour, Double, Flavour as DoubleFlavour, Outcome};
use nmrp_double::in_netns;
use rescue_wizard::http::stream::{self, send_queue};
use rescue_wizard::http::{Failure, Flavour, Note, Page, Uploaded};
use support::NetnsPair;

const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

/// Whether this process may make namespaces; else the test skips (fails under CI).
fn root() -> bool {
    support::root_and_tools(&[])
}

/// Two namespaces on one veth pair: the laptop at 192.168.1.2, the router at .1, and a
/// `flavour` double listening there.
fn rig(
    flavour: DoubleFlavour,
    behaviour: Behaviour,
) -> (NetnsPair, Double, std::sync::mpsc::Receiver<SocketAddr>) {
    let pair = NetnsPair::new("rwhttp");
    support::ip(&[
        "-n",
        &pair.ns,
        "addr",
        "add",
        "192.168.1.2/24",
        "dev",
        "port0",
    ]);
    support::ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        "192.168.1.1/24",
        "dev",
        "router0",
    ]);
    let (double, ready) = Double::start(&pair.peer, "router0", ROUTER, flavour, behaviour);
    (pair, double, ready)
}

fn image(len: usize) -> Arc<[u8]> {
    support::content(len, 0x5eed).into()
}

fn sha256(bytes: &[u8]) -> String {
    rescue_wizard::tftp::server::hex_sha256(bytes)
}

/// Runs our uploader from the laptop's namespace; returns its result and every note.
fn upload(ns: &str, page: Page, img: &Arc<[u8]>) -> (Option<Result<Uploaded, Failure>>, Vec<Note>) {
    let img = Arc::clone(img);
    in_netns("http-uploader", ns, move || {
        let stop = AtomicBool::new(false);
        let mut notes = Vec::new();
        let result = stream::upload(page, img, "openwrt-factory.img", &stop, |n| notes.push(n));
        (result, notes)
    })
    .join()
    .unwrap()
}

fn page(flavour: Flavour) -> Page {
    Page::new(flavour, SocketAddr::new(ROUTER.into(), 80))
}

fn taken(img: &[u8]) -> Outcome {
    Outcome::Taken {
        sha256: sha256(img),
        size: img.len() as u64,
    }
}

fn ready(rx: &std::sync::mpsc::Receiver<SocketAddr>) {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the double listens");
}

#[test]
fn u_boot_mod_double_takes_the_image_intact() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, Behaviour::default());
    ready(&rx);
    let img = image(1024 * 1024 + 7);
    let (result, notes) = upload(&pair.ns, page(Flavour::UbootMod), &img);
    let done = result.unwrap().unwrap();
    assert_eq!(done.said, "UPDATE IN PROGRESS");
    assert_eq!(done.bytes, img.len() as u64);
    assert_eq!(
        double.wait_outcomes(1, Duration::from_secs(10)),
        vec![taken(&img)]
    );
    assert!(notes.contains(&Note::Acknowledged {
        bytes: img.len() as u64,
        total: img.len() as u64
    }));
}

/// Writes `pieces` on one connection from `ns`, each acknowledged before the next (so each
/// is a segment of its own); returns what the page answered.
fn raw_client(ns: &str, pieces: Vec<Vec<u8>>) -> String {
    in_netns("http-raw-client", ns, move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect((ROUTER, 80)).unwrap();
        s.set_nodelay(true).unwrap();
        for piece in pieces {
            if s.write_all(&piece).is_err() {
                break;
            }
            let end = std::time::Instant::now() + Duration::from_secs(10);
            while send_queue(&s).unwrap_or(0) > 0 && std::time::Instant::now() < end {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .join()
    .unwrap()
}

fn multipart(
    field: &str,
    img: &[u8],
    content_length: &dyn Fn(usize) -> String,
) -> (Vec<u8>, Vec<u8>) {
    let part = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let mut body = part.into_bytes();
    body.extend_from_slice(img);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 192.168.1.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n{}\r\n\r\n",
        content_length(body.len())
    );
    (head.into_bytes(), body)
}

#[test]
fn u_boot_mod_double_refuses_uploads_that_break_its_parser() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, Behaviour::default());
    ready(&rx);
    let img = image(64 * 1024);
    // Headers split over two segments, as a browser's first write may end anywhere.
    let (head, body) = multipart("firmware", &img, &|n| format!("Content-Length: {n}"));
    let split = head.len() / 3;
    let mut rest = head[split..].to_vec();
    rest.extend_from_slice(&body[..1000]);
    raw_client(&pair.ns, vec![head[..split].to_vec(), rest]);
    // `Content-Length:  N`: two spaces, which simple_strtoul reads as 0.
    let (head, body) = multipart("firmware", &img, &|n| format!("Content-Length:  {n}"));
    let mut first = head.clone();
    first.extend_from_slice(&body[..200]);
    raw_client(&pair.ns, vec![first, body[200..].to_vec()]);
    // Two form parts, as curl -F sends them: the first part names no firmware.
    let file = pair.state.path().join("a.bin");
    std::fs::write(&file, &img[..]).unwrap();
    if let Some(curl) = support::require("curl") {
        let out = Command::new("ip")
            .args(["netns", "exec", &pair.ns])
            .arg(curl)
            .args(["-s", "-m", "20", "-F", "note=hello", "-F"])
            .arg(format!("firmware=@{}", file.display()))
            .arg("http://192.168.1.1/")
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("UPDATE IN PROGRESS"));
    }
    let outcomes = double.wait_outcomes(3, Duration::from_secs(30));
    assert_eq!(
        outcomes,
        vec![
            Outcome::Aborted("couldn't find \"Content-Length\"!".into()),
            Outcome::Aborted("request for upload < 10 KB data!".into()),
            Outcome::Aborted("input name not found!".into()),
        ]
    );
}

#[test]
fn u_boot_mod_double_refuses_a_body_beyond_its_3000_byte_window() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, Behaviour::default());
    ready(&rx);
    let img = image(64 * 1024);
    // A correct first segment (head and part header), acknowledged alone; then the body in
    // one write, as a browser writes it: the kernel sends its whole congestion window.
    let (head, body) = multipart("firmware", &img, &|n| format!("Content-Length: {n}"));
    let part_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut first = head;
    first.extend_from_slice(&body[..part_end]);
    let answer = raw_client(&pair.ns, vec![first, body[part_end..].to_vec()]);
    assert!(!answer.contains("UPDATE IN PROGRESS"), "{answer}");
    assert_eq!(
        double.wait_outcomes(1, Duration::from_secs(30)),
        vec![Outcome::Aborted(
            "a segment beyond the 3000-byte window".into()
        )]
    );
}

#[test]
fn an_upload_over_a_link_losing_every_25th_segment_arrives_intact() {
    if !root() {
        return;
    }
    let Some(nft) = support::require("nft") else {
        return;
    };
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, Behaviour::default());
    ready(&rx);
    // The laptop's side drops every 25th segment it sends to the page, before the wire: the
    // double's capture never sees it, as a router never sees a frame lost on the cable.
    let rules = "table inet rwloss {\n chain out {\n  type filter hook output priority 0; policy accept;\n  ip daddr 192.168.1.1 tcp dport 80 numgen inc mod 25 == 0 counter drop\n }\n}\n";
    let file = pair.state.path().join("loss.nft");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.ns])
        .arg(&nft)
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "nft: {out:?}");
    let img = image(512 * 1024 + 11);
    let (result, notes) = upload(&pair.ns, page(Flavour::UbootMod), &img);
    let listed = Command::new("ip")
        .args(["netns", "exec", &pair.ns])
        .arg(&nft)
        .args(["list", "table", "inet", "rwloss"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let dropped: u64 = listed
        .split("counter packets ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(dropped >= 10, "the link lost segments: {listed}");
    // Retransmissions carry it through; were a connection lost instead, the upload starts
    // again from byte 0 and says why, and the image still arrives whole.
    let done = result.unwrap().unwrap();
    assert_eq!(done.bytes, img.len() as u64);
    let outcomes = double.wait_outcomes(1, Duration::from_secs(10));
    assert_eq!(outcomes.last(), Some(&taken(&img)), "{outcomes:?}");
    eprintln!(
        "{dropped} segments dropped; {} retries; {:?}",
        notes
            .iter()
            .filter(|n| matches!(n, Note::Retrying { .. }))
            .count(),
        done.took
    );
}

#[test]
fn u_boot_mod_failure_page_is_told() {
    if !root() {
        return;
    }
    let behaviour = Behaviour {
        size_limit: Some(32 * 1024),
        ..Behaviour::default()
    };
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, behaviour);
    ready(&rx);
    let img = image(64 * 1024);
    let (result, notes) = upload(&pair.ns, page(Flavour::UbootMod), &img);
    assert_eq!(result, Some(Err(Failure::Refused("UPDATE FAILED".into()))));
    assert!(
        notes.contains(&Note::Answered(rescue_wizard::http::Answer::Refused(
            "UPDATE FAILED".into()
        )))
    );
    assert_eq!(
        double.wait_outcomes(1, Duration::from_secs(10)),
        vec![Outcome::FailurePage("UPDATE FAILED".into())]
    );
}

#[test]
fn a_reset_mid_upload_is_retried_from_the_start_and_told() {
    if !root() {
        return;
    }
    let behaviour = Behaviour {
        reset_first_after: Some(100 * 1024),
        ..Behaviour::default()
    };
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, behaviour);
    ready(&rx);
    let img = image(512 * 1024);
    let (result, notes) = upload(&pair.ns, page(Flavour::UbootMod), &img);
    assert!(result.unwrap().is_ok());
    let retried = notes
        .iter()
        .find_map(|n| match n {
            Note::Retrying {
                reason,
                attempt,
                reached,
            } => Some((reason.clone(), *attempt, *reached)),
            _ => None,
        })
        .expect("the technician is told of the retry");
    assert_eq!(retried.1, 2);
    assert!(retried.2 >= 90 * 1024, "{retried:?}");
    assert!(notes.contains(&Note::PageUp { attempt: 2 }));
    assert_eq!(
        double.wait_outcomes(2, Duration::from_secs(10)),
        vec![Outcome::ResetOnPurpose, taken(&img)]
    );
}

#[test]
fn a_page_that_appears_5_s_late_is_waited_for() {
    if !root() {
        return;
    }
    let behaviour = Behaviour {
        appear_after: Some(Duration::from_secs(5)),
        ..Behaviour::default()
    };
    let (pair, double, rx) = rig(DoubleFlavour::UbootMod, behaviour);
    // The uploader starts before the page is up, and keeps trying.
    let img = image(200 * 1024);
    let (result, notes) = upload(&pair.ns, page(Flavour::UbootMod), &img);
    // The double said it listens before anything was taken.
    rx.try_recv().expect("the double listened");
    assert!(result.unwrap().is_ok());
    let down = notes
        .iter()
        .filter(|n| matches!(n, Note::PageDown { .. }))
        .count();
    assert!(down >= 1, "{notes:?}");
    let first_down = notes
        .iter()
        .position(|n| matches!(n, Note::PageDown { .. }))
        .unwrap();
    let up = notes
        .iter()
        .position(|n| matches!(n, Note::PageUp { .. }))
        .unwrap();
    assert!(first_down < up);
    assert_eq!(
        double.wait_outcomes(1, Duration::from_secs(10)),
        vec![taken(&img)]
    );
}

#[test]
fn dlink_double_takes_the_image_intact() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::Dlink, Behaviour::default());
    ready(&rx);
    let img = image(256 * 1024 + 3);
    let (result, _) = upload(&pair.ns, page(Flavour::Dlink), &img);
    let done = result.unwrap().unwrap();
    assert_eq!(done.said, "Device is Upgrading the Firmware");
    assert_eq!(
        double.wait_outcomes(1, Duration::from_secs(10)),
        vec![taken(&img)]
    );
}

#[test]
fn dlink_double_refuses_what_browsers_and_curl_send() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::Dlink, Behaviour::default());
    ready(&rx);
    let img = image(64 * 1024);
    let file = pair.state.path().join("a.bin");
    std::fs::write(&file, &img[..]).unwrap();
    let Some(curl) = support::require("curl") else {
        return;
    };
    // curl writes its request as soon as the handshake is done.
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.ns])
        .arg(curl)
        .args(["-s", "-m", "20", "-F"])
        .arg(format!("files=@{}", file.display()))
        .arg("http://192.168.1.1/cgi/index")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Upgrading"));
    let outcomes = double.wait_outcomes(1, Duration::from_secs(30));
    assert_eq!(
        outcomes,
        vec![Outcome::Aborted("request right after the handshake".into())]
    );
}

#[test]
fn mediatek_double_takes_the_image_intact_after_size_and_md5() {
    if !root() {
        return;
    }
    let (pair, double, rx) = rig(DoubleFlavour::Mediatek, Behaviour::default());
    ready(&rx);
    let img = image(512 * 1024 + 1);
    let (result, notes) = upload(&pair.ns, page(Flavour::Mediatek), &img);
    let done = result.unwrap().unwrap();
    assert_eq!(done.said, "success");
    assert!(
        notes
            .iter()
            .any(|n| matches!(n, Note::Verified { size, .. } if *size == img.len() as u64))
    );
    assert_eq!(
        double.wait_outcomes(2, Duration::from_secs(10)),
        vec![Outcome::Served("upload".into()), taken(&img)]
    );
}

#[test]
fn mediatek_md5_mismatch_never_asks_result() {
    if !root() {
        return;
    }
    let behaviour = Behaviour {
        wrong_md5: true,
        ..Behaviour::default()
    };
    let (pair, double, rx) = rig(DoubleFlavour::Mediatek, behaviour);
    ready(&rx);
    let img = image(64 * 1024);
    let (result, _) = upload(&pair.ns, page(Flavour::Mediatek), &img);
    assert!(
        matches!(result, Some(Err(Failure::Mismatch { .. }))),
        "{result:?}"
    );
    assert_eq!(
        double.wait_outcomes(2, Duration::from_secs(3)),
        vec![Outcome::Served("upload".into())]
    );
}

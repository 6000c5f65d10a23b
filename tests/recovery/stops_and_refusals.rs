//! A run stopped (a signal while it waits, a stopped demo) or refused (bad input, no terminal
//! and no `--yes`): the exit code, the advice, and a port left as it was.

use super::*;

#[test]
fn a_stopped_demo_removes_its_folder_and_exits_130_on_each_stop_signal() {
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let state = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["demo", "--json"])
            .env("RESCUE_WIZARD_STATE_DIR", state.path())
            .stdin(Stdio::null());
        let mut run = Proc::spawn(&mut cmd);
        let folder = std::env::temp_dir().join(format!("rescue-wizard-demo-{}", run.pid()));
        wait_for_router(&run, READY);
        assert!(folder.exists(), "the demo's folder {}", folder.display());
        run.signal(signal);
        let status = run
            .wait_deadline(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{signal} did not end the demo\n{}", run.diagnostics()));
        assert_eq!(status.code(), Some(130), "{signal}: {}", run.diagnostics());
        assert!(
            !folder.exists(),
            "{signal}: the demo left {}",
            folder.display()
        );
        // Nor the private copy of the image the run served.
        let copy = format!("rescue-wizard-image-{}-", run.pid());
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&copy))
            .collect();
        assert!(left.is_empty(), "{signal}: the run left {left:?}");
    }
}

fn run_plain(args: &[&str], state: &Path) -> (Option<i32>, String) {
    let output = support::run(
        Command::new(BIN)
            .args(args)
            .env("RESCUE_WIZARD_STATE_DIR", state)
            .env("RESCUE_WIZARD_CONFIG_DIR", state.join("none"))
            .stdin(Stdio::null()),
        Duration::from_secs(30),
    );
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn bad_input_is_refused_with_the_fix_and_exit_2() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("factory.bin");
    std::fs::write(&good, wr841n_v9_image(8192)).unwrap();
    let wrong = dir.path().join("other.bin");
    let mut other = wr841n_v9_image(8192);
    other[0x40..0x44].copy_from_slice(&[0x09, 0x41, 0x00, 0x01]);
    std::fs::write(&wrong, &other).unwrap();
    let before = std::fs::read(&wrong).unwrap();
    let good = good.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![good], "give --device ID"),
        (
            vec!["--device", "tl-wr841n-v9"],
            "give the device and the image",
        ),
        (vec!["--device", "tl-wr841n-v99", good], "tl-wr841n-v9"),
        (
            vec!["--device", "tl-wr841n-v9", "/nonexistent/fw.bin"],
            "/nonexistent/fw.bin",
        ),
        (
            vec!["--device", "netgear-r6220", good],
            "devices show netgear-r6220",
        ),
        (
            vec!["--device", "tl-wr841n-v9", wrong.to_str().unwrap()],
            "cannot be flashed to tl-wr841n-v9",
        ),
        (
            vec![
                "--device",
                "tl-wr841n-v9",
                good,
                "--interface",
                "nosuchport0",
            ],
            "no interface named \"nosuchport0\"",
        ),
    ];
    for (args, expect) in cases {
        let (code, text) = run_plain(&args, state.path());
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(
            text.contains(expect),
            "{args:?}: expected {expect:?} in:\n{text}"
        );
        assert!(
            text.contains("fix")
                || text.contains("did you mean")
                || text.contains("Did you mean")
                || text.contains("choose"),
            "{args:?}: no fix in:\n{text}"
        );
    }
    assert_eq!(
        std::fs::read(&wrong).unwrap(),
        before,
        "the image was modified"
    );
}

#[test]
fn without_a_terminal_or_yes_nothing_changes() {
    if !need_root() {
        return;
    }
    let lab = PortLab::new("rw-consent");
    let pair = &lab.pair;
    let path = lab.image("factory.bin", &wr841n_v9_image(8192));
    let before = addresses(&pair.ns, "port0");
    let mut cmd = lab.rescue_wizard();
    cmd.args(["--device", "tl-wr841n-v9"])
        .arg(&path)
        .args(["--interface", "port0"]);
    let output = support::run(&mut cmd, Duration::from_secs(30));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("add --yes"), "{text}");
    assert_eq!(addresses(&pair.ns, "port0"), before);
}

#[test]
fn ctrl_c_while_waiting_restores_the_port_and_says_the_router_is_untouched() {
    if !need_root() {
        return;
    }
    stop_while_waiting(nix::sys::signal::Signal::SIGINT, "rw-int");
}

#[test]
fn sigterm_and_sighup_while_waiting_restore_the_port_as_ctrl_c_does() {
    if !need_root() {
        return;
    }
    // SIGHUP: the terminal the run was started from closed.
    stop_while_waiting(nix::sys::signal::Signal::SIGTERM, "rw-term");
    stop_while_waiting(nix::sys::signal::Signal::SIGHUP, "rw-hup");
}

/// Starts a run on a port, stops it with `signal` while it waits, and checks the exit (130),
/// the advice and the port.
fn stop_while_waiting(signal: nix::sys::signal::Signal, tag: &str) {
    let lab = PortLab::new(tag);
    let pair = &lab.pair;
    let path = lab.image("factory.bin", &wr841n_v9_image(64 * 1024));
    let mut cmd = lab.rescue_wizard();
    cmd.args(["--device", "tl-wr841n-v9"]).arg(&path).args([
        "--interface",
        "port0",
        "--yes",
        "--json",
    ]);
    let mut run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    assert!(addresses(&pair.ns, "port0").contains("192.168.0.66/24"));
    run.signal(signal);
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{signal} did not end the run\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(130), "{signal}: {}", run.diagnostics());
    let events = events(&run.stdout_text());
    let interrupted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Interrupted { phase, advice } => Some((*phase, advice)),
            _ => None,
        })
        .collect();
    assert_eq!(interrupted.len(), 1, "{}", run.stdout_text());
    assert_eq!(interrupted[0].0, Phase::Waiting);
    assert!(interrupted[0].1.contains("nothing was sent to the router"));
    assert!(!changes(&events, true).is_empty());
    assert!(!addresses(&pair.ns, "port0").contains("192.168.0.66"));
    assert_eq!(outcome(&events), RunOutcome::Interrupted);
}

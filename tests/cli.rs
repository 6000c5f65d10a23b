//! The command line as a technician meets it: exit codes (0 done, 1 transfer failed, 2 bad
//! usage or input), error messages that name the cause and the fix, and clean stops on
//! Ctrl-C and SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
const DEADLINE: Duration = Duration::from_secs(20);

fn run(args: &[&str]) -> Output {
    run_with(args, &[])
}

/// Runs the program with `env` added to its environment.
fn run_with(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

fn wait_output(child: Child) -> Output {
    support::wait_child(child, DEADLINE)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Starts `serve` and returns it with the address from its first line.
fn serve(args: &[&str]) -> (Child, String, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = support::lines(child.stdout.take().unwrap());
    let first = rx.recv_timeout(DEADLINE).expect("the server's first line");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (child, addr, rx)
}

fn image(dir: &Path, len: usize) -> std::path::PathBuf {
    let path = dir.join("fw.bin");
    let mut rng = fastrand::Rng::with_seed(len as u64);
    std::fs::write(&path, (0..len).map(|_| rng.u8(..)).collect::<Vec<u8>>()).unwrap();
    path
}

#[test]
fn serve_and_get_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 300_000);
    let (child, addr, lines) = serve(&[
        img.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--exit-after",
        "1",
    ]);
    let port = addr.rsplit(':').next().unwrap();
    let out = dir.path().join("got.bin");
    let got = run(&[
        "get",
        "127.0.0.1",
        "fw.bin",
        "-o",
        out.to_str().unwrap(),
        "--port",
        port,
        "--blksize",
        "1468",
    ]);
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&img).unwrap());
    let summary = lines.recv_timeout(DEADLINE).unwrap();
    assert!(summary.starts_with("done #1 127.0.0.1:"), "{summary}");
    assert!(summary.contains("\"fw.bin\" 300000 bytes"), "{summary}");
    let served = wait_output(child);
    assert_eq!(served.status.code(), Some(0));
    // Fetching again to the same file refuses to overwrite it.
    let again = run(&[
        "get",
        "127.0.0.1",
        "fw.bin",
        "-o",
        out.to_str().unwrap(),
        "--port",
        port,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_missing_image_is_bad_input_with_the_fix() {
    let output = run(&["serve", "/nonexistent/openwrt.bin", "--port", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("/nonexistent/openwrt.bin"), "{text}");
    assert!(text.contains("fix:"), "{text}");
    let output = run(&["push", "/nonexistent/openwrt.bin", "--to", "127.0.0.1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read the image"));
}

#[test]
fn a_taken_port_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 10);
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let output = run(&[
        "serve",
        img.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("already in use"), "{text}");
    assert!(
        text.contains(&format!("(pid {})", std::process::id())),
        "names this test process as the holder: {text}"
    );
    assert!(text.contains("fix:"), "{text}");
}

#[test]
fn an_address_not_on_this_host_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 10);
    // 192.0.2.1 is TEST-NET-1: never assigned to a real host. Binding sends nothing.
    let output = run(&[
        "serve",
        img.to_str().unwrap(),
        "--bind",
        "192.0.2.1",
        "--port",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not an address of this computer"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_low_port_without_privileges_says_sudo_or_setcap() {
    // Root, to run the program as an unprivileged user.
    if !support::root_and_tools(&[("setpriv", "util-linux")]) {
        return;
    }
    let setpriv = support::which("setpriv").expect("setpriv, checked above");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let img = image(dir.path(), 10);
    let child = Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            BIN,
        ])
        .args([
            "serve",
            img.to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "--port",
            "69",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_output(child);
    let text = stderr(&output);
    if text.contains("Permission denied")
        && text.contains("os error 13")
        && !text.contains("setcap")
    {
        panic!("the permission error lacks its fix: {text}");
    }
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("setcap cap_net_bind_service+ep"), "{text}");
    assert!(text.contains("sudo"), "{text}");
}

#[test]
fn ctrl_c_and_sigterm_stop_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 10);
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let (child, _, _) = serve(&[img.to_str().unwrap(), "--bind", "127.0.0.1", "--port", "0"]);
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let output = wait_output(child);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{signal}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn push_to_nothing_fails_with_exit_1_and_the_checks_to_make() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 1000);
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let output = run(&[
        "push",
        img.to_str().unwrap(),
        "--to",
        "127.0.0.1",
        "--port",
        &port,
        "--wait",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("no answer from the TFTP server at 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("recovery mode"), "{text}");
}

#[test]
fn bad_usage_is_exit_2() {
    let output = run(&["serve"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["serve", "x", "--max-blksize", "7"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("8..=65464"), "{}", stderr(&output));
}

#[test]
fn a_profile_file_is_used_for_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/devices/tl-wr841n-v9.yaml"
    ))
    .unwrap();
    // The technician's own variant of a built-in device: another id and laptop address.
    let own = builtin
        .replace("id: tl-wr841n-v9", "id: my-wr841-bench")
        .replace("address: 192.168.0.66", "address: 10.9.8.7")
        .replace("192.168.0.86", "10.9.8.86");
    assert_ne!(own, builtin, "the fixture edits applied");
    let file = dir.path().join("mine.yaml");
    std::fs::write(&file, &own).unwrap();
    let output = run(&[
        "doctor",
        "--profile",
        file.to_str().unwrap(),
        "--interface",
        "lo",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("my-wr841-bench"), "{text}");
    assert!(
        text.contains("address 10.9.8.7/24 on lo: missing"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        own,
        "the user's file is not modified"
    );
    // A broken one is refused with where and how to fix it.
    std::fs::write(&file, own.replace("filename:", "filenmae:")).unwrap();
    let output = run(&[
        "doctor",
        "--profile",
        file.to_str().unwrap(),
        "--interface",
        "lo",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("mine.yaml:") && text.contains("did you mean `filename`"),
        "{text}"
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The sub-commands as the clap definition has them, `help` aside.
fn sub_commands() -> Vec<String> {
    use clap::CommandFactory;
    rescue_wizard::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn the_exit_codes_are_one_table_in_help_readme_and_code() {
    use rescue_wizard::Outcome;
    use rescue_wizard::cli::EXIT_CODES;
    // Every outcome's code is explained, and every explained code is some outcome's.
    for outcome in Outcome::ALL {
        assert!(
            EXIT_CODES.iter().any(|(code, _)| *code == outcome.code()),
            "{outcome:?} exits {} which the table does not explain",
            outcome.code()
        );
    }
    for (code, _) in EXIT_CODES {
        assert!(Outcome::ALL.iter().any(|o| o.code() == code), "{code}");
    }
    let help = stdout(&run(&["--help"]));
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (code, meaning) in EXIT_CODES {
        assert!(help.contains(&format!("  {code}  {meaning}")), "{help}");
        assert!(
            readme.contains(&format!("| {code} | {meaning} |")),
            "README.md's exit table lacks {code}: {meaning}"
        );
    }
    // And the process really ends with them: bad usage is 2.
    assert_eq!(run(&["devices", "show"]).status.code(), Some(2));
}

#[test]
fn completions_and_the_man_page_cover_every_sub_command() {
    let subs = sub_commands();
    assert!(subs.len() >= 10, "{subs:?}");
    for shell in ["bash", "zsh", "fish"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let script = stdout(&output);
        for sub in &subs {
            assert!(
                script.contains(sub.as_str()),
                "{shell} completion lacks `{sub}`"
            );
        }
        // Flags too: a renamed one would show here.
        assert!(script.contains("allow-firewall"), "{shell}");
    }
    let output = run(&["completions", "powershell"]);
    assert_eq!(output.status.code(), Some(2));
    let man = run(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(
        page.starts_with(".ie") || page.contains(".TH rescue-wizard 1"),
        "{page}"
    );
    for sub in &subs {
        let heading = format!(".SH \"RESCUE-WIZARD {}\"", sub.to_uppercase());
        assert!(page.contains(&heading), "the man page lacks {heading}");
    }
    assert!(page.contains(".SH \"RESCUE-WIZARD DEVICES SHOW\""));
    assert!(page.contains(".SH \"EXIT STATUS\""));
}

#[test]
fn version_answers_without_a_device() {
    let output = run(&["version"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("rescue-wizard {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_device_is_found_by_id_alias_or_model_in_any_case() {
    let config = tempfile::tempdir().unwrap();
    let devices = |args: &[&str]| run_with(args, &[("RESCUE_WIZARD_CONFIG_DIR", config.path())]);
    for name in [
        "TL-WR841N-V9",
        "wr841n v9",
        "TP-Link TL-WR841N/ND v9",
        "tl-wr841nd-v9",
    ] {
        let output = devices(&["devices", "show", name]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        assert!(
            stdout(&output).starts_with("TP-Link TL-WR841N/ND v9 (tl-wr841n-v9)\n"),
            "{name}"
        );
        // The recovery's own commands take the same names: doctor on loopback changes nothing.
        let output = devices(&["doctor", "--device", name, "--interface", "lo"]);
        assert!(
            stdout(&output).starts_with("rescue-wizard doctor: tl-wr841n-v9 "),
            "{name}: {}{}",
            stdout(&output),
            stderr(&output)
        );
    }
    // A near miss is found by the search.
    let output = devices(&["devices", "wr841v9"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("\ntl-wr841n-v9 "),
        "{}",
        stdout(&output)
    );
    // Nothing at all exits 2.
    let output = devices(&["devices", "nonexistent"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("No device matches `nonexistent`."));
    // A model several revisions share names them.
    let output = devices(&["--device", "TL-WR841N", "fw.bin"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("`TL-WR841N` names") && text.contains("tl-wr841n-v13"),
        "{text}"
    );
}

#[test]
fn doctor_separates_what_the_run_fixes_from_what_you_must() {
    // Loopback never carries the laptop address a profile asks for: the run would add it.
    let output = run(&["doctor", "--device", "tl-wr841n-v9", "--interface", "lo"]);
    let text = stdout(&output);
    assert!(text.contains("\nports seen: "), "{text}");
    let run_fixes = text
        .find("The recovery run fixes these itself")
        .unwrap_or_else(|| panic!("{text}"));
    let address = text
        .find("[auto] address 192.168.0.66/24 on lo: missing")
        .unwrap();
    assert!(address > run_fixes, "{text}");
    // Loopback is not a port for a router: the technician's to fix, so the check fails.
    let yours = text
        .find("You must fix these:")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text[yours..].contains("[FAIL] interface lo"), "{text}");
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("iptables-save"), "{text}");
}

/// The run's whole output, standard output then standard error.
fn all_output(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// A TL-WR841N v9 image in a folder any user may read, and a namespace pair whose `port0`
/// is the run's port: nothing on this machine's own ports is looked at.
fn refusal_lab(tag: &str) -> Option<(support::NetnsPair, tempfile::TempDir, std::path::PathBuf)> {
    if !support::root_and_tools(&[("ip", "iproute2"), ("setpriv", "util-linux")]) {
        return None;
    }
    let pair = support::NetnsPair::new(tag);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("openwrt-factory.bin");
    std::fs::write(
        &path,
        rescue_wizard::image::sample::tp_link_firmware(0x0841_0009, 64 * 1024),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    Some((pair, dir, path))
}

#[test]
fn no_consent_without_a_terminal_says_add_yes_once_and_blames_nothing_else() {
    let Some((pair, _dir, image)) = refusal_lab("rw-noyes") else {
        return;
    };
    let output = support::run(
        pair.rescue_wizard()
            .args(["--device", "tl-wr841n-v9"])
            .arg(&image)
            .args(["--interface", "port0"]),
        DEADLINE,
    );
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert_eq!(text.matches("add --yes").count(), 1, "{text}");
    assert!(text.contains("add --yes (or run on a terminal)"), "{text}");
    // No closing checklist: it would blame port 69 and claim the address it never added.
    for false_claim in [
        "server running and listening",
        "this computer has 192.168.0.66",
        "[??]",
        "[!!]",
        "see the checklist",
    ] {
        assert!(!text.contains(false_claim), "{false_claim:?} in:\n{text}");
    }
    let lines = text.lines().count();
    assert!(lines <= 40, "{lines} lines:\n{text}");
}

#[test]
fn the_privilege_failure_of_a_normal_user_is_said_once() {
    let Some((pair, _dir, image)) = refusal_lab("rw-user") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    nix::unistd::chown(
        state.path(),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    let output = support::run(
        Command::new("ip")
            .args(["netns", "exec", &pair.ns, "setpriv"])
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["--inh-caps=-all", BIN, "--device", "tl-wr841n-v9"])
            .arg(&image)
            .args(["--interface", "port0", "--yes"])
            .env("RESCUE_WIZARD_STATE_DIR", state.path())
            .env("RESCUE_WIZARD_CONFIG_DIR", state.path().join("config"))
            .stdin(Stdio::null()),
        DEADLINE,
    );
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(
        text.matches("running as an unprivileged user").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("run it with sudo").count(), 1, "{text}");
    assert!(text.contains("cannot start: privileges"), "{text}");
    // Nor the firewall's "run this as root" five times, nor a checklist of what never ran.
    for noise in ["you must be root", "[??]", "[!!]", "see the checklist"] {
        assert!(!text.contains(noise), "{noise:?} in:\n{text}");
    }
    let lines = text.lines().count();
    assert!(lines <= 30, "{lines} lines:\n{text}");
}

#[test]
fn a_query_that_matches_nothing_exits_2_with_the_near_misses() {
    let config = tempfile::tempdir().unwrap();
    let devices = |args: &[&str]| run_with(args, &[("RESCUE_WIZARD_CONFIG_DIR", config.path())]);
    // Words and letter-digit runs as people type them find the device first.
    for (query, id) in [
        ("nanostation m5", "ubiquiti-nanostation-m"),
        ("nanostation loco m2", "ubiquiti-nanostation-m"),
        ("rt-ac58u", "asus-rt-ac58u"),
        ("wr1043nd v3", "tl-wr1043nd-v3"),
    ] {
        let output = devices(&["devices", query]);
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{query}: {text}");
        let first = text.lines().nth(1).unwrap_or_default();
        assert!(first.starts_with(&format!("{id} ")), "{query}: {text}");
    }
    // The word no device has is said to be left out.
    let text = stdout(&devices(&["devices", "nanostation loco m2"]));
    assert!(text.contains("No device has `loco` in its name"), "{text}");
    // A near miss is suggested, and the exit status still says nothing matched.
    let output = devices(&["devices", "wr8411"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("No device matches `wr8411`.\nNearest ids: "),
        "{}",
        stdout(&output)
    );
}

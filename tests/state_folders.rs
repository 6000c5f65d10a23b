//! Runs as root and runs as a user keep their journals in different folders (issue 12,
//! item 2): each kind sees a dead run of the other. A user's run names a killed root run with
//! the command that cleans it (and that command does); a run as root (as under `sudo`) names
//! a killed run of the invoking user, reading their folder without following a link planted
//! there and writing nothing in it.
//!
//! Root's folder is the real default, `/var/lib/rescue-wizard`, on a tmpfs mounted over
//! `/var/lib` in a private mount namespace of the test's own; the user is `nobody` (65534),
//! run with `setpriv`, its `HOME` and `XDG_STATE_HOME` in temporary folders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::mount::MsFlags;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
const DEVICE: &str = "tl-wr841n-v9";
const RESCUE: &str = "192.168.0.66/24";
const ROOT_STATE: &str = "/var/lib/rescue-wizard";
const NOBODY: u32 = 65534;
const DEADLINE: Duration = Duration::from_secs(30);

fn can_run() -> bool {
    support::root_and_tools(&[("ip", "iproute2"), ("setpriv", "util-linux")])
}

/// A tmpfs over `/var/lib`: root's state folder for this test alone.
fn private_var_lib() -> Result<(), String> {
    nix::mount::mount(
        Some("tmpfs"),
        "/var/lib",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| format!("cannot mount a tmpfs on /var/lib: {e}"))
}

fn give_to_nobody(path: &Path) {
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(NOBODY)),
        Some(nix::unistd::Gid::from_raw(NOBODY)),
    )
    .unwrap();
}

/// A home for `nobody`: `(home, XDG_STATE_HOME)`, both theirs.
fn nobodys_home() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    give_to_nobody(home.path());
    let state = home.path().join("state");
    std::fs::create_dir(&state).unwrap();
    give_to_nobody(&state);
    (home, state)
}

/// `rescue-wizard ARGS` as `nobody`, with `home` and `state` as `HOME` and `XDG_STATE_HOME`.
fn as_nobody(home: &Path, state: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .env_remove("RESCUE_WIZARD_STATE_DIR")
        .env_remove("SUDO_USER")
        .env("HOME", home)
        .env("XDG_STATE_HOME", state)
        .env("RESCUE_WIZARD_CONFIG_DIR", home.join("config"))
        .stdin(Stdio::null());
    support::run(&mut command, DEADLINE)
}

/// `rescue-wizard ARGS` as root in the namespace `ns`, with root's default state folder.
fn as_root_in(ns: &str, config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", ns, BIN])
        .args(args)
        .env_remove("RESCUE_WIZARD_STATE_DIR")
        .env_remove("SUDO_USER")
        .env("RESCUE_WIZARD_CONFIG_DIR", config)
        .stdin(Stdio::null());
    command
}

fn addresses(ns: &str) -> String {
    String::from_utf8_lossy(
        &support::ip(&["-n", ns, "-4", "-o", "addr", "show", "dev", "port0"]).stdout,
    )
    .into_owned()
}

/// Starts `serve --device ... --yes` from `command` (the binary and its environment) and
/// kills it (SIGKILL) once it listens, with the rescue address added: a dead run's journal.
/// Returns the run's pid.
fn killed_serve(mut command: Command, image: &Path) -> u32 {
    command.args([
        "serve",
        image.to_str().unwrap(),
        "--device",
        DEVICE,
        "--interface",
        "port0",
        "--port",
        "0",
        "--yes",
    ]);
    let mut server = support::Proc::spawn(&mut command);
    let first = server.next_line(DEADLINE);
    assert!(
        first
            .as_deref()
            .is_some_and(|l| l.starts_with("listening on")),
        "serve did not start: {first:?}\n{}",
        server.diagnostics()
    );
    let pid = server.pid();
    server.kill();
    pid
}

/// The journal a killed run left in `dir`.
fn journal_in(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("journal-") && name.ends_with(".json")
        })
        .expect("the killed run's journal")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_users_run_names_a_killed_root_run_and_the_command_it_names_cleans_it() {
    if !can_run() {
        return;
    }
    support::in_private_mount_namespace(private_var_lib, |()| {
        let net = support::NetnsPair::new("rwsf");
        let image = net.state.path().join("fw.bin");
        std::fs::write(&image, vec![7u8; 2000]).unwrap();
        let config = net.state.path().join("config");
        let pid = killed_serve(as_root_in(&net.ns, &config, &[]), &image);
        assert!(
            addresses(&net.ns).contains(RESCUE),
            "a killed run cannot clean up"
        );
        // Root's folder lets users through to the markers, not to the journals.
        let folder = std::fs::metadata(ROOT_STATE).unwrap();
        assert_eq!(folder.permissions().mode() & 0o7777, 0o711);
        let markers: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT_STATE).join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(markers.len(), 1, "{markers:?}");
        let marker = std::fs::read_to_string(&markers[0]).unwrap();
        assert!(marker.starts_with(&format!("{pid} ")), "{marker}");
        assert_eq!(
            std::fs::metadata(&markers[0]).unwrap().permissions().mode() & 0o777,
            0o644
        );

        // Any run of the user's names it, with the command that cleans it.
        let (home, state) = nobodys_home();
        let user = as_nobody(home.path(), &state, &["version"]);
        let said = text(&user);
        assert!(user.status.success(), "{said}");
        assert!(
            said.contains(&format!(
                "note: a run of rescue-wizard as root (pid {pid}) was killed and left changes to this computer's network; its journal is in /var/lib/rescue-wizard, which only root reads."
            )),
            "{said}"
        );
        assert!(
            said.contains("fix: run `sudo rescue-wizard doctor`"),
            "{said}"
        );
        // The user cannot list root's folder or read its journals.
        let listing = support::run(
            Command::new("setpriv").args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "ls",
                ROOT_STATE,
            ]),
            DEADLINE,
        );
        assert!(!listing.status.success(), "a user listed root's folder");

        // The fix it names does what it says.
        let fix = support::run(
            &mut as_root_in(&net.ns, &config, &["doctor", "--interface", "port0"]),
            DEADLINE,
        );
        let fixed = text(&fix);
        assert!(
            fixed.contains("undone: address 192.168.0.66/24 on port0"),
            "{fixed}"
        );
        assert!(!addresses(&net.ns).contains(RESCUE), "{fixed}");
        assert!(!markers[0].exists(), "the marker went with the journal");
        let after = as_nobody(home.path(), &state, &["version"]);
        assert!(!text(&after).contains("was killed"), "{}", text(&after));
    });
}

#[test]
fn a_root_run_names_a_killed_run_of_the_user_and_follows_no_link_planted_in_their_folder() {
    if !can_run() {
        return;
    }
    let net = support::NetnsPair::new("rwsu");
    let image = net.state.path().join("fw.bin");
    std::fs::write(&image, vec![7u8; 2000]).unwrap();
    // A real journal of a killed run, made the user's: as a run with capabilities
    // (`setcap`) would leave it in their folder.
    let pid = killed_serve(support::rescue_wizard_in(&net.ns, net.state.path()), &image);
    let journal = journal_in(net.state.path());
    let (home, state) = nobodys_home();
    let folder = state.join("rescue-wizard");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    give_to_nobody(&folder);
    let theirs = folder.join(journal.file_name().unwrap());
    std::fs::copy(&journal, &theirs).unwrap();
    give_to_nobody(&theirs);
    let journal_bytes = std::fs::read(&theirs).unwrap();
    // Links planted by the user at a journal's name and at its lock's, pointing at a file
    // only root may read.
    let secret_dir = tempfile::tempdir().unwrap();
    let precious = secret_dir.path().join("precious");
    std::fs::write(&precious, b"root's own secret").unwrap();
    std::fs::set_permissions(&precious, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::metadata(&precious).unwrap();
    let planted = folder.join("journal-1-1-0.json");
    std::os::unix::fs::symlink(&precious, &planted).unwrap();
    std::os::unix::fs::symlink(&precious, folder.join("journal-1-1-0.lock")).unwrap();
    let names_before = support::names_in(&folder);

    // A run as root, as `sudo -E` starts it: SUDO_USER and the user's XDG_STATE_HOME.
    let root_state = tempfile::tempdir().unwrap();
    let run_as_root = || {
        let mut command = support::rescue_wizard();
        command
            .arg("version")
            .env("RESCUE_WIZARD_STATE_DIR", root_state.path())
            .env("RESCUE_WIZARD_CONFIG_DIR", root_state.path().join("config"))
            .env("SUDO_USER", "nobody")
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", &state)
            .stdin(Stdio::null());
        support::run(&mut command, DEADLINE)
    };
    let output = run_as_root();
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "note: a run of rescue-wizard as nobody (pid {pid}) was killed and left {} listing: address 192.168.0.66/24 on port0",
            theirs.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("fix: run any rescue-wizard command as nobody without sudo"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "not read: {}: a symbolic link, not followed",
            planted.display()
        )),
        "{said}"
    );
    // Nothing followed, nothing read through a link, nothing written in the user's folder,
    // and the journal not replayed (the address is still there).
    assert!(!said.contains("root's own secret"), "{said}");
    let after = std::fs::metadata(&precious).unwrap();
    assert_eq!(std::fs::read(&precious).unwrap(), b"root's own secret");
    assert_eq!(
        (after.uid(), after.mode(), after.mtime()),
        (before.uid(), before.mode(), before.mtime())
    );
    assert_eq!(support::names_in(&folder), names_before);
    assert_eq!(std::fs::read(&theirs).unwrap(), journal_bytes);
    assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), NOBODY);
    assert!(
        addresses(&net.ns).contains(RESCUE),
        "root replayed the user's journal"
    );

    // The user's folder itself replaced by a link to a folder of root's: not followed.
    let roots_folder = secret_dir.path().join("journals");
    std::fs::create_dir(&roots_folder).unwrap();
    std::fs::copy(&journal, roots_folder.join(journal.file_name().unwrap())).unwrap();
    std::fs::rename(&folder, state.join("moved")).unwrap();
    std::os::unix::fs::symlink(&roots_folder, &folder).unwrap();
    let output = run_as_root();
    let said = text(&output);
    assert!(
        said.contains(&format!(
            "not read: {}: a symbolic link or not a folder; a link there is never followed",
            folder.display()
        )),
        "{said}"
    );
    assert!(!said.contains("was killed"), "{said}");
}

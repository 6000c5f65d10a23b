//! Install in one step: the static `x86_64` musl binary is one file that runs alone. Copied into
//! an empty folder (as root: that folder as the root of the file system, `chroot`), it answers
//! `--help`, lists `devices` and runs the whole `demo --plain` with no other file present.
//!
//! The binary is built by `.ci/run` (`cargo build --release --target x86_64-unknown-linux-musl`);
//! without it this test says how to build it and skips, unless `CI` is set, where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TARGET: &str = "x86_64-unknown-linux-musl";
const DEADLINE: Duration = Duration::from_mins(1);

fn static_binary() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(TARGET)
        .join("release")
        .join("rescue-wizard");
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} is missing: build it with `rustup target add {TARGET} && cargo build --release --target {TARGET}`",
        path.display()
    );
    support::skip_or_fail(&why);
    None
}

/// Whether an ELF file asks for a program interpreter (a dynamic loader): a static binary
/// has no `PT_INTERP` program header.
fn asks_for_a_loader(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    let phoff = u64_at(0x20) as usize;
    let phentsize = usize::from(u16_at(0x36));
    let phnum = usize::from(u16_at(0x38));
    (0..phnum).any(|i| u32_at(phoff + i * phentsize) == PT_INTERP)
}

/// Runs the installed binary with nothing but itself: as root inside the empty folder made
/// the root directory, otherwise from that folder with an empty environment.
fn run_alone(folder: &Path, args: &[&str]) -> Output {
    let mut command = if nix::unistd::geteuid().is_root() {
        let mut c = Command::new(support::which("chroot").expect("chroot (coreutils)"));
        c.arg(folder).arg("/rescue-wizard");
        c
    } else {
        Command::new(folder.join("rescue-wizard"))
    };
    let child = command
        .args(args)
        .current_dir(folder)
        .env_clear()
        // The demo writes its made-up image into the temporary folder: the empty one.
        .env(
            "TMPDIR",
            if nix::unistd::geteuid().is_root() {
                Path::new("/")
            } else {
                folder
            },
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::wait_child(child, DEADLINE)
}

#[test]
fn the_static_binary_runs_alone_in_an_empty_folder() {
    let Some(binary) = static_binary() else {
        return;
    };
    let bytes = std::fs::read(&binary).unwrap();
    assert!(
        !asks_for_a_loader(&bytes),
        "{} is linked dynamically",
        binary.display()
    );
    let folder = tempfile::tempdir().unwrap();
    let installed = folder.path().join("rescue-wizard");
    std::fs::copy(&binary, &installed).unwrap();
    let listing = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(), ["rescue-wizard"]);

    let help = run_alone(folder.path(), &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{help:?}");
    assert!(text.contains("Usage: rescue-wizard"), "{text}");
    assert!(text.contains("Exit status:"), "{text}");

    let devices = run_alone(folder.path(), &["devices"]);
    let text = String::from_utf8_lossy(&devices.stdout);
    assert!(devices.status.success(), "{devices:?}");
    assert!(text.contains("tl-wr841n-v9"), "{text}");

    let demo = run_alone(folder.path(), &["demo", "--plain", "--flash-seconds", "1"]);
    let text = String::from_utf8_lossy(&demo.stdout);
    let err = String::from_utf8_lossy(&demo.stderr);
    assert_eq!(demo.status.code(), Some(0), "{text}\n{err}");
    assert!(!text.is_empty(), "the demo printed its run");
    // The demo leaves nothing behind but the binary itself.
    assert_eq!(listing(), ["rescue-wizard"]);
}

#[test]
fn the_loader_check_tells_static_from_dynamic() {
    // This test binary itself is linked dynamically against glibc.
    let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert!(asks_for_a_loader(&own));
}

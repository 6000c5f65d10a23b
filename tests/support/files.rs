//! Files and folders for the tests: deterministic content, whole-file comparison with the
//! first difference named, folder listings, and a private mount namespace for tests that mount.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::thread;

use sha2::{Digest, Sha256};

use super::skip_or_fail;

/// `size` bytes of pseudo-random content, the same for the same `seed` on every run.
pub fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut bytes = vec![0; size];
    rng.fill(&mut bytes);
    bytes
}

/// Writes a file of `size` deterministic bytes named `name` into `dir`, and returns its path.
pub fn make_file(dir: &Path, name: &str, size: usize) -> PathBuf {
    let seed = name
        .bytes()
        .fold(size as u64, |acc, b| acc.rotate_left(5) ^ u64::from(b));
    let path = dir.join(name);
    std::fs::write(&path, content(size, seed))
        .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
    path
}

/// The file name the tests use for a file of `size` bytes.
pub fn sized_name(size: usize) -> String {
    format!("image-{size}.bin")
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> String {
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Asserts that `actual` holds exactly the bytes of `expected`; on a difference says where.
pub fn assert_same_file(expected: &Path, actual: &Path, what: &str) {
    let want = std::fs::read(expected)
        .unwrap_or_else(|err| panic!("{what}: reading {}: {err}", expected.display()));
    let got = std::fs::read(actual)
        .unwrap_or_else(|err| panic!("{what}: reading {}: {err}", actual.display()));
    if want != got {
        let first = want.iter().zip(&got).position(|(a, b)| a != b);
        panic!(
            "{what}: {} differs from {}: {} bytes expected, {} received, first difference at \
             {}; sha256 {} vs {}",
            actual.display(),
            expected.display(),
            want.len(),
            got.len(),
            first.map_or_else(|| "the end of the shorter".to_owned(), |at| at.to_string()),
            hex(&Sha256::digest(&want)),
            hex(&Sha256::digest(&got)),
        );
    }
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("listing a folder")
        .map(|e| {
            e.expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Runs `body` on a thread of its own in a private mount namespace (mounts made there, and
/// by the processes it starts, are not seen by the machine, and go with the namespace), after
/// `prepare` (the mounts the test needs) succeeded. `None` after saying why, when this
/// machine cannot: a skip by hand, a failure under CI ([`skip_or_fail`]).
pub fn in_private_mount_namespace<T: Send>(
    prepare: impl FnOnce() -> Result<T, String> + Send,
    body: impl FnOnce(&T) + Send,
) -> Option<()> {
    use nix::mount::MsFlags;
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("needs root for a private mount namespace");
        return None;
    }
    thread::scope(|scope| {
        scope
            .spawn(|| {
                // This thread's own mount namespace, nothing propagated back to the machine's.
                let private =
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).and_then(|()| {
                        nix::mount::mount(
                            None::<&str>,
                            "/",
                            None::<&str>,
                            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                            None::<&str>,
                        )
                    });
                if let Err(err) = private {
                    skip_or_fail(&format!("cannot make a private mount namespace: {err}"));
                    return None;
                }
                match prepare() {
                    Ok(prepared) => {
                        body(&prepared);
                        Some(())
                    }
                    Err(why) => {
                        skip_or_fail(&why);
                        None
                    }
                }
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

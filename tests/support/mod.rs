//! Shared by the integration tests and the benchmarks: whether a test can run here (the one
//! skip-unless-root-or-tool check), and, by topic, files ([`files`]), the process pump
//! ([`proc`]), the TFTP peers on loopback ([`peers`]), network namespaces ([`netns`]) and the
//! typed reader of `--json` events ([`events`]).
//!
//! Nothing here sleeps to synchronise or uses a fixed port: servers are bound to port 0 and
//! report where they listen (rescue-wizard prints it; tftpd-hpa and atftpd are handed a socket
//! the test bound itself, as inetd would), and every wait has a deadline.

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod events;
pub mod files;
pub mod netns;
pub mod peers;
pub mod proc;

// Callers name everything from `support::` directly, whichever file it lives in (each test
// crate uses a different part, so a re-export may go unused in one of them).
#[allow(unused_imports)]
pub use files::*;
#[allow(unused_imports)]
pub use netns::*;
#[allow(unused_imports)]
pub use peers::*;
#[allow(unused_imports)]
pub use proc::*;

/// Longest a server may take to say it is listening.
pub const READY_DEADLINE: Duration = Duration::from_secs(15);
/// Longest one transfer of a small file may take on loopback.
pub const SHORT_DEADLINE: Duration = Duration::from_secs(30);
/// Longest one transfer of a file of tens of MiB may take on loopback (lock-step, debug build).
pub const LONG_DEADLINE: Duration = Duration::from_mins(4);

/// The environment variable naming atftpd's binary (Debian's atftpd and tftpd-hpa conflict, so
/// `.ci/run` unpacks atftpd into a folder of its own and exports this).
pub const ATFTPD_ENV: &str = "RESCUE_WIZARD_ATFTPD";
/// Where `.ci/run` unpacks atftpd when the variable is not set.
pub const ATFTPD_DEFAULT: &str = "/opt/rescue-wizard-ci/atftpd/usr/sbin/atftpd";

/// 512-byte blocks before the block number wraps.
pub const ROLLOVER_EXACT: usize = 65_535 * 512;
/// Past the wrap: 65 537 full blocks and a short one.
pub const ROLLOVER_PAST: usize = 65_537 * 512 + 123;
/// The sizes every peer is tried with: empty, one byte, around one 512-byte block, a few MiB.
pub const EDGE_SIZES: &[usize] = &[0, 1, 511, 512, 513, 3 * 1024 * 1024 + 7];

/// [`EDGE_SIZES`] without the empty file, for curl when it sends options: curl 7.88 asks for
/// `tsize`, and rejects the OACK `tsize 0` that every server (tftpd-hpa, atftpd too) sends for an
/// empty file ("TFTP illegal operation", exit 71). The empty file is fetched with
/// `--tftp-no-options` instead.
pub const CURL_OPTION_SIZES: &[usize] = &[1, 511, 512, 513, 3 * 1024 * 1024 + 7];

/// Whether we run under CI, where a missing tool is a failure and not a skip.
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|value| !value.is_empty())
}

/// Reports a missing prerequisite: a skip (with the reason on stderr) when run by hand, a
/// failure under CI.
pub fn skip_or_fail(why: &str) {
    assert!(
        !ci(),
        "{why}; CI is set, so this is a failure (.ci/run installs it)"
    );
    eprintln!("skipped: {why} (`bash .ci/run` installs every peer the tests use)");
}

/// Looks `name` up in PATH and the sbin folders (daemons live there, and PATH may lack them).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The tool `name`, or `None` after [`skip_or_fail`] when it is not installed.
pub fn require(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        skip_or_fail(&format!("`{name}` is not installed"));
    }
    found
}

/// Whether a test that needs root and `tools` (each with its Debian package) can run here;
/// when it cannot, says why and skips, or fails under CI ([`skip_or_fail`]). The one check
/// every namespace and host-network test starts with.
pub fn root_and_tools(tools: &[(&str, &str)]) -> bool {
    let why = if nix::unistd::geteuid().is_root() {
        tools
            .iter()
            .find(|(tool, _)| which(tool).is_none())
            .map(|(tool, package)| format!("needs `{tool}` (Debian package {package})"))
    } else {
        Some("needs root for its network namespaces".to_owned())
    };
    match why {
        None => true,
        Some(why) => {
            skip_or_fail(&why);
            false
        }
    }
}

/// atftpd's binary: `$RESCUE_WIZARD_ATFTPD`, else `atftpd` on PATH, else where `.ci/run` puts it.
pub fn require_atftpd() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ATFTPD_ENV) {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Some(path);
        }
        skip_or_fail(&format!(
            "{ATFTPD_ENV}={} is not an executable file",
            path.display()
        ));
        return None;
    }
    let found = which("atftpd").or_else(|| {
        let default = PathBuf::from(ATFTPD_DEFAULT);
        is_executable(&default).then_some(default)
    });
    if found.is_none() {
        skip_or_fail(&format!(
            "atftpd is not installed (not on PATH, not at {ATFTPD_DEFAULT}, {ATFTPD_ENV} unset)"
        ));
    }
    found
}

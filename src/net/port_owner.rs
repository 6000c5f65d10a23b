//! Which process holds a UDP port, so that "port 69 is taken" can name the culprit.
//!
//! Read by hand from procfs: no maintained crate maps a socket to its process without
//! pulling in a whole process-inspection stack, and the format is small and stable.

use std::fs;

/// A process found holding a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortOwner {
    /// Process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
}

/// Whether any socket on this host (of any user) is bound to UDP `port`, from the kernel's
/// socket tables; `None` when they cannot be read (not Linux).
pub fn udp_port_bound(port: u16) -> Option<bool> {
    let mut readable = false;
    let mut bound = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        bound |= text.lines().skip(1).any(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|local| local.rsplit_once(':'))
                .is_some_and(|(_, hex)| u16::from_str_radix(hex, 16) == Ok(port))
        });
    }
    readable.then_some(bound)
}

/// Finds the processes that have a UDP socket bound to `port` (IPv4 or IPv6). Empty when
/// none is found or procfs cannot be read (another user's processes need privileges).
pub fn udp_port_owners(port: u16) -> Vec<PortOwner> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                continue;
            };
            let Some((_, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            if u16::from_str_radix(hex_port, 16) == Ok(port) && *inode != "0" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut owners = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return owners;
    };
    for entry in procs.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
        });
        if holds {
            let name = fs::read_to_string(entry.path().join("comm"))
                .map_or_else(|_| "?".into(), |s| s.trim().to_owned());
            owners.push(PortOwner { pid, name });
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_holding_a_port() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let owners = udp_port_owners(port);
        assert!(
            owners.iter().any(|o| o.pid == std::process::id()),
            "{owners:?}"
        );
    }
}

//! A simulated bootloader for `rescue-wizard demo`: it "powers on", asks for the rescue
//! address by ARP, fetches the image from our server over loopback with a real TFTP read
//! request, "writes its flash", and comes back at its post-flash address. Its wire frames
//! are made up (nothing is captured); its transfer is real.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::plan::Plan;
use crate::net::wire::{ArpKind, EchoKind, Mac, Seen, TftpKind, WireEvent};
use crate::tftp::client::{self, ClientConfig};

/// The bootloader's hardware address in the demo (TP-Link's recovery U-Boot uses this one).
const BOOTLOADER_MAC: Mac = Mac([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41]);
/// The flashed system's hardware address.
const SYSTEM_MAC: Mac = Mac([0x14, 0xcc, 0x20, 0x0d, 0x8a, 0x41]);

/// A simulated router, started when the run begins to wait.
#[derive(Debug)]
pub struct SimulatedRouter {
    /// How long it takes to react after power-on.
    pub boot: Duration,
    wire_tx: mpsc::UnboundedSender<Seen>,
    wire_rx: mpsc::UnboundedReceiver<Seen>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Default for SimulatedRouter {
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

impl SimulatedRouter {
    /// A router that asks for its image `boot` after being switched on.
    pub fn new(boot: Duration) -> Self {
        let (wire_tx, wire_rx) = mpsc::unbounded_channel();
        Self {
            boot,
            wire_tx,
            wire_rx,
            stop: Arc::new(AtomicBool::new(false)),
            task: None,
        }
    }

    /// Switches the router on: it will fetch the image from `server` and then flash it.
    pub fn power_on(&mut self, server: Option<SocketAddr>, plan: Plan) {
        let Some(server) = server else {
            return;
        };
        let wire = self.wire_tx.clone();
        let stop = Arc::clone(&self.stop);
        let boot = self.boot;
        self.task = Some(tokio::spawn(async move {
            behave(server, &plan, boot, &wire, stop).await;
        }));
    }

    /// The next frame the simulated router "sent".
    pub async fn wire(&mut self) -> Option<Seen> {
        self.wire_rx.recv().await
    }

    /// Stops the router's task.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for SimulatedRouter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn send(wire: &mpsc::UnboundedSender<Seen>, event: WireEvent) {
    let _ = wire.send(Seen {
        at: SystemTime::now(),
        event,
    });
}

async fn behave(
    server: SocketAddr,
    plan: &Plan,
    boot: Duration,
    wire: &mpsc::UnboundedSender<Seen>,
    stop: Arc<AtomicBool>,
) {
    let router = plan.router.unwrap_or(Ipv4Addr::new(192, 168, 0, 86));
    let host = plan.host.map_or(Ipv4Addr::new(192, 168, 0, 66), |h| h.addr);
    let file = plan.file().unwrap_or("recovery.bin").to_owned();
    // The time a technician takes to switch the router on with the button held.
    tokio::time::sleep(boot).await;
    send(
        wire,
        WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: router,
            sender_mac: BOOTLOADER_MAC,
            target_ip: host,
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(
        wire,
        WireEvent::Tftp {
            op: TftpKind::Read,
            file: file.clone(),
            from: SocketAddrV4::new(router, 1024),
            mac: BOOTLOADER_MAC,
            to: host,
            ttl: 64,
        },
    );
    let dir =
        std::env::temp_dir().join(format!("rescue-wizard-demo-router-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let (events, _ignored) = mpsc::unbounded_channel();
    // Like U-Boot: no options, 512-byte blocks, lock-step.
    let fetched = client::get(
        server,
        file,
        dir.join("flash"),
        ClientConfig::default(),
        events,
        Arc::clone(&stop),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    if fetched.is_err() || stop.load(Ordering::Relaxed) {
        return;
    }
    // Writing flash: silent, then the new system announces itself.
    tokio::time::sleep(plan.flash / 2).await;
    let after = plan.after.unwrap_or(router);
    send(
        wire,
        WireEvent::Arp {
            op: ArpKind::Gratuitous,
            sender_ip: after,
            sender_mac: SYSTEM_MAC,
            target_ip: after,
        },
    );
    send(
        wire,
        WireEvent::Echo {
            op: EchoKind::Reply,
            from: after,
            mac: SYSTEM_MAC,
            to: host,
            ttl: 64,
        },
    );
}

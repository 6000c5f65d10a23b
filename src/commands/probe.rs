//! `rescue-wizard probe`: ARP and ICMP echo to one address, one line per answer.

use std::time::Duration;

use crate::cli::ProbeArgs;
use crate::{Outcome, UsageError};

/// `rescue-wizard probe`: ARP and/or ICMP echo to one address, one line per answer.
pub(super) async fn probe(args: ProbeArgs) -> anyhow::Result<Outcome> {
    use crate::net::probe::{ArpProber, Pinger, ProbeError};

    let wait = Duration::from_secs(1);
    let count = crate::settings::layer(args.count, None, crate::settings::PROBE_COUNT);
    let both = !args.arp && !args.ping;
    let target = args.address;
    let answered = tokio::task::spawn_blocking(move || -> Result<bool, ProbeError> {
        let mut all = true;
        if args.arp || both {
            let mut prober = ArpProber::open(&args.interface)?;
            let mut any = false;
            for n in 0..count {
                let tried = std::time::Instant::now();
                match prober.probe(target, wait)? {
                    Some(a) => {
                        any = true;
                        let ms = a.after.as_secs_f64() * 1000.0;
                        println!("arp reply from {target}: {} in {ms:.2} ms", a.mac);
                    }
                    None => println!("arp: no reply from {target} within 1 s"),
                }
                if n + 1 < count {
                    std::thread::sleep(wait.saturating_sub(tried.elapsed()));
                }
            }
            all &= any;
        }
        if args.ping || both {
            let mut pinger = Pinger::open(Some(&args.interface))?;
            let mut any = false;
            for seq in 1..=count {
                let tried = std::time::Instant::now();
                match pinger.echo(target, seq, wait)? {
                    Some(e) => {
                        any = true;
                        let ms = e.after.as_secs_f64() * 1000.0;
                        let ttl = e.ttl.map_or_else(|| "?".to_owned(), |t| t.to_string());
                        println!("echo reply from {target}: seq {seq} ttl {ttl} in {ms:.2} ms");
                    }
                    None => println!("ping: no reply from {target} (seq {seq}) within 1 s"),
                }
                if seq < count {
                    std::thread::sleep(wait.saturating_sub(tried.elapsed()));
                }
            }
            all &= any;
        }
        Ok(all)
    })
    .await?;
    match answered {
        // Exit 1, as a failed check: the address did not answer.
        Ok(true) => Ok(Outcome::Done),
        Ok(false) => Ok(Outcome::ChecksFailed),
        Err(
            err @ (ProbeError::NotPermitted { .. }
            | ProbeError::NoSuchInterface { .. }
            | ProbeError::NotEthernet { .. }
            | ProbeError::Unsupported),
        ) => Err(UsageError::from_source(err).into()),
        Err(err) => Err(err.into()),
    }
}

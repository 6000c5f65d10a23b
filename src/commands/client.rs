//! What `push` and `get` share: a client transfer with a progress view and Ctrl-C, its
//! settings, and the image read once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::StopSignals;
use crate::tftp::client::{self, ClientConfig, ClientError};
use crate::tftp::event::TransferEvent;
use crate::tftp::options::ClientOptions;
use crate::ui::progress::TransferView;
use crate::{Outcome, UsageError};

pub(super) fn read_image(path: &Path) -> Result<Arc<[u8]>, UsageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes.into()),
        Err(err) => Err(UsageError::with_source(
            format!(
                "cannot read the image {}: {err}.\n  fix: check the path (rescue-wizard never modifies the image)",
                path.display()
            ),
            err,
        )),
    }
}

/// Runs a client transfer with a progress view and Ctrl-C handling.
pub(super) async fn run_client<F>(
    transfer: impl FnOnce(mpsc::UnboundedSender<TransferEvent>, Arc<AtomicBool>) -> F,
) -> anyhow::Result<Outcome>
where
    F: Future<Output = Result<client::Transferred, ClientError>> + Send + 'static,
{
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut task = tokio::spawn(transfer(events_tx, Arc::clone(&stop)));
    let mut view = TransferView::new();
    let mut signals = StopSignals::install()?;
    let result = loop {
        tokio::select! {
            () = signals.requested() => stop.store(true, Ordering::Relaxed),
            Some(event) = events.recv() => view.show(&event),
            result = &mut task => break result?,
        }
    };
    while let Ok(event) = events.try_recv() {
        view.show(&event);
    }
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(ClientError::Output(message)) => Err(UsageError::new(message).into()),
        Err(err) => Err(err.into()),
    }
}

pub(super) fn client_config(
    blksize: Option<u16>,
    windowsize: Option<u16>,
    wait: Duration,
) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            blksize,
            windowsize,
            ..ClientOptions::default()
        },
        wait,
        ..ClientConfig::default()
    }
}

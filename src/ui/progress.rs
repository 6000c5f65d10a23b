//! The non-interactive front-end: an indicatif bar per transfer on a terminal, plain lines
//! otherwise. Summaries (one line per finished or failed transfer) go to standard output so
//! scripts can read them; everything else goes to standard error.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::tftp::event::{RequestKind, TransferEvent, TransferId};
use crate::tftp::server::describe_options;

/// Shows transfer events as progress bars and lines.
pub struct TransferView {
    multi: MultiProgress,
    bars: HashMap<TransferId, ProgressBar>,
    interactive: bool,
    /// Transfers that ended well.
    pub finished: u32,
    /// Transfers that failed.
    pub failed: u32,
}

impl Default for TransferView {
    fn default() -> Self {
        Self::new()
    }
}

/// Bars on standard error when it is a terminal (redrawn ten times a second), none otherwise;
/// and whether they are drawn.
pub fn bars_on_stderr() -> (MultiProgress, bool) {
    let interactive = std::io::stderr().is_terminal();
    let target = if interactive {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    };
    (MultiProgress::with_draw_target(target), interactive)
}

impl TransferView {
    /// A view that draws bars only when standard error is a terminal.
    pub fn new() -> Self {
        let (multi, interactive) = bars_on_stderr();
        Self {
            multi,
            bars: HashMap::new(),
            interactive,
            finished: 0,
            failed: 0,
        }
    }

    fn note(&self, line: &str) {
        if self.interactive {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    fn summary(&self, line: &str) {
        if self.interactive {
            self.multi.suspend(|| println!("{line}"));
        } else {
            println!("{line}");
        }
        let _ = std::io::stdout().flush();
    }

    fn bar(&mut self, id: TransferId, total: Option<u64>) -> &ProgressBar {
        let multi = &self.multi;
        self.bars.entry(id).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
            let template = if total.is_some() {
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}"
            } else {
                "{prefix} {spinner} {bytes} {bytes_per_sec} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(id.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        })
    }

    fn close(&mut self, id: TransferId) {
        if let Some(bar) = self.bars.remove(&id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Shows one event.
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per transfer event, each a line or a bar update: splitting scatters the one mapping"
    )]
    pub fn show(&mut self, event: &TransferEvent) {
        match event {
            TransferEvent::Listening { .. } => {}
            TransferEvent::RequestReceived {
                id,
                peer,
                local,
                name,
                kind,
                options,
            } => {
                let verb = match kind {
                    RequestKind::Read => "reads",
                    RequestKind::Write => "writes",
                };
                let options = if options.is_empty() {
                    "no options".to_owned()
                } else {
                    describe_options(options)
                };
                self.note(&format!(
                    "{id} {peer} {verb} \"{name}\" via {local} ({options})"
                ));
            }
            TransferEvent::RequestRefused {
                peer,
                name,
                code,
                reason,
            } => {
                self.note(&format!("refused {peer} \"{name}\" with {code}: {reason}"));
            }
            TransferEvent::RequestIgnored { peer, reason } => {
                self.note(&format!("ignored a datagram from {peer}: {reason}"));
            }
            TransferEvent::OptionsAgreed {
                id,
                blksize,
                windowsize,
                tsize,
                ignored,
                ..
            } => {
                let bar = self.bar(*id, *tsize);
                bar.set_message(format!("blksize {blksize} window {windowsize}"));
                for (option, why) in ignored {
                    self.note(&format!(
                        "{id} option {}={} not granted: {why}",
                        option.name, option.value
                    ));
                }
            }
            TransferEvent::Progress {
                id, bytes, total, ..
            } => {
                let bar = self.bar(*id, *total);
                if let Some(total) = total {
                    bar.set_length(*total);
                }
                bar.set_position(*bytes);
            }
            TransferEvent::Retransmitted {
                id,
                timeouts,
                resent,
            } => {
                if let Some(bar) = self.bars.get(id) {
                    bar.set_message(format!("{timeouts} timeouts, {resent} blocks resent"));
                }
            }
            TransferEvent::SendFailed { peer, error, .. } => {
                self.note(&format!(
                    "could not send to {peer}: {error} (a local firewall or a link that is down drops our packets; rescue-wizard keeps retrying)"
                ));
            }
            TransferEvent::StrayPacket { id, from } => {
                self.note(&format!(
                    "{id} a stranger at {from} sent to this transfer's port; answered with ERROR 5"
                ));
            }
            TransferEvent::OptionsRefused { id, peer } => {
                self.close(*id);
                self.note(&format!(
                    "{id} {peer} refused our options; it may ask again without them"
                ));
            }
            TransferEvent::Finished {
                id,
                peer,
                name,
                bytes,
                elapsed,
                sha256,
                confirmed,
                stats,
                kept,
            } => {
                self.close(*id);
                self.finished += 1;
                let secs = elapsed.as_secs_f64();
                let rate = if secs > 0.0 {
                    *bytes as f64 / secs / 1e6
                } else {
                    0.0
                };
                let end = if *confirmed {
                    "done"
                } else {
                    "sent, final ACK not seen (the device may be writing flash now: do not power it off)"
                };
                let kept = if *kept {
                    " (sent from memory: the file is unchanged since it was last sent whole)"
                } else {
                    ""
                };
                self.summary(&format!(
                    "{end} {id} {peer} \"{name}\" {bytes} bytes in {secs:.2} s ({rate:.2} MB/s) sha256 {sha256} resent {}{kept}",
                    stats.data_resent
                ));
            }
            TransferEvent::Failed {
                id,
                peer,
                name,
                reason,
            } => {
                self.close(*id);
                self.failed += 1;
                self.summary(&format!("failed {id} {peer} \"{name}\": {reason}"));
            }
        }
    }
}

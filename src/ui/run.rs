//! The recovery run's non-interactive front-end: on a terminal, a spinner while waiting (what
//! for, and for how long), a bar while transferring (bytes, rate, ETA) and the flashing
//! countdown, with every other event as a line above them; plain timestamped lines when the
//! output is not a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::engine::{Event, Phase};

/// Shows a run's events.
pub struct RunView {
    multi: MultiProgress,
    interactive: bool,
    started: Instant,
    spinner: Option<ProgressBar>,
    bar: Option<ProgressBar>,
    countdown: Option<ProgressBar>,
    /// The last tenth of the transfer printed as a plain line.
    printed_tenth: u64,
    /// Transfers started so far.
    transfers: u32,
    /// What the spinner waits for, as [`Event::WaitingForRouter`] set it.
    waiting_for: Option<String>,
    /// The last ten seconds of NMRP advertising printed as a plain line.
    advertising_told: Option<u64>,
}

impl Default for RunView {
    fn default() -> Self {
        Self::new()
    }
}

impl RunView {
    /// A view that draws bars only when standard error is a terminal.
    pub fn new() -> Self {
        let (multi, interactive) = super::progress::bars_on_stderr();
        Self {
            multi,
            interactive,
            started: Instant::now(),
            spinner: None,
            bar: None,
            countdown: None,
            printed_tenth: 0,
            transfers: 0,
            waiting_for: None,
            advertising_told: None,
        }
    }

    /// Whether bars are drawn (a question must then be asked between them).
    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// Runs `f` with the bars out of the way (for a question on the terminal).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    fn line(&self, text: &str) {
        if self.interactive {
            // Suspending draws the line above the bars at once, also when no bar is shown
            // (a `println` with nothing to draw would wait for the next bar).
            self.multi.suspend(|| eprintln!("{text}"));
        } else {
            let at = self.started.elapsed().as_secs_f64();
            let mut out = std::io::stdout().lock();
            for (n, line) in text.lines().enumerate() {
                if n == 0 {
                    let _ = writeln!(out, "{at:8.3}  {line}");
                } else {
                    let _ = writeln!(out, "          {line}");
                }
            }
            let _ = out.flush();
        }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn clear(slot: &mut Option<ProgressBar>, multi: &MultiProgress) {
        if let Some(bar) = slot.take() {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
    }

    /// A spinner below the lines, ticking at once.
    fn new_spinner(&self, template: &str, message: Option<String>) -> ProgressBar {
        let spinner = self.multi.add(ProgressBar::new_spinner());
        spinner.set_style(Self::style(template));
        if let Some(message) = message {
            spinner.set_message(message);
        }
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }

    /// Shows one event.
    pub fn show(&mut self, event: &Event) {
        match event {
            Event::WaitingForRouter { what, timeout } => self.waiting(event, what, *timeout),
            Event::PhaseStarted { phase } => self.phase_started(event, *phase),
            Event::TransferStarted { total, .. } => self.transfer_started(event, *total),
            Event::TransferProgressed {
                bytes,
                total,
                timeouts,
                ..
            } => self.transfer_progressed(event, *bytes, *total, *timeouts),
            Event::TransferFinished { .. } | Event::TransferFailed { .. } => {
                Self::clear(&mut self.bar, &self.multi);
                self.line(&event.to_string());
            }
            // The run ends before the router could be served: nothing is waited for any more.
            Event::PreflightFailed { .. }
            | Event::NetworkSetupFailed { .. }
            | Event::ServerStartFailed { .. }
            | Event::DhcpProbed { stopped: true, .. } => self.ended_before_serving(event),
            Event::FlashingStarted { expected, .. } => self.flashing_started(event, *expected),
            Event::FlashingCountdown { remaining } => self.flashing_countdown(event, *remaining),
            Event::RouterBack { .. } | Event::Finished { .. } => {
                Self::clear(&mut self.countdown, &self.multi);
                Self::clear(&mut self.spinner, &self.multi);
                self.line(&event.to_string());
            }
            Event::NmrpAdvertising { sent, since } => self.nmrp_advertising(event, *sent, *since),
            // The full checklist is shown when the run stalls or fails, not at each change.
            Event::ChecklistUpdated { .. } => {}
            _ => self.line(&event.to_string()),
        }
    }

    /// The run waits for the router: a spinner says what for and for how long.
    fn waiting(&mut self, event: &Event, what: &str, timeout: Duration) {
        self.line(&event.to_string());
        if self.interactive {
            let waiting_for = format!("{} s for {what}", timeout.as_secs());
            self.spinner = Some(self.new_spinner(
                "{spinner} waiting {elapsed} of {msg}",
                Some(waiting_for.clone()),
            ));
            self.waiting_for = Some(waiting_for);
        }
    }

    /// A new phase: the bars of the phases left behind go.
    fn phase_started(&mut self, event: &Event, phase: Phase) {
        if phase != Phase::Waiting {
            Self::clear(&mut self.spinner, &self.multi);
        }
        if phase != Phase::Transfer {
            Self::clear(&mut self.bar, &self.multi);
        }
        if phase == Phase::Waiting
            && self.interactive
            && self.spinner.is_none()
            && self.transfers > 0
        {
            // Back to waiting after a failed attempt: the spinner returns.
            self.spinner = Some(self.new_spinner(
                "{spinner} waiting for the router to ask again {elapsed}",
                None,
            ));
        }
        if phase == Phase::Done {
            Self::clear(&mut self.countdown, &self.multi);
        }
        self.line(&event.to_string());
    }

    /// A transfer began: the spinner gives way to a bar of `total` bytes.
    fn transfer_started(&mut self, event: &Event, total: u64) {
        Self::clear(&mut self.spinner, &self.multi);
        self.line(&event.to_string());
        self.printed_tenth = 0;
        self.transfers += 1;
        if self.interactive && self.bar.is_none() {
            let bar = self.multi.add(ProgressBar::new(total));
            bar.set_style(Self::style(
                "[{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            ));
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
    }

    /// The transfer moved on: the bar follows; plain lines tell each tenth once.
    fn transfer_progressed(&mut self, event: &Event, bytes: u64, total: u64, timeouts: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(bytes);
            if timeouts > 0 {
                bar.set_message(format!("{timeouts} resends"));
            }
        } else if !self.interactive && total > 0 {
            let tenth = bytes.saturating_mul(10) / total;
            if tenth > self.printed_tenth {
                self.printed_tenth = tenth;
                self.line(&event.to_string());
            }
        }
    }

    /// The run ends before the router could be served: no spinner, no bar.
    fn ended_before_serving(&mut self, event: &Event) {
        Self::clear(&mut self.spinner, &self.multi);
        Self::clear(&mut self.bar, &self.multi);
        self.line(&event.to_string());
    }

    /// The router writes its flash: a countdown bar of the `expected` seconds.
    fn flashing_started(&mut self, event: &Event, expected: Duration) {
        self.line(&event.to_string());
        if self.interactive {
            let bar = self.multi.add(ProgressBar::new(expected.as_secs()));
            bar.set_style(Self::style(
                "flashing [{bar:32}] {msg} - do not switch the router off",
            ));
            bar.set_message(format!("{} s left", expected.as_secs()));
            self.countdown = Some(bar);
        }
    }

    /// The countdown moves; plain lines tell it every 30 seconds.
    fn flashing_countdown(&mut self, event: &Event, remaining: Duration) {
        if let Some(bar) = &self.countdown {
            let total = bar.length().unwrap_or(0);
            bar.set_position(total.saturating_sub(remaining.as_secs()));
            bar.set_message(format!("{} s left", remaining.as_secs()));
        } else if !self.interactive && remaining.as_secs().is_multiple_of(30) {
            // Zero comes once: "should be done by now".
            self.line(&event.to_string());
        }
    }

    /// The count ticks on the spinner; plain lines tell it every ten seconds.
    fn nmrp_advertising(&mut self, event: &Event, sent: u32, since: Duration) {
        if let Some(spinner) = &self.spinner {
            let base = self.waiting_for.as_deref().unwrap_or("the router's answer");
            spinner.set_message(format!("{base}; {sent} advertisement(s) sent"));
        } else if !self.interactive {
            let tens = since.as_secs() / 10;
            if self.advertising_told.is_none_or(|told| tens > told) {
                self.advertising_told = Some(tens);
                self.line(&event.to_string());
            }
        }
    }
}

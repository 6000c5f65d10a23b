//! What the engine says during a run, taken into the live screen's state: the feed, the gauge,
//! the checklist, and each method's own pane (NMRP, console).

use std::time::Duration;

use super::super::console::ConsolePane;
use super::super::model::{
    Effect, FeedKind, FeedLine, Flashing, Gauge, Hint, Model, RunState, Screen, StepNow,
};
use crate::engine::plan;
use crate::engine::{Command, Event, Phase, RunOutcome};
use crate::net::observe::{Remedy, WireSign};

/// One engine event taken into the live screen: each method's pane, the run's state, and the
/// feed line it adds (if any).
pub(super) fn engine_event(model: &mut Model, at: Duration, event: &Event) -> Vec<Effect> {
    let Some(run) = model.run.as_mut() else {
        return Vec::new();
    };
    let since = at.saturating_sub(run.started);
    let mut effects = Vec::new();
    if model
        .plan
        .as_ref()
        .is_some_and(|p| matches!(p.transfer, plan::Transfer::Nmrp { .. }))
    {
        super::super::nmrp::on_event(&mut run.nmrp, since, event);
    }
    let kind = match event {
        Event::ConsoleOpened { .. }
        | Event::ConsoleTyped { .. }
        | Event::ConsoleAwaiting { .. }
        | Event::ConsoleCrc { .. }
        | Event::ConsoleFlash { .. }
        | Event::ConsoleRamBoot { .. }
        | Event::ConsoleWriteAsked { .. }
        | Event::ConsoleLine { .. }
        | Event::ConsoleTranscript { .. } => console_event(run, event),
        Event::TransferProgressed { .. }
        | Event::TransferFinished { .. }
        | Event::TransferFailed { .. }
        | Event::FlashingStarted { .. }
        | Event::FlashingCountdown { .. } => transfer_event(run, event),
        _ => run_event(run, event, &mut effects),
    };
    if let Event::WaitingForRouter { what, timeout } = event {
        run.waiting = Some((what.clone(), *timeout, at));
    }
    if matches!(
        event,
        Event::RequestReceived { .. } | Event::TransferStarted { .. } | Event::RouterBack { .. }
    ) && matches!(run.hint, Some(Hint::Stalled { .. }))
    {
        run.hint = None;
    }
    if let Event::TransferStarted { total, .. } = event {
        run.gauge = Some(Gauge {
            total: *total,
            ..Gauge::default()
        });
    }
    if matches!(
        event,
        Event::TransferFinished { .. } | Event::FlashingStarted { .. }
    ) && matches!(run.hint, Some(Hint::Adopt { .. }))
    {
        // The image arrived: the router found this computer after all.
        run.hint = None;
    }
    if let Some(kind) = kind {
        let first = match event {
            // The checklist has a panel of its own.
            Event::Stalled { what, .. } => format!("stalled: {what}"),
            other => other
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        run.feed.push(FeedLine {
            at: since,
            kind,
            text: first,
        });
        if run.scroll > 0 {
            // Keep the lines being read in place while new ones arrive.
            run.scroll += 1;
        }
    }
    if matches!(event, Event::Finished { .. }) && model.screen == Screen::Live {
        run.scroll = 0;
        model.screen = Screen::Done;
    }
    effects
}

/// A console event into the console pane: what the feed shows it as, if at all.
fn console_event(run: &mut RunState, event: &Event) -> Option<FeedKind> {
    match event {
        Event::ConsoleOpened { port, baud } => {
            run.console = Some(ConsolePane::opened(port, *baud));
            Some(FeedKind::Info)
        }
        Event::ConsoleTyped { .. } => {
            // Entered: no longer about to be typed; what it must answer stays awaited.
            if let Some(pane) = run.console.as_mut() {
                pane.next = None;
            }
            Some(FeedKind::Info)
        }
        // The pane shows it; the feed has the command once typed.
        Event::ConsoleAwaiting { next, what } => {
            if let Some(pane) = run.console.as_mut() {
                pane.next.clone_from(next);
                pane.waiting = Some(what.clone());
            }
            None
        }
        Event::ConsoleCrc {
            region,
            ours,
            theirs,
            equal,
        } => {
            // Compared: what it waited for has come; the verdict stays until the next one.
            if let Some(pane) = run.console.as_mut() {
                let verdict = if *equal { "equal" } else { "DIFFERENT" };
                pane.crc = Some((
                    format!("{region}: bootloader {theirs}, ours {ours}, {verdict}"),
                    *equal,
                ));
                pane.waiting = None;
            }
            Some(if *equal {
                FeedKind::Good
            } else {
                FeedKind::Problem
            })
        }
        Event::ConsoleFlash { state, .. } => {
            // The dialogue is over: nothing more is typed or awaited.
            if let Some(pane) = run.console.as_mut() {
                pane.next = None;
                pane.waiting = None;
            }
            Some(match state.as_str() {
                "verified" => FeedKind::Good,
                "untouched" => FeedKind::Notice,
                _ => FeedKind::Problem,
            })
        }
        Event::ConsoleRamBoot {
            command, chosen, ..
        } => {
            super::ram_boot::offered(run, command, *chosen);
            Some(FeedKind::Info)
        }
        Event::ConsoleWriteAsked { what, .. } => {
            run.write_asked = Some(what.clone());
            if let Some(pane) = run.console.as_mut() {
                pane.next = None;
                pane.waiting = Some("your answer: y writes the flash, n leaves it as it is".into());
            }
            Some(FeedKind::Notice)
        }
        Event::ConsoleLine { line } => {
            if let Some(pane) = run.console.as_mut() {
                pane.line(line);
            }
            Some(FeedKind::Wire)
        }
        // The whole transcript (`ConsoleTranscript`) is the report's; its lines were in the
        // feed as they came.
        _ => None,
    }
}

/// A transfer or flashing event into the gauge and the countdown.
fn transfer_event(run: &mut RunState, event: &Event) -> Option<FeedKind> {
    match event {
        Event::TransferProgressed {
            bytes,
            total,
            rate,
            timeouts,
        } => {
            run.gauge = Some(Gauge {
                bytes: *bytes,
                total: *total,
                rate: *rate,
                timeouts: *timeouts,
                finished: false,
                took: None,
            });
            None
        }
        Event::TransferFinished { bytes, took, .. } => {
            let gauge = run.gauge.get_or_insert_with(Gauge::default);
            gauge.bytes = *bytes;
            gauge.total = gauge.total.max(*bytes);
            gauge.finished = true;
            gauge.took = Some(*took);
            if !took.is_zero() {
                // The whole transfer's average, as the done screen tells it.
                gauge.rate = (*bytes as f64 / took.as_secs_f64()) as u64;
            }
            Some(FeedKind::Good)
        }
        Event::TransferFailed { .. } => {
            run.gauge = None;
            Some(FeedKind::Problem)
        }
        Event::FlashingStarted { expected, after } => {
            run.flashing = Some(Flashing {
                expected: *expected,
                remaining: *expected,
                after: *after,
            });
            Some(FeedKind::Notice)
        }
        Event::FlashingCountdown { remaining } => {
            if let Some(flashing) = run.flashing.as_mut() {
                flashing.remaining = *remaining;
            }
            None
        }
        _ => None,
    }
}

/// The run's own events (phases, host changes, steps, findings, the checklist, the end) into
/// the live screen's state; the rest only into the feed ([`feed_kind`]).
fn run_event(run: &mut RunState, event: &Event, effects: &mut Vec<Effect>) -> Option<FeedKind> {
    match event {
        Event::PhaseStarted { phase } => {
            run.phase = Some(*phase);
            if *phase != Phase::Transfer && *phase != Phase::Waiting {
                run.waiting = None;
            }
            Some(FeedKind::Info)
        }
        Event::ConsentNeeded { .. } => {
            // Screen 4's confirmation is the consent.
            effects.push(Effect::Send(Command::Approve));
            Some(FeedKind::Info)
        }
        Event::NetworkChanged { change } => {
            run.changed.push(change.clone());
            Some(FeedKind::Info)
        }
        Event::NetworkRestored { change } => {
            run.restored.push(change.clone());
            Some(FeedKind::Good)
        }
        Event::Step {
            number,
            action,
            seconds,
            led,
        } => {
            run.step = Some(StepNow {
                number: *number,
                action: action.clone(),
                seconds: *seconds,
                led: led.clone(),
            });
            Some(FeedKind::Step)
        }
        Event::Noticed { finding } => {
            if let Some(Remedy::AdoptAddress { addr }) = finding.remedy()
                && !run.adopted.contains(&addr)
            {
                let router = match finding {
                    WireSign::WantsServerAddress { router, .. } => *router,
                    _ => addr,
                };
                run.hint = Some(Hint::Adopt { addr, router });
            }
            Some(FeedKind::Notice)
        }
        Event::ChecklistUpdated { checklist } => {
            run.checklist.clone_from(checklist);
            None
        }
        Event::Stalled {
            what,
            fix,
            checklist,
        } => {
            run.checklist.clone_from(checklist);
            if !matches!(run.hint, Some(Hint::Adopt { .. })) {
                run.hint = Some(Hint::Stalled {
                    what: what.clone(),
                    fix: fix.clone(),
                });
            }
            Some(FeedKind::Problem)
        }
        Event::Interrupted { advice, .. } => {
            run.interrupted = Some(advice.clone());
            Some(FeedKind::Notice)
        }
        Event::Finished {
            outcome,
            summary,
            checklist,
        } => {
            run.finished = Some((*outcome, summary.clone()));
            run.final_checklist.clone_from(checklist);
            run.hint = None;
            run.write_asked = None;
            Some(
                if matches!(outcome, RunOutcome::Flashed | RunOutcome::Transferred) {
                    FeedKind::Good
                } else {
                    FeedKind::Problem
                },
            )
        }

        _ => feed_kind(event),
    }
}

/// How an event that changes nothing on the screen but the feed is shown there. The match
/// names every event, so a new one fails the build until the wizard places it.
fn feed_kind(event: &Event) -> Option<FeedKind> {
    match event {
        Event::Planned { .. }
        | Event::Listening { .. }
        | Event::NetworkNoticed { .. }
        | Event::RequestReceived { .. }
        | Event::TransferStarted { .. }
        | Event::RouterLeft { .. }
        | Event::ReportWritten { .. }
        | Event::NmrpRouterAnswered { .. }
        | Event::NmrpConfigured { .. }
        | Event::NmrpUploadRequested { .. }
        | Event::NmrpKeepAlive { .. }
        | Event::DhcpLeased { .. }
        | Event::HttpPageDown { .. }
        | Event::HttpPageUp { .. }
        | Event::HttpRetrying { .. }
        | Event::HttpVerified { .. }
        | Event::HttpAnswered { .. }
        | Event::ConsoleNoted { .. }
        | Event::WaitingForRouter { .. } => Some(FeedKind::Info),
        Event::DhcpOtherServer { .. } | Event::NmrpLinkChanged { .. } => Some(FeedKind::Notice),
        Event::DhcpProbed {
            answered, stopped, ..
        } => Some(if *stopped {
            FeedKind::Problem
        } else if answered.is_empty() {
            FeedKind::Info
        } else {
            FeedKind::Notice
        }),
        Event::Checked { check } => Some(match check.verdict {
            crate::net::check::CheckOutcome::Pass => FeedKind::Good,
            crate::net::check::CheckOutcome::Warn => FeedKind::Notice,
            crate::net::check::CheckOutcome::Fail => FeedKind::Problem,
        }),
        Event::SelfTestPassed { .. } | Event::RouterBack { .. } | Event::NmrpClosed { .. } => {
            Some(FeedKind::Good)
        }
        Event::NetworkRestoreFailed { .. }
        | Event::SelfTestFailed { .. }
        | Event::PreflightFailed { .. }
        | Event::NetworkSetupFailed { .. }
        | Event::ServerStartFailed { .. }
        | Event::NmrpRejected { .. }
        | Event::NmrpRouterSilent { .. } => Some(FeedKind::Problem),
        // The console's lines are the bootloader's own words, as frames are the wire's.
        Event::Wire { .. } => Some(FeedKind::Wire),
        // The NMRP advertising count ticks in the NMRP lines above the feed. The rest are
        // placed by their family's step (console_event, transfer_event, run_event), listed
        // here so that every event is placed somewhere: a new one fails the build until the
        // wizard shows it.
        Event::NmrpAdvertising { .. }
        | Event::ConsoleOpened { .. }
        | Event::ConsoleTyped { .. }
        | Event::ConsoleAwaiting { .. }
        | Event::ConsoleCrc { .. }
        | Event::ConsoleFlash { .. }
        | Event::ConsoleRamBoot { .. }
        | Event::ConsoleWriteAsked { .. }
        | Event::ConsoleLine { .. }
        | Event::ConsoleTranscript { .. }
        | Event::TransferProgressed { .. }
        | Event::TransferFinished { .. }
        | Event::TransferFailed { .. }
        | Event::FlashingStarted { .. }
        | Event::FlashingCountdown { .. }
        | Event::PhaseStarted { .. }
        | Event::ConsentNeeded { .. }
        | Event::NetworkChanged { .. }
        | Event::NetworkRestored { .. }
        | Event::Step { .. }
        | Event::Noticed { .. }
        | Event::ChecklistUpdated { .. }
        | Event::Stalled { .. }
        | Event::Interrupted { .. }
        | Event::Finished { .. } => None,
    }
}

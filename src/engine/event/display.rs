//! [`Event`] in a technician's words: the one line (or few) that `--plain`, the report and the
//! wizard's feed show for each event. The index below names each event's text; the text itself
//! lives with its family (the run, the host, the transfer, after the transfer, the wire watch,
//! and one file per recovery method).

mod after;
mod console;
mod dhcp;
mod host;
mod http;
mod nmrp;
mod run;
mod transfer;
mod wire;

use std::fmt::{self, Display, Formatter};

use super::Event;

impl Display for Event {
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per event, each naming its family's text: splitting would scatter the one index"
    )]
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Event::Planned {
                device,
                model,
                interface,
                host,
                router,
                file,
                image,
                size,
                sha256,
                ..
            } => run::planned(
                f,
                &run::Planned {
                    device,
                    model,
                    interface: interface.as_deref(),
                    host: host.as_deref(),
                    router: *router,
                    file: file.as_deref(),
                    image,
                    size: *size,
                    sha256,
                },
            ),
            Event::PhaseStarted { phase } => run::phase_started(f, *phase),
            Event::Checked { check } => run::checked(f, check),
            Event::PreflightFailed { reason, blocking } => {
                run::preflight_failed(f, reason, blocking)
            }
            Event::ConsentNeeded { changes } => host::consent_needed(f, changes),
            Event::NetworkChanged { change } => host::changed(f, change),
            Event::NetworkNoticed { what } => host::noticed(f, what),
            Event::NetworkRestored { change } => host::restored(f, change),
            Event::NetworkRestoreFailed { change, error } => host::restore_failed(f, change, error),
            Event::NetworkSetupFailed { error } => host::setup_failed(f, error),
            Event::ServerStartFailed { error } => transfer::server_start_failed(f, error),
            Event::Listening { addr } => transfer::listening(f, addr),
            Event::SelfTestPassed { bytes, took } => transfer::self_test_passed(f, *bytes, *took),
            Event::SelfTestFailed { reason } => transfer::self_test_failed(f, reason),
            Event::Step {
                number,
                action,
                seconds,
                led,
            } => run::step(f, *number, action, *seconds, led.as_deref()),
            Event::WaitingForRouter { what, timeout } => run::waiting(f, what, *timeout),
            Event::Wire { wire } => wire::wire(f, wire),
            Event::Noticed { finding } => wire::noticed(f, finding),
            Event::RequestReceived { peer, file } => transfer::request_received(f, peer, file),
            Event::TransferStarted {
                peer,
                blksize,
                windowsize,
                total,
                ..
            } => transfer::started(f, peer, *blksize, *windowsize, *total),
            Event::TransferProgressed { bytes, total, .. } => {
                transfer::progressed(f, *bytes, *total)
            }
            Event::TransferFinished {
                peer,
                bytes,
                took,
                confirmed,
                ..
            } => transfer::finished(f, peer, *bytes, *took, *confirmed),
            Event::TransferFailed { peer, reason } => transfer::failed(f, peer.as_ref(), reason),
            Event::ChecklistUpdated { checklist } => run::checklist_updated(f, checklist),
            Event::Stalled {
                what,
                fix,
                checklist,
            } => run::stalled(f, what, fix.as_deref(), checklist),
            Event::FlashingStarted { expected, after } => {
                after::flashing_started(f, *expected, *after)
            }
            Event::FlashingCountdown { remaining } => after::flashing_countdown(f, *remaining),
            Event::RouterLeft { ip } => after::router_left(f, *ip),
            Event::RouterBack { ip, after } => after::router_back(f, *ip, *after),
            Event::Interrupted { advice, .. } => run::interrupted(f, advice),
            Event::Finished {
                outcome,
                summary,
                checklist,
            } => run::finished(f, *outcome, summary, checklist),
            Event::ReportWritten { path } => run::report_written(f, path),
            Event::NmrpRouterAnswered { mac } => nmrp::router_answered(f, mac),
            Event::NmrpConfigured {
                router,
                netmask,
                region,
            } => nmrp::configured(f, *router, *netmask, region.as_deref()),
            Event::NmrpUploadRequested { file, router_mac } => {
                nmrp::upload_requested(f, file, router_mac)
            }
            Event::NmrpKeepAlive {
                count,
                since_upload,
            } => nmrp::keep_alive(f, *count, *since_upload),
            Event::NmrpClosed {
                keep_alives,
                since_upload,
            } => nmrp::closed(f, *keep_alives, *since_upload),
            Event::NmrpRejected { why, causes } => nmrp::rejected(f, why, causes),
            Event::NmrpRouterSilent {
                keep_alives,
                since_upload,
            } => nmrp::router_silent(f, *keep_alives, *since_upload),
            Event::DhcpLeased {
                client,
                address,
                vendor_class,
                boot_file,
                bootp,
            } => dhcp::leased(
                f,
                client,
                *address,
                vendor_class.as_deref(),
                boot_file,
                *bootp,
            ),
            Event::DhcpOtherServer { said, .. } | Event::DhcpProbed { said, .. } => {
                dhcp::said(f, said)
            }
            Event::ConsoleOpened { port, baud } => console::opened(f, port, *baud),
            Event::ConsoleLine { line } => console::line(f, line),
            Event::ConsoleNoted { what } => console::noted(f, what),
            Event::ConsoleTyped { command } => console::typed(f, command),
            Event::ConsoleCrc {
                region,
                ours,
                theirs,
                equal,
            } => console::crc(f, region, ours, theirs, *equal),
            Event::ConsoleFlash { state, note } => console::flash(f, state, note),
            Event::ConsoleTranscript { text } => console::transcript(f, text),
            Event::HttpPageDown { reason, tries } => http::page_down(f, reason, *tries),
            Event::HttpPageUp { attempt } => http::page_up(f, *attempt),
            Event::HttpRetrying {
                reason,
                attempt,
                reached,
            } => http::retrying(f, reason, *attempt, *reached),
            Event::HttpVerified { size, md5 } => http::verified(f, *size, md5),
            Event::HttpAnswered { said, accepted } => http::answered(f, said, *accepted),
            Event::ConsoleWriteAsked { what, .. } => console::write_asked(f, what),
            Event::NmrpAdvertising { sent, since } => nmrp::advertising(f, *sent, *since),
            Event::NmrpLinkChanged { up, during } => nmrp::link_changed(f, *up, *during),
            Event::ConsoleAwaiting { next, what } => console::awaiting(f, next.as_deref(), what),
            Event::ConsoleRamBoot { what, chosen, .. } => console::ram_boot(f, what, *chosen),
        }
    }
}

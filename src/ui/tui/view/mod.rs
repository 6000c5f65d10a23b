//! The wizard drawn from the [`Model`] and nothing else: one file per screen, the common
//! frame here, and the boxes over it (help, the quit question).
//!
//! ```text
//!  rescue-wizard │ 2/7 Image │ tl-wr841n-v9                               DEMO   <- title
//!  Pick the firmware image and press Enter to check it.                          <- what next
//! ┌──────────────────────────────────────────────────────────────────────────────┐
//! │ the screen's body                                                            │
//! └──────────────────────────────────────────────────────────────────────────────┘
//!  Enter use it  Esc back  ? help  q quit                                         <- keys
//! ```

mod console;
mod device;
mod done;
mod help;
mod image;
mod live;
mod network;
mod nmrp;
mod port;
mod prepare;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph};

use super::keys;
use super::model::{Hint, Model, Overlay, RunKind, Screen};
use crate::engine::{Phase, RunOutcome};
use crate::image::ImageVerdict;

/// The styles of the wizard: colours, or (with `NO_COLOR`) only bold, reversed and dim.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// The title bar.
    pub title: Style,
    /// The "what next" line.
    pub next: Style,
    /// The highlighted line of a list.
    pub selected: Style,
    /// Good news.
    pub good: Style,
    /// Something to read.
    pub warn: Style,
    /// Something wrong.
    pub bad: Style,
    /// Less important text.
    pub dim: Style,
    /// Key names.
    pub key: Style,
    /// Headings and the device's steps.
    pub accent: Style,
}

impl Theme {
    /// The theme for `colours`.
    pub fn new(colours: bool) -> Self {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        if colours {
            Self {
                title: Style::default()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
                next: bold.fg(Color::Yellow),
                selected: Style::default()
                    .fg(Color::Black)
                    .bg(Color::LightCyan)
                    .add_modifier(Modifier::BOLD),
                good: Style::default().fg(Color::Green),
                warn: Style::default().fg(Color::Yellow),
                bad: bold.fg(Color::Red),
                dim: Style::default().fg(Color::DarkGray),
                key: bold.fg(Color::Cyan),
                accent: bold.fg(Color::Cyan),
            }
        } else {
            Self {
                title: Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
                next: bold,
                selected: Style::default().add_modifier(Modifier::REVERSED),
                good: Style::default(),
                warn: bold,
                bad: bold,
                dim: Style::default().add_modifier(Modifier::DIM),
                key: bold,
                accent: bold,
            }
        }
    }
}

/// Draws the whole wizard.
pub fn draw(frame: &mut Frame, model: &Model) {
    let theme = Theme::new(model.colours);
    let [title, next, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_title(frame, title, model, &theme);
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {}", what_next(model)), theme.next)),
        next,
    );
    match model.screen {
        Screen::Device => device::draw(frame, body, model, &theme),
        Screen::Image => image::draw(frame, body, model, &theme),
        Screen::Port => port::draw(frame, body, model, &theme),
        Screen::Network => network::draw(frame, body, model, &theme),
        Screen::Prepare => prepare::draw(frame, body, model, &theme),
        Screen::Live => live::draw(frame, body, model, &theme),
        Screen::Done => done::draw(frame, body, model, &theme),
    }
    draw_footer(frame, footer, model, &theme);
    match model.overlay {
        Some(Overlay::Help) => help::draw_help(frame, model, &theme),
        Some(Overlay::ConfirmQuit) => help::draw_confirm(frame, model, &theme),
        Some(Overlay::Manual(step)) => help::draw_manual(frame, model, step, &theme),
        None => {}
    }
}

fn draw_title(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut left = format!(
        " rescue-wizard │ {}/{} {}",
        model.screen.number(),
        Screen::COUNT,
        model.screen.title()
    );
    if let Some(profile) = &model.device.chosen
        && model.screen != Screen::Device
    {
        left.push_str(" │ ");
        left.push_str(&profile.id);
    }
    let right = match model.mode {
        RunKind::Demo => "DEMO: simulated router ",
        RunKind::Real => "",
    };
    let width = usize::from(area.width);
    let pad = width.saturating_sub(left.chars().count() + right.chars().count());
    let text = format!("{left}{}{right}", " ".repeat(pad));
    frame.render_widget(Paragraph::new(Line::styled(text, theme.title)), area);
}

/// The second line of every screen: what to do now.
pub fn what_next(model: &Model) -> String {
    match model.screen {
        Screen::Device => match (&model.device.problem, &model.image.given) {
            (Some(_), _) => {
                "That device cannot go on: see why on the right, or pick another.".into()
            }
            (None, Some(image)) => format!(
                "Which router is {} for? Type part of its model, ↑↓, Enter.",
                image.file_name().map_or_else(
                    || image.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            (None, None) => {
                "Type part of the model name on the router's label, pick it with ↑↓, press Enter."
                    .into()
            }
        },
        Screen::Image => image_next(model),
        Screen::Port => match model.mode {
            RunKind::Demo => "The demo's router is simulated on loopback: press Enter.".into(),
            RunKind::Real
                if model.port.adapters.asking && model.port.adapters.adapters.is_empty() =>
            {
                "No USB serial adapter: plug in the one wired to the router's console.".into()
            }
            RunKind::Real if model.port.adapters.asking => {
                "Serial adapter wired to the router's console: pick it, press Enter.".into()
            }
            RunKind::Real if model.port.listed && model.port.interfaces.is_empty() => {
                "No port to use: plug in an Ethernet adapter; the list follows.".into()
            }
            RunKind::Real => {
                "Cable from this port to the router's LAN port: pick the port, press Enter.".into()
            }
        },
        Screen::Network => match (model.mode, model.plan.as_ref().map(|p| p.network.is_some())) {
            (RunKind::Demo, _) => {
                "Nothing on this computer changes in the demo: press Enter.".into()
            }
            (RunKind::Real, Some(true)) => {
                "Read what will change, then Enter to confirm (S: skip, set it up yourself).".into()
            }
            _ => "Nothing needs to change on this computer: press Enter.".into(),
        },
        Screen::Prepare => {
            "Switch the router off and plug the cable in, then press Enter to start watching."
                .into()
        }
        Screen::Live => live_next(model),
        Screen::Done => done_next(model),
    }
}

fn image_next(model: &Model) -> String {
    let image = &model.image;
    if let Some(busy) = &image.busy {
        return format!("Wait: {busy}…");
    }
    let selected = image.selected_file();
    match &image.inspection {
        Some(i) if Some(&i.path) == selected.as_ref() => {
            if i.strip.is_some() {
                "This image carries the bootloader: press S to flash a copy without it.".into()
            } else if i.verdict() == ImageVerdict::Refused {
                "This image will not work for this device: pick another one.".into()
            } else if i.verdict() == ImageVerdict::Doubtful {
                "Read the warnings; press Enter to use this image anyway.".into()
            } else {
                "The image fits this device: press Enter to use it.".into()
            }
        }
        _ if selected.is_some() => "Pick the firmware image, press Enter to check it.".into(),
        _ if image.downloads.is_some() => {
            "Open the folder with the image (Enter), or press D for Downloads.".into()
        }
        _ => "Open the folder with the firmware image (Enter; ← goes up).".into(),
    }
}

fn live_next(model: &Model) -> String {
    let Some(run) = &model.run else {
        return String::new();
    };
    if model.leaving {
        return "Stopping: the network is being restored and the report written…".into();
    }
    if run.write_asked.is_some() {
        return "Image proven in RAM: Y writes it to the flash, N leaves the flash as it is."
            .into();
    }
    if let Some(Hint::Adopt { addr, .. }) = &run.hint {
        return format!("The router asks for {addr}: press A to adopt it.");
    }
    if let Some(next) = run.nmrp.as_ref().and_then(nmrp::next) {
        return next;
    }
    match run.phase {
        Some(Phase::Waiting) => match &run.step {
            Some(step) => format!("Step {}: {}", step.number, step.action),
            None => "Switch the router on as its steps say.".into(),
        },
        Some(Phase::Transfer) => {
            "The image is moving: leave the router and the cable alone.".into()
        }
        Some(Phase::Flashing) => "DO NOT SWITCH THE ROUTER OFF: it is writing its flash.".into(),
        Some(Phase::Done) => "Finishing: restoring the network, writing the report…".into(),
        Some(phase) => format!("Getting ready: {}…", phase.describe()),
        None => "Starting…".into(),
    }
}

fn done_next(model: &Model) -> String {
    let outcome = model
        .run
        .as_ref()
        .and_then(|r| r.finished.as_ref().map(|f| f.0));
    let ended = model.run.as_ref().is_some_and(|r| !r.active());
    match outcome {
        _ if !ended => "Finishing: restoring the network, writing the report…".into(),
        Some(RunOutcome::Flashed) => {
            "Done: the router has its new firmware. Press Enter to leave.".into()
        }
        // A console run that wrote nothing leaves the router at its bootloader's prompt with
        // the image in RAM: it will not start anything by itself.
        Some(RunOutcome::Transferred) if model.run.as_ref().is_some_and(|r| r.console.is_some()) => {
            "Nothing was written: the router waits at its bootloader's prompt with the image in RAM. Switch it off and on to start its old firmware, or R to run again and answer Y. Enter to leave.".into()
        }
        Some(RunOutcome::Transferred) => {
            "The image arrived; give the router a few minutes. Enter to leave.".into()
        }
        Some(RunOutcome::Interrupted) => {
            "Stopped. Read what it means for the router; R tries again.".into()
        }
        _ => "It did not work: fix what the checklist says, then press R to try again.".into(),
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let width = usize::from(area.width);
    let mut items: Vec<(&str, &str)> = keys::shown(model)
        .filter_map(|b| b.short.map(|short| (b.label, short)))
        .collect();
    let length = |items: &[(&str, &str)]| -> usize {
        items
            .iter()
            .map(|(k, s)| k.chars().count() + s.chars().count() + 4)
            .sum::<usize>()
            + 1
    };
    // Help and quit stay; the screen's own keys give way on a narrow terminal (help lists
    // them all).
    while length(&items) > width && items.len() > 2 {
        items.remove(items.len() - 3);
    }
    let mut spans = vec![Span::raw(" ")];
    for (label, short) in items {
        spans.push(Span::styled(label, theme.key));
        spans.push(Span::styled(format!(" {short}   "), theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// One of the router's steps as the wizard shows it: numbered, its time, its LED cue.
pub fn step_lines(number: usize, step: &crate::profile::Step, theme: &Theme) -> Vec<Line<'static>> {
    let mut head = vec![
        Span::styled(format!("{number}. "), theme.accent),
        Span::raw(step.action.clone()),
    ];
    if let Some(seconds) = step.seconds {
        head.push(Span::styled(format!("  ({seconds} s)"), theme.warn));
    }
    let mut lines = vec![Line::from(head)];
    if let Some(led) = &step.led {
        lines.push(Line::styled(format!("   LED: {led}"), theme.dim));
    }
    lines
}

/// A bordered box with a title and a column of space inside each border.
pub fn panel<'a>(title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .padding(Padding::horizontal(1))
}

/// The width of text inside a [`panel`] of `area`.
pub fn inner_width(area: Rect) -> usize {
    usize::from(area.width.saturating_sub(4))
}

/// `text` after `prefix`, wrapped to `width` with its later lines indented under the text:
///
/// ```text
/// !! cable and link: enp3s0 has no link
///    fix: plug the cable into ...
/// ```
pub fn hanging(
    prefix: &str,
    prefix_style: Style,
    text: &str,
    style: Style,
    width: usize,
) -> Vec<Line<'static>> {
    let indent = prefix.chars().count();
    wrap(text, width.saturating_sub(indent))
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let head = if n == 0 {
                prefix.to_owned()
            } else {
                " ".repeat(indent)
            };
            Line::from(vec![
                Span::styled(head, prefix_style),
                Span::styled(line, style),
            ])
        })
        .collect()
}

/// `n` bytes in the largest unit that keeps a digit before the point.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n >= KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else if n >= KIB {
        format!("{:.1} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

/// The transfer in one line: bytes, time, rate and resends (`3.8 MiB in 13.0 s, 295.4 KiB/s,
/// 2 resends`); a transfer that did not finish says how far it got.
pub fn transfer(gauge: &crate::ui::tui::model::Gauge) -> String {
    let moved = match gauge.took {
        Some(took) => format!("{} in {:.1} s", bytes(gauge.bytes), took.as_secs_f64()),
        None => format!("{} of {}", bytes(gauge.bytes), bytes(gauge.total)),
    };
    let resends = match gauge.timeouts {
        1 => "1 resend".to_owned(),
        n => format!("{n} resends"),
    };
    format!("{moved}, {}/s, {resends}", bytes(gauge.rate))
}

/// `m:ss`.
pub fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut length = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let gap = usize::from(length > 0);
        if length + gap + word.len() <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.extend(&word);
            length += gap + word.len();
            continue;
        }
        if length > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
        }
        line.extend(&word);
        length = word.len();
    }
    if length > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The middle of `area`, `width` by `height` at most.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("the router asks", 10), vec!["the router", "asks"]);
        assert_eq!(wrap("abcdefghijkl", 5), vec!["abcde", "fghij", "kl"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2 * 1024 * 1024), "2.0 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(clock(std::time::Duration::from_secs(75)), "1:15");
    }
}

//! The console pane's drawing: the bootloader's last lines that fit, then the last CRC-32
//! comparison, the next command highlighted, and what the dialogue waits for.
//!
//! ```text
//! ┌ Console /dev/ttyUSB0 · 115200 baud ───────────────┐
//! │ Hit any key to stop autoboot:  2                   │
//! │ => setenv ipaddr 192.168.0.1                       │
//! │ crc32 the loaded image: 1234abcd, ours 1234abcd    │
//! │ next  tftpboot 0x81000000 firmware.bin             │
//! │ waiting for "Bytes transferred = 3932160"          │
//! └────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, hanging, inner_width, panel, wrap};
use crate::ui::tui::console::ConsolePane;

/// Draws the pane in `area`: the lines that fit, then the next command and what is awaited.
pub fn draw(frame: &mut Frame, area: Rect, pane: &ConsolePane, theme: &Theme) {
    let width = inner_width(area);
    let mut tail: Vec<Line<'static>> = Vec::new();
    if let Some((said, equal)) = &pane.crc {
        let style = if *equal { theme.good } else { theme.bad };
        tail.extend(hanging("crc32 ", style, said, style, width));
    }
    if let Some(next) = &pane.next {
        tail.extend(hanging(
            "next  ",
            theme.selected,
            next,
            theme.selected,
            width,
        ));
    }
    if let Some(waiting) = &pane.waiting {
        tail.extend(hanging(
            "waiting for ",
            theme.warn,
            waiting,
            theme.warn,
            width,
        ));
    }
    let height = usize::from(area.height.saturating_sub(2));
    let room = height.saturating_sub(tail.len());
    // Newest at the bottom, above the next command: wrap lines from the end until full.
    let mut lines: Vec<Line<'static>> = Vec::new();
    for line in pane.lines.iter().rev() {
        if lines.len() >= room {
            break;
        }
        let mut block: Vec<Line<'static>> = wrap(line, width)
            .into_iter()
            .map(|text| Line::from(Span::styled(text, theme.dim)))
            .collect();
        block.extend(lines);
        lines = block;
    }
    let skip = lines.len().saturating_sub(room);
    lines.drain(..skip);
    lines.extend(tail);
    frame.render_widget(
        Paragraph::new(lines).block(panel(format!(" Console {} ", pane.port))),
        area,
    );
}

//! The terminal while the wizard runs: raw mode, the alternate screen and a hidden cursor,
//! given back on every way out: the end of the wizard, an error, and a panic (the hook
//! restores the terminal before the panic message is printed, so the message stays readable).

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal the wizard draws on.
pub type Screen = Terminal<CrosstermBackend<Stdout>>;

/// The terminal taken over; dropping it gives it back.
pub struct Session {
    terminal: Screen,
}

impl Session {
    /// Takes the terminal over (raw mode, alternate screen, cursor hidden) after installing
    /// the panic hook that gives it back.
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        let entered = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(Self { terminal }),
            Err(err) => {
                restore();
                Err(err)
            }
        }
    }

    /// The terminal, to draw on.
    pub fn terminal(&mut self) -> &mut Screen {
        &mut self.terminal
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: cooked mode, the normal screen, the cursor shown. Harmless when
/// the terminal is already back.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

/// Installs (once per process) a panic hook that restores the terminal, then runs the hook
/// that was there before (which prints the message).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

//! The keys the wizard reads, as plain data: the event loop turns the terminal's keys into
//! these, the model carries them in its messages, and the key table ([`super::keys`]) maps
//! them to actions. Its own file so that the model and the key table each depend on it and
//! not on each other.

/// A key, as the wizard sees it (the event loop turns the terminal's keys into these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// A printable character.
    Char(char),
    /// Ctrl-C: in raw mode a key, not a signal.
    CtrlC,
}

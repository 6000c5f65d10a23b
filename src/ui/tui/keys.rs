//! The wizard's keys, in one table: which key does what on which screen. The table also
//! writes the footer and the help box, so what is shown is what works.

pub use super::input::Key;
use super::model::{Hint, Model, Screen};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Move up a line.
    Up,
    /// Move down a line.
    Down,
    /// Move up a page.
    PageUp,
    /// Move down a page.
    PageDown,
    /// To the first line.
    First,
    /// To the last line.
    Last,
    /// Go on: this screen's main action.
    Enter,
    /// Go back a screen (or clear the search).
    Back,
    /// Leave (asks first while the image moves or the router flashes).
    Quit,
    /// The help box.
    Help,
    /// The folder above.
    Parent,
    /// The Downloads folder.
    Downloads,
    /// The folder the picker started in.
    StartFolder,
    /// Write the stripped copy and use it.
    Strip,
    /// Go on without changing the network.
    Skip,
    /// Give this computer the address the router asks for.
    Adopt,
    /// The router was switched on just now.
    PoweredOn,
    /// Back to the prepare screen for another attempt.
    Retry,
    /// Yes to the console's question: write the proven image to the flash.
    Write,
    /// No to the console's question: leave the flash as it is.
    KeepFlash,
    /// The console's other answer, where offered: boot the proven image from RAM.
    BootFromRam,
    /// Delete the last character of the search.
    Erase,
    /// Add a character to the search.
    Type(char),
}

/// One row of the table.
#[derive(Debug)]
pub struct Binding {
    /// The keys.
    pub keys: &'static [Key],
    /// How the footer and the help box name them.
    pub label: &'static str,
    /// What they do.
    pub action: KeyAction,
    /// Where they work (empty: everywhere).
    pub screens: &'static [Screen],
    /// In the footer, in few words (none: only in the help box).
    pub short: Option<&'static str>,
    /// In the help box.
    pub what: &'static str,
    /// Whether it applies now (a fix only while its hint is shown, say).
    pub when: fn(&Model) -> bool,
}

fn always(_: &Model) -> bool {
    true
}

fn strip_offered(model: &Model) -> bool {
    model
        .image
        .inspection
        .as_ref()
        .is_some_and(|i| i.strip.is_some())
}

fn has_changes(model: &Model) -> bool {
    model.plan.as_ref().is_some_and(|p| p.network.is_some())
}

fn adopt_hinted(model: &Model) -> bool {
    model
        .run
        .as_ref()
        .is_some_and(|r| r.active() && matches!(r.hint, Some(Hint::Adopt { .. })))
}

fn run_active(model: &Model) -> bool {
    model
        .run
        .as_ref()
        .is_some_and(super::model::RunState::active)
}

fn write_asked(model: &Model) -> bool {
    model
        .run
        .as_ref()
        .is_some_and(|r| r.active() && r.write_asked.is_some())
}

fn ram_boot_offered(model: &Model) -> bool {
    write_asked(model)
        && model
            .run
            .as_ref()
            .is_some_and(|r| r.ram_boot_offered.is_some())
}

fn run_ended(model: &Model) -> bool {
    model.run.as_ref().is_some_and(|r| !r.active())
}

fn has_downloads(model: &Model) -> bool {
    model.image.downloads.is_some()
}

use Screen::{Device, Done, Image, Live, Network, Port, Prepare};

const LISTS: &[Screen] = &[Device, Image, Port];

/// Every binding; the first that matches the screen and the key wins.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Up],
        label: "↑↓",
        action: KeyAction::Up,
        screens: LISTS,
        short: Some("choose"),
        what: "move the highlight",
        when: always,
    },
    Binding {
        keys: &[Key::Up],
        label: "↑↓",
        action: KeyAction::Up,
        screens: &[Live, Done],
        short: Some("scroll"),
        what: "scroll back and forth",
        when: always,
    },
    // Shown with the ↑ binding above it ("↑↓"): an empty label keeps it out of the help.
    Binding {
        keys: &[Key::Down],
        label: "",
        action: KeyAction::Down,
        screens: &[Device, Image, Port, Live, Done],
        short: None,
        what: "move down",
        when: always,
    },
    Binding {
        keys: &[Key::PageUp],
        label: "PgUp",
        action: KeyAction::PageUp,
        screens: &[Device, Image, Port, Live, Done],
        short: None,
        what: "a page up",
        when: always,
    },
    Binding {
        keys: &[Key::PageDown],
        label: "PgDn",
        action: KeyAction::PageDown,
        screens: &[Device, Image, Port, Live, Done],
        short: None,
        what: "a page down",
        when: always,
    },
    Binding {
        keys: &[Key::Home],
        label: "Home",
        action: KeyAction::First,
        screens: &[Device, Image, Port, Live, Done],
        short: None,
        what: "to the first line",
        when: always,
    },
    Binding {
        keys: &[Key::End],
        label: "End",
        action: KeyAction::Last,
        screens: &[Device, Image, Port, Live, Done],
        short: None,
        what: "to the last line (the feed: follow the newest again)",
        when: always,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Device],
        short: Some("use it"),
        what: "use the highlighted device",
        when: always,
    },
    Binding {
        keys: &[Key::Enter, Key::Right],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Image],
        short: Some("open/check/use"),
        what: "open the folder; check the file; once checked, use it",
        when: always,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Port],
        short: Some("use it"),
        what: "use the highlighted port",
        when: always,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Network],
        short: Some("confirm"),
        what: "confirm: make these changes for the run (all undone at the end)",
        when: always,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Prepare],
        short: Some("start watching"),
        what: "the router is off and the cable is in: start watching the wire",
        when: always,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: KeyAction::Enter,
        screens: &[Done],
        short: Some("leave"),
        what: "leave the wizard (the report stays where it says)",
        when: run_ended,
    },
    Binding {
        keys: &[Key::Char('s')],
        label: "S",
        action: KeyAction::Strip,
        screens: &[Image],
        short: Some("strip"),
        what: "write the stripped copy beside the image and use it (the original is not touched)",
        when: strip_offered,
    },
    Binding {
        keys: &[Key::Char('d')],
        label: "D",
        action: KeyAction::Downloads,
        screens: &[Image],
        short: Some("Downloads"),
        what: "show the Downloads folder",
        when: has_downloads,
    },
    Binding {
        keys: &[Key::Char('.')],
        label: ".",
        action: KeyAction::StartFolder,
        screens: &[Image],
        short: None,
        what: "back to the folder the picker started in",
        when: always,
    },
    Binding {
        keys: &[Key::Backspace, Key::Left],
        label: "←",
        action: KeyAction::Parent,
        screens: &[Image],
        short: Some("up"),
        what: "the folder above",
        when: always,
    },
    Binding {
        keys: &[Key::Char('s')],
        label: "S",
        action: KeyAction::Skip,
        screens: &[Network],
        short: Some("skip changes"),
        what: "go on without changing anything (you set the address yourself)",
        when: has_changes,
    },
    Binding {
        keys: &[Key::Char('a')],
        label: "A",
        action: KeyAction::Adopt,
        screens: &[Live],
        short: Some("adopt"),
        what: "give this computer the address the router asks for (undone at the end)",
        when: adopt_hinted,
    },
    Binding {
        keys: &[Key::Char('y')],
        label: "Y",
        action: KeyAction::Write,
        screens: &[Live],
        short: Some("write flash"),
        what: "write the proven image to the router's flash, as the question above the feed says",
        when: write_asked,
    },
    Binding {
        keys: &[Key::Char('n')],
        label: "N",
        action: KeyAction::KeepFlash,
        screens: &[Live],
        short: Some("leave flash"),
        what: "leave the router's flash as it is: the run ends with the image in its RAM",
        when: write_asked,
    },
    Binding {
        keys: &[Key::Char('b')],
        label: "B",
        action: KeyAction::BootFromRam,
        screens: &[Live],
        short: Some("boot from RAM"),
        what: "boot the image from RAM instead (nothing written): the profile's initramfs path",
        when: ram_boot_offered,
    },
    Binding {
        keys: &[Key::Char('p')],
        label: "P",
        action: KeyAction::PoweredOn,
        screens: &[Live],
        short: Some("switched on"),
        what: "say the router was switched on just now (times the advice when it stays silent)",
        when: run_active,
    },
    Binding {
        keys: &[Key::Char('r')],
        label: "R",
        action: KeyAction::Retry,
        screens: &[Done],
        short: Some("retry"),
        what: "back to the steps for another attempt, with the same choices",
        when: run_ended,
    },
    Binding {
        keys: &[Key::Backspace],
        label: "Backspace",
        action: KeyAction::Erase,
        screens: &[Device],
        short: None,
        what: "delete the last letter of the search",
        when: always,
    },
    Binding {
        keys: &[Key::Esc],
        label: "Esc",
        action: KeyAction::Back,
        screens: &[Device],
        short: Some("clear"),
        what: "clear the search",
        when: always,
    },
    Binding {
        keys: &[Key::Esc],
        label: "Esc",
        action: KeyAction::Back,
        screens: &[Image, Port, Network, Prepare],
        short: Some("back"),
        what: "back to the screen before",
        when: always,
    },
    Binding {
        keys: &[Key::Char('?')],
        label: "?",
        action: KeyAction::Help,
        screens: &[],
        short: Some("help"),
        what: "this help",
        when: always,
    },
    Binding {
        keys: &[Key::Char('q'), Key::CtrlC],
        label: "q",
        action: KeyAction::Quit,
        screens: &[],
        short: Some("quit"),
        what: "quit (while the image moves or the router flashes, asks first; the network is always restored)",
        when: always,
    },
];

fn applies(binding: &Binding, screen: Screen) -> bool {
    binding.screens.is_empty() || binding.screens.contains(&screen)
}

/// What `key` does on the model's screen now, if anything.
///
/// On the device screen letters go into the search; `q` quits from there unless the
/// technician is typing a search (a search the wizard opened with, as the demo's, is not
/// theirs), and `?` always opens the help.
pub fn action(model: &Model, key: Key) -> Option<KeyAction> {
    if model.screen == Device
        && let Key::Char(c) = key
        && c != '?'
        && !(c == 'q' && (model.device.query.is_empty() || !model.device.typed))
    {
        return Some(KeyAction::Type(c));
    }
    let key = match key {
        Key::Char(c) => Key::Char(c.to_ascii_lowercase()),
        other => other,
    };
    BINDINGS
        .iter()
        .find(|b| applies(b, model.screen) && b.keys.contains(&key) && (b.when)(model))
        .map(|b| b.action)
}

/// The bindings of the model's screen that apply now, in table order; a binding without a
/// label is shown by the one before it.
pub fn shown(model: &Model) -> impl Iterator<Item = &'static Binding> + '_ {
    BINDINGS
        .iter()
        .filter(|b| applies(b, model.screen) && (b.when)(model) && !b.label.is_empty())
}

//! The port screen's second question, for a console run given `--serial auto`: which USB
//! serial adapter is wired to the router's console. With one present it is taken; with
//! several the technician picks it from their paths, USB ids and descriptions (the run without
//! the wizard refuses and names them all: it has nobody to ask); with none the list waits, read
//! again every second, for one to be plugged in. The one taken replaces `auto` in the plan.

use super::super::keys::KeyAction;
use super::super::model::{Model, Screen};
use super::{build_plan, is_move, moved};
use crate::console::port::Adapter;

/// Whether the plan's console leg still says `auto`: an adapter is to be taken or asked for.
fn undecided(model: &Model) -> bool {
    model
        .plan
        .as_ref()
        .and_then(|plan| plan.console.as_ref())
        .is_some_and(|console| {
            console.port == std::path::Path::new(crate::engine::plan::SERIAL_AUTO)
        })
}

/// A new reading of the adapters present: the highlight stays on the same adapter.
pub(super) fn listed(model: &mut Model, list: Vec<Adapter>) {
    let pick = &mut model.port.adapters;
    let before = pick.adapters.get(pick.selected).map(|a| a.path.clone());
    pick.adapters = list;
    pick.listed = true;
    pick.selected = before
        .and_then(|path| pick.adapters.iter().position(|a| a.path == path))
        .unwrap_or(0);
}

/// Enter on a port: plans for it and, for a console run given `auto`, takes the one adapter
/// present or asks which. Returns whether the wizard goes on to the network screen.
pub(super) fn port_taken(model: &mut Model) -> bool {
    // A new Enter on the ports is a new choice: the adapter is decided again.
    model.port.adapters.chosen = None;
    if !build_plan(model) {
        return false;
    }
    if !undecided(model) {
        return true;
    }
    let pick = &mut model.port.adapters;
    if let [one] = pick.adapters.as_slice() {
        pick.chosen = Some(one.path.clone());
        return build_plan(model);
    }
    // None yet, or several: the list takes the keys until one is taken.
    pick.asking = true;
    false
}

/// A key while the port screen asks which adapter: move, take the highlighted one with Enter
/// (then on to the network screen), or back to the ports with Esc.
pub(super) fn action(model: &mut Model, action: KeyAction) {
    let pick = &mut model.port.adapters;
    match action {
        a if is_move(a) => pick.selected = moved(pick.selected, pick.adapters.len(), a),
        KeyAction::Back => pick.asking = false,
        KeyAction::Enter => {
            let Some(adapter) = pick.adapters.get(pick.selected) else {
                return;
            };
            pick.chosen = Some(adapter.path.clone());
            pick.asking = false;
            if build_plan(model) {
                model.screen = Screen::Network;
            }
        }
        _ => {}
    }
}

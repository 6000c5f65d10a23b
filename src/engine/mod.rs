//! The recovery run: a [`plan`] built purely from the profile, the image, the interfaces and
//! the settings; a [`run`] machine and its driver that carry it out and reports every step as an
//! [`event::Event`]; the troubleshooting [`checklist`] decided from evidence; the Markdown
//! [`report`]; [`running`], the one way a front-end starts a run and gets its report; and a
//! [`simulate`]d bootloader for the demo.
//!
//! Nothing here draws on a terminal: front-ends consume the events.

pub mod checklist;
pub mod event;
pub mod plan;
pub mod report;
pub mod run;
pub mod running;
pub mod simulate;

pub use event::{Command, Event, Phase, RunOutcome};
pub use plan::{ImageFacts, Plan, Settings};
pub use run::{Environment, Summary};

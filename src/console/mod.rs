//! The bootloader's serial console: stop autoboot, load the image over TFTP, prove it, and write
//! the flash only when proven and allowed. See docs/console.md.
//!
//! [`family`] knows how each bootloader family announces its window and its prompt;
//! [`script`] is what is typed and how each answer is judged; [`dialogue`] is the sans-I/O
//! machine that drives them, and [`event`] what it tells; [`baud`] tells a wrong baud rate from
//! the bytes; [`port`] is the serial port that carries it; [`ram_boot`] is the safer path,
//! booting the proven image from RAM instead of writing it.

pub mod baud;
pub mod dialogue;
pub mod event;
pub mod family;
pub mod port;
pub mod ram_boot;
pub mod script;

pub use dialogue::{Action, Answer, ConsoleEvent, Dialogue, FlashState, Input, Settings};
pub use family::Family;
pub use ram_boot::RamBoot;
pub use script::{FlashKind, ImageCopy, Job, Recipe, RecipeCommand, Touch};

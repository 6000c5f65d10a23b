//! Device profiles: the recovery procedure of one device, as data.
//!
//! The catalogue under `devices/` is compiled into the binary; user profiles in the config
//! folder add devices or replace built-in ones by id. Every profile is checked twice: by the
//! schema (serde, unknown fields refused) and by [`parse::parse_profile`]'s semantic rules.
//! docs/profiles.md is the field reference.

pub mod catalogue;
pub mod command;
pub mod error;
pub mod parse;
pub mod render;
pub mod schema;

pub use catalogue::{CONFIG_DIR_ENV, Catalogue, Entry, Origin, read_profile_file, user_dir};
pub use error::{Problem, Problems, ProfileError};
pub use parse::parse_profile;
pub use schema::{
    Confidence, Header, HexBytes, Host, Image, ImageKind, Method, OptionPolicy, Profile, Rollover,
    Step, Tftp,
};

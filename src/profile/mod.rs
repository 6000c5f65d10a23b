//! Device profiles: the recovery procedure of one device, as data.
//!
//! The catalogue under `devices/` is compiled into the binary; user profiles in the config
//! folder add devices or replace built-in ones by id. Every profile is checked twice: by the
//! schema (serde, unknown fields refused) and by [`parse::parse_profile`]'s semantic rules;
//! before either, its size and nesting are bounded ([`MAX_PROFILE_BYTES`],
//! [`MAX_PROFILE_DEPTH`]) so that no file can make loading slow or large.
//! docs/profiles.md is the field reference.

pub mod catalogue;
pub mod error;
pub mod parse;
pub mod render;
pub mod schema;

pub use catalogue::{CONFIG_DIR_ENV, Catalogue, Entry, Origin, read_profile_file, user_dir};
pub use error::{Problem, Problems, ProfileError};
pub use parse::{MAX_PROFILE_BYTES, MAX_PROFILE_DEPTH, parse_profile, read_profile_text};
pub use schema::{
    Confidence, Header, HexBytes, Host, Image, ImageKind, Method, OptionUse, Profile,
    RolloverPolicy, Step, Tftp,
};
pub use schema::{Dhcp, Http, HttpFlavour, Pool};

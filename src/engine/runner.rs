//! The recovery run's entry point under its former name; the run itself lives in
//! [`super::run`] (machine, driver, methods).

pub use super::run::{Environment, Summary, run};

//! The wire watch.

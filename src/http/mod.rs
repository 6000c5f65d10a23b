//! The web failsafe uploader: the image to a bootloader's upload page over a plain TCP stream
//! whose segments we control, because the tiny uIP servers in these bootloaders take only
//! what their parser expects in each segment (docs/http.md).
//!
//! - [`page`]: the flavours (`u-boot_mod` and GL.iNet, the MTK failsafe, older D-Link)
//!   and what a profile says about its page.
//! - [`form`]: the request bytes: headers, the one multipart part, the closing delimiter.
//! - [`upload`]: sans-I/O: fed "connected / acknowledged N bytes / received / closed" and the
//!   time, it decides what goes in which segment, when to wait, and what the answer means.
//! - [`stream`]: the thin driver on a `std::net::TcpStream` (`TCP_NODELAY`, an MSS cap, a
//!   small send buffer, one write per segment, the send queue read to know what was
//!   acknowledged).
//! - [`send_queue`]: what of a connection is written and not acknowledged yet, asked of the
//!   kernel's socket diagnostics.

pub mod form;
pub mod page;
pub mod send_queue;
pub mod stream;
pub mod upload;

pub use page::{Flavour, Page};
pub use upload::{Answer, Failure, Input, Note, Output, Uploaded, Uploader};

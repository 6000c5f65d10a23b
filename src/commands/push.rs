//! `rescue-wizard push`: sends an image to a bootloader's own TFTP server.

use std::net::SocketAddr;

use super::client::{client_config, read_image, run_client};
use crate::cli::PushArgs;
use crate::settings::{self, PUSH_WAIT, TFTP_PORT};
use crate::tftp::client;
use crate::{Outcome, UsageError};

pub(super) async fn push(args: PushArgs) -> anyhow::Result<Outcome> {
    let data = read_image(&args.image)?;
    let remote = match args.remote_name {
        Some(name) => name,
        None => args
            .image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                UsageError::new("the image path has no file name; give --remote-name")
            })?,
    };
    let server = SocketAddr::new(args.to, settings::layer(args.port, None, TFTP_PORT));
    let wait = settings::seconds(args.wait, PUSH_WAIT);
    let config = client_config(args.blksize, args.windowsize, wait);
    eprintln!(
        "pushing {} ({} bytes) to {server} as \"{remote}\"",
        args.image.display(),
        data.len()
    );
    run_client(move |events, stop| client::push(server, remote, data, config, events, stop)).await
}

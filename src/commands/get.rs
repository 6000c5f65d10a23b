//! `rescue-wizard get`: fetches a file from a TFTP server.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::client::{client_config, run_client};
use crate::cli::GetArgs;
use crate::settings::{self, GET_MAX_SIZE, GET_WAIT, TFTP_PORT};
use crate::tftp::client::{self, ClientConfig};
use crate::{Outcome, UsageError};

pub(super) async fn get(args: GetArgs) -> anyhow::Result<Outcome> {
    let output = if let Some(path) = args.output {
        path
    } else {
        let last = args.remote.rsplit(['/', '\\']).next().unwrap_or_default();
        if last.is_empty() || last == "." || last == ".." {
            return Err(UsageError::new(format!(
                "cannot name a local file after \"{}\"; give -o FILE",
                args.remote
            ))
            .into());
        }
        PathBuf::from(last)
    };
    let server = SocketAddr::new(args.host, settings::layer(args.port, None, TFTP_PORT));
    let wait = settings::seconds(args.wait, GET_WAIT);
    let config = ClientConfig {
        max_size: settings::layer(args.max_size, None, GET_MAX_SIZE),
        ..client_config(args.blksize, args.windowsize, wait)
    };
    let remote = args.remote;
    run_client(move |events, stop| client::get(server, remote, output, config, events, stop)).await
}

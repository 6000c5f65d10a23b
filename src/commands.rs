//! What each sub-command does: turn parsed arguments into library calls and a front-end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::cli::{Cli, Command, GetArgs, PushArgs, ServeArgs};
use crate::tftp::client::{self, ClientConfig, ClientError};
use crate::tftp::event::TransferEvent;
use crate::tftp::options::{
    ClientOptions, DEFAULT_MAX_BLKSIZE, DEFAULT_MAX_WINDOWSIZE, OptionPolicy,
};
use crate::tftp::server::{Server, ServerConfig, Source, WritePolicy};
use crate::ui::progress::TransferView;
use crate::{Outcome, UsageError};

/// Runs the chosen sub-command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Push(args) => push(args).await,
        Command::Get(args) => get(args).await,
        Command::Devices(args) => crate::profile::command::run(&args),
    }
}

/// Resolves when the user asks to stop (Ctrl-C, or SIGTERM on Unix).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let source = if args.path.is_dir() {
        Source::Directory(args.path.clone())
    } else {
        Source::Image {
            path: args.path.clone(),
            any_name: args.any_name,
        }
    };
    let mut config = ServerConfig::new(source);
    config.options = OptionPolicy {
        enabled: !args.no_options,
        max_blksize: args.max_blksize.unwrap_or(DEFAULT_MAX_BLKSIZE),
        max_windowsize: args.max_windowsize.unwrap_or(DEFAULT_MAX_WINDOWSIZE),
        strict: false,
    };
    config.write = args.allow_write.map(|dir| WritePolicy {
        dir,
        max_size: args.max_write_size,
    });
    let server = Server::bind(SocketAddr::new(args.bind, args.port), config)
        .map_err(|e| UsageError(e.to_string()))?;
    println!("listening on {}", server.local_addr());
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let running = tokio::spawn(server.run(events_tx, shutdown));
    let mut view = TransferView::new();
    let stop = stop_requested();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = events.recv() => {
                let Some(event) = event else { break };
                view.show(&event);
                let ended = view.finished + view.failed;
                if args.exit_after > 0 && ended >= args.exit_after
                    && matches!(event, TransferEvent::Finished { .. } | TransferEvent::Failed { .. }) {
                    break;
                }
            }
        }
    }
    let _ = shutdown_tx.send(true);
    running.await??;
    Ok(if view.failed > 0 && args.exit_after > 0 {
        Outcome::TransferFailed
    } else {
        Outcome::Done
    })
}

fn read_image(path: &Path) -> Result<Arc<[u8]>, UsageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes.into()),
        Err(err) => Err(UsageError(format!(
            "cannot read the image {}: {err}.\n  fix: check the path (rescue-wizard never modifies the image)",
            path.display()
        ))),
    }
}

/// Runs a client transfer with a progress view and Ctrl-C handling.
async fn run_client<F>(
    transfer: impl FnOnce(mpsc::UnboundedSender<TransferEvent>, Arc<AtomicBool>) -> F,
) -> anyhow::Result<Outcome>
where
    F: Future<Output = Result<client::Transferred, ClientError>> + Send + 'static,
{
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut task = tokio::spawn(transfer(events_tx, Arc::clone(&stop)));
    let mut view = TransferView::new();
    let stop_signal = stop_requested();
    tokio::pin!(stop_signal);
    let result = loop {
        tokio::select! {
            () = &mut stop_signal => stop.store(true, Ordering::Relaxed),
            Some(event) = events.recv() => view.show(&event),
            result = &mut task => break result?,
        }
    };
    while let Ok(event) = events.try_recv() {
        view.show(&event);
    }
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(ClientError::Output(message)) => Err(UsageError(message).into()),
        Err(err) => Err(err.into()),
    }
}

fn client_config(blksize: Option<u16>, windowsize: Option<u16>, wait: u64) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            blksize,
            windowsize,
            ..ClientOptions::default()
        },
        wait: Duration::from_secs(wait),
        ..ClientConfig::default()
    }
}

async fn push(args: PushArgs) -> anyhow::Result<Outcome> {
    let data = read_image(&args.image)?;
    let remote = match args.remote_name {
        Some(name) => name,
        None => args
            .image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                UsageError("the image path has no file name; give --remote-name".into())
            })?,
    };
    let server = SocketAddr::new(args.to, args.port);
    let config = client_config(args.blksize, args.windowsize, args.wait);
    eprintln!(
        "pushing {} ({} bytes) to {server} as \"{remote}\"",
        args.image.display(),
        data.len()
    );
    run_client(move |events, stop| client::push(server, remote, data, config, events, stop)).await
}

async fn get(args: GetArgs) -> anyhow::Result<Outcome> {
    let output = if let Some(path) = args.output {
        path
    } else {
        let last = args.remote.rsplit(['/', '\\']).next().unwrap_or_default();
        if last.is_empty() || last == "." || last == ".." {
            return Err(UsageError(format!(
                "cannot name a local file after \"{}\"; give -o FILE",
                args.remote
            ))
            .into());
        }
        PathBuf::from(last)
    };
    let server = SocketAddr::new(args.host, args.port);
    let config = client_config(args.blksize, args.windowsize, args.wait);
    let remote = args.remote;
    run_client(move |events, stop| client::get(server, remote, output, config, events, stop)).await
}

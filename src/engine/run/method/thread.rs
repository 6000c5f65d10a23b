//! A method's leg on a thread of its own (the NMRP, HTTP and console legs): the inputs it
//! sends the run, and the thread to join at the end.

use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::engine::run::exchange::Input;

/// A leg's thread, running: its inputs for the run, and the thread to join at the end.
#[derive(Debug)]
pub struct Running {
    inputs: UnboundedReceiver<Input>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// The leg whose thread is `thread` (`None` when it could not be spawned: the channel
    /// then just ends) and whose inputs come through `inputs`.
    pub fn new(inputs: UnboundedReceiver<Input>, thread: Option<JoinHandle<()>>) -> Self {
        Self { inputs, thread }
    }

    /// The next input for the run; `None` once the thread ended.
    pub async fn recv(&mut self) -> Option<Input> {
        self.inputs.recv().await
    }

    /// Waits for the thread to end (after `stop` was set): any host changes it made are
    /// undone by then.
    pub async fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Receives from `running`, or never resolves when there is none.
pub async fn recv(running: Option<&mut Running>) -> Option<Input> {
    match running {
        Some(running) => running.recv().await,
        None => std::future::pending().await,
    }
}

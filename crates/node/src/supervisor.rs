//! Running a devnet's nodes as child processes: start them, wait until their APIs answer,
//! stop them gracefully (SIGTERM) or kill one outright (SIGKILL) to test crash recovery.
//! `aifactory devnet`, the end-to-end tests and `scripts/bench-devnet` all drive nodes
//! through this.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use aifactory_api::views::StatusView;
use aifactory_client::Client;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::devnet::{Devnet, DevnetError};

/// How often readiness and exits are polled.
const POLL: Duration = Duration::from_millis(100);

/// Linux's clock ticks per second for `/proc/<pid>/stat` times (`USER_HZ`, 100 on every
/// architecture Linux runs on).
const CLOCK_TICKS_PER_S: u64 = 100;

/// Bytes of the regular files under `dir`, recursively (0 for what cannot be read).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The running node processes of a devnet.
#[derive(Debug)]
pub struct Supervisor {
    devnet: Devnet,
    program: PathBuf,
    children: Vec<Option<Child>>,
}

impl Supervisor {
    /// A supervisor of `devnet`'s nodes run with `program` (the `aifactory` binary); none
    /// is started yet.
    pub fn new(devnet: Devnet, program: &Path) -> Supervisor {
        Supervisor {
            children: (0..devnet.spec.nodes()).map(|_| None).collect(),
            devnet,
            program: program.to_owned(),
        }
    }

    /// Starts every node of `devnet` with `program` (the `aifactory` binary).
    pub fn start(devnet: Devnet, program: &Path) -> Result<Supervisor, DevnetError> {
        let mut supervisor = Supervisor::new(devnet, program);
        for index in 0..supervisor.children.len() {
            supervisor.restart(index)?;
        }
        Ok(supervisor)
    }

    /// The devnet.
    pub fn devnet(&self) -> &Devnet {
        &self.devnet
    }

    /// A client of node `index`'s API.
    pub fn client(&self, index: usize) -> Client {
        Client::new(&format!("http://{}", self.devnet.spec.api(index)))
            .expect("a loopback URL is valid")
    }

    /// Node `index`'s process id, if it is running.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.children[index].as_ref().map(Child::id)
    }

    /// The CPU time (user and system) node `index` has used, if it runs (read from Linux's
    /// `/proc`): what the benches report as the nodes' load.
    pub fn cpu_time(&self, index: usize) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid(index)?)).ok()?;
        // Fields after the command name (which may hold spaces) in parentheses; utime and
        // stime are the 14th and 15th fields of the line, in clock ticks.
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)?
            .iter()
            .map(|t| t.parse::<u64>().ok())
            .sum::<Option<u64>>()?;
        Some(Duration::from_millis(ticks * 1_000 / CLOCK_TICKS_PER_S))
    }

    /// Bytes of the files under node `index`'s data directory.
    pub fn data_bytes(&self, index: usize) -> u64 {
        dir_bytes(&self.devnet.data_dir(index))
    }

    /// Whether node `index` is running (as far as this supervisor knows).
    pub fn is_running(&self, index: usize) -> bool {
        self.children[index].is_some()
    }

    /// (Re)starts node `index` if it is not running.
    pub fn restart(&mut self, index: usize) -> Result<(), DevnetError> {
        if self.children[index].is_none() {
            self.children[index] = Some(self.devnet.spawn(&self.program, index)?);
        }
        Ok(())
    }

    /// Kills node `index` with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks node `index` to stop with SIGTERM and waits up to `grace` before killing it.
    pub fn terminate(&mut self, index: usize, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.children[index].take()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(POLL);
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Stops every node (SIGTERM, then SIGKILL after `grace`).
    pub fn stop_all(&mut self, grace: Duration) {
        for index in 0..self.children.len() {
            self.terminate(index, grace);
        }
    }

    /// Nodes that exited on their own since the last call, with their status.
    pub fn exited(&mut self) -> Vec<(usize, ExitStatus)> {
        let mut exited = Vec::new();
        for (index, slot) in self.children.iter_mut().enumerate() {
            if let Some(child) = slot
                && let Ok(Some(status)) = child.try_wait()
            {
                exited.push((index, status));
                *slot = None;
            }
        }
        exited
    }

    /// Waits until node `index`'s API answers `status`, up to `timeout`.
    pub async fn wait_ready(&self, index: usize, timeout: Duration) -> Result<StatusView, String> {
        let client = self.client(index);
        let deadline = Instant::now() + timeout;
        loop {
            match client.status().await {
                Ok(status) => return Ok(status),
                Err(error) if Instant::now() >= deadline => {
                    return Err(format!(
                        "node {index} did not answer within {timeout:?}: {error} (see {})",
                        self.devnet.log_path(index).display()
                    ));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Waits until node `index` has finalized `height`, up to `timeout`.
    pub async fn wait_height(
        &self,
        index: usize,
        height: u64,
        timeout: Duration,
    ) -> Result<StatusView, String> {
        let client = self.client(index);
        let deadline = Instant::now() + timeout;
        loop {
            let status = client.status().await;
            match status {
                Ok(status) if status.finalized_height >= height => return Ok(status),
                _ if Instant::now() >= deadline => {
                    return Err(format!(
                        "node {index} did not reach height {height} within {timeout:?} (last: {status:?})"
                    ));
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

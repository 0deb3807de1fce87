//! The mesh of real `safemesh` processes: a CA, each node set up with the CLI (`ca init`, `init`) on
//! its own small disk, run inside its own host (`ip netns exec`), listening on every address of its
//! namespace; children dial their parent's address on their wire; each under libfaketime, so its wall
//! clock can jump while it runs. kill -9, restart, and whether a node is still running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::disk::Disk;
use super::hosts::{Net, sh};
use crate::common::chain::BIN;

/// Port of every node's link listener and HTTP API, inside its own namespace.
const LINK_PORT: u16 = 7000;
const HTTP_PORT: u16 = 8080;

/// libfaketime, as Debian's `faketime` package installs it (the thread-safe build).
const FAKETIME_LIBS: [&str; 2] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
];

pub struct Node {
    pub code: &'static str,
    pub parent: Option<usize>,
    pub data_dir: PathBuf,
    pub token: String,
    pub base: String,
    log: PathBuf,
    child: Option<Child>,
    /// libfaketime's timestamp file: the shift of its wall clock (`+0`, `+2d`, `-2d`), read at each
    /// clock call, so the clock of the running process jumps when it is rewritten.
    clock: PathBuf,
    pub disk: Disk,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether its process is alive (not exited, not killed).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

pub struct Mesh {
    pub nodes: Vec<Node>,
    pub net: Net,
    faketime: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Mesh {
    /// Sets up `tree` (code, parent index) with the CLI, each node on a `disk_mib` MiB disk in its
    /// own host; not started.
    pub fn set_up(tree: &[(&'static str, Option<usize>)], disk_mib: u32) -> Result<Mesh, String> {
        let links: Vec<(usize, usize)> = tree
            .iter()
            .enumerate()
            .filter_map(|(i, (_, p))| p.map(|p| (i, p)))
            .collect();
        let net = Net::create(tree.len(), &links)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let ca = dir.path().join("ca");
        cli(&["ca", "init", "--dir", ca.to_str().unwrap()])?;
        let mut nodes = Vec::new();
        for (i, &(code, parent)) in tree.iter().enumerate() {
            let disk = Disk::create(
                &dir.path().join(format!("{code}.img")),
                &dir.path().join(format!("{code}.mnt")),
                disk_mib,
            )?;
            let data_dir = disk.mount.join("node");
            let listen = format!("0.0.0.0:{LINK_PORT}");
            let http = format!("0.0.0.0:{HTTP_PORT}");
            let mut args = vec![
                "init",
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--code",
                code,
                "--listen",
                &listen,
                "--http",
                &http,
                "--ca-dir",
                ca.to_str().unwrap(),
            ];
            let parent_url = parent.map(|_| {
                let wire = net.wires.iter().find(|w| w.child == i).unwrap();
                format!("https://{}:{LINK_PORT}", wire.parent_ip)
            });
            if let Some(p) = &parent_url {
                args.extend(["--parent", p.as_str()]);
            }
            cli(&args)?;
            let token = std::fs::read_to_string(data_dir.join("admin.token"))
                .map_err(|e| e.to_string())?
                .trim()
                .to_string();
            nodes.push(Node {
                code,
                parent,
                base: format!("http://{}:{HTTP_PORT}", net.hosts[i].mgmt),
                data_dir,
                token,
                log: dir.path().join(format!("{code}.log")),
                clock: dir.path().join(format!("{code}.clock")),
                child: None,
                disk,
            });
        }
        Ok(Mesh {
            nodes,
            net,
            faketime: FAKETIME_LIBS.into_iter().find(|p| Path::new(p).exists()),
            _dir: dir,
        })
    }

    /// The log of node `i` (stderr of each of its runs).
    pub fn log(&self, i: usize) -> &Path {
        &self.nodes[i].log
    }

    /// Shifts node `i`'s wall clock by `spec` (`+0`, `+2d`, `-2d`), at once, while it runs.
    pub fn set_clock(&self, i: usize, spec: &str) -> Result<(), String> {
        std::fs::write(&self.nodes[i].clock, format!("{spec}\n")).map_err(|e| e.to_string())
    }

    /// Starts node `i` in its host, its wall clock under libfaketime (shifted by nothing until a
    /// `Clock` fault writes its timestamp file).
    pub fn spawn(&mut self, i: usize) -> Result<(), String> {
        if !self.nodes[i].clock.exists() {
            self.set_clock(i, "+0")?;
        }
        let ns = self.net.hosts[i].ns.clone();
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns, BIN, "run", "--data-dir"])
            .arg(&n.data_dir)
            .stdout(Stdio::null())
            .stderr(log);
        let lib = self
            .faketime
            .ok_or("libfaketime is not installed (apt-get install faketime)")?;
        cmd.env("LD_PRELOAD", lib)
            .env("FAKETIME_TIMESTAMP_FILE", &n.clock)
            .env("FAKETIME_NO_CACHE", "1")
            // Timers and timeouts keep the real monotonic clock; only the wall clock jumps.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        n.child = Some(cmd.spawn().map_err(|e| e.to_string())?);
        Ok(())
    }

    /// kill -9 of node `i`.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until node `i` answers `GET /healthz`, within `bound`.
    pub async fn wait_up(
        &mut self,
        client: &reqwest::Client,
        i: usize,
        bound: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + bound;
        loop {
            if let Ok(r) = client.get(self.nodes[i].url("/healthz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if !self.nodes[i].running() {
                return Err(format!("{} exited while starting", self.nodes[i].code));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer within {bound:?}",
                    self.nodes[i].code
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Runs `safemesh ARGS`, which must succeed.
fn cli(args: &[&str]) -> Result<(), String> {
    sh(BIN, args)
}

/// Whether the kernel and tools this runner needs are here: namespaces and veths (`ip`), a loop
/// device (`mount -o loop`), `mkfs.ext4`, `nft`, and libfaketime. The reason when not.
pub fn preflight() -> Result<(), String> {
    for tool in ["ip", "tc", "nft", "mkfs.ext4", "mount", "truncate"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
            || Path::new("/usr/sbin").join(tool).exists();
        if !found {
            return Err(format!("{tool} is missing"));
        }
    }
    if !FAKETIME_LIBS.iter().any(|p| Path::new(p).exists()) {
        return Err("libfaketime is missing (apt-get install faketime)".into());
    }
    let probe = format!("smc-probe-{}", std::process::id());
    sh("ip", &["netns", "add", &probe]).map_err(|e| format!("cannot create a namespace: {e}"))?;
    let _ = sh("ip", &["netns", "del", &probe]);
    Ok(())
}

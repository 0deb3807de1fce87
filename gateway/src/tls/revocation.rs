//! 吊销列表 — the certificate serials a node refuses, from a file that is re-read when it changes.
//!
//! Revocation is a plain list kept by the operator (`safemesh ca revoke` maintains it, format in
//! [`parse_revocation_list`]) and copied to each node: a node must honour a new entry
//! without a restart and without reaching any server. Both verifiers ask the list at every
//! handshake; live streams subscribe to its changes, so a peer revoked mid-stream is cut off too
//! (see [`crate::link`]).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::stamp::{FileStamp, lock};

/// 吊销列表 — the serials a node refuses, read from a file (`D/tls/revoked.txt`, format in
/// [`parse_revocation_list`]) and re-read whenever it changes, without a restart.
///
/// Cheap to clone (shared). A missing file is an empty list. An unreadable file keeps the list
/// last read (and is logged); a malformed line is skipped (and logged). [`RevocationList::refresh`]
/// re-reads the file if its modification time, size or inode changed; the TLS verifiers call it
/// at every handshake, and [`RevocationList::watch`] calls it periodically so live streams can be
/// checked with [`RevocationList::subscribe`].
#[derive(Clone)]
pub struct RevocationList {
    inner: Arc<RevocationInner>,
}

struct RevocationInner {
    path: PathBuf,
    state: Mutex<RevocationState>,
    changed: watch::Sender<u64>,
}

struct RevocationState {
    stamp: Option<FileStamp>,
    serials: Arc<BTreeSet<String>>,
    last_error: Option<String>,
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationList")
            .field("path", &self.inner.path)
            .field("serials", &lock(&self.inner.state).serials.len())
            .finish()
    }
}

impl RevocationList {
    /// Opens the list at `path` (which need not exist yet) and reads it.
    pub fn open(path: impl Into<PathBuf>) -> RevocationList {
        let list = RevocationList {
            inner: Arc::new(RevocationInner {
                path: path.into(),
                state: Mutex::new(RevocationState {
                    stamp: None,
                    serials: Arc::default(),
                    last_error: None,
                }),
                changed: watch::channel(0).0,
            }),
        };
        list.refresh();
        list
    }

    /// The file this list is read from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Re-reads the file if it changed since the last read. Returns true if the set of serials
    /// changed (subscribers are then notified).
    pub fn refresh(&self) -> bool {
        let path = &self.inner.path;
        let mut st = lock(&self.inner.state);
        let stamp = match FileStamp::of(path) {
            Ok(s) => s,
            Err(e) => {
                self.read_failed(&mut st, e.to_string());
                return false;
            }
        };
        if stamp == st.stamp && st.last_error.is_none() {
            return false;
        }
        let text = match stamp {
            None => String::new(),
            Some(_) => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
                Err(e) => {
                    self.read_failed(&mut st, e.to_string());
                    return false;
                }
            },
        };
        st.stamp = stamp;
        st.last_error = None;
        let (serials, bad) = parse_revocation_list(&text);
        for (line, content) in bad {
            tracing::warn!(file = %path.display(), line, content = %content,
                "吊销列表中的行无法解析，已跳过 / revocation list line is not a serial; skipped");
        }
        if *st.serials == serials {
            return false;
        }
        tracing::info!(file = %path.display(), serials = serials.len(),
            "吊销列表已更新 / revocation list reloaded");
        st.serials = Arc::new(serials);
        drop(st);
        self.inner.changed.send_modify(|g| *g += 1);
        true
    }

    fn read_failed(&self, st: &mut RevocationState, error: String) {
        if st.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(file = %self.inner.path.display(), %error,
                "无法读取吊销列表，沿用上次内容 / cannot read the revocation list; keeping the last one read");
        }
        st.last_error = Some(error);
    }

    /// True if `serial` (hex, any case, colons allowed) is listed, after re-reading the file if it
    /// changed.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.refresh();
        self.contains(serial)
    }

    /// True if `serial` is in the list as last read (no file access).
    pub fn contains(&self, serial: &str) -> bool {
        canonical_serial(serial).is_some_and(|s| lock(&self.inner.state).serials.contains(&s))
    }

    /// The listed serials (canonical: lowercase hex without leading zeros), as last read.
    pub fn serials(&self) -> Arc<BTreeSet<String>> {
        lock(&self.inner.state).serials.clone()
    }

    /// A receiver that changes whenever the set of serials changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Re-reads the file every `every` until `shutdown` turns true, so subscribers (live streams)
    /// learn of new revocations without waiting for a handshake.
    pub async fn watch(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => { self.refresh(); }
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

/// 规范序列号 — a serial number as given by an operator or a certificate (hex, any case, with or
/// without `:` separators, e.g. `5A:0B:…` from openssl) in canonical form: lowercase hex without
/// separators or leading zeros. `None` if it is not hex, is zero, or is longer than 20 bytes.
pub fn canonical_serial(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 40 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0').to_ascii_lowercase();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// 解析吊销列表 — the serials of a revocation list text, canonical (see [`canonical_serial`]),
/// and the lines that are not understood (1-based line number, text).
///
/// Format (`revoked.txt`): UTF-8 text, one revoked certificate per line. Blank lines and lines
/// whose first non-blank character is `#` are ignored. Otherwise the first whitespace-separated
/// word is the certificate's serial number in hex (case-insensitive, `:` separators allowed);
/// anything after it on the line is free text (`safemesh ca revoke` writes `# <time> <reason>`).
/// A line whose first word is not a serial is reported and skipped — it never revokes anything.
///
/// ```text
/// # safemesh revocation list
/// 5a0b7c1d2e3f40516273849a5b6c7d8e  # 2026-03-01T08:00:00Z 笔记本丢失 / laptop lost
/// 1F:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00
/// ```
pub fn parse_revocation_list(text: &str) -> (BTreeSet<String>, Vec<(usize, String)>) {
    let mut serials = BTreeSet::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or_default();
        match canonical_serial(word) {
            Some(s) => {
                serials.insert(s);
            }
            None => bad.push((i + 1, line.to_string())),
        }
    }
    (serials, bad)
}

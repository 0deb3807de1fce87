//! 吊销列表 — the certificate serials a node refuses: the CA's signed CRL (`D/tls/crl.pem`, taken
//! from the parent over the link or installed by the operator) and, for operators who keep one, the
//! plain list `D/tls/revoked.txt`; both re-read when they change.
//!
//! A node must honour a new entry without a restart and without reaching any server. Both verifiers
//! hand the CRL to rustls' own CRL check and ask the serials of both at every handshake; live
//! streams subscribe to changes, so a peer revoked mid-stream is cut off too (see
//! [`crate::link`]), and the link state its certificate established is voided
//! ([`safemesh_link::crl::void_revoked`]).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::sync::watch;

use super::crl::{Crl, CrlError};
use super::stamp::{FileStamp, lock};

/// 吊销列表 — the serials a node refuses: those of its CRL (`D/tls/crl.pem`, signed by the CA) and
/// those of the plain list `D/tls/revoked.txt` (format in [`parse_revocation_list`]), each re-read
/// whenever it changes, without a restart.
///
/// Cheap to clone (shared). A missing file is an empty list. An unreadable file keeps the list
/// last read (and is logged); a malformed line is skipped (and logged); a CRL file that is not
/// signed by the CA, or older than the CRL held, is not taken (and logged).
/// [`RevocationList::refresh`] re-reads a file if its modification time, size or inode changed;
/// the TLS verifiers call it at every handshake, and [`RevocationList::watch`] calls it
/// periodically so live streams can be checked with [`RevocationList::subscribe`]. A newer CRL a
/// parent offers is taken with [`RevocationList::offer`].
#[derive(Clone)]
pub struct RevocationList {
    inner: Arc<RevocationInner>,
}

struct RevocationInner {
    path: PathBuf,
    crl: Option<CrlFile>,
    state: Mutex<RevocationState>,
    changed: watch::Sender<u64>,
}

/// Where the CRL is kept and the CA it must be signed by.
struct CrlFile {
    path: PathBuf,
    ca: Vec<CertificateDer<'static>>,
}

struct RevocationState {
    stamp: Option<FileStamp>,
    /// The serials of `revoked.txt`.
    listed: BTreeSet<String>,
    last_error: Option<String>,
    crl_stamp: Option<FileStamp>,
    crl: Option<Arc<Crl>>,
    crl_error: Option<String>,
    /// Both, as the verifiers and live streams ask.
    serials: Arc<BTreeSet<String>>,
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.inner.state);
        f.debug_struct("RevocationList")
            .field("path", &self.inner.path)
            .field("serials", &st.serials.len())
            .field("crl_number", &st.crl.as_ref().map(|c| c.number()))
            .finish()
    }
}

impl RevocationList {
    /// Opens the plain list at `path` (which need not exist yet) and reads it; no CRL.
    pub fn open(path: impl Into<PathBuf>) -> RevocationList {
        Self::build(path.into(), None)
    }

    /// Opens the plain list at `path` and the CRL at `crl_path` (neither need exist yet), the CRL
    /// to be signed by one of `ca`.
    pub fn open_with_crl(
        path: impl Into<PathBuf>,
        crl_path: impl Into<PathBuf>,
        ca: &[CertificateDer<'static>],
    ) -> RevocationList {
        Self::build(
            path.into(),
            Some(CrlFile {
                path: crl_path.into(),
                ca: ca.to_vec(),
            }),
        )
    }

    fn build(path: PathBuf, crl: Option<CrlFile>) -> RevocationList {
        let list = RevocationList {
            inner: Arc::new(RevocationInner {
                path,
                crl,
                state: Mutex::new(RevocationState {
                    stamp: None,
                    listed: BTreeSet::new(),
                    last_error: None,
                    crl_stamp: None,
                    crl: None,
                    crl_error: None,
                    serials: Arc::default(),
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

    /// Re-reads the files if they changed since the last read. Returns true if the set of serials
    /// or the CRL changed (subscribers are then notified).
    pub fn refresh(&self) -> bool {
        let mut st = lock(&self.inner.state);
        let crl_changed = self.refresh_crl(&mut st);
        self.refresh_listed(&mut st);
        self.settle(st, crl_changed)
    }

    /// Recomputes the union; notifies subscribers if it or the CRL changed.
    fn settle(
        &self,
        mut st: std::sync::MutexGuard<'_, RevocationState>,
        crl_changed: bool,
    ) -> bool {
        let mut serials = st.listed.clone();
        if let Some(crl) = &st.crl {
            serials.extend(crl.serials().iter().cloned());
        }
        if *st.serials == serials && !crl_changed {
            return false;
        }
        tracing::info!(file = %self.inner.path.display(), serials = serials.len(),
            crl_number = st.crl.as_ref().map_or(0, |c| c.number()),
            "吊销列表已更新 / revocation list reloaded");
        st.serials = Arc::new(serials);
        drop(st);
        self.inner.changed.send_modify(|g| *g += 1);
        true
    }

    fn refresh_listed(&self, st: &mut RevocationState) {
        let path = &self.inner.path;
        let stamp = match FileStamp::of(path) {
            Ok(s) => s,
            Err(e) => return self.read_failed(st, e.to_string()),
        };
        if stamp == st.stamp && st.last_error.is_none() {
            return;
        }
        let text = match stamp {
            None => String::new(),
            Some(_) => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
                Err(e) => return self.read_failed(st, e.to_string()),
            },
        };
        st.stamp = stamp;
        st.last_error = None;
        let (serials, bad) = parse_revocation_list(&text);
        for (line, content) in bad {
            tracing::warn!(file = %path.display(), line, content = %content,
                "吊销列表中的行无法解析，已跳过 / revocation list line is not a serial; skipped");
        }
        st.listed = serials;
    }

    /// Re-reads the CRL file if it changed. A file that is not a CRL of the CA, or older than the
    /// one held, is not taken. Returns whether the CRL held changed.
    fn refresh_crl(&self, st: &mut RevocationState) -> bool {
        let Some(file) = &self.inner.crl else {
            return false;
        };
        let stamp = FileStamp::of(&file.path).ok().flatten();
        if stamp == st.crl_stamp {
            return false;
        }
        st.crl_stamp = stamp;
        if stamp.is_none() {
            // Removed: the CRL held stays (a revocation is never undone by losing a file).
            return false;
        }
        let read = std::fs::read(&file.path)
            .map_err(|e| CrlError::Io(e.to_string()))
            .and_then(|bytes| Crl::verify(&bytes, &file.ca));
        match read {
            Ok(crl)
                if st
                    .crl
                    .as_ref()
                    .is_none_or(|held| crl.number() > held.number()) =>
            {
                st.crl = Some(Arc::new(crl));
                st.crl_error = None;
                true
            }
            Ok(_) => false,
            Err(e) => {
                let error = e.to_string();
                if st.crl_error.as_deref() != Some(error.as_str()) {
                    tracing::warn!(file = %file.path.display(), %error,
                        "吊销列表文件不可用，沿用现有的 / CRL file not taken; keeping the one held");
                }
                st.crl_error = Some(error);
                false
            }
        }
    }

    /// 接收吊销列表 — a CRL offered by the parent (DER or PEM): taken only if it is signed by the CA
    /// and its number is higher than the CRL held; then written to `D/tls/crl.pem` atomically
    /// (before it is used, so a restart keeps it), and subscribers notified. A refused CRL changes
    /// nothing.
    pub fn offer(&self, bytes: &[u8]) -> Result<Arc<Crl>, CrlError> {
        let Some(file) = &self.inner.crl else {
            return Err(CrlError::Io(
                "这个节点不保存吊销列表 / this node keeps no CRL".into(),
            ));
        };
        let crl = Crl::verify(bytes, &file.ca)?;
        let mut st = lock(&self.inner.state);
        // The file may hold a newer one than last read.
        let reread = self.refresh_crl(&mut st);
        if let Some(held) = &st.crl
            && crl.number() <= held.number()
        {
            let held = held.number();
            self.settle(st, reread);
            return Err(CrlError::NotNewer {
                offered: crl.number(),
                held,
            });
        }
        super::pair::replace_file(&file.path, crl.to_pem().as_bytes())
            .map_err(|e| CrlError::Io(e.to_string()))?;
        st.crl_stamp = FileStamp::of(&file.path).ok().flatten();
        let crl = Arc::new(crl);
        st.crl = Some(crl.clone());
        st.crl_error = None;
        self.settle(st, true);
        Ok(crl)
    }

    /// The CRL held now, if any.
    pub fn crl(&self) -> Option<Arc<Crl>> {
        lock(&self.inner.state).crl.clone()
    }

    /// Counts every change of the serials or the CRL: a verifier rebuilt at one generation is
    /// current until it moves.
    pub fn generation(&self) -> u64 {
        *self.inner.changed.borrow()
    }

    fn read_failed(&self, st: &mut RevocationState, error: String) {
        if st.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(file = %self.inner.path.display(), %error,
                "无法读取吊销列表，沿用上次内容 / cannot read the revocation list; keeping the last one read");
        }
        st.last_error = Some(error);
    }

    /// True if `serial` (hex, any case, colons allowed) is revoked, after re-reading the files if
    /// they changed.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.refresh();
        self.contains(serial)
    }

    /// True if `serial` is revoked as last read (no file access).
    pub fn contains(&self, serial: &str) -> bool {
        canonical_serial(serial).is_some_and(|s| lock(&self.inner.state).serials.contains(&s))
    }

    /// The revoked serials (canonical: lowercase hex without leading zeros), as last read: the
    /// CRL's and the plain list's.
    pub fn serials(&self) -> Arc<BTreeSet<String>> {
        lock(&self.inner.state).serials.clone()
    }

    /// A receiver that changes whenever the set of serials or the CRL changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Re-reads the files every `every` until `shutdown` turns true, so subscribers (live streams)
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

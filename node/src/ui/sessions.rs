//! 会话表 — the sessions of this node's web UI, in memory: each a random id, the SHA-256 of the token
//! it logged in with and its CSRF token. Idle sessions end after [`IDLE`]; at most [`MAX_SESSIONS`]
//! are kept (the oldest idle one goes first).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a session may sit unused.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// The most sessions a node keeps.
pub const MAX_SESSIONS: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone)]
struct Session {
    token_hash: String,
    csrf: String,
    last_seen: Instant,
}

/// The sessions of this node.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for the token with this hash; returns its id.
    pub fn create(&self, token_hash: String) -> String {
        let id = random_hex();
        let mut s = self.lock();
        s.retain(|_, v| v.last_seen.elapsed() < IDLE);
        if s.len() >= MAX_SESSIONS
            && let Some(oldest) = s
                .iter()
                .min_by_key(|(_, v)| v.last_seen)
                .map(|(k, _)| k.clone())
        {
            s.remove(&oldest);
        }
        s.insert(
            id.clone(),
            Session {
                token_hash,
                csrf: random_hex(),
                last_seen: Instant::now(),
            },
        );
        id
    }

    /// The session's token hash and CSRF token, if it exists and is not idle too long.
    pub(super) fn touch(&self, id: &str) -> Option<(String, String)> {
        let mut s = self.lock();
        let live = s.get(id).is_some_and(|v| v.last_seen.elapsed() < IDLE);
        if !live {
            s.remove(id);
            return None;
        }
        let v = s.get_mut(id)?;
        v.last_seen = Instant::now();
        Some((v.token_hash.clone(), v.csrf.clone()))
    }

    /// Ends one session.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Ends every session of the token with this hash (the token was revoked).
    pub fn end_token(&self, token_hash: &str) {
        self.lock().retain(|_, v| v.token_hash != token_hash);
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_resolves_until_it_ends_and_ending_a_token_ends_all_of_its_sessions() {
        let s = Sessions::default();
        let a = s.create("h1".into());
        let b = s.create("h1".into());
        let c = s.create("h2".into());
        assert_eq!(s.touch(&a).map(|(h, _)| h).as_deref(), Some("h1"));
        s.end(&a);
        assert!(s.touch(&a).is_none());
        s.end_token("h1");
        assert!(s.touch(&b).is_none());
        assert!(s.touch(&c).is_some());
    }
}

//! The cache [`super::auth`] resolves bearer tokens through: a token looked up is trusted for
//! [`TOKEN_CACHE_TTL`] before the store is asked again. The tokens themselves are the store's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use safemesh_store::Store;

use super::caller::Caller;

/// How long the API trusts a token it has looked up before asking the store again. A token revoked
/// through this node's API (`DELETE /api/v1/tokens/{id}`) is refused from the next request on; one
/// revoked from outside (`safemesh token revoke`, another process on the same store) within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Resolved tokens by hash, each trusted for [`TOKEN_CACHE_TTL`]. Only valid tokens are kept, so the
/// cache holds at most one entry per token the store knows.
#[derive(Default)]
pub struct TokenCache {
    inner: std::sync::Mutex<TokenCacheInner>,
}

#[derive(Default)]
struct TokenCacheInner {
    /// Bumped on every revocation through this node, so a lookup that raced with one is not cached.
    generation: u64,
    entries: HashMap<String, (Caller, Instant)>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caller whose token hashes to `hash`, if the token exists and is not revoked.
    pub async fn resolve(
        &self,
        store: &Store,
        hash: &str,
    ) -> Result<Option<Caller>, safemesh_store::Error> {
        let generation = {
            let c = self.lock();
            if let Some((caller, at)) = c.entries.get(hash)
                && at.elapsed() < TOKEN_CACHE_TTL
            {
                return Ok(Some(caller.clone()));
            }
            c.generation
        };
        let caller = store.token_by_hash(hash).await?.map(|t| Caller {
            token_id: t.id,
            name: t.name,
            role: t.role,
        });
        let mut c = self.lock();
        match &caller {
            Some(found) if c.generation == generation => {
                if c.entries.len() >= 1024 {
                    c.entries
                        .retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
                }
                c.entries
                    .insert(hash.to_string(), (found.clone(), Instant::now()));
            }
            _ => {
                c.entries.remove(hash);
            }
        }
        Ok(caller)
    }

    /// Forgets everything (after a revocation), so the next request of every token asks the store.
    pub fn forget(&self) {
        let mut c = self.lock();
        c.generation += 1;
        c.entries.clear();
    }
}

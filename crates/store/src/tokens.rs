//! HTTP API tokens: who may use a node's API, in which role, and under which name their changes are
//! recorded.
//!
//! A token is a random secret (32 bytes, 64 hex characters) handed to a person once. The store keeps
//! only its SHA-256 (hex) with a short public id, the person's name, the role and the times it was
//! created and revoked; a revoked token stays listed (the audit trail names people by token name).
//! Tokens are local to a node: they are not documents, do not bump the sequence number and never
//! replicate. Every write goes through the one [`Writer`], like any other write of this store.

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Error;
use crate::sql::now_rfc3339;
use crate::store::Store;
use crate::writer::Writer;

/// What a token may do. Ordered: each of viewer, editor and admin may do everything of the roles
/// before it. `metrics` comes first and is apart: it may read the node's Prometheus metrics
/// (`/metrics`) and nothing else — no record, no page of the web UI ([`TokenRole::may_read_metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenRole {
    /// 监控 — reads `/metrics` only (a Prometheus server's token).
    Metrics,
    /// Read only (every `GET`).
    Viewer,
    /// Reads, and writes records (hazards, events, directives, responses).
    Editor,
    /// Everything, including managing tokens and reading `/metrics`.
    Admin,
}

impl TokenRole {
    pub const ALL: [TokenRole; 4] = [
        TokenRole::Metrics,
        TokenRole::Viewer,
        TokenRole::Editor,
        TokenRole::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Metrics => "metrics",
            TokenRole::Viewer => "viewer",
            TokenRole::Editor => "editor",
            TokenRole::Admin => "admin",
        }
    }

    /// The Chinese name of the role, for people.
    pub fn label(self) -> &'static str {
        match self {
            TokenRole::Metrics => "监控",
            TokenRole::Viewer => "只读",
            TokenRole::Editor => "编辑",
            TokenRole::Admin => "管理员",
        }
    }

    /// `metrics`, `viewer`, `editor` or `admin` (case and surrounding space ignored).
    pub fn parse(s: &str) -> Option<TokenRole> {
        let s = s.trim().to_ascii_lowercase();
        TokenRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may read records (the API under `/api/v1`, the web UI): all but `metrics`.
    pub fn may_read_records(self) -> bool {
        self >= TokenRole::Viewer
    }

    /// Whether this role may read the node's metrics (`/metrics`): `metrics` and `admin`.
    pub fn may_read_metrics(self) -> bool {
        matches!(self, TokenRole::Metrics | TokenRole::Admin)
    }
}

impl std::fmt::Display for TokenRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One token as stored, without its hash. (The secret is never stored.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Short public id (`t-` + 12 hex), used to list and revoke.
    pub id: String,
    /// The person (or service) holding it; recorded in every change made with it.
    pub name: String,
    pub role: TokenRole,
    /// RFC 3339 UTC.
    pub created: String,
    /// When it was revoked (RFC 3339 UTC), if it was.
    pub revoked: Option<String>,
}

/// Longest token name, in characters.
pub const TOKEN_NAME_MAX: usize = 64;

/// Checks a token name: trimmed, at most [`TOKEN_NAME_MAX`] characters, no control characters. An
/// empty result means "no name given".
pub fn token_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    let invalid = |reason: String| Error::Invalid {
        field: "name".into(),
        reason,
    };
    if name.chars().count() > TOKEN_NAME_MAX {
        return Err(invalid(format!(
            "名称不能超过 {TOKEN_NAME_MAX} 字 / name is longer than {TOKEN_NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "名称不能含控制字符 / name must not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}

/// The SHA-256 (hex) of a secret, as stored and looked up. Surrounding whitespace is not part of the
/// secret (a token file ends with a newline).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

fn new_id() -> String {
    format!("t-{}", hex::encode(rand::random::<[u8; 6]>()))
}

fn token_row(r: &AnyRow) -> Result<TokenRow, Error> {
    let id: String = r.try_get("id")?;
    let role: String = r.try_get("role")?;
    let role = TokenRole::parse(&role).ok_or_else(|| Error::Corrupt {
        id: format!("token {id}"),
        reason: format!("unknown role {role:?}"),
    })?;
    Ok(TokenRow {
        name: r.try_get("name")?,
        role,
        created: r.try_get("created")?,
        revoked: r.try_get("revoked")?,
        id,
    })
}

impl Store {
    /// Creates a token for `name` (checked with [`token_name`]; if empty, the token is named
    /// `{role}-{id}`) in `role`. Returns the row and the secret, which exists nowhere else: hand it
    /// over now.
    pub async fn create_token(
        &self,
        name: &str,
        role: TokenRole,
    ) -> Result<(TokenRow, String), Error> {
        let name = token_name(name)?;
        let mut w = self.writer().await?;
        // A fresh id and secret collide with nothing in practice; retry rather than assume.
        for _ in 0..4 {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            let id = new_id();
            let row = TokenRow {
                name: if name.is_empty() {
                    format!("{role}-{id}")
                } else {
                    name.clone()
                },
                id,
                role,
                created: now_rfc3339(),
                revoked: None,
            };
            if w.insert_token(&row, &hash_secret(&secret)).await? {
                w.commit().await?;
                return Ok((row, secret));
            }
        }
        Err(Error::Invalid {
            field: "id".into(),
            reason: "无法生成唯一的令牌标识 / could not generate a unique token id".into(),
        })
    }

    /// Registers a secret that exists elsewhere (the data dir's `admin.token`) by its hash, unless a
    /// token with that hash exists already — revoked or not, so a revoked token stays revoked. Returns
    /// the new row if one was added.
    pub async fn register_token_hash(
        &self,
        name: &str,
        role: TokenRole,
        hash: &str,
    ) -> Result<Option<TokenRow>, Error> {
        let name = token_name(name)?;
        let mut w = self.writer().await?;
        for _ in 0..4 {
            let row = TokenRow {
                id: new_id(),
                name: name.clone(),
                role,
                created: now_rfc3339(),
                revoked: None,
            };
            if w.insert_token(&row, hash).await? {
                w.commit().await?;
                return Ok(Some(row));
            }
            if w.token_hash_known(hash).await? {
                return Ok(None);
            }
        }
        Err(Error::Invalid {
            field: "id".into(),
            reason: "无法生成唯一的令牌标识 / could not generate a unique token id".into(),
        })
    }

    /// Every token, revoked ones included, oldest first. Hashes are not part of the rows.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>, Error> {
        let rows =
            sqlx::query("SELECT id, name, role, created, revoked FROM tokens ORDER BY created, id")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(token_row).collect()
    }

    /// One page of [`Store::list_tokens`] (same order: oldest first, then `id`): at most `limit` after
    /// skipping `offset`, and the count of all tokens.
    pub async fn tokens_page(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<TokenRow>, u64), Error> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, role, created, revoked FROM tokens ORDER BY created, id LIMIT {limit} OFFSET {offset}"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok((
            rows.iter().map(token_row).collect::<Result<_, _>>()?,
            total.max(0) as u64,
        ))
    }

    /// One token by its public id.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>, Error> {
        let row = sqlx::query("SELECT id, name, role, created, revoked FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(token_row).transpose()
    }

    /// Revokes a token. Returns its row (with the time it was revoked; revoking twice keeps the first
    /// time), or `None` if there is no such token.
    pub async fn revoke_token(&self, id: &str) -> Result<Option<TokenRow>, Error> {
        let mut w = self.writer().await?;
        let row = w.revoke_token(id).await?;
        w.commit().await?;
        Ok(row)
    }

    /// The token whose secret hashes to `hash` (see [`hash_secret`]), if it exists and is not revoked.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, Error> {
        let row = sqlx::query(
            "SELECT id, name, role, created, revoked FROM tokens WHERE hash = $1 AND revoked IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(token_row).transpose()
    }
}

impl Writer {
    /// Inserts a token row with the hash of its secret. Returns false (and writes nothing) if the id
    /// or the hash is taken.
    pub async fn insert_token(&mut self, row: &TokenRow, hash: &str) -> Result<bool, Error> {
        let done = sqlx::query(
            "INSERT INTO tokens (id, name, role, hash, created, revoked) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.role.as_str())
        .bind(hash)
        .bind(&row.created)
        .bind(row.revoked.as_deref())
        .execute(&mut **self.tx())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether any token (revoked or not) has this hash.
    pub async fn token_hash_known(&mut self, hash: &str) -> Result<bool, Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut **self.tx())
            .await?;
        Ok(row.is_some())
    }

    /// Marks a token revoked now, unless it already is. Returns its row, or `None` if unknown.
    pub async fn revoke_token(&mut self, id: &str) -> Result<Option<TokenRow>, Error> {
        sqlx::query("UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now_rfc3339())
            .bind(id)
            .execute(&mut **self.tx())
            .await?;
        let row = sqlx::query("SELECT id, name, role, created, revoked FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **self.tx())
            .await?;
        row.as_ref().map(token_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(TokenRole::Viewer < TokenRole::Editor && TokenRole::Editor < TokenRole::Admin);
        // `metrics` is below every record role: a check for "at least viewer" refuses it.
        assert!(TokenRole::Metrics < TokenRole::Viewer);
        let readers: Vec<_> = TokenRole::ALL
            .into_iter()
            .filter(|r| r.may_read_metrics())
            .collect();
        assert_eq!(readers, [TokenRole::Metrics, TokenRole::Admin]);
        for r in TokenRole::ALL {
            assert_eq!(TokenRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(TokenRole::parse(" Editor "), Some(TokenRole::Editor));
        assert_eq!(TokenRole::parse("root"), None);
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert_eq!(token_name("  张三 ").unwrap(), "张三");
        assert_eq!(token_name("").unwrap(), "");
        assert!(token_name(&"长".repeat(TOKEN_NAME_MAX)).is_ok());
        assert!(token_name(&"长".repeat(TOKEN_NAME_MAX + 1)).is_err());
        assert!(token_name("a\nb").is_err());
    }

    #[test]
    fn hash_ignores_surrounding_space() {
        assert_eq!(hash_secret("abc\n"), hash_secret("abc"));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

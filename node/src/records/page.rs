//! 分页 — how every list of the API is paged: `limit` rows (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) after skipping `offset`, answered as `{items, total, limit, offset}` ([`Page`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::RecordError;

/// Rows a page has when the query does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows one page has.
pub const MAX_LIMIT: u32 = 500;
/// The most rows a page may skip (no list is longer; past the store's 64-bit integers a database
/// would refuse the value).
pub const MAX_OFFSET: u64 = 1_000_000_000;

/// The paging parameters of a list's query string. Kept as text so a bad value is a 400 naming it.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1–500; default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Rows to skip, 0–1,000,000,000; default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<String>,
}

/// Validated paging: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl Paging {
    /// Reads `limit` and `offset` (empty means not given): 400 naming the one that is not a whole
    /// number in range.
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Paging, RecordError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let limit = match given(limit) {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(RecordError::bad(
                        "limit",
                        format!(
                            "每页条数应为 1 到 {MAX_LIMIT} 的整数 / limit must be a whole number from 1 to {MAX_LIMIT}"
                        ),
                    ));
                }
            },
        };
        let offset = match given(offset) {
            None => 0,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= MAX_OFFSET => n,
                _ => {
                    return Err(RecordError::bad(
                        "offset",
                        format!(
                            "跳过条数应为 0 到 {MAX_OFFSET} 的整数 / offset must be a whole number from 0 to {MAX_OFFSET}"
                        ),
                    ));
                }
            },
        };
        Ok(Paging { limit, offset })
    }

    /// One page of a list that is already whole and in order (filtered in Rust).
    pub fn slice(self, all: Vec<Value>) -> Page {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(self.limit as usize)
            .collect();
        Page {
            items,
            total,
            limit: self.limit,
            offset: self.offset,
        }
    }

    /// A page of rows the store has already cut, with the count of all that match.
    pub fn page(self, items: Vec<Value>, total: u64) -> Page {
        Page {
            items,
            total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

impl PageQuery {
    pub fn paging(&self) -> Result<Paging, RecordError> {
        Paging::parse(self.limit.as_deref(), self.offset.as_deref())
    }
}

/// 分页结果 — one page of a list: `items` (at most `limit`), `total` (all that match the filters),
/// and the `limit` and `offset` that were applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    /// The rows of this page, in the list's documented order (the record objects of docs/API.md).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// How many rows match, over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bounds_and_slicing() {
        assert_eq!(Paging::parse(None, Some("")).unwrap(), Paging::default());
        assert_eq!(
            Paging::parse(Some("500"), Some("7")).unwrap(),
            Paging {
                limit: 500,
                offset: 7
            }
        );
        for bad in ["0", "501", "-1", "x", "1.5"] {
            assert_eq!(
                Paging::parse(Some(bad), None).unwrap_err().field.as_deref(),
                Some("limit")
            );
        }
        assert_eq!(
            Paging::parse(None, Some("-3"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("offset")
        );
        let p = Paging {
            limit: 2,
            offset: 3,
        }
        .slice((0..6).map(Value::from).collect());
        assert_eq!(
            (p.items, p.total),
            (vec![Value::from(3), Value::from(4)], 6)
        );
        let p = Paging {
            limit: 2,
            offset: 9,
        }
        .slice((0..6).map(Value::from).collect());
        assert_eq!((p.items.len(), p.total), (0, 6));
    }
}

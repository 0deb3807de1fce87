//! 行政区划代码 — administrative division codes (GB/T 2260 + GB/T 10114) and the levels they imply.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// 层级 — the administrative level a node sits at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 省/自治区
    Province,
    /// 市/州
    City,
    /// 县/区
    County,
    /// 乡镇/街道
    Township,
}

impl Level {
    /// Number of digits of a code in prefix form at this level.
    pub fn digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
        }
    }

    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Province => "省级",
            Level::City => "市级",
            Level::County => "县级",
            Level::Township => "乡级",
        }
    }
}

/// 行政区划代码 — a node's identity. Held in prefix form: `53`, `5301`, `530181`, `530181006`.
///
/// Jurisdiction is the prefix relation: `5301` is an ancestor of `530181006`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdminCode(String);

impl AdminCode {
    /// Parses a code in prefix form (`53`, `5301`, `530181`, `530181006`) or in the 6-digit GB/T 2260
    /// form (`530000`, `530100`), also the 12-digit statistical form (`530181006000`).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let s = input.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidCode {
                input: input.to_string(),
                reason: "代码只能由数字组成 / a code is digits only",
            });
        }
        let prefix = match s.len() {
            2 | 4 | 9 => s.to_string(),
            6 => {
                if s.ends_with("0000") {
                    s[..2].to_string()
                } else if s.ends_with("00") {
                    s[..4].to_string()
                } else {
                    s.to_string()
                }
            }
            12 if s.ends_with("000") => s[..9].to_string(),
            _ => {
                return Err(Error::InvalidCode {
                    input: input.to_string(),
                    reason: "长度应为 2、4、6 或 9 位 / length must be 2, 4, 6 or 9 digits",
                });
            }
        };
        if prefix.starts_with("00") || prefix[..2] == *"00" {
            return Err(Error::InvalidCode {
                input: input.to_string(),
                reason: "省级代码不能为 00 / province part cannot be 00",
            });
        }
        Ok(AdminCode(prefix))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> Level {
        match self.0.len() {
            2 => Level::Province,
            4 => Level::City,
            6 => Level::County,
            _ => Level::Township,
        }
    }

    /// The 6-digit GB/T 2260 form (`530000`, `530100`, `530181`); townships keep their 9 digits.
    pub fn gb2260(&self) -> String {
        match self.0.len() {
            2 => format!("{}0000", self.0),
            4 => format!("{}00", self.0),
            _ => self.0.clone(),
        }
    }

    /// The code of the level directly above, if any.
    pub fn parent(&self) -> Option<AdminCode> {
        match self.level() {
            Level::Province => None,
            Level::City => Some(AdminCode(self.0[..2].to_string())),
            Level::County => Some(AdminCode(self.0[..4].to_string())),
            Level::Township => Some(AdminCode(self.0[..6].to_string())),
        }
    }

    /// Every code above this one, nearest first.
    pub fn ancestors(&self) -> Vec<AdminCode> {
        let mut out = Vec::new();
        let mut cur = self.parent();
        while let Some(c) = cur {
            cur = c.parent();
            out.push(c);
        }
        out
    }

    /// True if `self` is strictly above `other` in the tree (its jurisdiction contains `other`).
    pub fn is_ancestor_of(&self, other: &AdminCode) -> bool {
        other.0.len() > self.0.len() && other.0.starts_with(&self.0)
    }

    /// True if `self` is `other` or inside its jurisdiction.
    pub fn is_within(&self, other: &AdminCode) -> bool {
        self == other || other.is_ancestor_of(self)
    }

    /// True if `self` sits directly below `parent`.
    pub fn is_direct_child_of(&self, parent: &AdminCode) -> bool {
        self.parent().as_ref() == Some(parent)
    }
}

impl fmt::Display for AdminCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AdminCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminCode::parse(s)
    }
}

impl TryFrom<String> for AdminCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AdminCode::parse(&s)
    }
}

impl From<AdminCode> for String {
    fn from(c: AdminCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_prefix_and_gb2260_forms() {
        assert_eq!(AdminCode::parse("530000").unwrap().as_str(), "53");
        assert_eq!(AdminCode::parse("530100").unwrap().as_str(), "5301");
        assert_eq!(AdminCode::parse("530181").unwrap().as_str(), "530181");
        assert_eq!(AdminCode::parse("5301").unwrap().level(), Level::City);
        assert_eq!(
            AdminCode::parse("530181006").unwrap().level(),
            Level::Township
        );
        assert_eq!(
            AdminCode::parse("530181006000").unwrap().as_str(),
            "530181006"
        );
        assert_eq!(AdminCode::parse("5301").unwrap().gb2260(), "530100");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "5", "53a", "5301810", "0012", "00"] {
            assert!(AdminCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jurisdiction_is_prefix() {
        let p = AdminCode::parse("53").unwrap();
        let c = AdminCode::parse("5301").unwrap();
        let t = AdminCode::parse("530181006").unwrap();
        assert!(p.is_ancestor_of(&t));
        assert!(c.is_direct_child_of(&p));
        assert!(!t.is_direct_child_of(&c));
        assert_eq!(t.parent().unwrap().as_str(), "530181");
        assert_eq!(t.ancestors().len(), 3);
        assert!(t.is_within(&p) && p.is_within(&p) && !p.is_within(&t));
    }
}

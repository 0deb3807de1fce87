//! 行业领域 — the sector dictionary, canonical names with accepted aliases.
//!
//! The 19 names of the seed plans are always there; a node may add sectors and aliases through its
//! config ([`SectorDictionary::with_extra`]), never remove or rename one, so every node understands
//! the names its children send up.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Canonical sector names and their aliases, from the seed plans.
const SECTORS: &[(&str, &[&str])] = &[
    ("危险化学品", &["危化品", "危化"]),
    ("煤矿", &[]),
    ("非煤矿山", &["尾矿库"]),
    ("冶金工贸", &["工贸"]),
    ("消防", &[]),
    ("城镇燃气", &["燃气"]),
    ("道路交通", &["道路运输"]),
    ("其他交通运输", &[]),
    ("建筑施工", &["建设工程", "城市建设"]),
    ("特种设备", &[]),
    ("烟花爆竹", &[]),
    ("危险作业", &[]),
    ("自建房", &[]),
    ("校园", &[]),
    ("文化旅游", &[]),
    ("农林牧渔", &[]),
    ("危险废物", &[]),
    ("新业态", &[]),
    ("其他", &[]),
];

/// 行业领域条目 — one sector: its canonical name and the other names accepted for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorEntry {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// 行业领域字典 — the dictionary a node validates sectors against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectorDictionary {
    entries: Vec<SectorEntry>,
}

impl Default for SectorDictionary {
    /// The 19 seed sectors with their aliases.
    fn default() -> Self {
        SectorDictionary {
            entries: SECTORS
                .iter()
                .map(|(n, a)| SectorEntry {
                    name: n.to_string(),
                    aliases: a.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }
}

impl SectorDictionary {
    /// The seed dictionary plus `extra`: an entry whose name is already a sector adds aliases to it;
    /// any other entry adds a sector. A name or alias that would mean two sectors is refused.
    pub fn with_extra(extra: &[SectorEntry]) -> Result<SectorDictionary, Error> {
        let mut d = SectorDictionary::default();
        for (i, e) in extra.iter().enumerate() {
            let name = e.name.trim();
            if name.is_empty() {
                return Err(Error::invalid(
                    format!("sectors[{i}].name"),
                    "行业领域名称不能为空 / a sector name cannot be empty",
                ));
            }
            let pos = match d.entries.iter().position(|x| x.name == name) {
                Some(p) => p,
                None => {
                    if let Some(owner) = d.resolve(name) {
                        return Err(Error::invalid(
                            format!("sectors[{i}].name"),
                            format!(
                                "{name} 已是“{owner}”的别名 / {name} is already an alias of {owner}"
                            ),
                        ));
                    }
                    d.entries.push(SectorEntry {
                        name: name.to_string(),
                        aliases: Vec::new(),
                    });
                    d.entries.len() - 1
                }
            };
            for (j, a) in e.aliases.iter().enumerate() {
                let a = a.trim();
                match d.resolve(a) {
                    Some(owner) if owner == name => {}
                    Some(owner) => {
                        return Err(Error::invalid(
                            format!("sectors[{i}].aliases[{j}]"),
                            format!("{a} 已指向“{owner}” / {a} already means {owner}"),
                        ));
                    }
                    None if a.is_empty() => {
                        return Err(Error::invalid(
                            format!("sectors[{i}].aliases[{j}]"),
                            "别名不能为空 / an alias cannot be empty",
                        ));
                    }
                    None => d.entries[pos].aliases.push(a.to_string()),
                }
            }
        }
        Ok(d)
    }

    fn resolve(&self, s: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name == s || e.aliases.iter().any(|a| a == s))
            .map(|e| e.name.as_str())
    }

    /// Resolves a sector name or alias to its canonical name; unknown → an error naming `field` and
    /// listing the accepted names.
    pub fn canonical_as(&self, field: &str, input: &str) -> Result<String, Error> {
        let s = input.trim();
        self.resolve(s).map(str::to_string).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "未知的行业领域 {s:?}，可选: {} / unknown sector, accepted names listed",
                    self.names().join("、")
                ),
            )
        })
    }

    /// Resolves a sector for the field `sector`.
    pub fn canonical(&self, input: &str) -> Result<String, Error> {
        self.canonical_as("sector", input)
    }

    /// All canonical names in dictionary order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    pub fn entries(&self) -> &[SectorEntry] {
        &self.entries
    }
}

/// Resolves a sector name or alias to its canonical name in the seed dictionary.
pub fn canonical_sector(input: &str) -> Result<&'static str, Error> {
    let s = input.trim();
    for (name, aliases) in SECTORS {
        if *name == s || aliases.contains(&s) {
            return Ok(name);
        }
    }
    Err(Error::invalid(
        "sector",
        format!(
            "未知的行业领域 {s:?}，可选: {} / unknown sector, accepted names listed",
            sector_names().join("、")
        ),
    ))
}

/// All canonical sector names of the seed dictionary in order.
pub fn sector_names() -> Vec<&'static str> {
    SECTORS.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_and_unknown_lists_names() {
        assert_eq!(canonical_sector("尾矿库").unwrap(), "非煤矿山");
        assert_eq!(canonical_sector("道路运输").unwrap(), "道路交通");
        let e = canonical_sector("航天").unwrap_err();
        assert_eq!(e.field(), "sector");
        assert!(e.to_string().contains("危险化学品"));
    }

    #[test]
    fn seed_dictionary_has_the_19_names_and_their_aliases() {
        let d = SectorDictionary::default();
        assert_eq!(d.names().len(), 19);
        for (alias, name) in [
            ("尾矿库", "非煤矿山"),
            ("工贸", "冶金工贸"),
            ("道路运输", "道路交通"),
            ("建设工程", "建筑施工"),
            ("城市建设", "建筑施工"),
            ("燃气", "城镇燃气"),
        ] {
            assert_eq!(d.canonical(alias).unwrap(), name);
        }
    }

    #[test]
    fn node_config_adds_sectors_and_aliases_but_never_ambiguity() {
        let d = SectorDictionary::with_extra(&[
            SectorEntry {
                name: "冶金工贸".into(),
                aliases: vec!["有色".into()],
            },
            SectorEntry {
                name: "民爆".into(),
                aliases: vec!["民用爆炸物品".into()],
            },
        ])
        .unwrap();
        assert_eq!(d.canonical("有色").unwrap(), "冶金工贸");
        assert_eq!(d.canonical("民用爆炸物品").unwrap(), "民爆");
        assert_eq!(d.names().len(), 20);
        assert!(
            d.canonical("航天")
                .unwrap_err()
                .to_string()
                .contains("民爆")
        );
        let clash = SectorDictionary::with_extra(&[SectorEntry {
            name: "消防".into(),
            aliases: vec!["燃气".into()],
        }])
        .unwrap_err();
        assert_eq!(clash.field(), "sectors[0].aliases[0]");
        let alias_as_name = SectorDictionary::with_extra(&[SectorEntry {
            name: "尾矿库".into(),
            aliases: vec![],
        }])
        .unwrap_err();
        assert_eq!(alias_as_name.field(), "sectors[0].name");
    }
}

//! 行业领域 — the sector dictionary, canonical names with accepted aliases.

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

/// Resolves a sector name or alias to its canonical name.
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

/// All canonical sector names in dictionary order.
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
}

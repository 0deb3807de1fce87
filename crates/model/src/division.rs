//! 行政区划 — the bundled division tree (china-division 2.7.0, WTFPL): names and children by code.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::AdminCode;

static TSV: &str = include_str!("../data/divisions.tsv");

struct Index {
    names: HashMap<&'static str, &'static str>,
    children: HashMap<&'static str, Vec<&'static str>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut names = HashMap::with_capacity(45_000);
        let mut children: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        for line in TSV.lines() {
            let Some((code, name)) = line.split_once('\t') else {
                continue;
            };
            names.insert(code, name);
            let parent_len = match code.len() {
                4 => 2,
                6 => 4,
                9 => 6,
                _ => 0,
            };
            if parent_len > 0 {
                children.entry(&code[..parent_len]).or_default().push(code);
            }
        }
        Index { names, children }
    })
}

/// The official name of a division, if the code is in the bundled data.
pub fn name_of(code: &AdminCode) -> Option<&'static str> {
    index().names.get(code.as_str()).copied()
}

/// The direct children of a division in the bundled data, in code order.
pub fn children_of(code: &AdminCode) -> Vec<AdminCode> {
    index()
        .children
        .get(code.as_str())
        .map(|v| v.iter().filter_map(|c| AdminCode::parse(c).ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yunnan_chain_has_real_names() {
        let t = AdminCode::parse("530181006").unwrap();
        assert_eq!(name_of(&t), Some("禄脿街道"));
        assert_eq!(name_of(&t.parent().unwrap()), Some("安宁市"));
        assert_eq!(
            name_of(&AdminCode::parse("530100").unwrap()),
            Some("昆明市")
        );
        assert_eq!(name_of(&AdminCode::parse("53").unwrap()), Some("云南省"));
    }

    #[test]
    fn yunnan_tree_sizes() {
        let yn = AdminCode::parse("53").unwrap();
        let cities = children_of(&yn);
        assert_eq!(cities.len(), 16);
        let counties: Vec<_> = cities.iter().flat_map(children_of).collect();
        assert_eq!(counties.len(), 129);
        let towns: usize = counties.iter().map(|c| children_of(c).len()).sum();
        assert_eq!(towns, 1461);
    }
}

//! 隶属链 — the offices above an office. For an ordinary office it is the code's prefix (`530181006`
//! → `530181` → `5301` → `53`); a functional zone (功能区：开发区、工业园区、物流园… seed 004 第三部分
//! “功能区”, seed 002 第 3 条 “各镇（街道）、物流园、新城管理局” beside the townships) is run by an office
//! other than its code's prefix parent: its node names that office in `parent_code`, the office lists the
//! zone in `extra_children`. The zone's chain is then its configured parent followed by that parent's
//! own prefix ancestors.
//!
//! A record carries its owner's configured parent in its header (`header.owner_parent`, absent for an
//! ordinary office), so every hop finds the chain from the document alone: who holds the record and
//! which levels are its superiors. [`Chain::link_allows`] is the rule a node applies to what a child
//! sends it: a zone's claimed parent is taken only from the zone itself by the office it claims (which
//! accepted the zone as a child, `extra_children`), or relayed from below that office.

use crate::AdminCode;

/// An office and the offices above it: its code, and its configured parent when that is not the
/// code's prefix parent (a functional zone).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chain {
    pub code: AdminCode,
    /// 配置的上级 — set only for a zone whose parent is not its prefix parent.
    pub parent: Option<AdminCode>,
}

impl Chain {
    /// An ordinary office: its chain is its code's prefix.
    pub fn of(code: &AdminCode) -> Chain {
        Chain {
            code: code.clone(),
            parent: None,
        }
    }

    /// An office with its configured parent (`parent_code`); a parent equal to the prefix parent is
    /// no zone and is dropped, so a chain has one spelling. Refused: a parent that is the office
    /// itself or inside its own jurisdiction (the chain would loop).
    pub fn configured(code: &AdminCode, parent: Option<&AdminCode>) -> Result<Chain, String> {
        match parent {
            None => Ok(Chain::of(code)),
            Some(p) if code.parent().as_ref() == Some(p) => Ok(Chain::of(code)),
            Some(p) if p.is_within(code) => Err(format!(
                "上级 {p} 在 {code} 自己的辖区内 / parent {p} is within {code}'s own jurisdiction"
            )),
            Some(p) => Ok(Chain {
                code: code.clone(),
                parent: Some(p.clone()),
            }),
        }
    }

    /// The office directly above: the configured parent, else the prefix parent.
    pub fn parent(&self) -> Option<AdminCode> {
        self.parent.clone().or_else(|| self.code.parent())
    }

    /// Every office above, nearest first: the configured parent and its prefix ancestors, else the
    /// code's prefix ancestors.
    pub fn ancestors(&self) -> Vec<AdminCode> {
        match &self.parent {
            None => self.code.ancestors(),
            Some(p) => std::iter::once(p.clone()).chain(p.ancestors()).collect(),
        }
    }

    /// 上级 — whether `office` is above this one in its chain.
    pub fn has_superior(&self, office: &AdminCode) -> bool {
        match &self.parent {
            None => office.is_ancestor_of(&self.code),
            Some(p) => office == p || office.is_ancestor_of(p),
        }
    }

    /// Whether `office` is this office's direct parent (its configured one, else its prefix one).
    pub fn is_parent(&self, office: &AdminCode) -> bool {
        self.parent().as_ref() == Some(office)
    }

    /// 链路规则 — whether a record or summary of this office may come to `me` over the link from its
    /// child `child`:
    ///
    /// - an ordinary office: it is `child` or below it (what a relay passes up is its own subtree's);
    /// - a zone: either the zone itself sends it to the office it names (`child` is the zone, `me` is
    ///   its configured parent — the link was accepted because `me` lists the zone in
    ///   `extra_children`, for a parent equal to the prefix parent is no zone), or it is relayed from
    ///   below the office it names (its configured parent is `child` or below it, and that office took
    ///   it from the zone by the first case).
    ///
    /// A node cannot so pull a record into another office's scope: a claim is taken first by the
    /// office claimed, and only from the zone over a link that office accepted.
    pub fn link_allows(&self, child: &AdminCode, me: &AdminCode) -> bool {
        match &self.parent {
            None => self.code.is_within(child),
            Some(p) => (self.code == *child && p == me) || p.is_within(child),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn an_ordinary_office_follows_its_prefix() {
        let c = Chain::of(&code("530181006"));
        assert_eq!(c.parent(), Some(code("530181")));
        assert_eq!(
            c.ancestors(),
            vec![code("530181"), code("5301"), code("53")]
        );
        assert!(c.has_superior(&code("5301")) && !c.has_superior(&code("530102")));
        assert!(!c.has_superior(&code("530181006")));
    }

    #[test]
    fn a_zone_follows_its_configured_parent_then_that_parents_prefix() {
        // 530171, by its code under the city, run by the county 530181.
        let z = Chain::configured(&code("530171"), Some(&code("530181"))).unwrap();
        assert_eq!(z.parent(), Some(code("530181")));
        assert_eq!(
            z.ancestors(),
            vec![code("530181"), code("5301"), code("53")]
        );
        for sup in ["530181", "5301", "53"] {
            assert!(z.has_superior(&code(sup)), "{sup}");
        }
        for not in ["530171", "530102", "530181006", "5302"] {
            assert!(!z.has_superior(&code(not)), "{not}");
        }
        assert!(z.is_parent(&code("530181")) && !z.is_parent(&code("5301")));
    }

    #[test]
    fn a_configured_parent_equal_to_the_prefix_is_no_zone_and_a_loop_is_refused() {
        assert_eq!(
            Chain::configured(&code("530181006"), Some(&code("530181"))).unwrap(),
            Chain::of(&code("530181006"))
        );
        assert!(Chain::configured(&code("530181"), Some(&code("530181006"))).is_err());
        assert!(Chain::configured(&code("530181"), Some(&code("530181"))).is_err());
    }

    #[test]
    fn a_zones_claim_is_taken_from_the_zone_by_the_office_it_names_or_relayed_from_below_it() {
        let z = Chain::configured(&code("530171"), Some(&code("530181"))).unwrap();
        // The zone itself, to the county it names.
        assert!(z.link_allows(&code("530171"), &code("530181")));
        // The zone itself, to any other office: refused.
        assert!(!z.link_allows(&code("530171"), &code("5301")));
        // Relayed by the county to the city.
        assert!(z.link_allows(&code("530181"), &code("5301")));
        // Relayed by another county: refused.
        assert!(!z.link_allows(&code("530102"), &code("5301")));
        // An ordinary office: its own subtree only.
        let t = Chain::of(&code("530181006"));
        assert!(t.link_allows(&code("530181"), &code("5301")));
        assert!(!t.link_allows(&code("530102"), &code("5301")));
    }
}

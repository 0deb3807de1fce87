//! 挂牌督办 — a listing as a document (督办编号, 督办要求, 督办期限) and its lifting (摘牌).
//!
//! Each office's listing is kept on its own ([`Derived::listings`], one per office): a `supervise`
//! event puts the office's listing, a `lift` event by the same office takes it off, and the hazard's
//! supervising level is the highest office listing it (the shortest code). So a listing and a lifting
//! by different offices commute — whatever order concurrent events merge in, the same listings
//! remain — and "the highest level listing wins" holds as before.
//!
//! 摘牌 only after acceptance: a listing records whether the hazard has been accepted while it stood
//! (or was already accepted when it was put up); a `lift` applies only then. Because the flag is
//! set by the `accept` itself, a `return` or `reopen` merging concurrently with a lift does not change
//! whether the lift applies. A lift that does not apply is kept and ignored, as the fold does.

use serde::{Deserialize, Serialize};

use super::{Derived, HazardEvent, Status};
use crate::{AdminCode, Error};

/// 挂牌督办 — one office's listing of the hazard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// 督办单位 — the listing office.
    pub level: AdminCode,
    /// 督办编号, e.g. 昆安办督〔2026〕3号 (none in listings made before it was asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// 督办要求
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
    /// 督办期限 `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// The office that recorded it (the listing office) and when.
    pub by: AdminCode,
    pub at: String,
    /// Accepted (验收通过) while listed, or already when listed: it may be lifted.
    pub accepted: bool,
}

/// Checks a new listing's document: 督办编号 and 督办要求 required (at most 60 and 2000 characters),
/// 督办期限 a real date if given.
pub fn validate_listing(e: &HazardEvent) -> Result<(), Error> {
    let number = e.number.as_deref().map(str::trim).unwrap_or_default();
    if number.is_empty() || number.chars().count() > 60 {
        return Err(Error::invalid(
            "number",
            "挂牌督办须写明督办编号（不超过 60 字）/ a listing needs its number, at most 60 characters",
        ));
    }
    let req = e.requirements.as_deref().map(str::trim).unwrap_or_default();
    if req.is_empty() || req.chars().count() > 2000 {
        return Err(Error::invalid(
            "requirements",
            "挂牌督办须写明督办要求（不超过 2000 字）/ a listing needs its requirements, at most 2000 characters",
        ));
    }
    if let Some(d) = &e.due {
        super::parse_date("due", d)?;
    }
    Ok(())
}

/// Applies a `supervise` event: the office's listing is put up (a second listing by an office whose
/// listing stands does not apply). Not on a closed hazard.
pub(super) fn list(d: &mut Derived, e: &HazardEvent) -> Result<(), Error> {
    let Some(level) = &e.level else {
        return Err(Error::invalid(
            "level",
            "挂牌督办须指明督办层级 / supervise needs a level",
        ));
    };
    if d.status == Status::Closed {
        return Err(Error::invalid("kind", "隐患已销号 / hazard is closed"));
    }
    if d.listings.iter().any(|l| &l.level == level) {
        return Err(Error::invalid(
            "kind",
            "本级已挂牌督办该隐患 / this office has already listed this hazard",
        ));
    }
    d.listings.push(Listing {
        level: level.clone(),
        number: e.number.clone(),
        requirements: e.requirements.clone(),
        due: e.due.clone(),
        by: e.by.clone(),
        at: e.at.clone(),
        accepted: d.accepted,
    });
    settle(d);
    Ok(())
}

/// Applies a `lift` event (摘牌): the lifting office's own listing comes off, once the hazard was
/// accepted while it stood.
pub(super) fn lift(d: &mut Derived, e: &HazardEvent) -> Result<(), Error> {
    let Some(i) = d.listings.iter().position(|l| l.level == e.by) else {
        return Err(Error::invalid(
            "kind",
            "本级没有挂牌督办该隐患，不能摘牌 / this office has no listing to lift",
        ));
    };
    if !d.listings[i].accepted {
        return Err(Error::invalid(
            "kind",
            "验收通过后才能摘牌 / a listing is lifted only after acceptance",
        ));
    }
    d.listings.remove(i);
    settle(d);
    Ok(())
}

/// An `accept` that applied: every standing listing may now be lifted.
pub(super) fn accepted(d: &mut Derived) {
    for l in &mut d.listings {
        l.accepted = true;
    }
}

/// The listings highest office first (ties by code), and the supervising level the highest's.
fn settle(d: &mut Derived) {
    d.listings.sort_by(|a, b| {
        (a.level.as_str().len(), a.level.as_str()).cmp(&(b.level.as_str().len(), b.level.as_str()))
    });
    d.supervising = d.listings.first().map(|l| l.level.clone());
}

impl Derived {
    /// 当前挂牌 — the listing that decides (the highest office's), if listed.
    pub fn listing(&self) -> Option<&Listing> {
        self.listings.first()
    }

    /// The listing of `office`, if it has one standing.
    pub fn listing_of(&self, office: &AdminCode) -> Option<&Listing> {
        self.listings.iter().find(|l| &l.level == office)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EventKind, Grade, fold};
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    fn ev(kind: EventKind, by: &str) -> HazardEvent {
        HazardEvent::new(kind, code(by), "2026-11-01T00:00:00Z")
    }

    fn listing(by: &str, number: &str) -> HazardEvent {
        HazardEvent {
            level: Some(code(by)),
            number: Some(number.into()),
            requirements: Some("12月底前完成整改并报送验收材料".into()),
            due: Some("2026-12-31".into()),
            ..ev(EventKind::Supervise, by)
        }
    }

    const OWNER: &str = "530181006";
    const COUNTY: &str = "530181";
    const PROV: &str = "53";

    #[test]
    fn a_listing_needs_its_number_and_requirements_and_a_real_due_date() {
        let ok = listing(COUNTY, "禄安办督〔2026〕3号");
        assert!(validate_listing(&ok).is_ok());
        let e = HazardEvent {
            number: Some("  ".into()),
            ..ok.clone()
        };
        assert_eq!(validate_listing(&e).unwrap_err().field(), "number");
        let e = HazardEvent {
            requirements: None,
            ..ok.clone()
        };
        assert_eq!(validate_listing(&e).unwrap_err().field(), "requirements");
        let e = HazardEvent {
            due: Some("2026-02-30".into()),
            ..ok
        };
        assert_eq!(validate_listing(&e).unwrap_err().field(), "due");
    }

    #[test]
    fn the_fold_exposes_the_listing_and_a_lift_after_acceptance_clears_it() {
        use EventKind::*;
        let mut log = vec![
            ev(Registered, OWNER),
            ev(Rectified, OWNER),
            listing(COUNTY, "禄安办督〔2026〕3号"),
        ];
        let d = fold(Grade::General, &log);
        let l = d.listing().expect("listed");
        assert_eq!(l.number.as_deref(), Some("禄安办督〔2026〕3号"));
        assert_eq!(l.due.as_deref(), Some("2026-12-31"));
        assert_eq!(d.supervising, Some(code(COUNTY)));
        // Before acceptance a lift does not apply: kept, ignored.
        log.push(ev(Lift, COUNTY));
        let d = fold(Grade::General, &log);
        assert_eq!((d.supervising.clone(), d.ignored), (Some(code(COUNTY)), 1));
        // Accepted by the listing office, then lifted: no longer supervised, the owner accepts again.
        log.push(ev(Accept, COUNTY));
        log.push(ev(Lift, COUNTY));
        let d = fold(Grade::General, &log);
        assert_eq!(d.supervising, None);
        assert!(d.listing().is_none());
        assert_eq!(d.ignored, 1);
        // Only an office whose listing stands lifts.
        log.push(ev(Lift, COUNTY));
        assert_eq!(fold(Grade::General, &log).ignored, 2);
    }

    #[test]
    fn the_highest_listing_decides_and_a_lower_one_returns_when_it_is_lifted() {
        use EventKind::*;
        let log = vec![
            ev(Registered, OWNER),
            listing(COUNTY, "禄安办督〔2026〕3号"),
            listing(PROV, "云安办督〔2026〕1号"),
            ev(Rectified, OWNER),
            ev(Accept, PROV),
            ev(Lift, PROV),
        ];
        let d = fold(Grade::General, &log[..5]);
        assert_eq!(d.supervising, Some(code(PROV)));
        assert_eq!(
            d.listing().and_then(|l| l.number.as_deref()),
            Some("云安办督〔2026〕1号")
        );
        let d = fold(Grade::General, &log);
        assert_eq!(
            d.supervising,
            Some(code(COUNTY)),
            "the county's still stands"
        );
        assert!(d.listing_of(&code(COUNTY)).is_some_and(|l| l.accepted));
    }

    /// Events written concurrently (each by an office that had seen the same prefix) fold to the same
    /// listings in every order they merge in: a listing by one office and a lifting by another, a
    /// lifting and a concurrent return.
    #[test]
    fn concurrent_listings_liftings_and_returns_fold_the_same_in_any_order() {
        use EventKind::*;
        let prefix = vec![
            ev(Registered, OWNER),
            listing(COUNTY, "禄安办督〔2026〕3号"),
            ev(Rectified, OWNER),
            ev(Accept, COUNTY),
        ];
        let concurrent = [
            listing(PROV, "云安办督〔2026〕1号"),
            ev(Lift, COUNTY),
            ev(Return, OWNER),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut outcomes = Vec::new();
        for o in orders {
            let mut log = prefix.clone();
            log.extend(o.iter().map(|&i| concurrent[i].clone()));
            let d = fold(Grade::General, &log);
            let levels: Vec<String> = d.listings.iter().map(|l| l.level.to_string()).collect();
            outcomes.push((d.supervising.clone(), levels, d.status));
        }
        assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
        assert_eq!(outcomes[0].0, Some(code(PROV)));
        assert_eq!(
            outcomes[0].1,
            vec![PROV.to_string()],
            "the county's is lifted"
        );
    }
}

//! 上报指标 (未上报) — how long ago each descendant office last reported its summary
//! (`safemesh_report_age_seconds{descendant, level}`; older than a day is 未上报, as the UI flags
//! it), and how many direct subordinate offices have never reported.

use safemesh_model::AdminCode;

use super::family::Family;

/// From (owner, `as_of`) of every summary held (see `Store::summary_times`), at `now`; `children`:
/// this office's direct children (`crate::rollup::direct_children`, with the zones it runs).
pub(crate) fn families(
    me: &AdminCode,
    children: &[AdminCode],
    times: &[(String, String)],
    now: time::OffsetDateTime,
) -> Vec<Family> {
    let mut age = Family::gauge(
        "safemesh_report_age_seconds",
        "Seconds since a descendant office's latest summary was made (its as_of).",
    );
    for (owner, as_of) in times {
        let Ok(code) = AdminCode::parse(owner) else {
            continue;
        };
        if code == *me || !(code.is_within(me) || children.contains(&code)) {
            continue;
        }
        let Ok(at) =
            time::OffsetDateTime::parse(as_of, &time::format_description::well_known::Rfc3339)
        else {
            continue;
        };
        age.push(
            vec![
                ("descendant", code.to_string()),
                ("level", code.level().as_str().to_string()),
            ],
            (now - at).as_seconds_f64().max(0.0),
        );
    }
    let reported: Vec<&str> = times.iter().map(|(o, _)| o.as_str()).collect();
    let never = children
        .iter()
        .filter(|c| !reported.contains(&c.as_str()))
        .count();
    let not_reported = Family::gauge(
        "safemesh_children_not_reported",
        "Direct subordinate offices from which no summary has arrived.",
    )
    .with(never as f64);
    vec![age, not_reported]
}

#[cfg(test)]
mod tests {
    use super::super::family::Value;
    use super::*;

    #[test]
    fn ages_are_per_descendant_and_children_never_heard_from_are_counted() {
        let me = AdminCode::parse("530181").unwrap();
        let now = time::macros::datetime!(2026-12-08 00:00 UTC);
        let times = vec![
            ("530181".to_string(), "2026-12-07T23:00:00Z".to_string()),
            ("530181006".to_string(), "2026-12-07T00:00:00Z".to_string()),
        ];
        let children = safemesh_model::division::children_of(&me);
        let fs = families(&me, &children, &times, now);
        assert_eq!(
            fs[0].samples,
            vec![(
                vec![
                    ("descendant", "530181006".to_string()),
                    ("level", "township".to_string())
                ],
                Value::Gauge(86_400.0)
            )],
            "its own summary is not a descendant's"
        );
        let townships = safemesh_model::division::children_of(&me).len();
        assert!(townships > 1);
        assert_eq!(fs[1].samples[0].1, Value::Gauge((townships - 1) as f64));
    }
}

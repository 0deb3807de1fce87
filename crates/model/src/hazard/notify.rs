//! 告知 — telling an enterprise's responsible people about a hazard. Four people are told apart, never
//! one standing in for another: 法定代表人, 主要负责人, 实际控制人 and 实际负责人 — seed 002 #6 names
//! 法定代表人、实际控制人、实际负责人 side by side as each bearing the 第一责任人 duty, and the
//! notify rule of a major hazard names 主要负责人 and 实际控制人. A major hazard does not move past
//! `open` before those two have been told (see [`super::apply`]); telling the 法定代表人 does not
//! tell the 主要负责人, even when one person holds both posts — the clerk records both.

use std::collections::BTreeMap;

use crate::Error;

/// 法定代表人 — the legal representative (as on the business licence).
pub const LEGAL_REPRESENTATIVE: &str = "法定代表人";
/// 主要负责人 — the principal person in charge (安全生产法 第五条).
pub const PRINCIPAL: &str = "主要负责人";
/// 实际控制人 — the actual controller.
pub const ACTUAL_CONTROLLER: &str = "实际控制人";
/// 实际负责人 — the person actually running the business (e.g. of an individual business or a site).
pub const ACTUAL_MANAGER: &str = "实际负责人";

/// The four people who may be told, in order, each with its code.
pub const ROLES: [(&str, &str); 4] = [
    (LEGAL_REPRESENTATIVE, "legal_representative"),
    (PRINCIPAL, "principal"),
    (ACTUAL_CONTROLLER, "actual_controller"),
    (ACTUAL_MANAGER, "actual_manager"),
];

/// Everyone a major hazard must be notified to, in order.
pub const REQUIRED_RECIPIENTS: [&str; 2] = [PRINCIPAL, ACTUAL_CONTROLLER];

/// The longest name of a person told (characters).
pub const NAME_MAX: usize = 50;

/// Resolves one recipient — its Chinese name, its code, or a common short form of the same post
/// (实控人, 法人代表) — to its canonical name. One post is never taken for another.
pub fn recipient(field: &str, input: &str) -> Result<&'static str, Error> {
    let input = input.trim();
    if let Some((name, _)) = ROLES.iter().find(|(n, c)| *n == input || *c == input) {
        return Ok(name);
    }
    match input {
        "实控人" => Ok(ACTUAL_CONTROLLER),
        "法人代表" => Ok(LEGAL_REPRESENTATIVE),
        other => Err(Error::invalid(
            field,
            format!(
                "告知对象应为 法定代表人、主要负责人、实际控制人 或 实际负责人（四者分别记录，不相互代替），收到 {other:?} / recipients must be 法定代表人 (legal_representative), 主要负责人 (principal), 实际控制人 (actual_controller) or 实际负责人 (actual_manager)"
            ),
        )),
    }
}

/// The code of a recipient's canonical name (`主要负责人` → `principal`).
pub fn code_of(name: &str) -> Option<&'static str> {
    ROLES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// The position of a canonical name in [`ROLES`] (for sorting).
pub fn order(name: &str) -> usize {
    ROLES
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or(usize::MAX)
}

/// Checks a notify event's recipient list: at least one, each known, none twice. Returns canonical
/// names in the order given.
pub fn recipients(input: &[String]) -> Result<Vec<String>, Error> {
    if input.is_empty() {
        return Err(Error::invalid(
            "recipients",
            "须列出告知对象：法定代表人、主要负责人、实际控制人、实际负责人 / recipients is required",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, r) in input.iter().enumerate() {
        let field = format!("recipients[{i}]");
        let name = recipient(&field, r)?;
        if out.iter().any(|o| o == name) {
            return Err(Error::invalid(field, format!("{name} 重复 / listed twice")));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// Checks the names of the people told (`recipient_names`: post → person): each post one of
/// `recipients` (canonical names, checked), each name non-blank and at most [`NAME_MAX`] characters.
/// Returns them keyed by canonical post.
pub fn names(
    recipients: &[String],
    input: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for (post, person) in input {
        let field = format!("recipient_names.{post}");
        let name = recipient(&field, post)?;
        if !recipients.iter().any(|r| r == name) {
            return Err(Error::invalid(
                field,
                format!("{name} 不在本次告知对象中 / {name} is not among the recipients"),
            ));
        }
        let person = person.trim();
        if person.is_empty() {
            return Err(Error::invalid(field, "姓名不能为空 / the name is empty"));
        }
        if person.chars().count() > NAME_MAX {
            return Err(Error::invalid(
                field,
                format!("姓名不能超过 {NAME_MAX} 字 / at most {NAME_MAX} characters"),
            ));
        }
        if out.insert(name.to_string(), person.to_string()).is_some() {
            return Err(Error::invalid(field, format!("{name} 重复 / listed twice")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_canonical_and_named_by_index_on_error() {
        let r = recipients(&["principal".into(), "实际控制人".into()]).unwrap();
        assert_eq!(
            r,
            vec![PRINCIPAL.to_string(), ACTUAL_CONTROLLER.to_string()]
        );
        assert_eq!(recipients(&[]).unwrap_err().field(), "recipients");
        let e = recipients(&["主要负责人".into(), "厂长".into()]).unwrap_err();
        assert_eq!(e.field(), "recipients[1]");
        let e = recipients(&["主要负责人".into(), "principal".into()]).unwrap_err();
        assert_eq!(e.field(), "recipients[1]");
    }

    #[test]
    fn the_four_posts_are_told_apart() {
        // seed 002 #6: 法定代表人、实际控制人、实际负责人 — and the 主要负责人 — are four posts.
        let all = recipients(&[
            "法定代表人".into(),
            "主要负责人".into(),
            "实际控制人".into(),
            "实际负责人".into(),
        ])
        .unwrap();
        assert_eq!(all, ROLES.map(|(n, _)| n.to_string()));
        // None stands in for another: the 法定代表人 is not the 主要负责人, the 实际负责人 not the 实际控制人.
        assert_eq!(recipient("r", "法定代表人").unwrap(), LEGAL_REPRESENTATIVE);
        assert_eq!(recipient("r", "法人代表").unwrap(), LEGAL_REPRESENTATIVE);
        assert_eq!(recipient("r", "actual_manager").unwrap(), ACTUAL_MANAGER);
        assert_eq!(recipient("r", "实控人").unwrap(), ACTUAL_CONTROLLER);
        // Each post once, whatever it was called.
        let e = recipients(&["法人代表".into(), "legal_representative".into()]).unwrap_err();
        assert_eq!(e.field(), "recipients[1]");
        assert_eq!(code_of(ACTUAL_MANAGER), Some("actual_manager"));
    }

    #[test]
    fn names_belong_to_posts_that_were_told() {
        let told = vec![PRINCIPAL.to_string(), ACTUAL_CONTROLLER.to_string()];
        let given = BTreeMap::from([
            ("principal".to_string(), " 王某 ".to_string()),
            ("实际控制人".to_string(), "李某".to_string()),
        ]);
        assert_eq!(
            names(&told, &given).unwrap(),
            BTreeMap::from([
                (PRINCIPAL.to_string(), "王某".to_string()),
                (ACTUAL_CONTROLLER.to_string(), "李某".to_string()),
            ])
        );
        let other = BTreeMap::from([("法定代表人".to_string(), "赵某".to_string())]);
        assert_eq!(
            names(&told, &other).unwrap_err().field(),
            "recipient_names.法定代表人"
        );
        let blank = BTreeMap::from([("主要负责人".to_string(), "  ".to_string())]);
        assert!(names(&told, &blank).is_err());
        let twice = BTreeMap::from([
            ("主要负责人".to_string(), "王某".to_string()),
            ("principal".to_string(), "王某".to_string()),
        ]);
        assert!(names(&told, &twice).is_err());
    }
}

//! 告知 — telling the enterprise's 主要负责人 and 实际控制人 about a major hazard. A major hazard does
//! not move past `open` before both have been told (see [`super::apply`]).

use crate::Error;

/// 主要负责人
pub const PRINCIPAL: &str = "主要负责人";
/// 实际控制人
pub const ACTUAL_CONTROLLER: &str = "实际控制人";
/// Everyone a major hazard must be notified to, in order.
pub const REQUIRED_RECIPIENTS: [&str; 2] = [PRINCIPAL, ACTUAL_CONTROLLER];

/// Resolves one recipient (Chinese name or English code) to its canonical name.
pub fn recipient(field: &str, input: &str) -> Result<&'static str, Error> {
    match input.trim() {
        "主要负责人" | "principal" | "法定代表人" => Ok(PRINCIPAL),
        "实际控制人" | "actual_controller" | "实控人" => Ok(ACTUAL_CONTROLLER),
        other => Err(Error::invalid(
            field,
            format!(
                "告知对象应为 主要负责人 或 实际控制人，收到 {other:?} / recipients must be 主要负责人 (principal) or 实际控制人 (actual_controller)"
            ),
        )),
    }
}

/// Checks a notify event's recipient list: at least one, each known, none twice. Returns canonical
/// names in the order given.
pub fn recipients(input: &[String]) -> Result<Vec<String>, Error> {
    if input.is_empty() {
        return Err(Error::invalid(
            "recipients",
            "须列出告知对象：主要负责人、实际控制人 / recipients is required",
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
}

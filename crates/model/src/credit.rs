//! 统一社会信用代码 — the unified social credit code (GB 32100-2015) and the organisation code it
//! embeds (GB 11714-1997); and the 例外登记 of a code whose check character fails (early pilot codes).

use crate::Error;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// The longest reason an override may carry (characters).
pub const OVERRIDE_REASON_MAX: usize = 200;

/// What a credit code comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Well formed, and both check characters are right.
    Valid,
    /// Not 18 characters, or a character outside the alphabet: never accepted.
    Malformed(Error),
    /// Well formed, but the GB 32100 check character or the embedded GB 11714 one is wrong: an early
    /// pilot code may be so (STANDARDS §6.3), accepted with an override and a reason.
    CheckFails(Error),
}

/// Validates an 18-character credit code: alphabet, GB 32100 check character, GB 11714 check of the
/// embedded organisation code.
pub fn validate(code: &str) -> Result<(), Error> {
    match verdict(code) {
        Verdict::Valid => Ok(()),
        Verdict::Malformed(e) | Verdict::CheckFails(e) => Err(e),
    }
}

/// 例外登记 — accepts a credit code. A valid code is accepted as it is (an override given with it is
/// dropped: there is nothing to flag). A code whose check character fails is accepted only with an
/// override reason — "early pilot codes (e.g. some Fujian 2015 codes such as `91350100M0001TGQXM`) are
/// legal but fail the checksum — warn, don't hard-reject, and allow an override with reason"
/// (STANDARDS §6.3) — and the reason is returned: the record keeps it as its flag. Without one it is
/// refused (`credit_code`), as is a malformed code whatever the override. A reason longer than
/// [`OVERRIDE_REASON_MAX`] is refused (`credit_code_override`). Blank reasons count as none.
pub fn accept(code: &str, override_reason: Option<&str>) -> Result<Option<String>, Error> {
    let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    match verdict(code) {
        Verdict::Valid => Ok(None),
        Verdict::Malformed(e) => Err(e),
        Verdict::CheckFails(e) => match reason {
            None => {
                let why = e.reason();
                let (zh, en) = why.split_once(" / ").unwrap_or((why.as_str(), ""));
                Err(Error::invalid(
                    "credit_code",
                    format!(
                        "{zh}；如确为早期试点代码，可填写例外说明后登记 / {en}; an early pilot code may be registered with an override reason (credit_code_override)"
                    ),
                ))
            }
            Some(r) if r.chars().count() > OVERRIDE_REASON_MAX => Err(Error::invalid(
                "credit_code_override",
                format!(
                    "例外说明不能超过 {OVERRIDE_REASON_MAX} 字 / the override reason must be at most {OVERRIDE_REASON_MAX} characters"
                ),
            )),
            Some(r) => Ok(Some(r.to_string())),
        },
    }
}

/// Judges a credit code: malformed, failing a check character, or valid.
pub fn verdict(code: &str) -> Verdict {
    let field = "credit_code";
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Verdict::Malformed(Error::invalid(
            field,
            format!(
                "应为 18 位，实为 {} 位 / must be 18 characters, got {}",
                chars.len(),
                chars.len()
            ),
        ));
    }
    let mut vals = Vec::with_capacity(18);
    for (i, c) in chars.iter().enumerate() {
        match value(*c) {
            Some(v) => vals.push(v),
            None => {
                return Verdict::Malformed(Error::invalid(
                    field,
                    format!(
                        "第 {} 位 {c:?} 不在允许的字符集中 / character {} is not allowed (I, O, S, V, Z are excluded)",
                        i + 1,
                        i + 1
                    ),
                ));
            }
        }
    }
    let mut sum = 0u32;
    let mut w = 1u32;
    for v in &vals[..17] {
        sum += v * w;
        w = (w * 3) % 31;
    }
    let check = (31 - sum % 31) % 31;
    if check != vals[17] {
        let expected = ALPHABET.chars().nth(check as usize).unwrap_or('?');
        return Verdict::CheckFails(Error::invalid(
            field,
            format!("校验位错误，应为 {expected} / wrong check character, expected {expected}"),
        ));
    }
    // Characters 9–17: the organisation code, whose 9th character is its own check.
    let org: Vec<char> = chars[8..17].to_vec();
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut s = 0u32;
    for (i, c) in org[..8].iter().enumerate() {
        let v = match c {
            '0'..='9' => *c as u32 - '0' as u32,
            'A'..='Z' => *c as u32 - 'A' as u32 + 10,
            _ => {
                return Verdict::Malformed(Error::invalid(
                    field,
                    "组织机构代码部分含非法字符 / invalid character in the organisation code",
                ));
            }
        };
        s += v * W[i];
    }
    let c9 = match 11 - s % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('?'),
    };
    if org[8] != c9 {
        return Verdict::CheckFails(Error::invalid(
            field,
            format!(
                "内含组织机构代码校验位错误，应为 {c9} / the embedded organisation code's check is wrong, expected {c9}"
            ),
        ));
    }
    Verdict::Valid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_example_validates_and_a_changed_check_does_not() {
        validate("91350200776049653A").unwrap();
        let e = validate("91350200776049653B").unwrap_err();
        assert_eq!(e.field(), "credit_code");
        assert!(validate("9135020077604965").is_err());
        assert!(validate("91350200776049653I").is_err());
    }

    #[test]
    fn a_pilot_code_failing_its_check_is_accepted_only_with_a_reason() {
        // STANDARDS §6.3's example of an early Fujian pilot code: legal, but its check is not 1.
        let pilot = "91350100M0001TGQXM";
        assert!(matches!(verdict(pilot), Verdict::CheckFails(_)));
        let e = accept(pilot, None).unwrap_err();
        assert_eq!(e.field(), "credit_code");
        assert!(
            e.reason().contains("校验位错误") && e.reason().contains("例外说明"),
            "{e}"
        );
        assert!(
            accept(pilot, Some("   ")).is_err(),
            "a blank reason is none"
        );
        assert_eq!(
            accept(pilot, Some(" 2015年福建试点赋码，营业执照原件已核 ")).unwrap(),
            Some("2015年福建试点赋码，营业执照原件已核".to_string())
        );
        let long = "长".repeat(OVERRIDE_REASON_MAX + 1);
        assert_eq!(
            accept(pilot, Some(&long)).unwrap_err().field(),
            "credit_code_override"
        );
        // A valid code needs no override: nothing is flagged.
        assert_eq!(
            accept("91350200776049653A", Some("多余的说明")).unwrap(),
            None
        );
        // A malformed code is refused whatever the reason.
        for bad in ["9135020077604965", "91350200776049653I"] {
            assert!(matches!(verdict(bad), Verdict::Malformed(_)));
            assert_eq!(
                accept(bad, Some("试点")).unwrap_err().field(),
                "credit_code"
            );
        }
        // The embedded organisation code's check failing (its own check character 4, expected 3; the
        // outer one right for it) is a check failure too.
        match verdict("91350200776049654D") {
            Verdict::CheckFails(e) => assert!(e.reason().contains("组织机构代码"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}

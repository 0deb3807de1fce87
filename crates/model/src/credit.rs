//! 统一社会信用代码 — the unified social credit code (GB 32100-2015) and the organisation code it
//! embeds (GB 11714-1997).

use crate::Error;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// Validates an 18-character credit code: alphabet, GB 32100 check character, GB 11714 check of the
/// embedded organisation code.
pub fn validate(code: &str) -> Result<(), Error> {
    let field = "credit_code";
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(Error::invalid(
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
        let v = value(*c).ok_or_else(|| {
            Error::invalid(field, format!("第 {} 位 {c:?} 不在允许的字符集中 / character {} is not allowed (I, O, S, V, Z are excluded)", i + 1, i + 1))
        })?;
        vals.push(v);
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
        return Err(Error::invalid(
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
                return Err(Error::invalid(
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
        return Err(Error::invalid(
            field,
            format!(
                "内含组织机构代码校验位错误，应为 {c9} / the embedded organisation code's check is wrong, expected {c9}"
            ),
        ));
    }
    Ok(())
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
}

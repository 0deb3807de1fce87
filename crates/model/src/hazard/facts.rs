//! 登记事实 — what registering a hazard records besides its title: 编号, 检查方式, 发现层级, 隐患位置,
//! 判定依据, 存量/增量. Each parser names the input field it judges.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{AdminCode, Chain, Error, Level};

/// 检查方式 — inspection modes: canonical name, English code, aliases.
const MODES: &[(&str, &str, &[&str])] = &[
    (
        "四不两直",
        "unannounced",
        &["四不两直检查", "四不两直暗查暗访"],
    ),
    (
        "双随机一公开",
        "double_random",
        &["双随机", "双随机检查", "双随机抽查"],
    ),
    ("明查暗访", "covert", &["暗查暗访", "暗访", "明察暗访"]),
    (
        "专项执法",
        "special_enforcement",
        &["专项执法检查", "执法检查"],
    ),
    (
        "交叉互检",
        "cross_check",
        &["交叉检查", "交叉互查", "互查互检"],
    ),
    (
        "联合检查",
        "joint",
        &["联合执法", "部门联合检查", "多部门联合检查"],
    ),
    (
        "日常检查",
        "routine",
        &["日常巡查", "日常执法检查", "网格巡查"],
    ),
    (
        "综合督查",
        "supervision",
        &["督导检查", "安全生产督导", "督查", "综合督导"],
    ),
    (
        "专家指导服务",
        "expert",
        &["专家会诊", "专家检查", "专家指导"],
    ),
    ("举报核查", "tip_verification", &["现场核查", "举报核实"]),
    ("其他", "other", &[]),
];

/// Resolves an inspection mode (its name, English code or an alias) to its canonical name.
pub fn inspection_mode(input: &str) -> Result<&'static str, Error> {
    let s = input.trim();
    MODES
        .iter()
        .find(|(name, code, aliases)| *name == s || *code == s || aliases.contains(&s))
        .map(|(name, _, _)| *name)
        .ok_or_else(|| {
            Error::invalid(
                "inspection_mode",
                format!(
                    "未知的检查方式 {s:?}，可选: {} / unknown inspection mode, accepted values listed",
                    inspection_modes().join("、")
                ),
            )
        })
}

/// All canonical inspection modes, in order.
pub fn inspection_modes() -> Vec<&'static str> {
    MODES.iter().map(|(n, _, _)| *n).collect()
}

/// 存量/增量 — found before the cut-off date (存量) or on/after it (增量).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stock {
    /// 存量
    Stock,
    /// 增量
    New,
}

/// The cut-off a node uses unless its config says otherwise: 治本攻坚三年行动 counts what was found
/// in 2023 and before as 存量.
pub const DEFAULT_STOCK_CUTOFF: &str = "2024-01-01";

impl Stock {
    pub fn as_str(self) -> &'static str {
        match self {
            Stock::Stock => "stock",
            Stock::New => "new",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Stock::Stock => "存量",
            Stock::New => "增量",
        }
    }

    /// Parses `stock`/`存量` or `new`/`增量`, naming `field` on error.
    pub fn parse_as(field: &str, s: &str) -> Result<Stock, Error> {
        match s.trim() {
            "stock" | "存量" => Ok(Stock::Stock),
            "new" | "增量" => Ok(Stock::New),
            _ => Err(Error::invalid(
                field,
                "应为 stock（存量）或 new（增量） / must be stock or new",
            )),
        }
    }

    /// 存量 if found before `cutoff`, else 增量.
    pub fn derive(found_on: Date, cutoff: Date) -> Stock {
        if found_on < cutoff {
            Stock::Stock
        } else {
            Stock::New
        }
    }
}

/// 隐患所在 — what a hazard is at: an enterprise (生产经营单位), or a place no enterprise runs — a road,
/// a self-built house (自建房), a public place — registered with its location and the unit responsible
/// for it (责任单位) instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// 生产经营单位 — the default, and every hazard registered before this field existed.
    #[default]
    Enterprise,
    /// 道路 (a road, a bridge, a crossing)
    Road,
    /// 自建房 (a self-built house)
    SelfBuiltHouse,
    /// 公共场所 (a square, a market, a park, a scenic spot)
    PublicPlace,
    /// 其他 (a river bank, a slope, a facility no enterprise runs)
    Other,
}

impl Subject {
    pub const ALL: [Subject; 5] = [
        Subject::Enterprise,
        Subject::Road,
        Subject::SelfBuiltHouse,
        Subject::PublicPlace,
        Subject::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Enterprise => "enterprise",
            Subject::Road => "road",
            Subject::SelfBuiltHouse => "self_built_house",
            Subject::PublicPlace => "public_place",
            Subject::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Subject::Enterprise => "生产经营单位",
            Subject::Road => "道路",
            Subject::SelfBuiltHouse => "自建房",
            Subject::PublicPlace => "公共场所",
            Subject::Other => "其他",
        }
    }

    /// Whether the hazard belongs to an enterprise (which it must then name).
    pub fn is_enterprise(self) -> bool {
        self == Subject::Enterprise
    }

    /// Parses a code or its Chinese name (企业 and 单位 for 生产经营单位), naming `field` on error.
    pub fn parse_as(field: &str, s: &str) -> Result<Subject, Error> {
        let s = s.trim();
        if matches!(s, "企业" | "单位") {
            return Ok(Subject::Enterprise);
        }
        Subject::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_zh() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    "应为 生产经营单位、道路、自建房、公共场所 或 其他 / must be enterprise, road, self_built_house, public_place or other",
                )
            })
    }
}

/// 判定依据 — the standard a hazard was judged by, and the clause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// 标准名称, e.g. 《工贸企业重大事故隐患判定标准》
    pub standard: String,
    /// 条款, e.g. 第十条第（三）项
    pub clause: String,
}

/// 隐患位置 — where the hazard is: a division down to village (村/社区) level, and an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// 区划代码: prefix form (`530181006`) or a 12-digit village code (`530181006201`).
    pub division: String,
    /// 详细地址
    pub address: String,
}

/// Checks a location's division code: 2/4/6/9 digits (GB/T 2260 + 10114) or a 12-digit 统计用区划代码
/// of a village or community (村/居委会, last three digits 001–599), inside the owner's jurisdiction.
/// Returns the code in its stored form.
pub fn location_division(owner: &AdminCode, input: &str) -> Result<String, Error> {
    const F: &str = "location.division";
    let s = input.trim();
    let code = if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) && !s.ends_with("000") {
        let village: u32 = s[9..].parse().unwrap_or(0);
        if !(1..=599).contains(&village) {
            return Err(Error::invalid(
                F,
                "村级代码末三位应为 001–599 / a village code ends in 001–599",
            ));
        }
        let township = AdminCode::parse(&s[..9]).map_err(|e| Error::invalid(F, e.to_string()))?;
        if !township.is_within(owner) {
            return Err(outside(owner, s));
        }
        return Ok(s.to_string());
    } else {
        AdminCode::parse(s).map_err(|e| Error::invalid(F, e.to_string()))?
    };
    if !code.is_within(owner) {
        return Err(outside(owner, s));
    }
    Ok(code.to_string())
}

fn outside(owner: &AdminCode, s: &str) -> Error {
    Error::invalid(
        "location.division",
        format!("{s} 不在本级（{owner}）辖区内 / {s} is outside the jurisdiction of {owner}"),
    )
}

/// 发现层级 — the level whose inspection found the hazard: the owner or a level above it in the
/// owner's chain (a functional zone's superiors are its configured parent's), given as a code (`53`,
/// `530000`) or a level (`province`, `省级`, `省`). A level names the owner's superior there.
pub fn found_by_level(chain: &Chain, input: &str) -> Result<AdminCode, Error> {
    let owner = &chain.code;
    const F: &str = "found_by_level";
    let s = input.trim();
    let level = match s {
        "province" | "省级" | "省" => Some(Level::Province),
        "city" | "市级" | "市" | "州" => Some(Level::City),
        "county" | "县级" | "县" | "区" => Some(Level::County),
        "township" | "乡级" | "乡镇" | "街道" => Some(Level::Township),
        _ => None,
    };
    let code = match level {
        Some(l) => std::iter::once(owner.clone())
            .chain(chain.ancestors())
            .find(|c| c.level() == l)
            .ok_or_else(|| {
                Error::invalid(
                    F,
                    format!(
                        "{} 在本级（{owner}）之下 / {s} is below the owner {owner}",
                        l.label_zh()
                    ),
                )
            })?,
        None => AdminCode::parse(s).map_err(|e| {
            Error::invalid(
                F,
                format!("应为区划代码或层级（province/city/county/township） / must be a code or a level: {e}"),
            )
        })?,
    };
    if &code != owner && !chain.has_superior(&code) {
        return Err(Error::invalid(
            F,
            format!("发现层级须为本级或上级 / {code} is not the owner {owner} or a level above it"),
        ));
    }
    Ok(code)
}

/// 编号 — `{owner}-{year}-{seq:04}`; the owner in its 6-digit GB/T 2260 form, a township in its 9.
pub fn format_number(owner: &AdminCode, year: i32, seq: u32) -> String {
    format!("{}-{year}-{seq:04}", owner.gb2260())
}

/// The part of every number of `owner` in `year` before the sequence.
pub fn number_prefix(owner: &AdminCode, year: i32) -> String {
    format!("{}-{year}-", owner.gb2260())
}

/// Checks a given number against the owner's format; returns (year, seq).
pub fn parse_number(owner: &AdminCode, input: &str) -> Result<(i32, u32), Error> {
    let s = input.trim();
    let bad = || {
        Error::invalid(
            "number",
            format!(
                "编号格式应为 {}-年份-四位序号（如 {}） / number must be {{owner}}-{{year}}-{{seq:04}}",
                owner.gb2260(),
                format_number(owner, 2026, 42)
            ),
        )
    };
    let rest = s
        .strip_prefix(owner.gb2260().as_str())
        .and_then(|r| r.strip_prefix('-'))
        .ok_or_else(bad)?;
    let (year, seq) = rest.split_once('-').ok_or_else(bad)?;
    if year.len() != 4
        || seq.len() < 4
        || !(year.bytes().chain(seq.bytes())).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let seq: u32 = seq.parse().map_err(|_| bad())?;
    if seq == 0 || !(1949..=9999).contains(&year) {
        return Err(bad());
    }
    Ok((year, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn a_subject_is_read_by_code_or_name_and_an_enterprise_by_default() {
        assert_eq!(Subject::default(), Subject::Enterprise);
        for k in Subject::ALL {
            assert_eq!(Subject::parse_as("subject", k.as_str()).unwrap(), k);
            assert_eq!(Subject::parse_as("subject", k.label_zh()).unwrap(), k);
        }
        assert_eq!(
            Subject::parse_as("subject", "企业").unwrap(),
            Subject::Enterprise
        );
        assert_eq!(
            Subject::parse_as("subject", "河道").unwrap_err().field(),
            "subject"
        );
        assert!(!Subject::Road.is_enterprise());
    }

    #[test]
    fn inspection_modes_take_aliases_and_list_accepted_values() {
        assert_eq!(inspection_mode("双随机").unwrap(), "双随机一公开");
        assert_eq!(inspection_mode("unannounced").unwrap(), "四不两直");
        assert_eq!(inspection_mode("暗查暗访").unwrap(), "明查暗访");
        let e = inspection_mode("随便看看").unwrap_err();
        assert_eq!(e.field(), "inspection_mode");
        assert!(e.to_string().contains("交叉互检"));
    }

    #[test]
    fn stock_is_found_before_the_cutoff() {
        let cut = crate::hazard::parse_date("c", DEFAULT_STOCK_CUTOFF).unwrap();
        let d = |s| crate::hazard::parse_date("d", s).unwrap();
        assert_eq!(Stock::derive(d("2023-12-31"), cut), Stock::Stock);
        assert_eq!(Stock::derive(d("2024-01-01"), cut), Stock::New);
        assert_eq!(Stock::parse_as("stock", "存量").unwrap(), Stock::Stock);
        assert_eq!(Stock::parse_as("stock", "x").unwrap_err().field(), "stock");
    }

    #[test]
    fn location_lies_inside_the_owner_down_to_village() {
        let owner = code("530181006");
        assert_eq!(
            location_division(&owner, "530181006201").unwrap(),
            "530181006201"
        );
        assert_eq!(location_division(&owner, "530181006").unwrap(), "530181006");
        assert_eq!(
            location_division(&owner, "530181006000").unwrap(),
            "530181006"
        );
        for bad in ["530181007201", "530181", "5301810062", "530181006700"] {
            let e = location_division(&owner, bad).unwrap_err();
            assert_eq!(e.field(), "location.division", "{bad}");
        }
        assert!(location_division(&code("530181"), "530181006201").is_ok());
    }

    #[test]
    fn found_by_level_is_the_owner_or_above() {
        let owner = code("530181006");
        assert_eq!(
            found_by_level(&Chain::of(&owner), "province").unwrap(),
            code("53")
        );
        assert_eq!(
            found_by_level(&Chain::of(&owner), "市级").unwrap(),
            code("5301")
        );
        assert_eq!(
            found_by_level(&Chain::of(&owner), "530000").unwrap(),
            code("53")
        );
        assert_eq!(
            found_by_level(&Chain::of(&owner), "530181006").unwrap(),
            owner
        );
        assert!(found_by_level(&Chain::of(&owner), "5302").is_err());
        assert!(found_by_level(&Chain::of(&code("530181")), "township").is_err());
        assert_eq!(
            found_by_level(&Chain::of(&owner), "x").unwrap_err().field(),
            "found_by_level"
        );
    }

    #[test]
    fn numbers_follow_owner_year_sequence() {
        let t = code("530181006");
        assert_eq!(format_number(&t, 2026, 42), "530181006-2026-0042");
        assert_eq!(format_number(&code("5301"), 2026, 7), "530100-2026-0007");
        assert_eq!(parse_number(&t, "530181006-2026-0042").unwrap(), (2026, 42));
        assert_eq!(
            parse_number(&t, "530181006-2026-12345").unwrap(),
            (2026, 12345)
        );
        for bad in [
            "530181007-2026-0042",
            "530181006-26-0042",
            "530181006-2026-42",
            "530181006-2026-0000",
            "x",
        ] {
            assert_eq!(
                parse_number(&t, bad).unwrap_err().field(),
                "number",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_zone_is_found_by_its_configured_parent_and_the_levels_above_it() {
        // Zone 530171 is run by county 530181 (its prefix parent would be the city).
        let zone = Chain::configured(&code("530171"), Some(&code("530181"))).unwrap();
        // The zone is a county-level office itself: the level names it.
        assert_eq!(found_by_level(&zone, "county").unwrap(), code("530171"));
        assert_eq!(found_by_level(&zone, "530181").unwrap(), code("530181"));
        assert_eq!(found_by_level(&zone, "city").unwrap(), code("5301"));
        assert_eq!(found_by_level(&zone, "530171").unwrap(), code("530171"));
        assert!(
            found_by_level(&zone, "530102").is_err(),
            "another county is not above it"
        );
    }
}

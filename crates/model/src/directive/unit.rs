//! 承办单位 — who a directive is assigned to: role-typed units, each a node, a named department, or a
//! group reference resolved at the issuing node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AdminCode, Error, division};

/// 分工 — the role a unit has in a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitRole {
    /// 牵头单位
    Lead,
    /// 共同牵头单位
    CoLead,
    /// 责任单位
    Responsible,
    /// 配合单位
    Cooperating,
}

impl UnitRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitRole::Lead => "lead",
            UnitRole::CoLead => "co_lead",
            UnitRole::Responsible => "responsible",
            UnitRole::Cooperating => "cooperating",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            UnitRole::Lead => "牵头",
            UnitRole::CoLead => "共同牵头",
            UnitRole::Responsible => "责任",
            UnitRole::Cooperating => "配合",
        }
    }

    /// Accepts the English names and the Chinese terms (牵头, 牵头单位, 共同牵头, 责任, 责任单位, 配合, …).
    pub fn parse(field: &str, s: &str) -> Result<UnitRole, Error> {
        Ok(match s.trim() {
            "lead" | "牵头" | "牵头单位" => UnitRole::Lead,
            "co_lead" | "共同牵头" | "共同牵头单位" | "分别牵头" => UnitRole::CoLead,
            "responsible" | "责任" | "责任单位" => UnitRole::Responsible,
            "cooperating" | "配合" | "配合单位" => UnitRole::Cooperating,
            _ => {
                return Err(Error::invalid(
                    field,
                    "应为 牵头(lead)、共同牵头(co_lead)、责任(responsible) 或 配合(cooperating) / must be lead, co_lead, responsible or cooperating",
                ));
            }
        })
    }
}

/// 单位组 — a group reference, resolved at the node that issues (or forwards) the directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// 各下级 — 各州（市）/各县（市、区）/各乡镇（街道）: the issuing node's direct child nodes.
    Children,
    /// 各成员单位 — the 安委会's member units at the issuing node.
    MemberUnits,
    /// 负有安全监管职责的部门
    SupervisingDepartments,
    /// 负有行业管理职责的部门
    IndustryDepartments,
    /// 各村（社区）
    Villages,
}

/// Every group, in the order the API lists them.
pub const GROUPS: [Group; 5] = [
    Group::Children,
    Group::MemberUnits,
    Group::SupervisingDepartments,
    Group::IndustryDepartments,
    Group::Villages,
];

impl Group {
    /// The canonical name, which is also the key of the node's `unit_groups` config.
    pub fn label_zh(self) -> &'static str {
        match self {
            Group::Children => "各下级",
            Group::MemberUnits => "各成员单位",
            Group::SupervisingDepartments => "负有安全监管职责的部门",
            Group::IndustryDepartments => "负有行业管理职责的部门",
            Group::Villages => "各村（社区）",
        }
    }

    /// Names accepted for the group (compared after [`normalize`]).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Group::Children => &[
                "各下级",
                "各乡镇（街道）",
                "各乡镇、街道",
                "各街道",
                "各乡镇",
                "各县（市、区）",
                "各县市区",
                "各州（市）",
                "各州市",
                "各市（州）",
            ],
            Group::MemberUnits => &[
                "各成员单位",
                "安委会各成员单位",
                "安委会成员单位",
                "各有关成员单位",
            ],
            Group::SupervisingDepartments => &[
                "负有安全监管职责的部门",
                "各负有安全监管职责的部门",
                "负有安全生产监督管理职责的部门",
            ],
            Group::IndustryDepartments => &[
                "负有行业管理职责的部门",
                "各负有行业管理职责的部门",
                "各行业主管部门",
            ],
            Group::Villages => &["各村（社区）", "各村、社区", "各村社区", "各社区", "各村"],
        }
    }

    /// The group a unit name refers to, if it is one.
    pub fn parse(s: &str) -> Option<Group> {
        let n = normalize(s);
        GROUPS
            .into_iter()
            .find(|g| g.aliases().iter().any(|a| normalize(a) == n))
    }

    /// Resolves the group at node `at`: child nodes from the bundled division tree plus the configured
    /// `extra_children`; department groups from the node's `unit_groups` config (none configured:
    /// nothing, and the group is tracked as one unit).
    pub fn resolve(
        self,
        at: &AdminCode,
        extra_children: &[AdminCode],
        configured: &BTreeMap<String, Vec<String>>,
    ) -> Resolved {
        match self {
            Group::Children => {
                let mut nodes = division::children_of(at);
                for c in extra_children {
                    if !nodes.contains(c) {
                        nodes.push(c.clone());
                    }
                }
                Resolved {
                    nodes,
                    departments: Vec::new(),
                }
            }
            _ => Resolved {
                nodes: Vec::new(),
                departments: configured
                    .iter()
                    .find(|(k, _)| Group::parse(k) == Some(self))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            },
        }
    }
}

/// What a group stands for at one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub nodes: Vec<AdminCode>,
    pub departments: Vec<String>,
}

/// Folds full-width brackets and drops spaces, so `各乡镇(街道)` and `各乡镇（街道）` are one name.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '(' => '（',
            ')' => '）',
            ',' => '，',
            c => c,
        })
        .collect()
}

/// 单位 — one unit as written in an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// A node, by its code.
    Node(AdminCode),
    /// A named department (部门), tracked by the issuing office.
    Department(String),
    Group(Group),
}

/// The kind of a stored unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Node,
    Department,
    Group,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Node => "node",
            UnitKind::Department => "department",
            UnitKind::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "node" => Some(UnitKind::Node),
            "department" => Some(UnitKind::Department),
            "group" => Some(UnitKind::Group),
            _ => None,
        }
    }
}

impl Unit {
    /// Digits are a node code; a known group name is a group; anything else is a department name.
    pub fn parse(field: &str, s: &str) -> Result<Unit, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid(field, "单位必填 / unit is required"));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return AdminCode::parse(t)
                .map(Unit::Node)
                .map_err(|e| Error::invalid(field, e.to_string()));
        }
        if let Some(g) = Group::parse(t) {
            return Ok(Unit::Group(g));
        }
        if t.chars().count() > 60 {
            return Err(Error::invalid(
                field,
                "单位名称不能超过 60 字 / a unit name is at most 60 characters",
            ));
        }
        Ok(Unit::Department(t.to_string()))
    }

    pub fn kind(&self) -> UnitKind {
        match self {
            Unit::Node(_) => UnitKind::Node,
            Unit::Department(_) => UnitKind::Department,
            Unit::Group(_) => UnitKind::Group,
        }
    }

    /// The stored name: the code, the department's name, or the group's canonical name.
    pub fn name(&self) -> String {
        match self {
            Unit::Node(c) => c.to_string(),
            Unit::Department(d) => d.clone(),
            Unit::Group(g) => g.label_zh().to_string(),
        }
    }
}

/// 分工 — one assignment as stored in the directive: the role, the unit as written, and what it
/// resolved to at the issuing node (node codes and department names; empty for a node or a
/// department, which stand for themselves, and for a group nothing is configured for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub role: UnitRole,
    pub unit: String,
    pub kind: UnitKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
}

/// 八大行动 — the eight actions of the 安全生产治本攻坚三年行动 (2024–2026), suggested categories.
pub const EIGHT_ACTIONS: [&str; 8] = [
    "深化安全生产责任落实行动",
    "深化重点行业领域专项治理行动",
    "开展重大事故隐患动态清零行动",
    "开展生产经营单位安全管理体系建设行动",
    "开展生产经营单位从业人员安全素质能力提升行动",
    "开展安全科技支撑和工程治理行动",
    "开展安全生产精准执法和帮扶行动",
    "开展全民安全素质提升行动",
];

/// 专项整治 — special campaigns the seeds name, suggested categories besides the eight actions.
pub const CAMPAIGNS: [&str; 12] = [
    "重大事故隐患专项排查整治",
    "危险化学品安全专项治理",
    "非煤矿山安全专项治理",
    "冶金工贸安全专项治理",
    "消防安全专项治理",
    "城镇燃气安全专项整治",
    "道路交通安全专项治理",
    "建设工程施工安全专项治理",
    "特种设备安全专项治理",
    "危险作业专项治理",
    "经营性自建房安全专项整治",
    "安全生产大检查",
];

/// Whether `category` is one of the suggested names (categories are free text).
pub fn is_known_category(category: &str) -> bool {
    let c = category.trim();
    EIGHT_ACTIONS.contains(&c) || CAMPAIGNS.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn units_parse_as_node_group_or_department() {
        assert_eq!(
            Unit::parse("u", "530181006").unwrap(),
            Unit::Node(code("530181006"))
        );
        assert_eq!(
            Unit::parse("u", "各乡镇(街道)").unwrap(),
            Unit::Group(Group::Children)
        );
        assert_eq!(
            Unit::parse("u", "各乡镇（街道）").unwrap(),
            Unit::Group(Group::Children)
        );
        assert_eq!(
            Unit::parse("u", " 各负有安全监管职责的部门 ").unwrap(),
            Unit::Group(Group::SupervisingDepartments)
        );
        assert_eq!(
            Unit::parse("u", "应急管理综合服务中心").unwrap(),
            Unit::Department("应急管理综合服务中心".into())
        );
        assert_eq!(
            Unit::parse("assignments[2].unit", "").unwrap_err().field(),
            "assignments[2].unit"
        );
        assert_eq!(
            Unit::parse("assignments[0].unit", "53018")
                .unwrap_err()
                .field(),
            "assignments[0].unit"
        );
    }

    #[test]
    fn roles_accept_chinese_terms() {
        assert_eq!(UnitRole::parse("r", "牵头单位").unwrap(), UnitRole::Lead);
        assert_eq!(UnitRole::parse("r", "配合").unwrap(), UnitRole::Cooperating);
        assert_eq!(UnitRole::parse("r", "co_lead").unwrap(), UnitRole::CoLead);
        assert!(UnitRole::parse("r", "督办").is_err());
    }

    #[test]
    fn children_resolve_from_the_division_tree_plus_extra_children() {
        let county = code("530181");
        let zone = code("530199");
        let r = Group::Children.resolve(&county, std::slice::from_ref(&zone), &BTreeMap::new());
        assert!(r.nodes.contains(&code("530181006")));
        assert!(
            r.nodes
                .iter()
                .all(|n| n.is_direct_child_of(&county) || *n == zone)
        );
        assert!(r.nodes.contains(&zone));
        assert!(
            Group::Children
                .resolve(&code("530181006"), &[], &BTreeMap::new())
                .nodes
                .is_empty()
        );
    }

    #[test]
    fn department_groups_resolve_from_config_by_any_alias() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "安委会成员单位".to_string(),
            vec!["应急管理综合服务中心".to_string(), "消防工作站".to_string()],
        );
        let r = Group::MemberUnits.resolve(&code("530181006"), &[], &cfg);
        assert_eq!(r.departments, vec!["应急管理综合服务中心", "消防工作站"]);
        assert!(
            Group::Villages
                .resolve(&code("530181006"), &[], &cfg)
                .departments
                .is_empty()
        );
    }

    #[test]
    fn the_eight_actions_are_known_categories() {
        assert!(is_known_category("开展重大事故隐患动态清零行动"));
        assert!(!is_known_category("某某专项"));
    }
}

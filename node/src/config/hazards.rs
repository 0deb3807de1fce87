//! 隐患配置 — a node's hazard settings from its config: the sector dictionary, the 存量/增量 cut-off
//! and the 临期 warning days.

use safemesh_model::SectorDictionary;
use safemesh_model::hazard as mh;
use safemesh_model::hazard::facts::DEFAULT_STOCK_CUTOFF;
use time::Date;

use super::{Config, DEFAULT_DUE_SOON_DAYS};

/// A node's hazard settings, from its config: the sector dictionary and the 存量/增量 cut-off.
#[derive(Debug, Clone)]
pub struct HazardSettings {
    pub sectors: SectorDictionary,
    pub stock_cutoff: Date,
    /// 临期: due within this many days (and not yet overdue).
    pub due_soon_days: u32,
    /// 验收期限: the days an acceptor has, from the owner's report of rectification.
    pub acceptance_days: u32,
}

impl Default for HazardSettings {
    fn default() -> Self {
        HazardSettings {
            sectors: SectorDictionary::default(),
            stock_cutoff: mh::parse_date("stock_cutoff", DEFAULT_STOCK_CUTOFF)
                .expect("the default cut-off is a date"),
            due_soon_days: DEFAULT_DUE_SOON_DAYS,
            acceptance_days: mh::DEFAULT_ACCEPTANCE_DAYS,
        }
    }
}

impl HazardSettings {
    pub fn from_config(cfg: &Config) -> Result<HazardSettings, crate::Error> {
        let sectors = SectorDictionary::with_extra(&cfg.sectors).map_err(|e| {
            crate::Error::Config(format!("行业领域配置错误 / invalid sectors: {e}"))
        })?;
        let stock_cutoff = mh::parse_date("hazards.stock_cutoff", &cfg.hazards.stock_cutoff)
            .map_err(|e| crate::Error::Config(e.to_string()))?;
        let due_soon_days = cfg.hazards.due_soon_days;
        if !(1..=30).contains(&due_soon_days) {
            return Err(crate::Error::Config(format!(
                "hazards.due_soon_days 应为 1 到 30 天 / hazards.due_soon_days must be 1 to 30, got {due_soon_days}"
            )));
        }
        let acceptance_days = cfg.hazards.acceptance_days;
        if !(1..=90).contains(&acceptance_days) {
            return Err(crate::Error::Config(format!(
                "hazards.acceptance_days 应为 1 到 90 天 / hazards.acceptance_days must be 1 to 90, got {acceptance_days}"
            )));
        }
        Ok(HazardSettings {
            sectors,
            stock_cutoff,
            due_soon_days,
            acceptance_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
code = "530181006"
name = "禄脿街道"
listen = "127.0.0.1:7001"
http = "127.0.0.1:8001"
"#;

    #[test]
    fn node_config_sets_the_cutoff_and_extends_the_sector_dictionary() {
        let text = format!(
            "{BASE}\n[hazards]\nstock_cutoff = \"2025-01-01\"\n\n[[sectors]]\nname = \"冶金工贸\"\naliases = [\"有色\"]\n\n[[sectors]]\nname = \"民爆\"\n"
        );
        let cfg: Config = toml::from_str(&text).unwrap();
        cfg.validate().unwrap();
        let s = HazardSettings::from_config(&cfg).unwrap();
        assert_eq!(mh::format_date(s.stock_cutoff), "2025-01-01");
        assert_eq!(s.sectors.canonical("有色").unwrap(), "冶金工贸");
        assert_eq!(s.sectors.canonical("民爆").unwrap(), "民爆");
        assert_eq!(s.sectors.canonical("尾矿库").unwrap(), "非煤矿山");
        // Saved and read back, the config keeps both.
        let again: Config = toml::from_str(&toml::to_string_pretty(&cfg).unwrap()).unwrap();
        assert_eq!(
            (again.hazards, again.sectors),
            (cfg.hazards.clone(), cfg.sectors.clone())
        );
    }

    #[test]
    fn defaults_are_the_seed_dictionary_and_2024_01_01() {
        let cfg: Config = toml::from_str(BASE).unwrap();
        let s = HazardSettings::from_config(&cfg).unwrap();
        assert_eq!(mh::format_date(s.stock_cutoff), DEFAULT_STOCK_CUTOFF);
        assert_eq!(s.sectors.names().len(), 19);
        assert!(!toml::to_string_pretty(&cfg).unwrap().contains("hazards"));
    }

    #[test]
    fn an_ambiguous_alias_or_a_bad_cutoff_is_a_config_error() {
        let clash = format!("{BASE}\n[[sectors]]\nname = \"消防\"\naliases = [\"燃气\"]\n");
        let cfg: Config = toml::from_str(&clash).unwrap();
        assert!(matches!(cfg.validate(), Err(crate::Error::Config(m)) if m.contains("燃气")));
        let bad = format!("{BASE}\n[hazards]\nstock_cutoff = \"2024/01/01\"\n");
        let cfg: Config = toml::from_str(&bad).unwrap();
        assert!(matches!(cfg.validate(), Err(crate::Error::Config(_))));
        for days in [0, 31] {
            let bad = format!("{BASE}\n[hazards]\ndue_soon_days = {days}\n");
            let cfg: Config = toml::from_str(&bad).unwrap();
            assert!(
                matches!(cfg.validate(), Err(crate::Error::Config(m)) if m.contains("due_soon_days")),
                "{days}"
            );
        }
    }

    #[test]
    fn acceptance_days_default_to_10_and_are_bounded() {
        let cfg: Config = toml::from_str(BASE).unwrap();
        assert_eq!(
            HazardSettings::from_config(&cfg).unwrap().acceptance_days,
            10
        );
        let text = format!("{BASE}\n[hazards]\nacceptance_days = 20\n");
        let cfg: Config = toml::from_str(&text).unwrap();
        assert_eq!(
            HazardSettings::from_config(&cfg).unwrap().acceptance_days,
            20
        );
        let text = format!("{BASE}\n[hazards]\nacceptance_days = 0\n");
        let cfg: Config = toml::from_str(&text).unwrap();
        assert!(HazardSettings::from_config(&cfg).is_err());
    }

    #[test]
    fn due_soon_days_default_to_3_and_are_set_per_node() {
        let cfg: Config = toml::from_str(BASE).unwrap();
        assert_eq!(HazardSettings::from_config(&cfg).unwrap().due_soon_days, 3);
        let text = format!("{BASE}\n[hazards]\ndue_soon_days = 7\n");
        let cfg: Config = toml::from_str(&text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(HazardSettings::from_config(&cfg).unwrap().due_soon_days, 7);
    }
}

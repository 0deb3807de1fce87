//! 隐患配置 — a node's hazard settings from its config: the sector dictionary and the 存量/增量 cut-off.

use safemesh_model::SectorDictionary;
use safemesh_model::hazard as mh;
use safemesh_model::hazard::facts::DEFAULT_STOCK_CUTOFF;
use time::Date;

use crate::Config;

/// A node's hazard settings, from its config: the sector dictionary and the 存量/增量 cut-off.
#[derive(Debug, Clone)]
pub struct HazardSettings {
    pub sectors: SectorDictionary,
    pub stock_cutoff: Date,
}

impl Default for HazardSettings {
    fn default() -> Self {
        HazardSettings {
            sectors: SectorDictionary::default(),
            stock_cutoff: mh::parse_date("stock_cutoff", DEFAULT_STOCK_CUTOFF)
                .expect("the default cut-off is a date"),
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
        Ok(HazardSettings {
            sectors,
            stock_cutoff,
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
    }
}

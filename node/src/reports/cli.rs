//! `safemesh report monthly|bulletin` — the reports from a node's data directory (the node may be
//! running or not): read from its store, written to `--out` as xlsx (or JSON when the name ends in
//! `.json`).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{ReportQuery, bulletin, monthly, xlsx};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// 隐患排查治理情况月报表（默认1月至本月累计）/ the statutory monthly report
    Monthly {
        /// 节点数据目录 / the node's data directory
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 报告月份 YYYY-MM（默认本月）/ the month (default: this month)
        #[arg(long)]
        month: Option<String>,
        /// 填报单位区划代码（默认本级，可为任一下级）/ the scope (default: this office; any descendant)
        #[arg(long)]
        scope: Option<String>,
        /// 统计期：cumulative（默认，1月至本月累计）、month、quarter、year / the period
        #[arg(long)]
        period: Option<String>,
        /// 输出文件（.xlsx，或 .json）/ output file (.xlsx, or .json)
        #[arg(long)]
        out: PathBuf,
    },
    /// 月通报：下级单位整改率、逾期排名及未上报单位 / the bulletin of subordinates
    Bulletin {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

fn wants_json(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn fail(e: crate::records::RecordError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

pub async fn run(cmd: ReportCmd) -> anyhow::Result<()> {
    let (data_dir, q, out, is_bulletin) = match cmd {
        ReportCmd::Monthly {
            data_dir,
            month,
            scope,
            period,
            out,
        } => (
            data_dir,
            ReportQuery {
                month,
                scope,
                period,
                format: None,
            },
            out,
            false,
        ),
        ReportCmd::Bulletin {
            data_dir,
            month,
            scope,
            out,
        } => (
            data_dir,
            ReportQuery {
                month,
                scope,
                period: None,
                format: None,
            },
            out,
            true,
        ),
    };
    let cfg = Config::load(&data_dir)
        .map_err(|e| anyhow::anyhow!("无法读取数据目录 {} 的配置 / {e}", data_dir.display()))?;
    let req = q.check(&cfg.code).map_err(fail)?;
    let store = cfg.open_store(&data_dir).await?;
    let result = async {
        if is_bulletin {
            let b = bulletin::bulletin(&store, &cfg.code, &cfg.name, &req)
                .await
                .map_err(fail)?;
            let bytes = if wants_json(&out) {
                serde_json::to_vec_pretty(&b)?
            } else {
                xlsx::bulletin_workbook(&b).map_err(fail)?
            };
            std::fs::write(&out, bytes)?;
            println!(
                "已生成{}{}月通报（{}，下级 {} 个，未上报 {} 个）：{}",
                b.scope_name,
                b.month,
                b.period_label,
                b.rows.len(),
                b.not_reported.len(),
                out.display()
            );
        } else {
            let r = monthly::monthly(&store, &cfg.code, &cfg.name, &req)
                .await
                .map_err(fail)?;
            let bytes = if wants_json(&out) {
                serde_json::to_vec_pretty(&r)?
            } else {
                xlsx::monthly_workbook(&r).map_err(fail)?
            };
            std::fs::write(&out, bytes)?;
            let t = r.total();
            println!(
                "已生成{}{}（报告期 {}；一般隐患排查 {} 项、重大隐患排查 {} 项）：{}",
                r.scope_name,
                r.period.form_kind_zh(),
                r.period_label,
                t.general.found,
                t.major.found,
                out.display()
            );
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    store.close().await;
    result
}

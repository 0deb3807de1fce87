//! What `safemesh import hazards` and `safemesh export hazards|directives` do: they open the node's
//! store directly (like the `token` commands; the node may be running — SQLite in WAL mode lets both
//! write, one transaction at a time), write as the node's office under the person named by `--user`,
//! and show progress bars on a terminal.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use safemesh_store::Store;

use super::export::Office;
use super::import::{ImportOptions, ImportReport};
use crate::Config;
use crate::clock::today;
use crate::directives::ListFilter;
use crate::hazards::{HazardQuery, HazardSettings};
use crate::records::{Actor, RecordError};

/// The node a data dir holds, opened for a command: its store, settings, office and writer identity.
pub struct Opened {
    pub store: Store,
    pub settings: HazardSettings,
    pub office: Office,
    pub actor: Actor,
}

/// Opens the node at `data_dir` to write as `user`.
pub async fn open(data_dir: &Path, user: &str) -> anyhow::Result<Opened> {
    let cfg = Config::load(data_dir)?;
    cfg.validate()?;
    let settings = HazardSettings::from_config(&cfg)?;
    let store = cfg.open_store(data_dir).await?;
    // The node's own actor (the same the running node writes as, derived from the install id): the
    // command only creates new documents, so it never writes one document beside the node.
    let nonce =
        hex::decode(store.install_id()).unwrap_or_else(|_| store.install_id().as_bytes().to_vec());
    let actor = Actor {
        code: cfg.code.clone(),
        actor_id: safemesh_doc::actor::actor_id(&cfg.code, &nonce),
        user: user.to_string(),
        owner_parent: cfg.chain()?.parent,
    };
    Ok(Opened {
        store,
        settings,
        office: Office {
            code: cfg.code.to_string(),
            name: cfg.name.clone(),
        },
        actor,
    })
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} 行 {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn record(e: RecordError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

/// `safemesh export hazards`: writes the ledger for `q` to `out`; returns the rows written.
pub async fn export_hazards(data_dir: &Path, out: &Path, q: HazardQuery) -> anyhow::Result<u64> {
    let o = open(data_dir, "admin").await?;
    let pb = bar(0, "导出隐患台账");
    let progress = |done: u64, total: u64| {
        pb.set_length(total);
        pb.set_position(done);
    };
    let result =
        super::export_hazards(&o.store, &o.settings, &o.office, today(), q, &progress).await;
    let rows = pb.position();
    pb.finish_and_clear();
    o.store.close().await;
    let bytes = result.map_err(record)?;
    std::fs::write(out, bytes)?;
    Ok(rows)
}

/// `safemesh export directives`: writes the 任务台账 to `out`; returns the directives written.
pub async fn export_directives(
    data_dir: &Path,
    out: &Path,
    filter: ListFilter,
) -> anyhow::Result<u64> {
    let o = open(data_dir, "admin").await?;
    let pb = bar(0, "导出任务台账");
    let progress = |done: u64, total: u64| {
        pb.set_length(total);
        pb.set_position(done);
    };
    let result = super::export_directives(
        &o.store,
        &o.office,
        today(),
        &filter,
        o.settings.due_soon_days,
        &progress,
    )
    .await;
    let n = pb.position();
    pb.finish_and_clear();
    o.store.close().await;
    std::fs::write(out, result.map_err(record)?)?;
    Ok(n)
}

/// `safemesh import hazards`: imports `file` as `user`; with `annotated`, also writes the annotated
/// workbook there.
pub async fn import_hazards(
    data_dir: &Path,
    file: &Path,
    dry_run: bool,
    user: &str,
    annotated: Option<&Path>,
) -> anyhow::Result<ImportReport> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("无法读取 {}: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let grid = super::sheet::read(&name, bytes).map_err(record)?;
    let o = open(data_dir, user).await?;
    let pb = bar(0, "校验");
    let progress = |phase: &str, done: u64, total: u64| {
        pb.set_message(phase.to_string());
        pb.set_length(total);
        pb.set_position(done);
    };
    let opts = ImportOptions {
        dry_run,
        file_name: name,
    };
    let result = super::import_hazards(
        &o.store,
        &o.settings,
        &o.actor,
        today(),
        &grid,
        &opts,
        &progress,
    )
    .await;
    pb.finish_and_clear();
    o.store.close().await;
    let report = result.map_err(record)?;
    if let Some(path) = annotated {
        std::fs::write(
            path,
            super::import::annotated_workbook(&grid, &report).map_err(record)?,
        )?;
    }
    Ok(report)
}

/// The lines the import command prints: the counts, then each error and each skipped row.
pub fn report_lines(r: &ImportReport) -> Vec<String> {
    let mut out = vec![if r.dry_run {
        format!(
            "试导入（未保存）：共 {} 行，可导入 {} 行，跳过 {} 行，错误 {} 行",
            r.rows, r.created, r.skipped, r.failed
        )
    } else {
        format!(
            "导入完成：共 {} 行，已导入 {} 行，跳过 {} 行，错误 {} 行（错误行未保存）",
            r.rows, r.created, r.skipped, r.failed
        )
    }];
    for e in &r.errors {
        let at = match (&e.column, &e.header) {
            (Some(c), Some(h)) => format!("{c}列（{h}）"),
            (None, Some(h)) => h.clone(),
            _ => String::new(),
        };
        out.push(format!("  第{}行 {at}：{}", e.row, e.reason));
    }
    for s in &r.skipped_rows {
        out.push(format!("  第{}行 已跳过：{}", s.row, s.reason));
    }
    if !r.ignored_headers.is_empty() {
        out.push(format!(
            "  未识别的列（已忽略）：{}",
            r.ignored_headers.join("、")
        ));
    }
    out
}

//! 命令行 — the `safemesh` command: demo, ca, init, run, status, rollup, hazard, directive, backup,
//! token, import, export, report. Every command that works on a node finds it from `--data-dir`, else
//! `SAFEMESH_DATA_DIR`, else the package's `/var/lib/safemesh`. Those that ask the running node
//! (`status`, `rollup`, `hazard`, `directive`) exit with 2 when it does not answer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use safemesh_store::{TokenRole, TokenRow};

use crate::config::{Config, DEFAULT_DATA_DIR, TOKEN_FILE};
use crate::init::{InitOptions, REQUEST_FILE, init_node};

mod backup;
mod ca;
mod directive;
mod hazard;
mod remote;
mod status;

pub use backup::{Backup, after_restore, backup, pg_dump_command};
pub use ca::{CaCmd, CertCmd};
pub use directive::DirectiveCmd;
pub use hazard::HazardCmd;
pub use remote::{AskError, NodeArgs, Refusal, Remote};
pub use status::{Health, health, rollup_table, status_table};

/// safemesh — 安委办分级节点 / one node per work-safety committee office.
#[derive(Parser, Debug)]
#[command(
    name = "safemesh",
    version,
    about = "safemesh — 安全生产隐患与任务分级同步节点 / work-safety hazard and directive mesh"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// 演示：在一个进程内启动 云南省→昆明市→安宁市→禄脿街道 四级节点 / run a real 4-level chain in one process
    Demo {
        /// 数据目录（默认新建临时目录）/ data directory (default: a new temporary directory)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// HTTP 端口起始值，依次为省、市、县、乡 / first HTTP port (province, city, county, township)
        #[arg(long, default_value_t = 18400)]
        base_port: u16,
        /// 加载示例数据后立即退出（用于测试）/ exit after loading the sample (for tests)
        #[arg(long)]
        exit_after_load: bool,
    },
    /// 证书颁发机构 / certificate authority
    Ca {
        #[command(subcommand)]
        cmd: CaCmd,
    },
    /// 初始化节点数据目录 / set up a node's data directory
    ///
    /// 给 --ca-dir：由本机的 CA 签发密钥和证书；给 --csr：在本节点生成密钥（不离开本机）和证书申请
    /// D/tls/node.csr，交 CA 用 `ca sign` 签发后以 `cert install` 装入 / with --ca-dir: key and
    /// certificate from a CA on this host; with --csr: the key is made here (it never leaves) with a
    /// request D/tls/node.csr for `ca sign`, then `cert install`
    Init {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 行政区划代码（53、5301、530181、530181006 或 530000 形式）/ administrative code
        #[arg(long)]
        code: String,
        /// 链路监听地址 / link listen address (mTLS gRPC)
        #[arg(long)]
        listen: SocketAddr,
        /// HTTP API 地址 / HTTP API address
        #[arg(long)]
        http: SocketAddr,
        /// 上级链路地址 https://HOST:PORT / the parent's link address
        #[arg(long)]
        parent: Option<String>,
        /// 本机的 CA 目录 / a CA directory on this host
        #[arg(long, required_unless_present = "csr", conflicts_with = "csr")]
        ca_dir: Option<PathBuf>,
        /// 在本节点生成密钥和证书申请 / make the key and a certificate request here
        #[arg(long)]
        csr: bool,
        /// 名称（默认取区划名称）/ office name (default: the division's name)
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// 节点证书：安装 CA 签发的证书 / the node's certificate: install one the CA signed
    Cert {
        #[command(subcommand)]
        cmd: CertCmd,
    },
    /// 运行节点 / run a node
    Run {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// 查看运行中节点的同步状态 / sync status of a running node
    ///
    /// 退出码：0 全部链路已同步，1 有链路未同步，2 节点无响应 / exit code: 0 in sync, 1 degraded, 2 down
    Status {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 输出 JSON（含 health 字段）/ print JSON (with a `health` field)
        #[arg(long)]
        json: bool,
        /// 持续刷新，直到 Ctrl-C / refresh until Ctrl-C
        #[arg(long)]
        watch: bool,
        /// 刷新间隔（秒）/ seconds between refreshes
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
        interval: u64,
    },
    /// 备份存储（节点运行中也可）：SQLite 写出一致的副本；PostgreSQL 给出 pg_dump 命令 / back up the
    /// store (while the node runs): a consistent SQLite copy, or the pg_dump command for PostgreSQL
    Backup {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 备份文件（不覆盖已有文件）/ the backup file (never overwritten)
        #[arg(long)]
        out: PathBuf,
    },
    /// 从备份恢复后、启动前运行一次：换新安装标识并清空链路游标，上下级比对摘要后补齐差异 / run once on a store
    /// restored from a backup, before `run`: a new install id and no link cursors; peers then compare digests
    AfterRestore {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// 查看汇总 / roll-up of a running node (optionally of a descendant)
    Rollup {
        #[command(flatten)]
        node: NodeArgs,
        /// 下级单位代码（默认本级）/ a descendant's code (default: this office)
        #[arg(long)]
        scope: Option<String>,
        /// 输出 JSON / print JSON
        #[arg(long)]
        json: bool,
    },
    /// 隐患：台账、详情、登记、添加事件（通过运行中节点的 HTTP API）/ hazards: list, show, add, event
    /// (through the running node's HTTP API)
    Hazard {
        #[command(subcommand)]
        cmd: HazardCmd,
    },
    /// 任务：列表、详情、签收与反馈（通过运行中节点的 HTTP API）/ directives: list, show, respond
    /// (through the running node's HTTP API)
    Directive {
        #[command(subcommand)]
        cmd: DirectiveCmd,
    },
    /// HTTP API 令牌：新建、列出、吊销（直接操作存储，节点运行与否均可）/ API tokens: create, list,
    /// revoke (on the store; the node may be running or not)
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// 导入台账（直接操作存储，节点运行与否均可）/ import a ledger (on the store; the node may be running)
    Import {
        #[command(subcommand)]
        cmd: ImportCmd,
    },
    /// 导出台账为 Excel（直接读取存储）/ export a ledger as a workbook (reads the store)
    Export {
        #[command(subcommand)]
        cmd: ExportCmd,
    },
    /// 报表：月报表、月通报（直接读取数据目录，节点运行与否均可）/ reports from the data directory
    Report {
        #[command(subcommand)]
        cmd: crate::reports::cli::ReportCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// 从 .xlsx、.xls 或 .csv（UTF-8 或 GBK）导入隐患；有错误的行不保存，编号已存在的行跳过 /
    /// import hazards from a sheet; rows with errors are not stored, rows whose 编号 exists are skipped
    Hazards {
        /// 表格文件 / the sheet
        file: PathBuf,
        /// 节点数据目录 / the node's data directory
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 只校验，不保存 / validate only
        #[arg(long)]
        dry_run: bool,
        /// 记入每条记录的操作人 / the person recorded in every change
        #[arg(long, default_value = "台账导入")]
        user: String,
        /// 另存一份标注了错误的工作簿 / also write the sheet annotated with the errors here
        #[arg(long)]
        annotated: Option<PathBuf>,
    },
}

/// The ledger's filters, as `GET /api/v1/hazards` takes them.
#[derive(clap::Args, Debug, Default)]
pub struct HazardFilterArgs {
    /// 等级：general/一般、major/重大（major 导出重大事故隐患台账）
    #[arg(long)]
    pub grade: Option<String>,
    /// 状态：open、rectifying、pending_acceptance、closed
    #[arg(long)]
    pub status: Option<String>,
    /// 登记单位代码 / owner code
    #[arg(long)]
    pub owner: Option<String>,
    /// 辖区代码（含下级）/ within this code
    #[arg(long)]
    pub within: Option<String>,
    /// 行业领域 / sector
    #[arg(long)]
    pub sector: Option<String>,
    /// 发现渠道 / channel
    #[arg(long)]
    pub channel: Option<String>,
    /// 存量/增量 / stock or new
    #[arg(long)]
    pub stock: Option<String>,
    /// 隐患所在：生产经营单位、道路、自建房、公共场所、其他 / what the hazard is at
    #[arg(long)]
    pub subject: Option<String>,
    /// 逾期（单写 --overdue 即 true）：true/false / overdue
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub overdue: Option<String>,
    /// 挂牌督办（单写即 true）：true/false / listed for supervision
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub supervised: Option<String>,
    /// 名称或编号关键词 / text in the title or number
    #[arg(long)]
    pub q: Option<String>,
    /// 发现日期起 YYYY-MM-DD
    #[arg(long)]
    pub found_from: Option<String>,
    /// 发现日期止 YYYY-MM-DD
    #[arg(long)]
    pub found_to: Option<String>,
    /// 企业：信用代码或名称关键词
    #[arg(long)]
    pub enterprise: Option<String>,
    /// 排序：new、overdue、deadline、found
    #[arg(long)]
    pub sort: Option<String>,
    /// 临期（单写 --due-soon 即 true）：true/false / due soon
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub due_soon: Option<String>,
}

impl HazardFilterArgs {
    /// The filters as the query parameters of `GET /api/v1/hazards` (absent ones `None`).
    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let f = self;
        vec![
            ("grade", f.grade.clone()),
            ("status", f.status.clone()),
            ("owner", f.owner.clone()),
            ("sector", f.sector.clone()),
            ("channel", f.channel.clone()),
            ("stock", f.stock.clone()),
            ("subject", f.subject.clone()),
            ("overdue", f.overdue.clone()),
            ("supervised", f.supervised.clone()),
            ("q", f.q.clone()),
            ("within", f.within.clone()),
            ("found_from", f.found_from.clone()),
            ("found_to", f.found_to.clone()),
            ("enterprise", f.enterprise.clone()),
            ("sort", f.sort.clone()),
            ("due_soon", f.due_soon.clone()),
        ]
    }

    pub fn query(self) -> crate::hazards::HazardQuery {
        crate::hazards::HazardQuery {
            grade: self.grade,
            status: self.status,
            owner: self.owner,
            sector: self.sector,
            channel: self.channel,
            stock: self.stock,
            subject: self.subject,
            overdue: self.overdue,
            supervised: self.supervised,
            q: self.q,
            within: self.within,
            found_from: self.found_from,
            found_to: self.found_to,
            enterprise: self.enterprise,
            sort: self.sort,
            due_soon: self.due_soon,
            limit: None,
            offset: None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// 导出隐患台账（筛选条件同台账页面）/ export the hazard ledger (the ledger's filters)
    Hazards {
        /// 输出文件（.xlsx）/ output file
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[command(flatten)]
        filter: Box<HazardFilterArgs>,
    },
    /// 导出任务台账（每个承办单位一行）/ export the directive ledger, one row per unit
    Directives {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 下发单位代码 / issued by
        #[arg(long)]
        issuer: Option<String>,
        /// 承办节点代码 / sent to
        #[arg(long)]
        target: Option<String>,
        /// 类别 / category
        #[arg(long)]
        category: Option<String>,
        /// 仅有逾期单位的任务 / only directives with an overdue unit
        #[arg(long)]
        overdue: Option<bool>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// 新建令牌，最后一行为令牌本身（只显示这一次）/ create a token; the secret is the last line (shown once)
    Create {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// viewer 只读 / editor 可写记录 / admin 全部权限（含令牌管理）/ metrics 只能读取监控指标 /metrics
        #[arg(long, value_parser = ["viewer", "editor", "admin", "metrics"])]
        role: String,
        /// 持有人姓名，记入其每一次修改 / the holder's name, recorded in every change made with it
        #[arg(long)]
        name: Option<String>,
    },
    /// 列出令牌（不显示令牌本身）/ list tokens (never their secrets)
    List {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// 吊销令牌 / revoke a token
    Revoke {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 令牌标识（见 token list）/ the token's id (see token list)
        #[arg(long)]
        id: String,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The demo prints what a user needs; its nodes log warnings only unless SAFEMESH_LOG says otherwise.
    let filter = if matches!(cli.cmd, Cmd::Demo { .. }) {
        "warn"
    } else {
        "info,sqlx=warn,h2=warn,hyper=warn,tower=warn,tonic=warn"
    };
    // A running node exports its traces if its config says where (a config that does not load is
    // reported by `run` itself).
    let export = match &cli.cmd {
        Cmd::Run { data_dir } => Config::load(data_dir)
            .ok()
            .and_then(|c| crate::telemetry::Export::of(&c)),
        _ => None,
    };
    let telemetry = {
        let _rt = rt.enter();
        match crate::telemetry::init(filter, export.as_ref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("错误 / error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let code = if let Cmd::Status {
        data_dir,
        json,
        watch,
        interval,
    } = &cli.cmd
    {
        let every = watch.then(|| std::time::Duration::from_secs(*interval));
        rt.block_on(status::status(data_dir, *json, every))
    } else {
        match rt.block_on(dispatch(cli.cmd)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("错误 / error: {e:#}");
                // A node that does not answer: 2, as `status` says it.
                match e.downcast_ref::<AskError>() {
                    Some(a) if a.is_unreachable() => ExitCode::from(2),
                    _ => ExitCode::FAILURE,
                }
            }
        }
    };
    telemetry.shutdown();
    code
}

async fn dispatch(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Token { cmd } => token_cmd(cmd).await,
        Cmd::Import {
            cmd:
                ImportCmd::Hazards {
                    file,
                    data_dir,
                    dry_run,
                    user,
                    annotated,
                },
        } => {
            let r = crate::excel::cli::import_hazards(
                &data_dir,
                &file,
                dry_run,
                &user,
                annotated.as_deref(),
            )
            .await?;
            for line in crate::excel::cli::report_lines(&r) {
                println!("{line}");
            }
            if let Some(p) = &annotated {
                println!("标注结果已保存到 / annotated sheet: {}", p.display());
            }
            if r.failed > 0 {
                anyhow::bail!("{} 行有错误，未导入 / {} rows refused", r.failed, r.failed);
            }
            Ok(())
        }
        Cmd::Export {
            cmd:
                ExportCmd::Hazards {
                    out,
                    data_dir,
                    filter,
                },
        } => {
            let n = crate::excel::cli::export_hazards(&data_dir, &out, filter.query()).await?;
            println!(
                "已导出隐患台账 {n} 条 / {n} hazards written to {}",
                out.display()
            );
            Ok(())
        }
        Cmd::Export {
            cmd:
                ExportCmd::Directives {
                    out,
                    data_dir,
                    issuer,
                    target,
                    category,
                    overdue,
                },
        } => {
            let filter = crate::directives::ListFilter {
                issuer,
                target,
                category,
                overdue,
                due_soon: None,
            };
            let n = crate::excel::cli::export_directives(&data_dir, &out, filter).await?;
            println!(
                "已导出任务台账 {n} 项任务 / {n} directives written to {}",
                out.display()
            );
            Ok(())
        }
        Cmd::Report { cmd } => crate::reports::cli::run(cmd).await,
        Cmd::Demo {
            dir,
            base_port,
            exit_after_load,
        } => crate::demo::run(dir, base_port, exit_after_load).await,
        Cmd::Ca { cmd } => ca::run(cmd),
        Cmd::Cert { cmd } => ca::run_cert(cmd),
        Cmd::Init {
            data_dir,
            code,
            listen,
            http,
            parent,
            ca_dir,
            csr: _,
            name,
            database_url,
        } => {
            let request = ca_dir.is_none();
            let cfg = init_node(&InitOptions {
                data_dir: data_dir.clone(),
                code,
                listen,
                http,
                parent,
                ca_dir,
                name,
                database_url,
            })?;
            println!(
                "已初始化节点 {} {} / node initialised in {}",
                cfg.code,
                cfg.name,
                data_dir.display()
            );
            println!("令牌 / token: {}", data_dir.join(TOKEN_FILE).display());
            if request {
                let tls = Config::tls_dir(&data_dir);
                let csr = tls.join(REQUEST_FILE);
                let d = data_dir.display();
                println!(
                    "私钥已生成在 {key}（不要复制到别处）；证书申请 {csr}。下一步：\n  \
                     1. 把 {csr} 交给 CA，在 CA 主机上执行 safemesh ca sign --dir CA目录 --csr node.csr --out 输出目录\n  \
                     2. 把输出目录中的 node.pem、ca.pem（及 revoked.txt）带回本机，执行 safemesh cert install --data-dir {d} --from 该目录\n\
                     The private key is in {key} (do not copy it anywhere); the certificate request is {csr}. Next:\n  \
                     1. take {csr} to the CA and run there: safemesh ca sign --dir CA_DIR --csr node.csr --out OUT_DIR\n  \
                     2. bring node.pem and ca.pem (and revoked.txt) from OUT_DIR back and run: safemesh cert install --data-dir {d} --from THAT_DIR",
                    key = tls.join(safemesh_gateway::ca::NODE_KEY_FILE).display(),
                    csr = csr.display(),
                );
            }
            Ok(())
        }
        Cmd::Run { data_dir } => {
            let cfg = Config::load(&data_dir)?;
            let node = crate::start(&data_dir, cfg).await?;
            println!(
                "节点 {} {} 已启动 / started: HTTP {} 链路 / link {}",
                node.code,
                node.name,
                node.http_url(),
                node.link_url()
            );
            crate::signal::wait_for_signal().await;
            println!("正在停止 / shutting down");
            node.shutdown().await;
            Ok(())
        }
        Cmd::Status { .. } => unreachable!("answered in main with its exit code"),
        Cmd::Backup { data_dir, out } => match backup::backup(&data_dir, &out).await? {
            Backup::Written(bytes) => {
                println!(
                    "已备份到 {}（{} 字节）；恢复步骤见 docs/OPERATIONS.md / backed up to {} ({bytes} bytes)",
                    out.display(),
                    bytes,
                    out.display()
                );
                Ok(())
            }
            Backup::PgDump(cmd) => {
                println!("{cmd}");
                anyhow::bail!(
                    "本节点使用 PostgreSQL，未备份：请运行上面的 pg_dump 命令 / this node's store is PostgreSQL: nothing was backed up, run the pg_dump command above"
                )
            }
        },
        Cmd::AfterRestore { data_dir } => {
            let id = backup::after_restore(&data_dir).await?;
            println!(
                "已换新安装标识 {id}，启动后与上下级比对摘要、只补差异 / new install id {id}; on the next start peers compare digests and send only what differs"
            );
            Ok(())
        }
        Cmd::Rollup { node, scope, json } => status::rollup(&node, scope.as_deref(), json).await,
        Cmd::Hazard { cmd } => hazard::run(cmd).await,
        Cmd::Directive { cmd } => directive::run(cmd).await,
    }
}

async fn token_cmd(cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            data_dir,
            role,
            name,
        } => {
            let role = TokenRole::parse(&role).ok_or_else(|| anyhow::anyhow!("--role {role}"))?;
            let (row, secret) = token_create(&data_dir, role, name.as_deref()).await?;
            println!(
                "已创建{}令牌 {}（{}），令牌只显示这一次，请交给本人 / {} token {} created for {}; the secret below is shown only once",
                row.role.label(),
                row.id,
                row.name,
                row.role,
                row.id,
                row.name
            );
            println!("{secret}");
            Ok(())
        }
        TokenCmd::List { data_dir } => {
            print!("{}", token_table(&token_list(&data_dir).await?));
            Ok(())
        }
        TokenCmd::Revoke { data_dir, id } => {
            let (row, before) = token_revoke(&data_dir, &id).await?;
            let at = row.revoked.as_deref().unwrap_or("");
            if before.is_some() {
                println!(
                    "令牌 {id}（{}）已于 {at} 吊销 / token {id} was already revoked at {at}",
                    row.name
                );
            } else {
                let secs = crate::tokens::TOKEN_CACHE_TTL.as_secs();
                println!(
                    "已吊销令牌 {id}（{}）；运行中的节点至多 {secs} 秒后拒绝它 / token {id} revoked at {at}; a running node refuses it within {secs} s",
                    row.name
                );
            }
            Ok(())
        }
    }
}

/// The store of the node at `data_dir`, with the data dir's token registered (as the node does at
/// start), so the token commands show the same list before and after the node's first start.
async fn open_data_store(data_dir: &Path) -> anyhow::Result<safemesh_store::Store> {
    let cfg = Config::load(data_dir)?;
    let store = cfg.open_store(data_dir).await?;
    if let Ok(token) = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
        && !token.trim().is_empty()
        && let Err(e) = crate::node::register_file_token(&store, token.trim()).await
    {
        store.close().await;
        return Err(e.into());
    }
    Ok(store)
}

/// `safemesh token create`: a new token in the store of the node at `data_dir`. Returns its row and
/// its secret (which is stored nowhere). A running node accepts it at once.
pub async fn token_create(
    data_dir: &Path,
    role: TokenRole,
    name: Option<&str>,
) -> anyhow::Result<(TokenRow, String)> {
    let store = open_data_store(data_dir).await?;
    let made = store.create_token(name.unwrap_or(""), role).await;
    store.close().await;
    Ok(made?)
}

/// `safemesh token list`: every token of the node at `data_dir`, revoked ones included.
pub async fn token_list(data_dir: &Path) -> anyhow::Result<Vec<TokenRow>> {
    let store = open_data_store(data_dir).await?;
    let rows = store.list_tokens().await;
    store.close().await;
    Ok(rows?)
}

/// `safemesh token revoke`: revokes token `id` of the node at `data_dir`. Returns its row and when it
/// had been revoked before, if it had. A running node refuses it within
/// [`crate::tokens::TOKEN_CACHE_TTL`].
pub async fn token_revoke(data_dir: &Path, id: &str) -> anyhow::Result<(TokenRow, Option<String>)> {
    let store = open_data_store(data_dir).await?;
    let done = async {
        let before = store.token(id).await?.and_then(|t| t.revoked);
        let row = store.revoke_token(id).await?;
        Ok::<_, safemesh_store::Error>((row, before))
    }
    .await;
    store.close().await;
    match done? {
        (Some(row), before) => Ok((row, before)),
        (None, _) => anyhow::bail!("没有令牌 {id} / no token {id} (see `safemesh token list`)"),
    }
}

/// The table `safemesh token list` prints: id, name, role, created, revoked. No secrets, no hashes.
pub fn token_table(rows: &[TokenRow]) -> String {
    let mut lines = vec![[
        "id".to_string(),
        "name".to_string(),
        "role".to_string(),
        "created".to_string(),
        "revoked".to_string(),
    ]];
    for r in rows {
        lines.push([
            r.id.clone(),
            r.name.clone(),
            r.role.to_string(),
            r.created.clone(),
            r.revoked.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    crate::format::table(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_table_aligns_chinese_names() {
        let rows = vec![
            TokenRow {
                id: "t-000000000001".into(),
                name: "张三".into(),
                role: TokenRole::Editor,
                created: "2026-11-22T00:00:00Z".into(),
                revoked: None,
            },
            TokenRow {
                id: "t-000000000002".into(),
                name: "李四".into(),
                role: TokenRole::Admin,
                created: "2026-11-22T00:00:01Z".into(),
                revoked: Some("2026-11-22T00:00:02Z".into()),
            },
        ];
        let t = token_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        // The role column starts at the same display column on every line.
        let at = |l: &str, word: &str| crate::format::columns(&l[..l.find(word).unwrap()]);
        assert_eq!(at(lines[0], "role"), at(lines[1], "editor"));
        assert_eq!(at(lines[0], "role"), at(lines[2], "admin"));
        assert!(lines[2].ends_with("2026-11-22T00:00:02Z"));
        assert!(lines[1].ends_with('-'));
    }
}

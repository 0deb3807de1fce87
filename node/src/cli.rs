//! 命令行 — the `safemesh` command: demo, ca, init, run, status, rollup.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use safemesh_model::AdminCode;

use crate::config::{Config, TOKEN_FILE};
use crate::init::{InitOptions, ca_init, ca_issue, init_node};

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
    Init {
        #[arg(long)]
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
        #[arg(long)]
        ca_dir: PathBuf,
        /// 名称（默认取区划名称）/ office name (default: the division's name)
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// 运行节点 / run a node
    Run {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// 查看运行中节点的同步状态 / sync status of a running node
    Status {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// 从备份恢复后、启动前运行一次：换新安装标识并清空链路游标，让上下级补齐 / run once on a store
    /// restored from a backup, before `run`: a new install id and no link cursors, so peers resend
    AfterRestore {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// 查看汇总 / roll-up of a running node (optionally of a descendant)
    Rollup {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        scope: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// 新建 CA / create a CA
    Init {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "safemesh")]
        name: String,
    },
    /// 为节点签发证书 / issue a node certificate
    Issue {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        code: String,
        /// 输出目录（node.pem、node.key、ca.pem）/ output directory
        #[arg(long)]
        out: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints what a user needs; its nodes log warnings only unless SAFEMESH_LOG says otherwise.
    init_tracing(if matches!(cli.cmd, Cmd::Demo { .. }) {
        "warn"
    } else {
        "info,sqlx=warn,h2=warn,hyper=warn,tower=warn,tonic=warn"
    });
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
    match rt.block_on(dispatch(cli.cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAFEMESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn dispatch(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Demo {
            dir,
            base_port,
            exit_after_load,
        } => crate::demo::run(dir, base_port, exit_after_load).await,
        Cmd::Ca {
            cmd: CaCmd::Init { dir, name },
        } => {
            ca_init(&dir, &name)?;
            println!("已创建 CA / CA created: {}", dir.display());
            Ok(())
        }
        Cmd::Ca {
            cmd: CaCmd::Issue { dir, code, out },
        } => {
            let code = AdminCode::parse(&code).map_err(|e| anyhow::anyhow!("--code: {e}"))?;
            ca_issue(&dir, &code, &out)?;
            println!(
                "已签发 {code} 的证书 / certificate issued: {}",
                out.display()
            );
            Ok(())
        }
        Cmd::Init {
            data_dir,
            code,
            listen,
            http,
            parent,
            ca_dir,
            name,
            database_url,
        } => {
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
            wait_for_signal().await;
            println!("正在停止 / shutting down");
            node.shutdown().await;
            Ok(())
        }
        Cmd::Status { data_dir } => {
            let v = get_json(&data_dir, "/api/v1/sync/status").await?;
            println!(
                "节点 / node {} seq {}",
                v["code"].as_str().unwrap_or(""),
                v["seq"]
            );
            println!(
                "{:<12} {:<8} {:<12} {:>8} {:>8} {:>10} {:>10}  last_error",
                "peer", "role", "state", "out", "in", "bytes_in", "bytes_out"
            );
            // serde_json values ignore width specifiers; format them as text first.
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "-".to_string(),
                other => other.to_string(),
            };
            for l in v["links"].as_array().cloned().unwrap_or_default() {
                println!(
                    "{:<12} {:<8} {:<12} {:>8} {:>8} {:>10} {:>10}  {}",
                    text(&l["peer"]),
                    text(&l["role"]),
                    text(&l["state"]),
                    text(&l["pending_out"]),
                    text(&l["pending_in"]),
                    text(&l["bytes_in"]),
                    text(&l["bytes_out"]),
                    l["last_error"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        Cmd::AfterRestore { data_dir } => {
            let cfg = Config::load(&data_dir)?;
            let store = crate::node::open_store(&data_dir, &cfg).await?;
            let id = store.new_install().await?;
            store.close().await;
            println!(
                "已换新安装标识 {id}，启动后上下级将重新补齐 / new install id {id}; peers resend on the next start"
            );
            Ok(())
        }
        Cmd::Rollup { data_dir, scope } => {
            let path = match scope {
                Some(s) => format!("/api/v1/rollup?scope={s}"),
                None => "/api/v1/rollup".to_string(),
            };
            let v = get_json(&data_dir, &path).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
    }
}

async fn get_json(data_dir: &std::path::Path, path: &str) -> anyhow::Result<serde_json::Value> {
    let cfg = Config::load(data_dir)?;
    let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))?
        .trim()
        .to_string();
    let url = format!("http://{}{}", cfg.http, path);
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("无法连接节点 / cannot reach node at {url}: {e}"))?;
    let status = resp.status();
    let v: serde_json::Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{}: {}",
            status,
            v["error"]["message"].as_str().unwrap_or("")
        );
    }
    Ok(v)
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

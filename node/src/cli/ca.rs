//! `safemesh ca` (init, issue, sign, revoke) and `safemesh cert install`: the CA host's commands and
//! the node's side of a signed request.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use safemesh_model::AdminCode;

use crate::config::DEFAULT_DATA_DIR;
use crate::init::{ca_init, ca_issue, ca_sign, cert_install};

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
        /// 输出目录（node.pem、node.key、ca.pem，及 CA 的 revoked.txt）；可为运行中节点的 D/tls，
        /// 节点下次连接起使用新证书 / output directory (node.pem, node.key, ca.pem, and the CA's
        /// revoked.txt); may be a running node's D/tls: it presents the new certificate from its
        /// next connection on
        #[arg(long)]
        out: PathBuf,
    },
    /// 签发节点的证书申请（init --csr 生成）：写出 node.pem 和 ca.pem（及 CA 的 revoked.txt），不生成、
    /// 不写出任何私钥 / sign a node's certificate request (made by init --csr): writes node.pem and
    /// ca.pem (and the CA's revoked.txt), never a key
    Sign {
        #[arg(long)]
        dir: PathBuf,
        /// 证书申请文件（PEM）/ the request (PEM)
        #[arg(long)]
        csr: PathBuf,
        /// 输出目录（默认与申请文件同一目录）/ output directory (default: the request's directory)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// 吊销证书：把序列号加入 CA/revoked.txt 并签发吊销列表 CA/crl.pem；装到最上级节点（cert
    /// install-crl）后经网络自动下发到各级 / revoke a certificate: add its serial to CA/revoked.txt
    /// and sign the CRL CA/crl.pem; installed at the top node (cert install-crl) it travels down the
    /// mesh by itself
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        /// 证书序列号（十六进制，可含冒号）/ the certificate's serial (hex, colons allowed)
        #[arg(long)]
        serial: String,
        /// 吊销原因（记入列表）/ why (recorded in the list)
        #[arg(long)]
        reason: Option<String>,
        /// 同时把新的吊销列表装到本机这个节点（通常是最上级节点）/ also install the new CRL in this
        /// node on the CA's host (usually the top node)
        #[arg(long)]
        install: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// 安装 CA 签发的证书（ca sign 的输出目录中的 node.pem、ca.pem），须与 init --csr 生成的私钥匹配 /
    /// install the certificate the CA signed (node.pem and ca.pem from ca sign's output); it must
    /// match the key init --csr made
    Install {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// ca sign 的输出目录 / the directory ca sign wrote
        #[arg(long)]
        from: PathBuf,
    },
    /// 安装吊销列表（ca revoke 签发的 crl.pem）：须由本节点的 CA 签发且比现有的新；运行中即生效，
    /// 并自动下发给下级 / install a CRL (the crl.pem ca revoke signed): it must be signed by this
    /// node's CA and newer than the one held; a running node takes it at once and passes it down
    InstallCrl {
        #[arg(long, env = "SAFEMESH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// 吊销列表文件 / the CRL file (CA/crl.pem)
        #[arg(long)]
        crl: PathBuf,
    },
}

pub(super) fn run(cmd: CaCmd) -> anyhow::Result<()> {
    match cmd {
        CaCmd::Init { dir, name } => {
            ca_init(&dir, &name)?;
            println!("已创建 CA / CA created: {}", dir.display());
            Ok(())
        }
        CaCmd::Issue { dir, code, out } => {
            let code = AdminCode::parse(&code).map_err(|e| anyhow::anyhow!("--code: {e}"))?;
            let issued = ca_issue(&dir, &code, &out)?;
            println!(
                "已签发 {code} 的证书 / certificate issued: {} (serial {}, until {})",
                out.display(),
                issued.serial_hex,
                issued
                    .not_after
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            );
            Ok(())
        }
        CaCmd::Sign { dir, csr, out } => {
            let out = match out {
                Some(out) => out,
                None => csr
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from(".")),
            };
            let signed = ca_sign(&dir, &csr, &out)
                .with_context(|| format!("证书申请 / request {}", csr.display()))?;
            println!(
                "已签发 {code} 的证书 / certificate signed for {code}: {} (serial {}, until {})；\
                 请把 node.pem、ca.pem（及 revoked.txt）交回该节点，执行 safemesh cert install / \
                 take node.pem, ca.pem (and revoked.txt) back to the node and run safemesh cert install",
                out.join(safemesh_gateway::ca::NODE_CERT_FILE).display(),
                signed.serial_hex,
                signed
                    .not_after
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                code = signed.code,
            );
            Ok(())
        }
        CaCmd::Revoke {
            dir,
            serial,
            reason,
            install,
        } => {
            let crl = dir.join(safemesh_gateway::ca::CRL_FILE);
            match crate::init::ca_revoke(&dir, &serial, reason.as_deref())? {
                safemesh_gateway::ca::Revoked::Added { crl_number, .. } => println!(
                    "已吊销 {serial}，吊销列表 {} 编号 {crl_number}；装到最上级节点后自动下发 / \
                     revoked; CRL {} number {crl_number}: install it at the top node and it travels \
                     down the mesh",
                    crl.display(),
                    crl.display()
                ),
                safemesh_gateway::ca::Revoked::AlreadyListed { path } => println!(
                    "{serial} 已在吊销列表中 / already listed in {}",
                    path.display()
                ),
            }
            if let Some(data_dir) = install {
                install_crl_into(&data_dir, &crl)?;
            }
            Ok(())
        }
    }
}

fn install_crl_into(data_dir: &Path, crl: &Path) -> anyhow::Result<()> {
    let installed = crate::init::cert_install_crl(data_dir, crl)
        .with_context(|| format!("吊销列表 / CRL {}", crl.display()))?;
    println!(
        "已安装吊销列表（编号 {}，{} 个证书），运行中的节点即生效并下发给下级 / CRL installed (number {}, \
         {} certificates); a running node takes it at once and passes it to its children",
        installed.number(),
        installed.serials().len(),
        installed.number(),
        installed.serials().len()
    );
    Ok(())
}

pub(super) fn run_cert(cmd: CertCmd) -> anyhow::Result<()> {
    match cmd {
        CertCmd::InstallCrl { data_dir, crl } => install_crl_into(&data_dir, &crl),
        CertCmd::Install { data_dir, from } => {
            let serial = cert_install(&data_dir, &from)?;
            println!(
                "已安装证书（序列号 {serial}），节点下次连接起使用 / certificate installed (serial \
                 {serial}); the node presents it from its next connection on"
            );
            Ok(())
        }
    }
}

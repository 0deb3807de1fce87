//! `safemesh ca init`, `ca issue`, `ca revoke` and `init`: the CA, node certificates, the
//! revocation list and a node's data dir.

use std::path::{Path, PathBuf};

use safemesh_gateway::ca::{
    Ca, IssuedCert, Revoked, copy_revocation_list, revoke, write_node_files,
};
use safemesh_model::{AdminCode, division};

use crate::Error;
use crate::config::{Config, TOKEN_FILE};

/// Validity of node certificates issued by `init` and `ca issue`.
pub const NODE_CERT_DAYS: u32 = 825;

/// What `safemesh init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub data_dir: PathBuf,
    pub code: String,
    pub listen: std::net::SocketAddr,
    pub http: std::net::SocketAddr,
    pub parent: Option<String>,
    pub ca_dir: PathBuf,
    pub name: Option<String>,
    pub database_url: Option<String>,
}

/// Creates a CA in `dir` (never overwrites one).
pub fn ca_init(dir: &Path, name: &str) -> Result<(), Error> {
    Ca::init(dir, name)?;
    Ok(())
}

/// Issues a node certificate for `code` into `out` (node.pem, node.key, ca.pem), and copies the
/// CA's revocation list (`revoked.txt`) there if it has one. Files are replaced atomically, so `out`
/// may be a running node's `D/tls`: it presents the new certificate from its next connection on
/// (rotation; the old one stays valid for peers until it expires or is revoked).
///
/// Returns the issued certificate (its serial is what `ca revoke` takes).
pub fn ca_issue(ca_dir: &Path, code: &AdminCode, out: &Path) -> Result<IssuedCert, Error> {
    let ca = Ca::load(ca_dir)?;
    let issued = ca.issue(code, NODE_CERT_DAYS)?;
    write_node_files(&issued, ca.ca_cert_pem(), out)?;
    copy_revocation_list(ca_dir, out)?;
    Ok(issued)
}

/// Adds `serial` (hex, as `ca issue` printed it or `openssl x509 -serial` shows it) to the CA's
/// published revocation list `ca_dir/revoked.txt`. Nodes honour their copy `D/tls/revoked.txt`
/// from the moment it changes; distributing the list is the operator's job.
pub fn ca_revoke(ca_dir: &Path, serial: &str, reason: Option<&str>) -> Result<Revoked, Error> {
    Ok(revoke(ca_dir, serial, reason)?)
}

/// Writes a node's data dir: config, key and certificate signed by the CA, and the admin token.
pub fn init_node(o: &InitOptions) -> Result<Config, Error> {
    let code = AdminCode::parse(&o.code).map_err(|e| Error::Config(format!("--code: {e}")))?;
    let name = match &o.name {
        Some(n) if !n.trim().is_empty() => n.trim().to_string(),
        _ => division::name_of(&code)
            .map(str::to_string)
            .ok_or_else(|| Error::Config(format!("--code {code}: 区划数据中没有该代码，请用 --name 指定名称 / code not in the division data; give --name")))?,
    };
    if o.data_dir.join(crate::config::CONFIG_FILE).exists() {
        return Err(Error::Config(format!(
            "{} 已初始化 / already initialised (safemesh.toml exists)",
            o.data_dir.display()
        )));
    }
    let cfg = Config {
        code: code.clone(),
        name,
        listen: o.listen,
        http: o.http,
        parent: o.parent.clone(),
        database_url: o.database_url.clone(),
        reconnect_max_backoff_ms: 5000,
        extra_children: Vec::new(),
        parent_code: None,
        unit_groups: Default::default(),
        hazards: Default::default(),
        sectors: Vec::new(),
        telemetry: Default::default(),
        metrics: Default::default(),
    };
    cfg.validate()?;
    std::fs::create_dir_all(&o.data_dir)?;
    ca_issue(&o.ca_dir, &code, &Config::tls_dir(&o.data_dir))?;
    let token = hex::encode(rand::random::<[u8; 24]>());
    crate::config::write_private(&o.data_dir.join(TOKEN_FILE), &format!("{token}\n"))?;
    cfg.save(&o.data_dir)?;
    Ok(cfg)
}

//! `safemesh ca init`, `ca issue`, `ca sign`, `ca revoke`, `init` and `cert install`: the CA, node
//! certificates (issued with their key, or signed from a node's request so the key never leaves the
//! node), the revocation list and a node's data dir.

use std::path::{Path, PathBuf};

use safemesh_gateway::ca::{
    Ca, Crl, IssuedCert, Revoked, SignedCert, copy_revocation_list, install_crl, install_signed,
    make_request, revoke, write_node_files, write_signed_files,
};
use safemesh_model::{AdminCode, division};

use crate::Error;
use crate::config::{Config, TOKEN_FILE};

/// File name of a node's certificate request, in its `tls` dir (`init --csr`).
pub const REQUEST_FILE: &str = "node.csr";

/// Validity of node certificates issued by `init`, `ca issue` and `ca sign`.
pub const NODE_CERT_DAYS: u32 = 825;

/// What `safemesh init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub data_dir: PathBuf,
    pub code: String,
    pub listen: std::net::SocketAddr,
    pub http: std::net::SocketAddr,
    pub parent: Option<String>,
    /// The CA to issue the node's key and certificate from (a CA on this host); `None`: the key is
    /// made here and a certificate request written beside it ([`REQUEST_FILE`]) for `ca sign`.
    pub ca_dir: Option<PathBuf>,
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

/// Signs the certificate request `csr` (PEM, as `init --csr` wrote it) with the CA in `ca_dir` and
/// writes the certificate and the CA certificate into `out` (node.pem, ca.pem, and the CA's
/// revoked.txt if it has one). No key is made or written: the node has its own.
pub fn ca_sign(ca_dir: &Path, csr: &Path, out: &Path) -> Result<SignedCert, Error> {
    let ca = Ca::load(ca_dir)?;
    let pem = std::fs::read_to_string(csr)
        .map_err(|e| Error::Config(format!("--csr {}: {e}", csr.display())))?;
    let signed = ca.sign_request(&pem, NODE_CERT_DAYS)?;
    write_signed_files(&signed, ca.ca_cert_pem(), out)?;
    copy_revocation_list(ca_dir, out)?;
    Ok(signed)
}

/// Installs in the node at `data_dir` the certificate `from/node.pem` signed by the CA `from/ca.pem`
/// (what `ca sign` wrote), beside the key `init --csr` made: refused if the CA did not sign it, if it
/// is not that key's, or if it names another office than the node's. The CA's revocation list
/// `from/revoked.txt` is copied too if there is one. Returns the certificate's serial.
pub fn cert_install(data_dir: &Path, from: &Path) -> Result<String, Error> {
    let cfg = Config::load(data_dir)?;
    let read = |name: &str| {
        let p = from.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))
    };
    let cert_pem = read(safemesh_gateway::ca::NODE_CERT_FILE)?;
    let ca_pem = read(safemesh_gateway::ca::CA_CERT_FILE)?;
    let tls = Config::tls_dir(data_dir);
    let serial = install_signed(&tls, &cfg.code, &cert_pem, &ca_pem)?;
    copy_revocation_list(from, &tls)?;
    Ok(serial)
}

/// Adds `serial` (hex, as `ca issue` printed it or `openssl x509 -serial` shows it) to the CA's
/// list `ca_dir/revoked.txt` and signs the CRL `ca_dir/crl.pem` (numbered one above the last).
/// Installed at the top node ([`cert_install_crl`]), the CRL travels down the mesh by itself: each
/// parent offers it to its children.
pub fn ca_revoke(ca_dir: &Path, serial: &str, reason: Option<&str>) -> Result<Revoked, Error> {
    Ok(revoke(ca_dir, serial, reason)?)
}

/// Installs the CRL at `from` (what `ca revoke` wrote, `CA/crl.pem`) in the node at `data_dir`:
/// refused unless the node's CA signed it and it is newer than the node's; written atomically. A
/// running node takes it within a second and offers it to its children. Returns the CRL.
pub fn cert_install_crl(data_dir: &Path, from: &Path) -> Result<Crl, Error> {
    let bytes =
        std::fs::read(from).map_err(|e| Error::Config(format!("{}: {e}", from.display())))?;
    Ok(install_crl(&Config::tls_dir(data_dir), &bytes)?)
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
        http_limits: Default::default(),
        quotas: Default::default(),
        evidence: Default::default(),
    };
    cfg.validate()?;
    std::fs::create_dir_all(&o.data_dir)?;
    let tls = Config::tls_dir(&o.data_dir);
    match &o.ca_dir {
        Some(ca_dir) => {
            ca_issue(ca_dir, &code, &tls)?;
        }
        None => {
            let key_path = tls.join(safemesh_gateway::ca::NODE_KEY_FILE);
            if key_path.exists() {
                return Err(Error::Config(format!(
                    "{} 已存在，拒绝覆盖 / exists, refusing to overwrite it",
                    key_path.display()
                )));
            }
            let request = make_request(&code)?;
            std::fs::create_dir_all(&tls)?;
            crate::config::write_private(&key_path, &request.key_pem)?;
            std::fs::write(tls.join(REQUEST_FILE), &request.csr_pem)?;
        }
    }
    let token = hex::encode(rand::random::<[u8; 24]>());
    crate::config::write_private(&o.data_dir.join(TOKEN_FILE), &format!("{token}\n"))?;
    cfg.save(&o.data_dir)?;
    Ok(cfg)
}

//! A fault-injecting TCP proxy: the seam where tests cut and heal a link without sleeps in the code
//! under test. A child dials the proxy; the proxy forwards to the parent while it is up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy. Dropping it stops it.
pub struct Proxy {
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
    /// Where connections go; a restarted parent may listen elsewhere ([`Proxy::set_upstream`]).
    upstream: Arc<Mutex<SocketAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on `listen` (port 0 for any) and forwards to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (up, up_rx) = watch::channel(true);
        let upstream = Arc::new(Mutex::new(upstream));
        let target = upstream.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mut up_rx = up_rx.clone();
                if !*up_rx.borrow() {
                    drop(client); // partitioned: refuse by closing at once
                    continue;
                }
                let upstream = *target.lock().expect("upstream lock");
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut c, mut s) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut c, &mut s) => {}
                        _ = up_rx.wait_for(|u| !*u) => {}
                    }
                });
            }
        });
        Ok(Proxy {
            addr,
            up,
            upstream,
            task,
        })
    }

    /// Where the proxy forwards to.
    pub fn upstream(&self) -> SocketAddr {
        *self.upstream.lock().expect("upstream lock")
    }

    /// Forwards new connections to `upstream` from now on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("upstream lock") = upstream;
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        let _ = self.up.send(false);
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        let _ = self.up.send(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

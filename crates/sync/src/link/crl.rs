//! 吊销列表下发 — the revocation list travelling down the mesh (issue 19 #12): a parent offers its
//! CRL to a child whose hello names an older one (or none), and again whenever its own changes while
//! the stream is open; a child hands what its parent offers to the runner to verify and keep
//! ([`Effect::TakeCrl`]). Whether the CRL is signed by the CA and newer is the runner's to decide
//! (this crate knows no X.509); the machine only decides who may offer, when, and how large.

use super::{Effect, Link, Role};
use crate::frame::{ErrorFrame, Frame};

/// Bytes of a CRL a node takes from its parent at most (a CRL of this mesh is about 40 bytes per
/// revoked certificate: 1 MiB is over 25,000 of them).
pub const MAX_CRL_BYTES: usize = 1 << 20;

/// The rule of a CRL frame from a child: only a parent offers its revocation list.
pub const RULE_CRL_FROM_PARENT: &str = "crl_from_parent";

impl Link {
    /// The revocation list this node holds now (its CRL number and DER bytes), from the runner, at
    /// the start and whenever it changes. Its number goes into this side's hello; a child known to
    /// hold an older one on the open stream is offered it at once.
    pub fn set_crl(&mut self, crl: Option<(u64, Vec<u8>)>) -> Vec<Effect> {
        self.crl = crl;
        self.offer_crl()
    }

    /// The CRL number this side holds (0: none), as its hello says.
    pub fn crl_number(&self) -> u64 {
        self.crl.as_ref().map_or(0, |(n, _)| *n)
    }

    /// Sends this side's CRL if the peer is a child known to hold an older one on this stream.
    pub(super) fn offer_crl(&mut self) -> Vec<Effect> {
        if self.role != Role::Child || !self.hello_received {
            return Vec::new();
        }
        match &self.crl {
            Some((number, der)) if *number > self.peer_crl => {
                self.peer_crl = *number;
                vec![Effect::Send(Frame::Crl { der: der.clone() })]
            }
            _ => Vec::new(),
        }
    }

    /// The peer offers its CRL: only a parent may, after its hello, within [`MAX_CRL_BYTES`].
    pub(super) fn on_crl(&mut self, der: Vec<u8>) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "revocation list before hello");
        }
        if self.role != Role::Parent {
            return self.protocol_error(
                None,
                RULE_CRL_FROM_PARENT,
                "a child offered a revocation list: only a parent does",
            );
        }
        if der.len() > MAX_CRL_BYTES {
            let msg = format!(
                "revocation list of {} bytes, over the bound of {MAX_CRL_BYTES}",
                der.len()
            );
            return self.protocol_error(None, "max_crl_bytes", &msg);
        }
        vec![Effect::TakeCrl { der }]
    }

    /// The runner's answer to [`Effect::TakeCrl`]: the number of the CRL now held, or the typed
    /// refusal (not signed by the CA, not newer, does not decode), which is sent to the peer before
    /// the stream closes. A refused CRL changes nothing here.
    pub fn on_crl_taken(&mut self, taken: Result<u64, ErrorFrame>) -> Vec<Effect> {
        match taken {
            Ok(_) => Vec::new(),
            Err(e) => {
                self.last_error = Some(format!("refused from {}: {}", self.peer, e.message));
                let reason = e.message.clone();
                vec![Effect::Send(Frame::Error(e)), Effect::Close { reason }]
            }
        }
    }
}

//! A stream whose one side is a node's real runner and whose other side the test plays frame by
//! frame (a scripted peer): for the orderings and hostile input a live mesh cannot be made to produce
//! on demand. The node's side is part of the mesh (its activity, its clock); waiting for the node's
//! next frame runs the mesh, so a rate-limit pause passes on the virtual clock.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use safemesh_link::Transport;
use safemesh_sync::{Frame, Link, Role};
use tokio::sync::{mpsc, watch};

use super::activity::Activity;
use super::{LinkTask, Mesh};

/// Frames buffered per direction between the node and the test.
const CHANNEL: usize = 64;

/// The test's end of a stream to one node's runner.
pub struct Scripted {
    act: Arc<Activity>,
    /// The node's runner, in the mesh's activity.
    id: u64,
    me: String,
    peer: String,
    to_node: Option<mpsc::Sender<(Frame, usize)>>,
    from_node: mpsc::Receiver<Frame>,
    stop: watch::Sender<bool>,
    task: Option<LinkTask>,
}

impl Mesh {
    /// Opens a stream from node `me`'s runner (its link to `peer`, in `role` — the role `peer` has
    /// for `me`) to the test, which plays `peer`. The node keeps its link state machine across
    /// streams as with [`Mesh::connect`]; end the stream with [`Mesh::end_scripted`].
    pub fn script(&mut self, me: &str, peer: &str, role: Role) -> Scripted {
        self.script_as(me, peer, role, None)
    }

    /// As [`Mesh::script`], the test's end authenticated by a certificate of this serial (as the
    /// gateway hands the runner the peer's serial).
    pub fn script_as(
        &mut self,
        me: &str,
        peer: &str,
        role: Role,
        serial: Option<&str>,
    ) -> Scripted {
        let cfg = self.cfg(me);
        let link = self.take_link(me, peer, role);
        let (out_tx, from_node) = mpsc::channel(CHANNEL);
        let (to_node, in_rx) = mpsc::channel(CHANNEL);
        let (stop, stop_rx) = watch::channel(false);
        let t = Transport {
            tx: out_tx,
            rx: in_rx,
            bytes_out: Arc::new(AtomicU64::new(0)),
            peer_serial: serial.map(str::to_string),
        };
        let id = self
            .act
            .add_runner(format!("{me} → {peer} (scripted)"), cfg.store.clone());
        let task = self.spawn_runner(id, cfg, link, None, t, stop_rx);
        Scripted {
            act: self.act.clone(),
            id,
            me: me.to_string(),
            peer: peer.to_string(),
            to_node: Some(to_node),
            from_node,
            stop,
            task: Some(task),
        }
    }

    /// Waits for the node's runner of `s` to end (after a hang-up, an error, or [`Scripted::stop`]),
    /// parks its link for the next stream and returns why it ended. Panics if the mesh goes quiet
    /// with the runner still going.
    pub async fn end_scripted(&mut self, s: &mut Scripted) -> String {
        let (link, reason) = s.wait_end().await;
        self.act.remove_runner(s.id);
        self.parked.insert((s.me.clone(), s.peer.clone()), link);
        reason
    }
}

impl Scripted {
    /// Sends `f` to the node as the peer.
    pub async fn send(&self, f: Frame) {
        let tx = self.to_node.as_ref().expect("hung up");
        self.act.sent_to(self.id, 1);
        tx.send((f, 0)).await.expect("the node's runner is gone");
    }

    /// The peer hangs up its sending side (the node's runner takes the end in as an input).
    pub fn hang_up(&mut self) {
        if self.to_node.take().is_some() {
            self.act.sent_to(self.id, 1);
        }
    }

    /// Asks the node's runner to stop (as a shutdown would).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// The next frame the node sends. Runs the mesh until it comes; panics if the stream closes, or
    /// the mesh goes quiet (nothing more will come) first.
    pub async fn recv(&mut self) -> Frame {
        match self.try_next().await {
            Ok(f) => f,
            Err(why) => panic!("{} sent nothing: {why}", self.me),
        }
    }

    /// The next frame the node sends, or why none will come.
    async fn try_next(&mut self) -> Result<Frame, String> {
        let act = self.act.clone();
        let rx = &mut self.from_node;
        let mut got = None;
        let driven = act
            .drive_until(|| {
                if got.is_none() {
                    got = Some(rx.try_recv());
                }
                match &got {
                    Some(Ok(_)) | Some(Err(mpsc::error::TryRecvError::Disconnected)) => true,
                    _ => {
                        got = None;
                        false
                    }
                }
            })
            .await;
        match (driven, got) {
            (Ok(()), Some(Ok(f))) => Ok(f),
            (Ok(()), _) => Err("the stream closed".into()),
            (Err(why), _) => Err(why),
        }
    }

    /// Runs the mesh until it is quiet and returns every frame the node sent meanwhile.
    pub async fn until_quiet(&mut self) -> Vec<Frame> {
        if let Err(why) = self.act.settle().await {
            panic!("the mesh did not settle: {why}");
        }
        let mut out = Vec::new();
        while let Ok(f) = self.from_node.try_recv() {
            out.push(f);
        }
        out
    }

    /// Frames the node has sent and the test not yet read, without running anything.
    pub fn try_recv(&mut self) -> Result<Frame, mpsc::error::TryRecvError> {
        self.from_node.try_recv()
    }

    /// Runs the mesh until the node's runner has ended; returns its link and why it ended.
    async fn wait_end(&mut self) -> (Link, String) {
        let task = self.task.take().expect("already ended");
        let act = self.act.clone();
        let id = self.id;
        if let Err(why) = act.drive_until(|| act.ended(id)).await {
            let _ = self.stop.send(true);
            panic!("{}'s runner did not end: {why}", self.me);
        }
        task.await.expect("the node's runner panicked")
    }
}

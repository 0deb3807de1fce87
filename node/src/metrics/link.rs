//! 链路指标 — each link's state, lag, what is left to send and receive, traffic, batches and
//! refusals, and the refused TLS handshakes: from the same [`LinkReport`]s as
//! `GET /api/v1/sync/status`. Labels: `peer` (the other office's code) and `role` (`parent`, `child`:
//! what the peer is to this node).

use std::collections::BTreeMap;

use safemesh_link::LINK_STATES;
use safemesh_link::quota::QUOTA_RULES;

use super::family::{Family, Labels};
use crate::api::node::LinkReport;

/// Whether a link in `state` carries changes (connected, catching up or in sync).
pub(crate) fn is_up(state: &str) -> bool {
    matches!(state, "in_sync" | "catching_up")
}

/// The families of the links in `reports`, and of the refused handshakes by reason.
pub(crate) fn families(reports: &[LinkReport], handshakes: &BTreeMap<String, u64>) -> Vec<Family> {
    let mut up = Family::gauge(
        "safemesh_link_up",
        "1 while the link is connected (catching up or in sync), else 0.",
    );
    let mut state = Family::gauge(
        "safemesh_link_state",
        "The link's state: 1 for the current one of connecting, catching_up, in_sync, disconnected, rejected.",
    );
    let mut lag = Family::gauge(
        "safemesh_link_lag_seq",
        "Sequence numbers the peer announced that this node has not received yet.",
    );
    let mut send_docs = Family::gauge(
        "safemesh_link_to_send_documents",
        "Documents and summaries in the peer's scope not yet acknowledged by it.",
    );
    let mut send_bytes = Family::gauge(
        "safemesh_link_to_send_bytes",
        "Stored bytes of the documents and summaries still to send.",
    );
    let mut recv_docs = Family::gauge(
        "safemesh_link_to_receive_documents",
        "Documents the peer said it still has to send (0 once in sync).",
    );
    let mut recv_bytes = Family::gauge(
        "safemesh_link_to_receive_bytes",
        "Bytes the peer said it still has to send (0 once in sync).",
    );
    let mut bytes_in = Family::counter(
        "safemesh_link_received_bytes",
        "Bytes received from the peer since the node started.",
    );
    let mut bytes_out = Family::counter(
        "safemesh_link_sent_bytes",
        "Bytes sent to the peer since the node started.",
    );
    let mut batches_out = Family::counter(
        "safemesh_link_batches_sent",
        "Batches sent to the peer since the node started.",
    );
    let mut batches_in = Family::counter(
        "safemesh_link_batches_received",
        "Batches from the peer checked and stored since the node started.",
    );
    let mut rejected = Family::counter(
        "safemesh_link_rejected_batches",
        "Batches and frames from the peer this node refused, by the rule they broke.",
    );
    let mut quota = Family::counter(
        "safemesh_link_quota_rejections",
        "Batches from a child refused for a quota since the node started, by quota (quota_documents, quota_bytes, quota_summary_bytes, quota_summary_versions).",
    );
    let mut last_sync = Family::gauge(
        "safemesh_link_last_sync_timestamp_seconds",
        "When the link was last in sync (Unix time).",
    );
    for r in reports {
        let labels = || -> Labels {
            vec![
                ("peer", r.peer.as_str().to_string()),
                ("role", r.role.clone()),
            ]
        };
        let with = |extra: (&'static str, String)| {
            let mut l = labels();
            l.push(extra);
            l
        };
        up.push(labels(), f64::from(u8::from(is_up(&r.state))));
        for s in LINK_STATES {
            state.push(
                with(("state", s.to_string())),
                f64::from(u8::from(r.state == s)),
            );
        }
        if let Some(l) = r.lag_seq() {
            lag.push(labels(), l as f64);
        }
        send_docs.push(labels(), r.to_send_docs as f64);
        send_bytes.push(labels(), r.to_send_bytes as f64);
        let (docs, bytes) = r.to_receive();
        recv_docs.push(labels(), docs as f64);
        recv_bytes.push(labels(), bytes as f64);
        if let Some(t) = r.last_sync_at.as_deref().and_then(unix_seconds) {
            last_sync.push(labels(), t);
        }
        let Some(s) = &r.live else {
            continue;
        };
        bytes_in.push(labels(), s.bytes_in as f64);
        bytes_out.push(labels(), s.bytes_out as f64);
        batches_out.push(labels(), s.batches_sent as f64);
        batches_in.push(labels(), s.batches_received as f64);
        for (rule, n) in &s.rejections {
            rejected.push(with(("rule", rule.clone())), *n as f64);
        }
        if r.role == "child" {
            for q in QUOTA_RULES {
                let n = s.rejections.get(q).copied().unwrap_or(0);
                quota.push(with(("quota", q.to_string())), n as f64);
            }
        }
    }
    let mut refused = Family::counter(
        "safemesh_tls_rejected_handshakes",
        "TLS handshakes this node refused since it started, by reason.",
    );
    for (reason, n) in handshakes {
        refused.push(vec![("reason", reason.clone())], *n as f64);
    }
    vec![
        up,
        state,
        lag,
        send_docs,
        send_bytes,
        recv_docs,
        recv_bytes,
        bytes_in,
        bytes_out,
        batches_out,
        batches_in,
        rejected,
        quota,
        last_sync,
        refused,
    ]
}

/// An RFC 3339 time as Unix seconds.
pub(crate) fn unix_seconds(rfc3339: &str) -> Option<f64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp() as f64)
}

#[cfg(test)]
mod tests {
    use safemesh_link::Registry;
    use safemesh_model::AdminCode;

    use super::super::family::Value;
    use super::*;

    fn sample<'a>(fs: &'a [Family], name: &str, label: (&str, &str)) -> Option<&'a Value> {
        let f = fs.iter().find(|f| f.name == name)?;
        f.samples
            .iter()
            .find(|(l, _)| l.iter().any(|(k, v)| *k == label.0 && v == label.1))
            .map(|(_, v)| v)
    }

    #[test]
    fn a_link_is_up_in_one_state_and_its_refusals_are_counted_by_rule() {
        let reg = Registry::default();
        reg.update("530181006", |s| {
            s.role = "child".into();
            s.state = "catching_up".into();
            s.peer_seq = 40;
            s.recv_cursor = 30;
            s.bytes_in = 1000;
            s.batches_received = 3;
            s.rejected_batches = 2;
            s.rejections = [
                ("superior_only".to_string(), 2),
                ("quota_documents".to_string(), 1),
            ]
            .into();
        });
        let reports = vec![
            LinkReport {
                peer: AdminCode::parse("530181006").unwrap(),
                role: "child".into(),
                state: "catching_up".into(),
                last_sync_at: Some("2026-12-07T01:00:00Z".into()),
                last_error: None,
                to_send_docs: 5,
                to_send_bytes: 5000,
                live: reg.get("530181006"),
            },
            LinkReport {
                peer: AdminCode::parse("530181007").unwrap(),
                role: "child".into(),
                state: "disconnected".into(),
                last_sync_at: None,
                last_error: None,
                to_send_docs: 0,
                to_send_bytes: 0,
                live: None,
            },
        ];
        let fs = families(&reports, &reg.rejected_handshakes());
        assert_eq!(
            sample(&fs, "safemesh_link_up", ("peer", "530181006")),
            Some(&Value::Gauge(1.0))
        );
        assert_eq!(
            sample(&fs, "safemesh_link_up", ("peer", "530181007")),
            Some(&Value::Gauge(0.0))
        );
        let states = &fs.iter().find(|f| f.name == "safemesh_link_state").unwrap();
        let on: Vec<_> = states
            .samples
            .iter()
            .filter(|(_, v)| *v == Value::Gauge(1.0))
            .map(|(l, _)| l[2].1.as_str())
            .collect();
        assert_eq!(on, ["catching_up", "disconnected"], "one state per link");
        assert_eq!(
            sample(&fs, "safemesh_link_lag_seq", ("peer", "530181006")),
            Some(&Value::Gauge(10.0))
        );
        assert_eq!(
            sample(&fs, "safemesh_link_lag_seq", ("peer", "530181007")),
            None,
            "unknown for a link not connected since start"
        );
        assert_eq!(
            sample(
                &fs,
                "safemesh_link_rejected_batches",
                ("rule", "superior_only")
            ),
            Some(&Value::Counter(2))
        );
        assert_eq!(
            sample(
                &fs,
                "safemesh_link_quota_rejections",
                ("quota", "quota_documents")
            ),
            Some(&Value::Counter(1)),
            "quota refusals by child and quota"
        );
        assert_eq!(
            sample(
                &fs,
                "safemesh_link_quota_rejections",
                ("quota", "quota_bytes")
            ),
            Some(&Value::Counter(0)),
            "every quota is listed for a child"
        );
        assert_eq!(
            sample(
                &fs,
                "safemesh_tls_rejected_handshakes",
                ("reason", "revoked")
            ),
            Some(&Value::Counter(0)),
            "the base reasons are always there"
        );
        assert_eq!(
            sample(
                &fs,
                "safemesh_link_last_sync_timestamp_seconds",
                ("peer", "530181006")
            ),
            Some(&Value::Gauge(1_796_605_200.0))
        );
    }
}

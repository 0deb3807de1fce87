//! 请求限制 — how many requests the node handles at once. A request takes a turn (one of
//! `max_concurrent_requests`) before its handler runs; when none is free it waits, at most
//! `queue_wait_ms` and with at most `max_queued_requests` others, and is otherwise answered 503 with
//! `Retry-After` — so a flood of clients costs a bounded number of running handlers and waiting
//! requests, never an unbounded pile of work. The body bound is axum's `DefaultBodyLimit`, set on
//! the router from the same config ([`HttpConfig`]); `/healthz`, `/readyz` and `/metrics` are
//! outside both, so a busy node still answers its health checks.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::config::HttpConfig;
use crate::records::RecordError;

/// The turns: requests running and requests waiting, each a semaphore.
#[derive(Clone)]
pub struct Admission {
    running: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    wait: Duration,
}

impl Admission {
    pub fn new(cfg: &HttpConfig) -> Admission {
        Admission {
            running: Arc::new(Semaphore::new(cfg.max_concurrent_requests)),
            waiting: Arc::new(Semaphore::new(cfg.max_queued_requests)),
            wait: Duration::from_millis(cfg.queue_wait_ms),
        }
    }
}

/// The middleware: runs the request in a turn, or answers 503 `overloaded`.
pub async fn admit(State(adm): State<Admission>, req: Request, next: Next) -> Response {
    let turn = match adm.running.clone().try_acquire_owned() {
        Ok(turn) => turn,
        Err(_) => {
            let Ok(_place) = adm.waiting.clone().try_acquire_owned() else {
                return overloaded();
            };
            match tokio::time::timeout(adm.wait, adm.running.clone().acquire_owned()).await {
                Ok(Ok(turn)) => turn,
                _ => return overloaded(),
            }
        }
    };
    let resp = next.run(req).await;
    drop(turn);
    resp
}

/// 503 with `Retry-After: 1`, `rule: "overloaded"`.
fn overloaded() -> Response {
    let mut resp = RecordError {
        status: 503,
        field: None,
        rule: Some("overloaded".into()),
        message: "节点繁忙，同时处理的请求已达上限，请稍后重试 / the node is busy: too many requests at once, retry shortly".into(),
    }
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A router whose handler signals `entered`, then holds its turn until `release` gives a permit.
    fn held(cfg: &HttpConfig, entered: Arc<Semaphore>, release: Arc<Semaphore>) -> Router {
        let adm = Admission::new(cfg);
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let (entered, release) = (entered.clone(), release.clone());
                    async move {
                        entered.add_permits(1);
                        release.acquire().await.unwrap().forget();
                        "done"
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(adm, admit))
    }

    fn get_slow() -> Request {
        Request::builder().uri("/slow").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn past_the_running_and_waiting_bounds_a_request_is_answered_503_and_the_rest_complete() {
        let cfg = HttpConfig {
            max_concurrent_requests: 2,
            max_queued_requests: 1,
            queue_wait_ms: 60_000,
            ..HttpConfig::default()
        };
        let (entered, release) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
        let app = held(&cfg, entered.clone(), release.clone());
        // Two run and hold both turns.
        let running: Vec<_> = (0..2)
            .map(|_| tokio::spawn(app.clone().oneshot(get_slow())))
            .collect();
        entered.acquire_many(2).await.unwrap().forget();
        // Two more: one takes the queue's one place, the other is answered 503 at once.
        let mut third = tokio::spawn(app.clone().oneshot(get_slow()));
        let mut fourth = tokio::spawn(app.clone().oneshot(get_slow()));
        let (refused, queued) = tokio::select! {
            r = &mut third => (r, fourth),
            r = &mut fourth => (r, third),
        };
        let refused = refused.unwrap().unwrap();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["rule"], "overloaded");
        assert_eq!(v["error"]["status"], 503);
        // No third handler ran while both turns were held.
        assert_eq!(entered.available_permits(), 0);
        // Released, the two running and the queued one all complete.
        release.add_permits(3);
        for h in running {
            assert_eq!(h.await.unwrap().unwrap().status(), 200);
        }
        assert_eq!(queued.await.unwrap().unwrap().status(), 200);
    }

    #[tokio::test]
    async fn a_request_that_waits_past_queue_wait_is_answered_503() {
        let cfg = HttpConfig {
            max_concurrent_requests: 1,
            max_queued_requests: 8,
            queue_wait_ms: 1,
            ..HttpConfig::default()
        };
        let (entered, release) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
        let app = held(&cfg, entered.clone(), release.clone());
        let first = tokio::spawn(app.clone().oneshot(get_slow()));
        entered.acquire().await.unwrap().forget();
        let r = app.clone().oneshot(get_slow()).await.unwrap();
        assert_eq!(r.status(), 503);
        release.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().status(), 200);
    }
}

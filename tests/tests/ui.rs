//! The web UI over plain HTTP: sessions from tokens (cookie flags, logout, a revoked token's sessions
//! end), CSRF on every form post (no token, a foreign origin), roles (a viewer's post is refused and
//! stores nothing), partials only for htmx, the security headers, and the registration form's errors.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use safemesh_testkit::{Cluster, csrf_of, web_client};
use serde_json::json;

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

/// Logs in with `token`; returns the `Cookie` header value.
async fn login(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", token), ("next", "/hazards")])
        .send()
        .await?;
    anyhow::ensure!(r.status() == StatusCode::SEE_OTHER, "login: {}", r.status());
    assert_eq!(r.headers()[LOCATION], "/hazards");
    let set = r.headers()[SET_COOKIE].to_str()?.to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    Ok(set.split(';').next().unwrap().to_string())
}

async fn page(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> anyhow::Result<(StatusCode, String)> {
    let r = http.get(url).header("Cookie", cookie).send().await?;
    let s = r.status();
    Ok((s, r.text().await?))
}

async fn hazards_at(c: &Cluster, code: &str) -> anyhow::Result<u64> {
    let (_, v) = c.get(code, "/api/v1/hazards").await?;
    Ok(v["total"].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_csrf_and_roles_guard_every_page_and_form() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let base = c.node(TOWN).http_url();
    let http = web_client();
    let (_, ed) = c
        .post(
            TOWN,
            "/api/v1/tokens",
            &json!({"name": "王芳", "role": "editor"}),
        )
        .await?;
    let (_, vw) = c
        .post(
            TOWN,
            "/api/v1/tokens",
            &json!({"name": "查看员", "role": "viewer"}),
        )
        .await?;
    let editor = ed["secret"].as_str().unwrap();
    let viewer = vw["secret"].as_str().unwrap();

    // 1. No session: every page sends the browser to the login page, and back afterwards.
    let r = http
        .get(format!("{base}/hazards?grade=major"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION],
        "/login?next=/hazards%3Fgrade%3Dmajor"
    );
    // A wrong token is refused on the login page, in Chinese.
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", "not-a-token")])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await?.contains("令牌无效或已吊销"));

    // 2. A session: pages render with the person, the office and a strict CSP.
    let cookie = login(&http, &base, editor).await?;
    let r = http
        .get(format!("{base}/"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str()?.to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = r.text().await?;
    assert!(html.contains("王芳") && html.contains("禄脿街道"));
    assert!(!html.contains("<script>"), "no inline script");

    // 3. Partials are served to htmx requests only.
    let r = http
        .get(format!("{base}/hazards?grade=major"))
        .header("Cookie", &cookie)
        .header("HX-Request", "true")
        .send()
        .await?;
    let part = r.text().await?;
    assert!(
        part.contains("ledger-table") && !part.contains("<html"),
        "a partial"
    );
    // The export link outside the table follows the filters (an out-of-band swap).
    assert!(
        part.contains("id=\"export-xlsx\"") && part.contains("export.xlsx?grade=major"),
        "{part}"
    );
    let r = http
        .get(format!("{base}/sync/links"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "not htmx: the page instead"
    );

    // 4. A form post without the page's token, or from another origin, is refused; nothing stored.
    let (_, form) = page(&http, &format!("{base}/hazards/new"), &cookie).await?;
    let csrf = csrf_of(&form);
    let fields = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_string()),
            ("title", "消防通道堵塞".to_string()),
            ("sector", "消防".to_string()),
            ("grade", "general".to_string()),
            ("channel", "inspection".to_string()),
            ("inspection_mode", "四不两直".to_string()),
            ("deadline", "2027-01-31".to_string()),
            ("enterprise.name", "禄脿某某商贸有限公司".to_string()),
        ]
    };
    let before = hazards_at(&c, TOWN).await?;
    let r = http
        .post(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .form(&fields("0".repeat(64).as_str()))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "wrong token");
    let r = http
        .post(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .form(&fields(&csrf))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "foreign origin");
    assert_eq!(hazards_at(&c, TOWN).await?, before);

    // 5. A bad field comes back next to its input, with the values kept; nothing stored.
    let mut bad = fields(&csrf);
    bad.push(("enterprise.credit_code", "91350200776049653B".into()));
    let r = http
        .post(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .form(&bad)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await?;
    assert!(
        html.contains("data-field=\"enterprise.credit_code\""),
        "error at the field"
    );
    assert!(html.contains("value=\"消防通道堵塞\""), "values kept");
    assert_eq!(hazards_at(&c, TOWN).await?, before);

    // 6. The same form, right, registers the hazard and goes to its page.
    let r = http
        .post(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .form(&fields(&csrf))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str()?.to_string();
    assert!(
        to.starts_with("/hazards/h-") && to.ends_with("?done=registered"),
        "{to}"
    );
    assert_eq!(hazards_at(&c, TOWN).await?, before + 1);
    let id = to
        .trim_start_matches("/hazards/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (_, detail) = page(&http, &format!("{base}{to}"), &cookie).await?;
    assert!(detail.contains("action-plan"), "the owner may plan");
    assert!(
        !detail.contains("action-supervise"),
        "but not supervise itself"
    );

    // 7. A viewer sees no forms; a post with a valid session and token is still refused by role.
    let vcookie = login(&http, &base, viewer).await?;
    let (_, vdetail) = page(&http, &format!("{base}/hazards/{id}"), &vcookie).await?;
    assert!(vdetail.contains("read-only") && !vdetail.contains("action-plan"));
    let vcsrf = csrf_of(&vdetail);
    let r = http
        .post(format!("{base}/hazards/{id}/events"))
        .header("Cookie", &vcookie)
        .form(&[
            ("_csrf", vcsrf.as_str()),
            ("kind", "comment"),
            ("note", "x"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await?.contains("只读"));
    let (_, h) = c.get(TOWN, &format!("/api/v1/hazards/{id}")).await?;
    assert_eq!(h["events"].as_array().unwrap().len(), 1, "nothing written");

    // 8. Revoking the editor's token ends its session; logging out ends the viewer's.
    let r = c
        .client()
        .delete(format!(
            "{base}/api/v1/tokens/{}",
            ed["id"].as_str().unwrap()
        ))
        .bearer_auth(&c.node(TOWN).token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "revoked token: back to login"
    );
    let r = http
        .post(format!("{base}/logout"))
        .header("Cookie", &vcookie)
        .form(&[("_csrf", vcsrf.as_str())])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[SET_COOKIE].to_str()?.contains("Max-Age=0"));
    let r = http
        .get(format!("{base}/"))
        .header("Cookie", &vcookie)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assets_are_served_from_the_binary() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let base = c.node(TOWN).http_url();
    let http = web_client();
    for (path, needle) in [
        ("/assets/vendor/htmx-2.0.11.min.js", "htmx"),
        ("/assets/vendor/echarts-5.6.0.common.min.js", "echarts"),
        ("/assets/app.css", "--blue"),
        ("/assets/app.js", "drawCharts"),
    ] {
        let r = http.get(format!("{base}{path}")).send().await?;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.text().await?.contains(needle), "{path}");
    }
    let r = http
        .get(format!("{base}/assets/../Cargo.toml"))
        .send()
        .await?;
    assert_ne!(r.status(), StatusCode::OK);
    c.shutdown().await;
    Ok(())
}

//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`), for the web
//! UI's tests: start `chromedriver` on a free port, open a session with the flags this machine needs,
//! and save screenshots.
//!
//! Where neither binary exists the tests print `SKIPPED: …` — unless `CI` or
//! `SAFEMESH_REQUIRE_BROWSER` is set, where a missing browser fails the test (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The window a clerk's laptop has.
pub const WIDTH: u32 = 1366;
pub const HEIGHT: u32 = 768;

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for n in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Whether a missing browser fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("SAFEMESH_REQUIRE_BROWSER").is_some()
}

/// A running chromedriver and one browser session.
pub struct Browser {
    driver: Child,
    pub client: Client,
    shots: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless session; `Ok(None)` when no browser is installed and it is
    /// not required.
    pub async fn start() -> anyhow::Result<Option<Browser>> {
        let (Some(driver_bin), Some(chrome_bin)) = (
            find(&["chromedriver"]),
            find(&["chromium", "chromium-browser", "google-chrome"]),
        ) else {
            if required() {
                bail!(
                    "chromium and chromedriver are required here (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "SKIPPED: no chromium/chromedriver on this machine (apt-get install chromium chromium-driver)"
            );
            return Ok(None);
        };
        let port = safemesh_testkit::free_addr().port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            // Chromium draws dates and labels by its locale: a Chinese office's browser.
            .env("LANG", "zh_CN.UTF-8")
            .env("LANGUAGE", "zh_CN:zh")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", driver_bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        while http.get(format!("{url}/status")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not answer on {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir()?.keep();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chrome_bin,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--lang=zh-CN",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
            .context("opening a browser session")?;
        client.set_window_size(WIDTH, HEIGHT).await?;
        let shots = screenshot_dir();
        std::fs::create_dir_all(&shots)?;
        Ok(Some(Browser {
            driver,
            client,
            shots,
        }))
    }

    /// Goes to `url` and waits for `css` to be on the page.
    pub async fn open(&self, url: &str, css: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        self.wait_css(css).await
    }

    /// Waits (up to 20 s) for an element matching `css`.
    pub async fn wait_css(&self, css: &str) -> anyhow::Result<()> {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await;
        if found.is_err() {
            // What the page showed instead, for whoever reads the failure.
            let _ = self.shot("failure").await;
            let url = self.client.current_url().await.map(|u| u.to_string());
            let text = self.text("body").await.unwrap_or_default();
            let text: String = text.chars().take(600).collect();
            bail!("waiting for {css} on {url:?}; the page says: {text}");
        }
        Ok(())
    }

    /// Sets an input's value directly (date inputs take typed text by locale; this does not).
    pub async fn set(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
                 e.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![json!(css), json!(value)],
            )
            .await?;
        Ok(())
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Types `text` into the input matching `css`, replacing what it holds.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.client.find(Locator::Css(css)).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    /// Selects the option with `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await?
            .select_by_value(value)
            .await?;
        Ok(())
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Logs in at a node's UI with a token.
    pub async fn login(&self, base: &str, token: &str) -> anyhow::Result<()> {
        self.open(&format!("{base}/login"), "#token").await?;
        self.fill("#token", token).await?;
        self.click("#login-form button[type=submit]").await?;
        self.wait_css("#whoami").await
    }

    /// Logs out (the header's button).
    pub async fn logout(&self) -> anyhow::Result<()> {
        self.click("header .who button").await?;
        self.wait_css("#token").await
    }

    /// Scrolls the page so the element matching `css` is at the top of the window (a screenshot
    /// shows the window, not the whole page).
    pub async fn scroll_to(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
                vec![json!(css)],
            )
            .await?;
        Ok(())
    }

    /// Saves a screenshot of the page as `name.png`.
    pub async fn shot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

/// Where screenshots go: `SAFEMESH_SCREENSHOTS` if set (e.g. `docs/screenshots` to update the ones
/// the README shows), else `target/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    match std::env::var_os("SAFEMESH_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("ui-screenshots"),
    }
}

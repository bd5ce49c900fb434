//! The operator console in a real browser: Debian's headless Chromium,
//! driven through chromedriver (WebDriver over plain HTTP), against the
//! real binary (`.ci/run` runs it again against the release binary with
//! `VIDCACHE_BIN=target/release/vidcache`) — sign in with the token, search, open an asset, see its
//! video play, clear it — then the page and the database are checked.
//!
//! Chromium and chromedriver are required (`.ci/run` installs Debian's
//! `chromium` and `chromium-driver`); without them the test fails, unless
//! `VIDCACHE_SKIP_BROWSER=1` is set, when it says loudly that it skipped.

use crate::support;

use std::process::Stdio;
use std::time::Duration;

use crate::support::{Harness, free_port};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use vidcache::db::entities::{operator_actions, video_assets};
use vidcache::domain::AssetStatus;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver of this test's own, and one browser session in it.
struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Self> {
        let skip = std::env::var("VIDCACHE_SKIP_BROWSER").is_ok_and(|v| v == "1");
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|name| std::process::Command::new("which").arg(name).stdout(Stdio::null()).status().is_ok_and(|s| s.success()));
        let driver_found =
            std::process::Command::new("which").arg("chromedriver").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        let (Some(chromium), true) = (chromium, driver_found) else {
            if skip {
                eprintln!(
                    "\n!!! SKIPPED the browser test: chromium or chromedriver is missing and VIDCACHE_SKIP_BROWSER=1 !!!\n"
                );
                return None;
            }
            panic!(
                "the browser test needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver); \
                 set VIDCACHE_SKIP_BROWSER=1 to skip it"
            );
        };
        let binary = String::from_utf8(std::process::Command::new("which").arg(chromium).output().expect("which runs").stdout)
            .expect("path")
            .trim()
            .to_owned();
        let port = free_port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let ready = support::eventually(Duration::from_secs(20), || async {
            match http.get(format!("{base}/status")).send().await {
                Ok(r) => r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            }
        })
        .await;
        assert!(ready, "chromedriver never became ready");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--autoplay-policy=no-user-gesture-required".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args}
        }}});
        let created: Value =
            http.post(format!("{base}/session")).json(&caps).send().await.expect("new session").json().await.expect("json");
        let session = created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Some(Self { driver, base, session, http, _profile: profile })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("chromedriver answers").json().await.expect("json");
        assert!(answer["value"].get("error").is_none(), "WebDriver {path}: {answer}");
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The page source once `ready` holds for it (a click that submits a
    /// form returns before the next page is there), or the last one seen.
    async fn source_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let page = self.source().await;
            if ready(&page) || std::time::Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_searches_plays_and_clears_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let binary = support::binary();
    assert!(binary.is_file(), "no service binary at {}", binary.display());
    eprintln!("driving the console of {}", binary.display());
    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("ADMIN_TOKEN", "browser-test-token-456");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, "Happy birthday Zoë");
    h.fake.push_text(2, 2, "red sneakers ad");
    assert!(
        h.fake.wait_for(|s| s.iter().filter(|m| m.method == "sendVideo").count() >= 2, Duration::from_secs(60)).await,
        "no videos; log:\n{}",
        service.log_text()
    );
    // The uploads reach the users a moment before the assets are marked available.
    let available = support::eventually(Duration::from_secs(10), || async {
        let assets = h.assets().await;
        assets.len() == 2 && assets.iter().all(|a| a.status == AssetStatus::Available)
    })
    .await;
    assert!(available, "the assets never became available");
    let base = format!("http://127.0.0.1:{port}");

    // Signed out: the sign-in page. A wrong token is refused.
    browser.go(&format!("{base}/")).await;
    assert!(browser.source().await.contains("id=\"login\""));
    browser.type_into("#token", "not-the-token").await;
    browser.click("#sign-in").await;
    let page = browser.source_when(|p| p.contains("Wrong token")).await;
    assert!(page.contains("Wrong token"), "{page}");
    assert!(!page.contains("Sign out"), "{page}");

    // The right token, with a name recorded with what this operator does.
    browser.type_into("#token", "browser-test-token-456").await;
    browser.type_into("#name", "Tester").await;
    browser.click("#sign-in").await;
    let page = browser.source_when(|p| p.contains("id=\"stats\"")).await;
    assert!(page.contains("Signed in as") && page.contains("Tester"), "{page}");
    assert!(page.contains("id=\"stats\""), "the overview shows the /stats figures: {page}");
    // The cookie is not readable by scripts (HttpOnly).
    assert_eq!(browser.script("return document.cookie").await, json!(""));

    // Search by prompt text, whatever the case, filtered by state.
    browser.go(&format!("{base}/assets")).await;
    browser.type_into("#q", "BIRTHDAY").await;
    browser.click("#search-button").await;
    let page = browser.source_when(|p| p.contains("value=\"BIRTHDAY\"")).await;
    assert!(
        page.contains("title=\"happy birthday zoë\">Happy birthday Zoë</a>"),
        "the list shows the prompt as typed, the normalized one as its tooltip: {page}"
    );
    assert!(!page.contains("red sneakers ad"), "{page}");
    // The typed text finds it too, and the overview's lists show typed text.
    browser.go(&format!("{base}/assets?q=Zo%C3%AB")).await;
    assert!(browser.source().await.contains(">Happy birthday Zoë</a>"));
    browser.go(&format!("{base}/assets?q=&state=failed")).await;
    assert!(!browser.source().await.contains("happy birthday zoë"));
    browser.go(&format!("{base}/assets?q=birthday&state=available")).await;

    // Open the asset: its requests, and the video plays in the page.
    browser.click("a.asset").await;
    let page = browser.source_when(|p| p.contains("id=\"clear\"")).await;
    assert!(browser.url().await.contains("/assets/"));
    assert!(page.contains("id=\"state\">available"), "{page}");
    assert!(page.contains("id=\"prompt\">Happy birthday Zoë<"), "the asset page shows the typed prompt: {page}");
    assert!(page.contains("id=\"normalized\">happy birthday zoë<"), "and the normalized one under it: {page}");
    assert!(page.contains("Happy birthday Zoë"), "the request's own text is listed: {page}");
    let playable = support::eventually(Duration::from_secs(15), || async {
        browser.script("const v = document.querySelector('video'); return v ? v.readyState : -1").await.as_i64().unwrap_or(-1)
            >= 1
    })
    .await;
    assert!(playable, "the video never loaded its metadata");
    let duration = browser.script("return document.querySelector('video').duration").await.as_f64().unwrap_or_default();
    assert!(duration > 1.0, "the video's duration is {duration}");

    // Clear it.
    browser.click("#clear-button").await;
    let page = browser.source_when(|p| p.contains("id=\"message\"")).await;
    assert!(page.contains("id=\"message\""), "{page}");
    assert!(page.contains("id=\"state\">failed"), "{page}");
    assert!(page.contains("console:Tester"), "the action is listed with the operator: {page}");

    let db = h.db().await;
    let assets = video_assets::Entity::find().all(&db).await.expect("query");
    let zoe = assets.iter().find(|a| a.prompt == "happy birthday zoë").expect("asset");
    assert_eq!(zoe.status, AssetStatus::Failed);
    assert!(zoe.file_id.is_none() && zoe.file_path.is_none());
    let other = assets.iter().find(|a| a.prompt == "red sneakers ad").expect("asset");
    assert_eq!(other.status, AssetStatus::Available, "only the cleared asset changed");
    let actions = operator_actions::Entity::find().all(&db).await.expect("query");
    assert_eq!(actions.len(), 1);
    assert_eq!((actions[0].asset_id, actions[0].operator.as_str()), (zoe.id, "console:Tester"));

    // The next request for it generates anew.
    h.fake.push_text(3, 3, "happy birthday zoë");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.method == "sendVideo" && m.chat_id == 3), Duration::from_secs(60)).await);
    assert_eq!(h.fake.uploads(), 3);

    // The user's page lists their requests.
    browser.go(&format!("{base}/users/1")).await;
    assert!(browser.source().await.contains("Happy birthday Zoë"));
    drop(service);
}

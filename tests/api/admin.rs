//! The admin listener of the real binary: `/livez`, `/readyz` (and a 503
//! naming the queue when it stops answering), `/metrics` counting what
//! happened, the console off without `ADMIN_TOKEN`, its sign-in refusing a
//! wrong token and its forms refusing requests without a session or a
//! CSRF value (nothing changes), a pending approval listed on the asset
//! page and approved from it (as the Telegram button does), and
//! `LOG_FORMAT=json`.

use crate::support;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Harness, free_port};
use sea_orm::EntityTrait;
use vidcache::db::entities::{operator_actions, video_assets};
use vidcache::domain::AssetStatus;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Parses the Prometheus text format into `name{sorted labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').filter(|l| !l.is_empty()).collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        out.insert(key, value.parse().unwrap_or(f64::NAN));
    }
    out
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

async fn get(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.expect("admin listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn wait_livez(base: &str) {
    let up =
        support::eventually(Duration::from_secs(30), || async { client().get(format!("{base}/livez")).send().await.is_ok() })
            .await;
    assert!(up, "the admin listener never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_and_metrics_count_what_happened() {
    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    let service = h.spawn();
    let base = format!("http://127.0.0.1:{port}");
    wait_livez(&base).await;
    h.wait_polling().await;

    let (status, body) = get(&format!("{base}/livez")).await;
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "ok");
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("database: ok") && body.contains("queue: ok"), "{body}");

    // A new prompt (generated), the same again (cache hit), input the bot refuses.
    h.fake.push_text(1, 1, "metrics first prompt");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.method == "sendVideo" && m.chat_id == 1), Duration::from_secs(30)).await);
    // The upload reaches the first user a moment before the asset is marked available.
    let available = support::eventually(Duration::from_secs(10), || async {
        h.assets().await.iter().all(|a| a.status == AssetStatus::Available && a.file_id.is_some())
    })
    .await;
    assert!(available, "the asset never became available");
    h.fake.push_text(2, 2, "Metrics  FIRST prompt");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.method == "sendVideo" && m.chat_id == 2), Duration::from_secs(30)).await);
    h.fake.push_text(3, 3, "\u{200B}");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.chat_id == 3), Duration::from_secs(30)).await);

    // The refusal is counted just before its answer goes out; the scrape may come a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (mut metrics, mut counted);
    loop {
        let (status, text) = get(&format!("{base}/metrics")).await;
        metrics = samples(&text);
        counted = status == 200 && value(&metrics, "vidcache_requests_total{outcome=\"refused\"}") >= 1.0;
        if counted || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(counted, "metrics: {metrics:#?}\nlog:\n{}", service.log_text());
    assert_eq!(value(&metrics, "vidcache_requests_total{outcome=\"generated\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_requests_total{outcome=\"cache_hit\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_requests_total{outcome=\"refused\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_generations_total{result=\"available\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_uploads_total{result=\"ok\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_telegram_sends_total{kind=\"upload\",result=\"ok\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_telegram_sends_total{kind=\"video\",result=\"ok\"}"), 1.0, "{metrics:#?}");
    assert!(value(&metrics, "vidcache_telegram_sends_total{kind=\"message\",result=\"ok\"}") >= 2.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_generation_stage_seconds_count{result=\"ok\",stage=\"generate\"}"), 1.0, "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_generation_stage_seconds_count{result=\"ok\",stage=\"upload\"}"), 1.0, "{metrics:#?}");
    assert!(metrics.contains_key("vidcache_jobs_queued"), "{metrics:#?}");
    assert_eq!(value(&metrics, "vidcache_jobs_queued"), 0.0);
    assert_eq!(value(&metrics, "vidcache_requests_waiting"), 0.0);
    assert_eq!(value(&metrics, "vidcache_paid_sends_total"), 0.0);

    // Without ADMIN_TOKEN the console is off and says so.
    let (status, body) = get(&format!("{base}/")).await;
    assert_eq!(status, 404);
    assert!(body.contains("ADMIN_TOKEN"), "{body}");

    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_queue_when_it_stops_answering() {
    let redis_port = free_port();
    let redis = std::process::Command::new("redis-server")
        .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut redis = match redis {
        Ok(child) => child,
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "redis-server is required in CI: {err}");
            eprintln!("note: redis-server not found ({err}); skipping");
            return;
        }
    };
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let up = support::eventually(Duration::from_secs(10), || async {
        match redis::Client::open(redis_url.as_str()) {
            Ok(client) => client.get_multiplexed_async_connection().await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    assert!(up, "redis-server never answered");

    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("QUEUE_URL", &redis_url);
    let service = h.spawn();
    let base = format!("http://127.0.0.1:{port}");
    wait_livez(&base).await;
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}\n{}", service.log_text());

    let _ = redis.kill();
    let _ = redis.wait();
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("queue: failed"), "{body}");
    assert!(body.contains("database: ok"), "{body}");
    // Still alive: only readiness depends on the queue.
    assert_eq!(get(&format!("{base}/livez")).await.0, 200);
    drop(service);
}

/// The value of `name` in a page's hidden input.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no {name} in {page}"));
    page[start..].split('"').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_a_wrong_token_and_forms_without_session_or_csrf() {
    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("ADMIN_TOKEN", "console-test-token-123");
    let service = h.spawn();
    let base = format!("http://127.0.0.1:{port}");
    wait_livez(&base).await;
    h.wait_polling().await;
    h.fake.push_text(1, 1, "console guarded prompt");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.method == "sendVideo"), Duration::from_secs(30)).await);
    let asset = h.assets().await.into_iter().next().expect("one asset");
    let http = client();

    // Pages without a session: 401 and the sign-in form.
    let response = http.get(format!("{base}/")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 401);
    let login_cookie = support::cookie_of(&response, "vidcache_login").expect("sign-in cookie");
    let page = response.text().await.expect("body");
    let login_csrf = hidden(&page, "login_csrf");

    // A wrong token: 401, no session cookie.
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", "wrong"), ("name", "Mallory"), ("login_csrf", &login_csrf)])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 401);
    assert!(support::cookie_of(&response, "vidcache_session").is_none());

    // Clearing without a session: 401, nothing changes.
    let response = http.post(format!("{base}/assets/{}/clear", asset.id)).form(&[("csrf", "x")]).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 401);

    // The right token, but a sign-in form without its cookie (from elsewhere): refused.
    let response = http
        .post(format!("{base}/login"))
        .form(&[("token", "console-test-token-123"), ("name", "Ann"), ("login_csrf", &login_csrf)])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 403);
    assert!(support::cookie_of(&response, "vidcache_session").is_none());

    // Signed in properly.
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", "console-test-token-123"), ("name", "Ann"), ("login_csrf", &login_csrf)])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303);
    let session = support::cookie_of(&response, "vidcache_session").expect("session cookie");
    let raw = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vidcache_session="))
        .expect("set-cookie")
        .to_owned();
    assert!(raw.contains("HttpOnly") && raw.contains("SameSite=Strict"), "{raw}");

    // With the session but without the page's CSRF value, or from another origin: 403, nothing changes.
    let response = http
        .post(format!("{base}/assets/{}/clear", asset.id))
        .header("cookie", &session)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 403);
    let page = http.get(format!("{base}/assets/{}", asset.id)).header("cookie", &session).send().await.expect("answers");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("body");
    let csrf = hidden(&page, "csrf");
    let response = http
        .post(format!("{base}/assets/{}/clear", asset.id))
        .header("cookie", &session)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 403);

    let db = h.db().await;
    let unchanged = video_assets::Entity::find_by_id(asset.id).one(&db).await.expect("query").expect("asset");
    assert_eq!(unchanged.status, AssetStatus::Available);
    assert!(unchanged.file_id.is_some());
    assert!(operator_actions::Entity::find().all(&db).await.expect("query").is_empty());

    // The same form with its CSRF value from the console's own page clears, recorded with the operator.
    let response = http
        .post(format!("{base}/assets/{}/clear", asset.id))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303);
    let cleared = video_assets::Entity::find_by_id(asset.id).one(&db).await.expect("query").expect("asset");
    assert!(cleared.file_id.is_none());
    let actions = operator_actions::Entity::find().all(&db).await.expect("query");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].operator, "console:Ann");
    assert_eq!(actions[0].action, "clear");
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_span_fields() {
    let mut h = Harness::new().await;
    h.set("LOG_FORMAT", "json");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, "json log prompt");
    assert!(h.fake.wait_for(|s| s.iter().any(|m| m.method == "sendVideo"), Duration::from_secs(30)).await);
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
    let log = h.logs();
    let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with("--- ")).collect();
    assert!(lines.len() >= 3, "{log}");
    let mut with_spans = 0;
    for line in &lines {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(object.get("level").is_some() && object.get("fields").is_some(), "{line}");
        if object.get("span").and_then(|s| s.get("asset_id")).is_some() {
            with_spans += 1;
        }
    }
    assert!(with_spans > 0, "no line carries the job span's asset_id:\n{log}");
    assert!(!log.contains(&h.fake.token()), "the token reached the log");
}

/// Signs in to the console at `base` as `name`; the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, token: &str, name: &str) -> String {
    let response = http.get(format!("{base}/login")).send().await.expect("the console answers");
    let login_cookie = support::cookie_of(&response, "vidcache_login").expect("sign-in cookie");
    let login_csrf = hidden(&response.text().await.expect("body"), "login_csrf");
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", token), ("name", name), ("login_csrf", &login_csrf)])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303, "signed in");
    support::cookie_of(&response, "vidcache_session").expect("session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_a_pending_approval_and_approving_it_lets_the_generation_go_on() {
    use vidcache::db::entities::approvals;
    use vidcache::domain::ApprovalState;

    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("ADMIN_TOKEN", "console-approvals-token");
    h.set("APPROVALS", "operators");
    h.set("APPROVAL_STAGES", "script");
    let service = h.spawn();
    let base = format!("http://127.0.0.1:{port}");
    wait_livez(&base).await;
    h.wait_polling().await;
    // the operator has talked to the bot (Telegram only lets bots write to those)
    h.fake.push_text(support::ADMIN, support::ADMIN, "/start");
    h.text_for(support::ADMIN, 0).await;
    let user = 901;
    h.fake.push_text(user, user, "Approve me from the console");
    let db = h.db().await;
    let pending = support::eventually(Duration::from_secs(30), || async {
        let found = approvals::Entity::find().all(&db).await.unwrap_or_default();
        found.len() == 1 && found[0].state == ApprovalState::Pending
    })
    .await;
    assert!(pending, "the generation never stopped at the script; log:\n{}", service.log_text());
    // the operator's Telegram keyboard is out (and recorded) before the console decides
    let asked = support::eventually(Duration::from_secs(30), || async {
        approvals::Entity::find().all(&db).await.unwrap_or_default().first().is_some_and(|a| a.messages.is_some())
    })
    .await;
    assert!(asked, "the operator was never asked in Telegram; log:\n{}", service.log_text());
    let approval = approvals::Entity::find().all(&db).await.expect("approvals").remove(0);
    let asset = h.assets().await.remove(0);
    assert_eq!(asset.status, AssetStatus::Awaiting);

    let http = client();
    let session = sign_in(&http, &base, "console-approvals-token", "Ann").await;
    let page = http.get(format!("{base}/assets/{}", asset.id)).header("cookie", &session).send().await.expect("answers");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("body");
    let action = format!("action=\"/assets/{}/approvals/{}\"", asset.id, approval.id);
    assert!(page.contains(&action), "the pending approval has its form: {page}");
    assert!(page.contains("the script") && page.contains("⏳ Waiting") && page.contains("the operators"), "{page}");
    let csrf = hidden(&page, "csrf");
    let url = format!("{base}/assets/{}/approvals/{}", asset.id, approval.id);

    // without a session (401), with a forged CSRF value or from another site (403): nothing changes
    let response = http.post(&url).form(&[("csrf", csrf.as_str()), ("decision", "approve")]).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 401);
    let response = http
        .post(&url)
        .header("cookie", &session)
        .form(&[("csrf", "forged"), ("decision", "approve")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 403);
    let response = http
        .post(&url)
        .header("cookie", &session)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 403);
    let still = approvals::Entity::find_by_id(approval.id).one(&db).await.expect("query").expect("approval");
    assert_eq!(still.state, ApprovalState::Pending, "a refused form decided the approval");
    assert_eq!(h.assets().await[0].status, AssetStatus::Awaiting);
    assert!(operator_actions::Entity::find().all(&db).await.expect("query").is_empty());
    assert!(h.fake.sent_to(user).iter().all(|m| m.method != "sendVideo"));

    // the page's own form approves: the generation goes on and the user gets the video
    let response = http
        .post(&url)
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(location.starts_with(&format!("/assets/{}?decided=", asset.id)), "{location}");
    let page = http.get(format!("{base}{location}")).header("cookie", &session).send().await.expect("answers");
    let page = page.text().await.expect("body");
    assert!(page.contains("✅ Approved — the video goes on."), "{page}");
    assert!(!page.contains(&action), "a decided approval has no buttons: {page}");
    h.video_for(user, 0).await;
    let decided = approvals::Entity::find_by_id(approval.id).one(&db).await.expect("query").expect("approval");
    assert_eq!(decided.state, ApprovalState::Approved);
    assert!(decided.decided_at.is_some());
    let actions = operator_actions::Entity::find().all(&db).await.expect("query");
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!((actions[0].action.as_str(), actions[0].operator.as_str()), ("approve:script", "console:Ann"));
    // as the Telegram button does: the operator's keyboard shows the decision
    let shown = h
        .fake
        .wait_for(
            |s| {
                s.iter().any(|m| {
                    m.chat_id == support::ADMIN
                        && m.method == "editMessageReplyMarkup"
                        && m.reply_markup.as_ref().is_some_and(|k| k.to_string().contains("✅ Approved"))
                })
            },
            Duration::from_secs(30),
        )
        .await;
    assert!(shown, "the Telegram keyboard never showed the console's decision: {:#?}", h.fake.sent_to(support::ADMIN));

    // a second decision changes nothing
    let response = http
        .post(&url)
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("decision", "reject")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let page = http.get(format!("{base}{location}")).header("cookie", &session).send().await.expect("answers");
    assert!(page.text().await.expect("body").contains("already approved"));
    assert_eq!(operator_actions::Entity::find().all(&db).await.expect("query").len(), 1);
    assert_eq!(h.assets().await[0].status, AssetStatus::Available);
    // an approval of another asset is not this page's
    let response = http
        .post(format!("{base}/assets/{}/approvals/{}", asset.id.0 + 1, approval.id))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(service.terminate().await.0, Some(0));
}

/// Every `Set-Cookie` of a response, whole.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}

/// The console's cookies are `Secure` when the request came over https
/// (`X-Forwarded-Proto: https` from the proxy in front), and not over plain
/// http; failed sign-ins are throttled: after 5 in a minute from one client
/// every sign-in (even with the right token) gets 429 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_throttles_failed_sign_ins_and_its_cookies_are_secure_over_https() {
    const TOKEN: &str = "console-throttle-token-789";
    let mut h = Harness::new().await;
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("ADMIN_TOKEN", TOKEN);
    let _service = h.spawn();
    let base = format!("http://127.0.0.1:{port}");
    wait_livez(&base).await;
    let http = client();
    let sign_in_form = |https: bool| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let mut request = http.get(format!("{base}/login"));
            if https {
                request = request.header("x-forwarded-proto", "https");
            }
            let response = request.send().await.expect("answers");
            let cookies = set_cookies(&response);
            let cookie = support::cookie_of(&response, "vidcache_login").expect("sign-in cookie");
            let csrf = hidden(&response.text().await.expect("body"), "login_csrf");
            (cookie, csrf, cookies)
        }
    };
    let sign_in = |token: &'static str, https: bool, (cookie, csrf): (String, String)| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let mut request = http.post(format!("{base}/login")).header("cookie", cookie);
            if https {
                request = request.header("x-forwarded-proto", "https");
            }
            request.form(&[("token", token), ("name", "Ann"), ("login_csrf", csrf.as_str())]).send().await.expect("answers")
        }
    };

    // Over https (as the proxy says): every cookie is Secure.
    let (cookie, csrf, cookies) = sign_in_form(true).await;
    assert!(cookies.iter().all(|c| c.contains("; Secure")), "{cookies:?}");
    let response = sign_in(TOKEN, true, (cookie, csrf)).await;
    assert_eq!(response.status().as_u16(), 303);
    let cookies = set_cookies(&response);
    let session = cookies.iter().find(|c| c.starts_with("vidcache_session=")).expect("a session");
    assert!(session.contains("; Secure") && session.contains("HttpOnly"), "{session}");
    // Over plain http: not Secure (the browser would drop it).
    let (cookie, csrf, cookies) = sign_in_form(false).await;
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
    let response = sign_in(TOKEN, false, (cookie, csrf)).await;
    assert_eq!(response.status().as_u16(), 303);
    assert!(set_cookies(&response).iter().all(|c| !c.contains("Secure")));

    // Five wrong tokens: 401 each; then 429 with Retry-After, even for the right token.
    for _ in 0..5 {
        let (cookie, csrf, _) = sign_in_form(false).await;
        assert_eq!(sign_in("wrong-token", false, (cookie, csrf)).await.status().as_u16(), 401);
    }
    let (cookie, csrf, _) = sign_in_form(false).await;
    let response = sign_in("wrong-token", false, (cookie.clone(), csrf.clone())).await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let response = sign_in(TOKEN, false, (cookie, csrf)).await;
    assert_eq!(response.status().as_u16(), 429, "the right token waits too: no guessing at full speed");
    assert!(set_cookies(&response).iter().all(|c| !c.starts_with("vidcache_session=")));
}

/// An `ADMIN_TOKEN` or `WEBHOOK_SECRET` under 16 characters: the service
/// refuses to start and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_admin_token_or_webhook_secret_refuses_to_start() {
    let h = Harness::new().await;
    for (name, extra) in [
        ("ADMIN_TOKEN", vec![("ADMIN_TOKEN", "short-token".to_owned())]),
        (
            "WEBHOOK_SECRET",
            vec![
                ("WEBHOOK_URL", "https://bot.example.test/hook".to_owned()),
                ("WEBHOOK_SECRET", "short_secret".to_owned()),
                ("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{}", free_port())),
            ],
        ),
    ] {
        let mut service = h.spawn_with("serve", &extra);
        let exit = tokio::time::timeout(Duration::from_secs(30), service.child.wait()).await.expect("exits").expect("wait");
        assert!(!exit.success(), "{name}: started anyway");
        let log = service.log_text();
        assert!(log.contains(name) && log.contains("16"), "{name}: {log}");
        assert!(!log.contains("short-token") && !log.contains("short_secret"), "{log}");
    }
}

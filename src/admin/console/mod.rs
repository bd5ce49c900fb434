//! The operator console, on the admin listener at `/` when `ADMIN_TOKEN`
//! is set: sign in with the token, then server-rendered pages — the
//! overview, assets by prompt text and state, an asset (requests, stages,
//! provider calls, operator actions, the video, the Clear button, its
//! approvals with approve/reject buttons for the pending one), a user's
//! requests. Without the token every page says the console is off.

mod auth;
mod html;
mod video;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, Html, IntoResponse, Response};
use axum::routing::{get, post};
use sea_orm::DbErr;
use serde::Deserialize;

use self::auth::{Keys, LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECS, Session, Throttle, cross_site, over_https, set_cookie};
use self::html::{esc, page, query_value, table};
use crate::config::Secret;
use crate::db::assets::Asset;
use crate::db::stages::dollars;
use crate::domain::{Actor, ApprovalId, ApprovalState, AssetId, AssetStatus, ConsoleName, Decision, Failure, UserId};
use crate::service::console::{AssetDetail, AssetSummary, LIST_LIMIT, VideoSource};
use crate::service::{ApprovalPress, Console};
use crate::texts::{ClearOutcome, ConsoleTexts, Lang, Texts};

/// What the console reads and changes.
pub struct ConsoleDeps {
    pub console: Console,
}

struct ConsoleState {
    console: Console,
    keys: Keys,
    throttle: Throttle,
    texts: &'static dyn Texts,
}

type Shared = State<Arc<ConsoleState>>;

/// The console's routes; with no token, a page saying it is off.
pub fn routes(token: Option<Secret>, deps: ConsoleDeps) -> Router {
    let texts = Lang::default().texts();
    let Some(token) = token else {
        let off = move || async move {
            let c = texts.console();
            (StatusCode::NOT_FOUND, Html(page(c, c.title, None, &format!("<p>{}</p>", esc(c.off)))))
        };
        return Router::new().route("/", get(off)).route("/login", get(off)).route("/assets", get(off));
    };
    let state = Arc::new(ConsoleState { console: deps.console, keys: Keys::new(token), throttle: Throttle::default(), texts });
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets", get(assets))
        .route("/assets/{id}", get(asset))
        .route("/assets/{id}/clear", post(clear))
        .route("/assets/{id}/approvals/{approval}", post(decide))
        .route("/assets/{id}/video", get(video))
        .route("/users/{id}", get(user))
        .with_state(state)
}

impl ConsoleState {
    fn labels(&self) -> &'static ConsoleTexts {
        self.texts.console()
    }

    /// The sign-in page with `status`, a fresh form value and its cookie
    /// (`Secure` when `secure`).
    fn sign_in(&self, status: StatusCode, message: Option<&str>, secure: bool) -> Response {
        let c = self.labels();
        let nonce = self.keys.login_nonce();
        let mut body = String::new();
        if let Some(message) = message {
            let _ = write!(body, "<p class=\"flash error\" id=\"message\">{}</p>", esc(message));
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/login\" id=\"login\">\
             <input type=\"hidden\" name=\"login_csrf\" value=\"{nonce}\">\
             <p><label>{token}<br><input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\"></label></p>\
             <p><label>{name}<br><input type=\"text\" name=\"name\" id=\"name\" maxlength=\"{max}\"></label></p>\
             <p><button type=\"submit\" id=\"sign-in\">{sign_in}</button></p></form>",
            token = esc(c.token_label),
            name = esc(c.name_label),
            max = ConsoleName::MAX_CHARS,
            sign_in = esc(c.sign_in),
        );
        let cookie = set_cookie(LOGIN_COOKIE, &nonce, 3600, secure);
        (status, [(SET_COOKIE, cookie)], Html(page(c, c.sign_in_title, None, &body))).into_response()
    }

    fn html(&self, session: &Session, title: &str, body: &str) -> Response {
        Html(page(self.labels(), title, Some(session), body)).into_response()
    }

    fn message(&self, status: StatusCode, session: Option<&Session>, text: &str) -> Response {
        let c = self.labels();
        (status, Html(page(c, c.title, session, &format!("<p class=\"flash error\" id=\"message\">{}</p>", esc(text)))))
            .into_response()
    }

    fn failure(&self, session: &Session, err: DbErr) -> Response {
        tracing::error!(error = %err, "console page failed");
        self.message(StatusCode::INTERNAL_SERVER_ERROR, Some(session), &self.texts.try_again())
    }

    fn state_name(status: AssetStatus) -> &'static str {
        match status {
            AssetStatus::Pending => "pending",
            AssetStatus::Generating => "generating",
            AssetStatus::Awaiting => "awaiting",
            AssetStatus::Available => "available",
            AssetStatus::Failed => "failed",
        }
    }

    fn summary_rows(&self, found: &[AssetSummary]) -> String {
        let c = self.labels();
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|s| {
                let id = s.asset.id;
                vec![
                    asset_link(&s.asset, "asset"),
                    format!("<span class=\"state\">{}</span>", Self::state_name(s.asset.status)),
                    s.requests.to_string(),
                    s.asset.attempts.to_string(),
                    s.progress.as_ref().map(|p| esc(&self.texts.stage(p))).unwrap_or_default(),
                    format!("{} / {}", s.costs.calls(), dollars(s.costs.cost_micros())),
                    self.video_tag(id, s.has_video),
                ]
            })
            .collect();
        table(&[c.prompt, c.state, c.requests, c.attempts, c.progress, c.cost, c.video], &rows, c.none)
    }

    fn video_tag(&self, id: AssetId, has_video: bool) -> String {
        if has_video {
            format!("<video controls preload=\"metadata\" src=\"/assets/{id}/video\" id=\"video-{id}\"></video>")
        } else {
            format!("<em>{}</em>", esc(self.labels().no_video))
        }
    }
}

/// The session, or the sign-in page with 401.
macro_rules! signed_in {
    ($state:expr, $headers:expr) => {
        match $state.keys.session(&$headers) {
            Some(session) => session,
            None => return $state.sign_in(StatusCode::UNAUTHORIZED, Some($state.labels().sign_in_first), over_https(&$headers)),
        }
    };
}

/// A POST's session with its form's CSRF value checked: 401 without a
/// session, 403 for a form from elsewhere. Nothing is changed in either case.
#[allow(clippy::result_large_err, reason = "the error is the page to answer with, returned at once, as axum handlers do")]
fn checked_post(state: &ConsoleState, headers: &HeaderMap, csrf: &str) -> Result<Session, Response> {
    let Some(session) = state.keys.session(headers) else {
        return Err(state.sign_in(StatusCode::UNAUTHORIZED, Some(state.labels().sign_in_first), over_https(headers)));
    };
    if cross_site(headers) || !auth::same(csrf.as_bytes(), session.csrf.as_bytes()) {
        tracing::warn!("refused a console form without a valid CSRF value");
        return Err(state.message(StatusCode::FORBIDDEN, Some(&session), state.labels().bad_form));
    }
    Ok(session)
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

async fn login_page(State(state): Shared, headers: HeaderMap) -> Response {
    if state.keys.session(&headers).is_some() {
        return see_other("/");
    }
    state.sign_in(StatusCode::OK, None, over_https(&headers))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    login_csrf: String,
}

/// Signs in with the token. Throttled ([`Throttle`]): after too many
/// failures from the client's address (or from everyone) in a minute,
/// every attempt gets 429 with `Retry-After`, the right token included,
/// and the token is not even compared.
async fn login(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let c = state.labels();
    let secure = over_https(&headers);
    let client = peer.ip();
    if let Err(wait) = state.throttle.check(client, std::time::Instant::now()) {
        tracing::warn!(%client, wait_s = wait.as_secs(), "console sign-in refused: too many failed sign-ins");
        let mut page = state.sign_in(StatusCode::TOO_MANY_REQUESTS, Some(c.too_many_sign_ins), secure);
        page.headers_mut().insert(RETRY_AFTER, axum::http::HeaderValue::from(wait.as_secs().max(1)));
        return page;
    }
    let expected = auth::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cross_site(&headers) || expected.is_empty() || !auth::same(form.login_csrf.as_bytes(), expected.as_bytes()) {
        tracing::warn!("refused a sign-in form from elsewhere");
        return state.sign_in(StatusCode::FORBIDDEN, Some(c.bad_form), secure);
    }
    if !state.keys.is_token(&form.token) {
        state.throttle.failed(client, std::time::Instant::now());
        tracing::warn!(%client, "console sign-in with a wrong token");
        return state.sign_in(StatusCode::UNAUTHORIZED, Some(c.wrong_token), secure);
    }
    let name = ConsoleName::parse(&form.name);
    tracing::info!(operator = %name.as_str(), "operator signed in to the console");
    let session = set_cookie(SESSION_COOKIE, &state.keys.issue(&name), SESSION_SECS, secure);
    let forget = set_cookie(LOGIN_COOKIE, "", 0, secure);
    // Two Set-Cookie headers: appended, as an array of headers would overwrite.
    (StatusCode::SEE_OTHER, [(LOCATION, "/".to_owned())], AppendHeaders([(SET_COOKIE, session), (SET_COOKIE, forget)]))
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(state): Shared, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = checked_post(&state, &headers, &form.csrf) {
        return refused;
    }
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, "/login".to_owned())],
        [(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, over_https(&headers)))],
    )
        .into_response()
}

async fn overview(State(state): Shared, headers: HeaderMap) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let overview = match state.console.overview().await {
        Ok(overview) => overview,
        Err(err) => return state.failure(&session, err),
    };
    let mut body = String::new();
    let _ = write!(body, "<h2>{}</h2><pre id=\"stats\">{}</pre>", esc(c.figures), esc(&state.texts.stats(&overview.stats)));
    let _ = write!(body, "<h2>{}</h2>{}", esc(c.running), state.summary_rows(&overview.running));
    let rows: Vec<Vec<String>> = overview
        .waiting
        .iter()
        .map(|(request, asset)| {
            vec![
                request.id.to_string(),
                format!("<a href=\"/users/{0}\">{0}</a>", request.telegram_user_id),
                esc(&request.raw_text),
                asset
                    .as_ref()
                    .map_or_else(String::new, |a| format!("{} ({})", asset_link(a, ""), ConsoleState::state_name(a.status))),
                request.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    let _ = write!(body, "<h2>{}</h2>{}", esc(c.waiting), table(&["#", c.user, c.text, c.asset, c.created], &rows, c.none));
    if overview.waiting.len() as u64 >= LIST_LIMIT {
        let _ = write!(body, "<p>{}</p>", esc(c.more_not_shown));
    }
    // prompts refused for safety: each next request is answered with this reason
    let refused: Vec<Vec<String>> = overview
        .refused
        .iter()
        .map(|(asset, reason)| {
            vec![
                asset_link(asset, ""),
                failure_cell(state.texts, reason),
                asset.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    let _ = write!(body, "<h2 id=\"refused\">{}</h2>{}", esc(c.refused), table(&[c.asset, c.error, c.created], &refused, c.none));
    state.html(&session, c.overview, &body)
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
}

async fn assets(State(state): Shared, headers: HeaderMap, Query(query): Query<SearchQuery>) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    // The filter is typed: anything but a known state means "any".
    let wanted =
        [AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Awaiting, AssetStatus::Available, AssetStatus::Failed]
            .into_iter()
            .find(|s| ConsoleState::state_name(*s) == query.state);
    let found = match state.console.search(&query.q, wanted).await {
        Ok(found) => found,
        Err(err) => return state.failure(&session, err),
    };
    let mut options = format!("<option value=\"\">{}</option>", esc(c.any_state));
    for s in [AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Awaiting, AssetStatus::Available, AssetStatus::Failed] {
        let name = ConsoleState::state_name(s);
        let selected = if wanted == Some(s) { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{name}\"{selected}>{name}</option>");
    }
    let mut body = format!(
        "<form method=\"get\" action=\"/assets\" id=\"search\"><label>{} <input type=\"search\" name=\"q\" id=\"q\" value=\"{}\"></label> \
         <label>{} <select name=\"state\" id=\"state\">{options}</select></label> <button type=\"submit\" id=\"search-button\">{}</button></form>",
        esc(c.prompt_contains),
        esc(&query.q),
        esc(c.state),
        esc(c.search)
    );
    body.push_str(&state.summary_rows(&found));
    if found.len() as u64 >= LIST_LIMIT {
        let _ = write!(body, "<p>{}</p>", esc(c.more_not_shown));
    }
    state.html(&session, c.assets, &body)
}

#[derive(Deserialize)]
struct AssetQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    decided: String,
}

async fn asset(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>, Query(query): Query<AssetQuery>) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let detail = match state.console.asset(AssetId(id)).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return state.message(StatusCode::NOT_FOUND, Some(&session), c.not_found),
        Err(err) => return state.failure(&session, err),
    };
    let mut body = String::new();
    if let Some(outcome) = outcome_from(&query.done) {
        let _ = write!(
            body,
            "<p class=\"flash\" id=\"message\">{}</p>",
            esc(&state.texts.cleared(detail.summary.asset.typed(), outcome))
        );
    }
    if let Some(pressed) = pressed_from(&query.decided) {
        let text = match pressed {
            ApprovalPress::Decided(decided) => state.texts.approval_done(decided),
            ApprovalPress::Already(decided) => state.texts.approval_already_decided(decided),
            ApprovalPress::NotAllowed | ApprovalPress::Nothing => state.texts.approval_nothing_pending(),
        };
        let _ = write!(body, "<p class=\"flash\" id=\"message\">{}</p>", esc(&text));
    }
    body.push_str(&asset_body(&state, &session, &detail));
    state.html(&session, &format!("{} {}", c.asset, id), &body)
}

/// A link to the asset page, showing the prompt as typed and its format
/// and quality; the normalized prompt (what `/status` and `/clear` match)
/// is its tooltip.
fn asset_link(a: &Asset, class: &str) -> String {
    let class = if class.is_empty() { String::new() } else { format!(" class=\"{class}\"") };
    let remix = if a.image_digest.is_some() { " · 📷" } else { "" };
    format!(
        "<a href=\"/assets/{}\"{class} title=\"{}\">{}</a> <small>{} · {}{remix}</small>",
        a.id,
        esc(&a.prompt),
        esc(a.typed()),
        a.format,
        a.quality
    )
}

fn asset_body(state: &ConsoleState, session: &Session, detail: &AssetDetail) -> String {
    let c = state.labels();
    let texts = state.texts;
    let s = &detail.summary;
    let a = &s.asset;
    let mut body = String::new();
    let mut facts = vec![vec![esc(c.prompt), format!("<span id=\"prompt\">{}</span>", esc(a.typed()))]];
    if a.typed() != a.prompt {
        facts.push(vec![esc(c.normalized), format!("<span id=\"normalized\">{}</span>", esc(&a.prompt))]);
    }
    let made = crate::texts::recipe_line(&a.recipe(), a.made_with().as_ref());
    facts.push(vec![esc(c.made_with), format!("<span id=\"made-with\">{}</span>", esc(&made))]);
    facts.extend([
        vec![esc(c.state), format!("<span id=\"state\">{}</span>", ConsoleState::state_name(a.status))],
        vec![esc(c.generation), a.generation.to_string()],
        vec![esc(c.attempts), a.attempts.to_string()],
        vec![esc(c.requests), s.requests.to_string()],
        vec![esc(c.progress), s.progress.as_ref().map(|p| esc(&texts.stage(p))).unwrap_or_default()],
        vec![esc(c.cost), format!("<pre>{}</pre>", esc(&s.costs.describe()))],
        vec![esc(c.last_error), a.last_error.as_ref().map(|e| failure_cell(texts, e)).unwrap_or_default()],
        vec![esc(c.video), state.video_tag(a.id, s.has_video)],
    ]);
    body.push_str(&table(&["", ""], &facts, c.none));
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/assets/{}/clear\" id=\"clear\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" id=\"clear-button\">{}</button> <small>{}</small></form>",
        a.id,
        esc(&session.csrf),
        esc(c.clear),
        esc(c.clear_hint)
    );
    body.push_str(&approvals_section(state, session, detail));
    let requests: Vec<Vec<String>> = detail
        .requests
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                format!("<a href=\"/users/{0}\">{0}</a>", r.telegram_user_id),
                r.chat_id.to_string(),
                esc(&r.raw_text),
                format!("{:?}", r.status).to_lowercase(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.error.as_ref().map(|e| failure_cell(texts, e)).unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2>{}",
        esc(c.requests),
        table(&["#", c.user, c.chat, c.text, c.state, c.created, c.error], &requests, c.none)
    );
    let stages: Vec<Vec<String>> = detail
        .stages
        .iter()
        .map(|st| {
            vec![
                format!("{:?}", st.kind).to_lowercase(),
                if st.segment < 0 { String::new() } else { (st.segment + 1).to_string() },
                format!("{:?}", st.status).to_lowercase(),
                st.provider.as_deref().map(esc).unwrap_or_default(),
                st.provider_task_id.as_deref().map(esc).unwrap_or_default(),
                st.attempts.to_string(),
                st.error.as_deref().map(esc).unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2>{}",
        esc(c.stages),
        table(&[c.step, c.segment, c.state, c.provider, c.task, c.attempts, c.error], &stages, c.none)
    );
    let calls: Vec<Vec<String>> = detail
        .calls
        .iter()
        .map(|call| {
            vec![
                esc(&call.provider),
                esc(&call.operation),
                format!("{:.1}", call.seconds),
                dollars(call.cost_micros),
                (if call.ok { c.ok } else { c.failed }).to_owned(),
                call.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2>{}",
        esc(c.provider_calls),
        table(&[c.provider, c.operation, c.seconds, c.cost, c.result, c.created], &calls, c.none)
    );
    let actions: Vec<Vec<String>> = detail
        .actions
        .iter()
        .map(|act| vec![esc(&act.action), esc(&act.operator), act.created_at.format("%Y-%m-%d %H:%M:%S").to_string()])
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2><div id=\"actions\">{}</div>",
        esc(c.actions),
        table(&[c.action, c.operator, c.created], &actions, c.none)
    );
    body
}

/// The asset's approvals; the pending ones with approve/reject buttons
/// (one form each, carrying the session's CSRF value).
fn approvals_section(state: &ConsoleState, session: &Session, detail: &AssetDetail) -> String {
    let c = state.labels();
    let texts = state.texts;
    let asset = detail.summary.asset.id;
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows: Vec<Vec<String>> = detail
        .approvals
        .iter()
        .map(|a| {
            let approver = match a.approver_user_id {
                Some(user) => format!("<a href=\"/users/{user}\">{user}</a>"),
                None => esc(c.operators),
            };
            let decided = match (a.decided_at, a.decided_by) {
                (Some(when), Some(by)) => format!("{} (<a href=\"/users/{by}\">{by}</a>)", at(when)),
                (Some(when), None) => at(when),
                (None, _) => String::new(),
            };
            let buttons = if a.state == ApprovalState::Pending {
                format!(
                    "<form method=\"post\" action=\"/assets/{asset}/approvals/{id}\" id=\"decide-{id}\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve-{id}\">✅ {approve}</button> \
                     <button type=\"submit\" name=\"decision\" value=\"reject\" id=\"reject-{id}\">❌ {reject}</button></form>",
                    id = a.id,
                    csrf = esc(&session.csrf),
                    approve = esc(c.approve),
                    reject = esc(c.reject),
                )
            } else {
                String::new()
            };
            vec![
                esc(&texts.gate_name(a.gate)),
                a.generation.to_string(),
                format!("<span class=\"approval-state\" id=\"approval-{}\">{}</span>", a.id, esc(&texts.decided_button(a.state))),
                approver,
                at(a.prompted_at.unwrap_or(a.created_at)),
                at(a.deadline),
                decided,
                buttons,
            ]
        })
        .collect();
    format!(
        "<h2>{}</h2><p><small>{}</small></p><div id=\"approvals\">{}</div>",
        esc(c.approvals),
        esc(c.approvals_hint),
        table(&[c.gate, c.generation, c.state, c.approver, c.asked_at, c.deadline, c.decided, ""], &rows, c.none)
    )
}

/// `?decided=` after a decision: what the press did.
fn pressed_from(code: &str) -> Option<ApprovalPress> {
    let state = |name: &str| match name {
        "approved" => Some(ApprovalState::Approved),
        "rejected" => Some(ApprovalState::Rejected),
        "timed_out" => Some(ApprovalState::TimedOut),
        "cancelled" => Some(ApprovalState::Cancelled),
        "pending" => Some(ApprovalState::Pending),
        _ => None,
    };
    match code.split_once(':') {
        Some(("now", s)) => state(s).map(ApprovalPress::Decided),
        Some(("already", s)) => state(s).map(ApprovalPress::Already),
        _ if code == "nothing" => Some(ApprovalPress::Nothing),
        _ => None,
    }
}

fn pressed_code(pressed: ApprovalPress) -> String {
    let state = |s: ApprovalState| match s {
        ApprovalState::Approved => "approved",
        ApprovalState::Rejected => "rejected",
        ApprovalState::TimedOut => "timed_out",
        ApprovalState::Cancelled => "cancelled",
        ApprovalState::Pending => "pending",
    };
    match pressed {
        ApprovalPress::Decided(s) => format!("now:{}", state(s)),
        ApprovalPress::Already(s) => format!("already:{}", state(s)),
        ApprovalPress::NotAllowed | ApprovalPress::Nothing => "nothing".to_owned(),
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// An approve/reject button: the Telegram ✅/❌, recorded with the operator.
async fn decide(
    State(state): Shared,
    headers: HeaderMap,
    Path((id, approval)): Path<(i64, i64)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let session = match checked_post(&state, &headers, &form.csrf) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => return state.message(StatusCode::BAD_REQUEST, Some(&session), state.labels().bad_form),
    };
    let by = Actor::Console(session.name.clone());
    match state.console.decide(AssetId(id), ApprovalId(approval), decision, &by).await {
        Ok(Some(pressed)) => see_other(&format!("/assets/{id}?decided={}", query_value(&pressed_code(pressed)))),
        Ok(None) => state.message(StatusCode::NOT_FOUND, Some(&session), state.labels().not_found),
        Err(err) => state.failure(&session, err),
    }
}

fn outcome_from(code: &str) -> Option<ClearOutcome> {
    Some(match code {
        "cleared" => ClearOutcome::Cleared,
        "unknown" => ClearOutcome::Unknown,
        "in_progress" => ClearOutcome::InProgress,
        "already_clear" => ClearOutcome::AlreadyClear,
        _ => return None,
    })
}

fn outcome_code(outcome: ClearOutcome) -> &'static str {
    match outcome {
        ClearOutcome::Cleared => "cleared",
        ClearOutcome::Unknown => "unknown",
        ClearOutcome::InProgress => "in_progress",
        ClearOutcome::AlreadyClear => "already_clear",
    }
}

async fn clear(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    let session = match checked_post(&state, &headers, &form.csrf) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let by = Actor::Console(session.name.clone());
    match state.console.clear(AssetId(id), &by).await {
        Ok(Some((_, outcome))) => see_other(&format!("/assets/{id}?done={}", query_value(outcome_code(outcome)))),
        Ok(None) => state.message(StatusCode::NOT_FOUND, Some(&session), state.labels().not_found),
        Err(err) => state.failure(&session, err),
    }
}

async fn video(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let session = signed_in!(state, headers);
    match state.console.video(AssetId(id)).await {
        Ok(Some(VideoSource::Local(path))) => video::serve(&path, &headers).await,
        Ok(Some(VideoSource::Stored(key))) => video::serve_stored(state.console.store(), &key, &headers).await,
        Ok(None) => state.message(StatusCode::NOT_FOUND, Some(&session), state.labels().not_found),
        Err(err) => state.failure(&session, err),
    }
}

async fn user(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let (requests, balance) = match state.console.user(UserId(id)).await {
        Ok(found) => found,
        Err(err) => return state.failure(&session, err),
    };
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|(r, asset)| {
            vec![
                r.id.to_string(),
                esc(&r.raw_text),
                asset
                    .as_ref()
                    .map_or_else(String::new, |a| format!("{} ({})", asset_link(a, ""), ConsoleState::state_name(a.status))),
                format!("{:?}", r.status).to_lowercase(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.error.as_ref().map(|e| failure_cell(state.texts, e)).unwrap_or_default(),
            ]
        })
        .collect();
    let mut body = String::new();
    if let Some(balance) = balance {
        let _ = write!(body, "<p>{}: <strong id=\"balance\">{balance}</strong></p>", esc(c.credits));
    }
    body.push_str(&table(&["#", c.text, c.asset, c.state, c.created, c.error], &rows, c.none));
    state.html(&session, &format!("{} {id}", c.user_requests), &body)
}

/// A failure as operators read it: the reason users are given, then the
/// stored token with its technical detail.
fn failure_cell(texts: &dyn Texts, failure: &Failure) -> String {
    esc(&format!("{} [{failure}]", texts.failure(failure)))
}

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
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use self::asset::asset_link;
use self::auth::{Keys, LOGIN_COOKIE, Session, Throttle, cross_site, over_https, set_cookie};
use self::html::{esc, page, table};
use crate::config::Secret;
use crate::db::DbFailure;
use crate::db::stages::dollars;
use crate::domain::{AssetId, AssetStatus, ConsoleName, Failure};
use crate::service::Console;
use crate::service::console::AssetSummary;
use crate::telemetry::Chain;
use crate::texts::{ConsoleTexts, Lang, Texts};

/// Why a console page could not be shown or an action not done; answered
/// 500 with "try again", logged with its cause.
type PageError = DbFailure;

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
        .route("/", get(lists::overview))
        .route("/login", get(sign_in::login_page).post(sign_in::login))
        .route("/logout", post(sign_in::logout))
        .route("/assets", get(lists::assets))
        .route("/assets/{id}", get(asset::asset))
        .route("/assets/{id}/clear", post(actions::clear))
        .route("/assets/{id}/approvals/{approval}", post(actions::decide))
        .route("/assets/{id}/video", get(asset::video))
        .route("/users/{id}", get(lists::user))
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

    fn failure(&self, session: &Session, err: PageError) -> Response {
        tracing::error!(error = %Chain(&err), "console page failed");
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

// After `signed_in!`: the pages use it.
mod actions;
mod asset;
mod lists;
mod sign_in;

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

/// A failure as operators read it: the reason users are given, then the
/// stored token with its technical detail.
fn failure_cell(texts: &dyn Texts, failure: &Failure) -> String {
    esc(&format!("{} [{failure}]", texts.failure(failure)))
}

//! Signing in with `ADMIN_TOKEN` (throttled) and out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;

use super::auth::{LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECS, cross_site, over_https, set_cookie};
use super::{Shared, auth, checked_post, see_other};
use crate::domain::ConsoleName;

pub(super) async fn login_page(State(state): Shared, headers: HeaderMap) -> Response {
    if state.keys.session(&headers).is_some() {
        return see_other("/");
    }
    state.sign_in(StatusCode::OK, None, over_https(&headers))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
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
pub(super) async fn login(
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
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

pub(super) async fn logout(State(state): Shared, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
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

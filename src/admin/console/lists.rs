//! The overview, assets by prompt text and state, and a user's requests.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::asset::asset_link;
use super::auth::over_https;
use super::html::{esc, table};
use super::{ConsoleState, PageError, Shared, failure_cell};
use crate::domain::{AssetStatus, UserId};
use crate::service::console::LIST_LIMIT;

pub(super) async fn overview(State(state): Shared, headers: HeaderMap) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let overview = match state.console.overview().await {
        Ok(overview) => overview,
        Err(err) => return state.failure(&session, PageError::db("reading the overview")(err)),
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
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
}

pub(super) async fn assets(State(state): Shared, headers: HeaderMap, Query(query): Query<SearchQuery>) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    // The filter is typed: anything but a known state means "any".
    let wanted =
        [AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Awaiting, AssetStatus::Available, AssetStatus::Failed]
            .into_iter()
            .find(|s| ConsoleState::state_name(*s) == query.state);
    let found = match state.console.search(&query.q, wanted).await {
        Ok(found) => found,
        Err(err) => return state.failure(&session, PageError::db("searching the assets")(err)),
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

pub(super) async fn user(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let (requests, balance) = match state.console.user(UserId(id)).await {
        Ok(found) => found,
        Err(err) => return state.failure(&session, PageError::db("reading a user's requests")(err)),
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

//! An asset's page: its facts, requests, steps, provider calls, operator actions, approvals and video.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::actions::{outcome_from, pressed_from};
use super::auth::{Session, over_https};
use super::html::{esc, table};
use super::{ConsoleState, PageError, Shared, failure_cell};
use crate::db::assets::Asset;
use crate::db::stages::dollars;
use crate::domain::{ApprovalState, AssetId};
use crate::service::ApprovalPress;
use crate::service::console::{AssetDetail, VideoSource};

#[derive(Deserialize)]
pub(super) struct AssetQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    decided: String,
}

pub(super) async fn asset(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(query): Query<AssetQuery>,
) -> Response {
    let session = signed_in!(state, headers);
    let c = state.labels();
    let detail = match state.console.asset(AssetId(id)).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return state.message(StatusCode::NOT_FOUND, Some(&session), c.not_found),
        Err(err) => return state.failure(&session, PageError::db("reading an asset's page")(err)),
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
pub(super) fn asset_link(a: &Asset, class: &str) -> String {
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

pub(super) async fn video(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let session = signed_in!(state, headers);
    match state.console.video(AssetId(id)).await {
        Ok(Some(VideoSource::Local(path))) => super::video::serve(&path, &headers).await,
        Ok(Some(VideoSource::Stored(key))) => super::video::serve_stored(state.console.store(), &key, &headers).await,
        Ok(None) => state.message(StatusCode::NOT_FOUND, Some(&session), state.labels().not_found),
        Err(err) => state.failure(&session, PageError::db("reading an asset's video")(err)),
    }
}

//! What an operator changes from the console: the Clear button and the approve/reject buttons.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::html::query_value;
use super::sign_in::CsrfForm;
use super::{PageError, Shared, checked_post, see_other};
use crate::domain::{Actor, ApprovalId, ApprovalState, AssetId, Decision};
use crate::service::ApprovalPress;
use crate::texts::ClearOutcome;

/// `?decided=` after a decision: what the press did.
pub(super) fn pressed_from(code: &str) -> Option<ApprovalPress> {
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
pub(super) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// An approve/reject button: the Telegram ✅/❌, recorded with the operator.
pub(super) async fn decide(
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
        Err(err) => state.failure(&session, PageError::db("deciding an approval")(err)),
    }
}

pub(super) fn outcome_from(code: &str) -> Option<ClearOutcome> {
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

pub(super) async fn clear(State(state): Shared, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    let session = match checked_post(&state, &headers, &form.csrf) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let by = Actor::Console(session.name.clone());
    match state.console.clear(AssetId(id), &by).await {
        Ok(Some((_, outcome))) => see_other(&format!("/assets/{id}?done={}", query_value(outcome_code(outcome)))),
        Ok(None) => state.message(StatusCode::NOT_FOUND, Some(&session), state.labels().not_found),
        Err(err) => state.failure(&session, PageError::db("clearing an asset")(err)),
    }
}

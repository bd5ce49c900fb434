//! The fake Runway API: tasks that progress over polls, outputs served by
//! the fake itself.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Endpoint, RunwayTask, Shared, TaskKind, TaskOutcome, bearer, error, json_body, media, required_str, serve};

const VERSION: &str = "2024-11-06";

fn authorized(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let secret = shared.lock().config.runway_secret.clone();
    if bearer(headers) != Some(secret.as_str()) {
        return Err((StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "Unauthorized"}))).into_response());
    }
    match headers.get("x-runway-version").and_then(|v| v.to_str().ok()) {
        Some(VERSION) => Ok(()),
        Some(_) => Err((StatusCode::BAD_REQUEST, axum::Json(json!({"error": "Invalid API version"}))).into_response()),
        None => {
            Err((StatusCode::BAD_REQUEST, axum::Json(json!({"error": "X-Runway-Version header is required"}))).into_response())
        }
    }
}

fn prompt_text(body: &Value) -> Result<(), Response> {
    let text = required_str(body, "promptText")?;
    if text.chars().count() > 1000 {
        return Err(error(StatusCode::BAD_REQUEST, "`promptText` is longer than 1000 characters"));
    }
    Ok(())
}

fn create(shared: &Shared, kind: TaskKind, seconds: u32, body: Value) -> Response {
    let mut st = shared.lock();
    let n = st.next_id();
    let id = format!("{n:08x}-6c24-4c16-946b-35dbbce2af2f");
    st.record(if kind == TaskKind::TextToImage { Endpoint::TextToImage } else { Endpoint::ImageToVideo }, body);
    st.tasks.insert(id.clone(), RunwayTask { kind, polls: 0, seconds, terminal: None });
    axum::Json(json!({"id": id})).into_response()
}

pub(super) async fn text_to_image(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&shared, Endpoint::TextToImage, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        for check in [prompt_text(&body), required_str(&body, "model").map(|_| ()), required_str(&body, "ratio").map(|_| ())] {
            if let Err(bad) = check {
                return bad;
            }
        }
        create(&shared, TaskKind::TextToImage, 0, body)
    })
    .await
}

pub(super) async fn image_to_video(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&shared, Endpoint::ImageToVideo, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        for check in [prompt_text(&body), required_str(&body, "model").map(|_| ()), required_str(&body, "ratio").map(|_| ())] {
            if let Err(bad) = check {
                return bad;
            }
        }
        let image = body["promptImage"].as_str().unwrap_or_default();
        let inline =
            ["data:image/png;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,"].iter().any(|p| image.starts_with(p));
        if !(inline || image.starts_with("https://") || image.starts_with("http://")) {
            return error(StatusCode::BAD_REQUEST, "`promptImage` must be an HTTPS URL or a data URI of an image");
        }
        let seconds = match body.get("duration").map(Value::as_u64) {
            None => 5,
            Some(Some(s @ 1..=10)) => s as u32,
            Some(_) => return error(StatusCode::BAD_REQUEST, "`duration` must be an integer number of seconds"),
        };
        create(&shared, TaskKind::ImageToVideo, seconds, body)
    })
    .await
}

pub(super) async fn task(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    serve(&shared, Endpoint::Task, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let base = shared.base();
        let mut st = shared.lock();
        let polls_needed = st.config.task_polls;
        let outcome = match st.tasks.get(&id) {
            Some(task) => st.task_outcome(task.kind),
            None => return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "Task not found"}))).into_response(),
        };
        let Some(task) = st.tasks.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "Task not found"}))).into_response();
        };
        task.polls += 1;
        let mut answer = json!({"id": id, "createdAt": "2026-01-01T00:00:00.000Z"});
        if let Some(terminal) = &task.terminal {
            merge(&mut answer, terminal);
            return axum::Json(answer).into_response();
        }
        if task.polls < polls_needed {
            let status = if task.polls == 1 { "PENDING" } else { "RUNNING" };
            merge(&mut answer, &json!({"status": status, "progress": f64::from(task.polls) / f64::from(polls_needed)}));
            return axum::Json(answer).into_response();
        }
        let extension = if task.kind == TaskKind::TextToImage { "png" } else { "mp4" };
        let terminal = match outcome {
            TaskOutcome::Hold => json!({"status": "RUNNING", "progress": 0.9}),
            TaskOutcome::Succeed => json!({"status": "SUCCEEDED", "output": [format!("{base}/files/{id}.{extension}?sig=fake")]}),
            TaskOutcome::Fail { code, message } => json!({"status": "FAILED", "failure": message, "failureCode": code}),
        };
        if terminal["status"] != "RUNNING" {
            task.terminal = Some(terminal.clone());
        }
        merge(&mut answer, &terminal);
        axum::Json(answer).into_response()
    })
    .await
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub(super) async fn cancel(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    serve(&shared, Endpoint::CancelTask, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let mut st = shared.lock();
        let Some(task) = st.tasks.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "Task not found"}))).into_response();
        };
        if task.terminal.is_none() {
            task.terminal = Some(json!({"status": "CANCELLED"}));
        }
        StatusCode::NO_CONTENT.into_response()
    })
    .await
}

/// `GET /files/{id}.png|mp4`: a task's output, as from a signed CDN URL.
pub(super) async fn output(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    serve(&shared, Endpoint::Output, async {
        let (id, extension) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
        let (task, image_size, clip_size) = {
            let mut st = shared.lock();
            if headers.contains_key(header::AUTHORIZATION) {
                st.leaked_auth += 1;
            }
            let task = st.tasks.get(id).filter(|t| t.terminal.as_ref().is_some_and(|v| v["status"] == "SUCCEEDED"));
            (task.map(|t| (t.kind, t.seconds)), st.config.image_size, st.config.clip_size)
        };
        match (task, extension) {
            (Some((TaskKind::TextToImage, _)), "png") => {
                ([(header::CONTENT_TYPE, "image/png")], media::png(image_size.0, image_size.1)).into_response()
            }
            (Some((TaskKind::ImageToVideo, seconds)), "mp4") => {
                match shared.clips.clip(seconds, clip_size.0, clip_size.1).await {
                    Ok(bytes) => ([(header::CONTENT_TYPE, "video/mp4")], bytes.as_ref().clone()).into_response(),
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "no such output"),
        }
    })
    .await
}

//! The fake Runway API: tasks that progress over polls, outputs served by
//! the fake itself.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Endpoint, RunwayTask, Shared, TaskKind, TaskOutcome, bearer, error, json_body, media, oriented, serve};

/// The longest image `data:` URI Runway takes: 5 MB ("API Input
/// Parameters": an image as a data URI 5MB, as a URL 16MB), counted on the
/// whole URI in decimal megabytes — the stricter reading.
pub const MAX_IMAGE_DATA_URI: usize = 5_000_000;

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

/// A 400 as Runway answers a body its schema refuses: a flat `error`
/// string (as its 401 `{"error": "Unauthorized"}`) with the failed field.
fn invalid(field: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": "Validation of body failed", "issues": [{"path": [field], "message": message}]})),
    )
        .into_response()
}

/// `promptText`: required unless `optional`, non-empty, at most 1000 UTF-16
/// code units (the SDK's "measured in UTF-16 code units").
fn prompt_text(body: &Value, optional: bool) -> Result<(), Response> {
    match body.get("promptText") {
        None if optional => Ok(()),
        Some(Value::String(text)) if !text.is_empty() && text.encode_utf16().count() <= 1000 => Ok(()),
        Some(Value::String(text)) if !text.is_empty() => {
            Err(invalid("promptText", "String must contain at most 1000 UTF-16 code units"))
        }
        _ => Err(invalid("promptText", "Required: a non-empty string")),
    }
}

const GEN4_VIDEO_RATIOS: &[&str] = &["1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"];
const VEO_VIDEO_RATIOS: &[&str] = &["1280:720", "720:1280", "1080:1920", "1920:1080"];
const GEN4_IMAGE_RATIOS: &[&str] = &[
    "1024:1024",
    "1080:1080",
    "1168:880",
    "1360:768",
    "1440:1080",
    "1080:1440",
    "1808:768",
    "1920:1080",
    "1080:1920",
    "2112:912",
    "1280:720",
    "720:1280",
    "720:720",
    "960:720",
    "720:960",
    "1680:720",
];

/// One image-to-video model of Runway's SDK types (runwayml/sdk-node
/// `src/resources/image-to-video.ts`): its `duration` (allowed values,
/// whether required, the length made when left out) and `ratio` literals.
struct VideoModel {
    name: &'static str,
    durations: &'static [u32],
    duration_required: bool,
    default_duration: u32,
    ratios: &'static [&'static str],
    ratio_required: bool,
    prompt_optional: bool,
}

const TWO_TO_TEN: &[u32] = &[2, 3, 4, 5, 6, 7, 8, 9, 10];

const VIDEO_MODELS: &[VideoModel] = &[
    VideoModel {
        name: "gen4_turbo",
        durations: TWO_TO_TEN,
        duration_required: false,
        default_duration: 5,
        ratios: GEN4_VIDEO_RATIOS,
        ratio_required: true,
        prompt_optional: true,
    },
    VideoModel {
        name: "gen4.5",
        durations: TWO_TO_TEN,
        duration_required: true,
        default_duration: 5,
        ratios: GEN4_VIDEO_RATIOS,
        ratio_required: true,
        prompt_optional: false,
    },
    VideoModel {
        name: "veo3.1",
        durations: &[4, 6, 8],
        duration_required: false,
        default_duration: 8,
        ratios: VEO_VIDEO_RATIOS,
        ratio_required: true,
        prompt_optional: true,
    },
    VideoModel {
        name: "veo3.1_fast",
        durations: &[4, 6, 8],
        duration_required: false,
        default_duration: 8,
        ratios: VEO_VIDEO_RATIOS,
        ratio_required: true,
        prompt_optional: true,
    },
    VideoModel {
        name: "veo3",
        durations: &[8],
        duration_required: true,
        default_duration: 8,
        ratios: VEO_VIDEO_RATIOS,
        ratio_required: true,
        prompt_optional: true,
    },
    VideoModel {
        name: "gemini_omni_flash",
        durations: &[3, 4, 5, 6, 7, 8, 9, 10],
        duration_required: false,
        default_duration: 5,
        ratios: &["1280:720", "720:1280"],
        ratio_required: false,
        prompt_optional: true,
    },
];

fn literal(body: &Value, field: &str, allowed: &[&str], required: bool) -> Result<(), Response> {
    match body.get(field) {
        None if !required => Ok(()),
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => Ok(()),
        other => Err(invalid(
            field,
            &format!(
                "Invalid enum value. Expected {}, received {}",
                allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" | "),
                other.map_or_else(|| "undefined".to_owned(), Value::to_string)
            ),
        )),
    }
}

/// `promptImage`: an HTTPS URL, a Runway upload URI or a base64 `data:`
/// URI of an image (up to [`MAX_IMAGE_DATA_URI`]), or a list of `{uri, position}`.
fn prompt_image(body: &Value) -> Result<(), Response> {
    let ok = |uri: &str| {
        let inline = ["data:image/png;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,"]
            .iter()
            .find_map(|p| uri.strip_prefix(p))
            .is_some_and(|data| uri.len() <= MAX_IMAGE_DATA_URI && !data.is_empty() && STANDARD.decode(data).is_ok());
        inline || uri.starts_with("https://") || uri.starts_with("runway://")
    };
    let valid = match body.get("promptImage") {
        Some(Value::String(uri)) => ok(uri),
        Some(Value::Array(images)) => {
            !images.is_empty()
                && images.iter().all(|i| {
                    i["uri"].as_str().is_some_and(ok) && i["position"].as_str().is_some_and(|p| p == "first" || p == "last")
                })
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(invalid("promptImage", "must be an HTTPS URL, a Runway upload URI or a base64 data URI of an image up to 5 MB"))
    }
}

/// The clip length a valid image-to-video body asks for.
fn check_image_to_video(body: &Value) -> Result<u32, Response> {
    let names: Vec<&str> = VIDEO_MODELS.iter().map(|m| m.name).collect();
    literal(body, "model", &names, true)?;
    let Some(model) = VIDEO_MODELS.iter().find(|m| body["model"] == m.name) else {
        return Err(invalid("model", "unknown model"));
    };
    prompt_image(body)?;
    prompt_text(body, model.prompt_optional)?;
    literal(body, "ratio", model.ratios, model.ratio_required)?;
    let asked = body.get("duration");
    match asked.map(|d| d.as_u64().and_then(|s| u32::try_from(s).ok())) {
        None if !model.duration_required => Ok(model.default_duration),
        Some(Some(seconds)) if model.durations.contains(&seconds) => Ok(seconds),
        _ => Err(invalid(
            "duration",
            &format!(
                "{} takes a duration of {} seconds, received {}",
                model.name,
                model.durations.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
                asked.map_or_else(|| "undefined".to_owned(), Value::to_string)
            ),
        )),
    }
}

/// A text-to-image body: `gen4_image` from text alone, or
/// `gen4_image_turbo`, which needs one to three `referenceImages`.
fn check_text_to_image(body: &Value) -> Result<(), Response> {
    literal(body, "model", &["gen4_image", "gen4_image_turbo"], true)?;
    prompt_text(body, false)?;
    literal(body, "ratio", GEN4_IMAGE_RATIOS, true)?;
    let references = body.get("referenceImages").and_then(Value::as_array).map_or(0, Vec::len);
    if body["model"] == "gen4_image_turbo" && !(1..=3).contains(&references) {
        return Err(invalid("referenceImages", "gen4_image_turbo needs one to three reference images"));
    }
    if references > 3 {
        return Err(invalid("referenceImages", "Array must contain at most 3 element(s)"));
    }
    Ok(())
}

fn create(shared: &Shared, kind: TaskKind, seconds: u32, body: Value) -> Response {
    let mut st = shared.lock();
    let n = st.next_id();
    let id = format!("{n:08x}-6c24-4c16-946b-35dbbce2af2f");
    // `W:H`: the output is upright when H > W
    let portrait = body["ratio"]
        .as_str()
        .and_then(|r| r.split_once(':'))
        .and_then(|(w, h)| Some(h.parse::<u32>().ok()? > w.parse::<u32>().ok()?))
        .unwrap_or(false);
    st.record(if kind == TaskKind::TextToImage { Endpoint::TextToImage } else { Endpoint::ImageToVideo }, body);
    st.tasks.insert(id.clone(), RunwayTask { kind, polls: 0, seconds, portrait, terminal: None });
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
        if let Err(bad) = check_text_to_image(&body) {
            return bad;
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
        let seconds = match check_image_to_video(&body) {
            Ok(seconds) => seconds,
            Err(bad) => return bad,
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
            (task.map(|t| (t.kind, t.seconds, t.portrait)), st.config.image_size, st.config.clip_size)
        };
        match (task, extension) {
            (Some((TaskKind::TextToImage, _, portrait)), "png") => {
                let (w, h) = oriented(image_size, portrait);
                ([(header::CONTENT_TYPE, "image/png")], media::png(w, h)).into_response()
            }
            (Some((TaskKind::ImageToVideo, seconds, portrait)), "mp4") => {
                let (w, h) = oriented(clip_size, portrait);
                match shared.clips.clip(seconds, w, h).await {
                    Ok(bytes) => ([(header::CONTENT_TYPE, "video/mp4")], bytes.as_ref().clone()).into_response(),
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "no such output"),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T>(result: Result<T, Response>) -> bool {
        result.err().is_some_and(|r| r.status() == StatusCode::BAD_REQUEST)
    }

    fn body(extra: Value) -> Value {
        let mut b = json!({"model": "gen4_turbo", "promptImage": "data:image/png;base64,AAAA", "promptText": "a cat", "ratio": "1280:720"});
        merge(&mut b, &extra);
        b
    }

    #[test]
    fn image_to_video_takes_only_what_the_sdk_types_allow() {
        assert_eq!(check_image_to_video(&body(json!({"duration": 5}))).ok(), Some(5));
        assert_eq!(check_image_to_video(&body(json!({}))).ok(), Some(5), "gen4_turbo's duration is optional");
        for bad in [
            json!({"duration": 1}),
            json!({"duration": 11}),
            json!({"duration": 60}),
            json!({"duration": "5"}),
            json!({"ratio": "1024:1024"}),
            json!({"model": "gen3a_turbo"}),
            json!({"promptImage": "http://example.com/a.png"}),
            json!({"promptImage": "ftp://example.com/a.png"}),
            json!({"promptImage": "data:image/gif;base64,AAAA"}),
            json!({"promptImage": "data:image/png,AAAA"}),
            json!({"promptImage": "data:image/png;base64,not base64!"}),
            json!({"promptImage": format!("data:image/jpeg;base64,{}", "A".repeat(MAX_IMAGE_DATA_URI))}),
            json!({"ratio": "1920:1080"}),
            json!({"ratio": "16:9"}),
            json!({"promptText": ""}),
            json!({"promptText": "😀".repeat(501)}),
        ] {
            assert!(refused(check_image_to_video(&body(bad.clone()))), "{bad}");
        }
        assert_eq!(check_image_to_video(&body(json!({"promptText": "😀".repeat(500)}))).ok(), Some(5));
        assert_eq!(
            check_image_to_video(&body(json!({"ratio": "720:1280", "promptImage": "https://example.com/a.jpg"}))).ok(),
            Some(5)
        );
        let largest = format!("data:image/jpeg;base64,{}", "A".repeat(MAX_IMAGE_DATA_URI - 24));
        assert_eq!(check_image_to_video(&body(json!({"promptImage": largest}))).ok(), Some(5), "exactly at the limit");
        assert_eq!(check_image_to_video(&body(json!({"model": "gen4.5", "ratio": "720:1280", "duration": 5}))).ok(), Some(5));
        assert_eq!(check_image_to_video(&body(json!({"model": "veo3.1_fast", "ratio": "720:1280"}))).ok(), Some(8));
        assert_eq!(check_image_to_video(&body(json!({"model": "veo3.1", "ratio": "1920:1080"}))).ok(), Some(8));
        assert!(refused(check_image_to_video(&body(json!({"model": "veo3.1", "ratio": "1920:1080", "duration": 5})))));
        assert!(refused(check_image_to_video(&body(json!({"model": "veo3", "ratio": "1280:720"})))), "veo3 requires its 8 s");
    }

    #[test]
    fn text_to_image_takes_only_what_the_sdk_types_allow() {
        assert!(check_text_to_image(&json!({"model": "gen4_image", "promptText": "a cat", "ratio": "1920:1080"})).is_ok());
        assert!(refused(check_text_to_image(&json!({"model": "gen4_image", "promptText": "a cat", "ratio": "1584:672"}))));
        assert!(refused(check_text_to_image(&json!({"model": "gen4_image_turbo", "promptText": "a cat", "ratio": "1280:720"}))));
        assert!(refused(check_text_to_image(&json!({"model": "gen4_image", "ratio": "1280:720"}))));
    }
}

//! The fake Vertex AI Veo API, Google OAuth token endpoint and Cloud Storage.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{Endpoint, Operation, Shared, VeoOutcome, bearer, error, json_body, oriented, required_str, serve};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        _ => "INVALID_ARGUMENT",
    };
    (status, axum::Json(json!({"error": {"code": status.as_u16(), "message": message, "status": name}}))).into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let st = shared.lock();
    match bearer(headers) {
        Some(token) if token == st.config.vertex_token || st.issued_tokens.contains(token) => Ok(()),
        _ => Err(google_error(StatusCode::UNAUTHORIZED, "Request had invalid authentication credentials.")),
    }
}

/// `POST …/models/{model}:predictLongRunning` and `…:fetchPredictOperation`.
pub(super) async fn model_call(
    State(shared): State<Arc<Shared>>,
    Path((project, location, call)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((model, verb)) = call.rsplit_once(':') else {
        return google_error(StatusCode::NOT_FOUND, "no method in the path");
    };
    let endpoint = match verb {
        "predictLongRunning" => Endpoint::VeoPredict,
        "fetchPredictOperation" => Endpoint::VeoFetch,
        _ => return google_error(StatusCode::NOT_FOUND, "unknown method"),
    };
    serve(&shared, endpoint, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let body = match json_body(&body) {
            Ok(body) => body,
            Err(bad) => return bad,
        };
        if endpoint == Endpoint::VeoPredict {
            predict(&shared, &project, &location, model, body)
        } else {
            fetch(&shared, model, body).await
        }
    })
    .await
}

/// The longest video Veo extends (`instances[].video`), in seconds.
const MAX_EXTENSION_INPUT_SECONDS: u32 = 30;

fn predict(shared: &Shared, project: &str, location: &str, model: &str, body: Value) -> Response {
    let Some(instance) = body["instances"].as_array().and_then(|a| a.first()) else {
        return google_error(StatusCode::BAD_REQUEST, "instances must hold one instance");
    };
    if let Err(bad) = required_str(instance, "prompt") {
        return bad;
    }
    // `instances[].video`: extend that video (Veo 3.1 models only)
    if let Some(video) = instance.get("video") {
        if !model.starts_with("veo-3.1") {
            return google_error(StatusCode::BAD_REQUEST, &format!("Video extension is not supported for model {model}."));
        }
        let inline = video.get("bytesBase64Encoded").and_then(Value::as_str);
        let gcs = video.get("gcsUri").and_then(Value::as_str);
        if inline.is_none() == gcs.is_none() || video.get("mimeType").and_then(Value::as_str).is_none() {
            return google_error(StatusCode::BAD_REQUEST, "video needs mimeType and one of bytesBase64Encoded or gcsUri");
        }
        match inline.map(|b| STANDARD.decode(b)) {
            Some(Err(_)) => return google_error(StatusCode::BAD_REQUEST, "video.bytesBase64Encoded is not base64"),
            // Veo extends an input video of 1–30 s
            Some(Ok(bytes)) => {
                let seconds = crate::telegram::mp4::probe(&bytes).duration;
                if !(1..=MAX_EXTENSION_INPUT_SECONDS).contains(&seconds) {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        &format!("The input video must be between 1 and 30 seconds long (got {seconds} s)."),
                    );
                }
            }
            None => {}
        }
    }
    if let Some(image) = instance.get("image")
        && let Err(message) = check_image(image)
    {
        return google_error(StatusCode::BAD_REQUEST, &message);
    }
    let seconds = match check_parameters(model, &body["parameters"], instance.get("video").is_some()) {
        Ok(seconds) => seconds,
        Err(message) => return google_error(StatusCode::BAD_REQUEST, &message),
    };
    let portrait = body["parameters"]["aspectRatio"] == "9:16";
    let mut st = shared.lock();
    let n = st.next_id();
    let name = format!("projects/{project}/locations/{location}/publishers/google/models/{model}/operations/{n:016x}");
    st.record(Endpoint::VeoPredict, body);
    st.veo_models.push(model.to_owned());
    st.operations.insert(name.clone(), Operation { polls: 0, seconds, portrait, terminal: None });
    axum::Json(json!({"name": name})).into_response()
}

/// `instances[].image` (image-to-video) as Vertex AI's Veo reference
/// describes it: `mimeType` `image/jpeg` or `image/png`, and the image as
/// exactly one of `bytesBase64Encoded` (base64) or `gcsUri`.
fn check_image(image: &Value) -> Result<(), String> {
    let inline = image.get("bytesBase64Encoded").and_then(Value::as_str);
    let gcs = image.get("gcsUri").and_then(Value::as_str);
    if inline.is_none() == gcs.is_none() {
        return Err("image needs exactly one of bytesBase64Encoded or gcsUri.".to_owned());
    }
    match image.get("mimeType").and_then(Value::as_str) {
        Some("image/jpeg" | "image/png") => {}
        Some(other) => return Err(format!("Unsupported image mimeType {other}. Supported values are image/jpeg and image/png.")),
        None => return Err("image.mimeType is required.".to_owned()),
    }
    if inline.is_some_and(|b| b.is_empty() || STANDARD.decode(b).is_err()) {
        return Err("image.bytesBase64Encoded is not base64.".to_owned());
    }
    if gcs.is_some_and(|uri| !uri.starts_with("gs://")) {
        return Err("image.gcsUri must be a gs:// URI.".to_owned());
    }
    Ok(())
}

/// `parameters` as Vertex AI's Veo reference describes them: a required
/// `durationSeconds` of 5–8 on Veo 2 and 4, 6 or 8 on Veo 3 (an extension
/// of a video on Veo 3.1 adds 7 s and asks for 7); `aspectRatio` `16:9` or
/// `9:16`; `sampleCount` 1–4; `generateAudio` required by Veo 3, unknown
/// to Veo 2; `resolution` (Veo 3 only) `720p` or `1080p`. Returns the
/// seconds of the video to make.
fn check_parameters(model: &str, parameters: &Value, extends: bool) -> Result<u32, String> {
    let veo3 = model.starts_with("veo-3.0-") || model.starts_with("veo-3.1-");
    let veo2 = model.starts_with("veo-2.0-");
    if !(veo2 || veo3) {
        return Err(format!("Publisher model {model} is not found or is not a video generation model."));
    }
    let seconds = parameters.get("durationSeconds").and_then(Value::as_u64).and_then(|s| u32::try_from(s).ok());
    let allowed = match seconds {
        Some(7) if extends => true,
        Some(s) if veo3 => [4, 6, 8].contains(&s),
        Some(s) => (5..=8).contains(&s),
        None => false,
    };
    let Some(seconds) = seconds.filter(|_| allowed) else {
        let range = if veo3 { "4, 6 or 8" } else { "between 5 and 8" };
        return Err(format!("durationSeconds is required and must be {range} for model {model}."));
    };
    if let Some(ratio) = parameters.get("aspectRatio")
        && !ratio.as_str().is_some_and(|r| r == "16:9" || r == "9:16")
    {
        return Err(format!("Unsupported aspect ratio: {ratio}. Supported values are 16:9 and 9:16."));
    }
    if let Some(count) = parameters.get("sampleCount")
        && !count.as_u64().is_some_and(|n| (1..=4).contains(&n))
    {
        return Err("sampleCount must be between 1 and 4.".to_owned());
    }
    match (parameters.get("generateAudio"), veo3) {
        (Some(Value::Bool(_)), true) | (None, false) => {}
        (None, true) => return Err(format!("generateAudio is required for model {model}.")),
        (Some(_), true) => return Err("generateAudio must be a boolean.".to_owned()),
        (Some(_), false) => return Err(format!("generateAudio is not supported by model {model}.")),
    }
    if let Some(resolution) = parameters.get("resolution")
        && !(veo3 && resolution.as_str().is_some_and(|r| r == "720p" || r == "1080p"))
    {
        return Err(format!("Unsupported resolution {resolution} for model {model}."));
    }
    Ok(seconds)
}

async fn fetch(shared: &Shared, model: &str, body: Value) -> Response {
    let name = match required_str(&body, "operationName") {
        Ok(name) => name.to_owned(),
        Err(bad) => return bad,
    };
    if !name.contains(&format!("/models/{model}/operations/")) {
        return google_error(StatusCode::BAD_REQUEST, "the operation belongs to another model");
    }
    let (outcome, polls_needed, clip_size) = {
        let st = shared.lock();
        (st.veo_outcome.clone(), st.config.operation_polls, st.config.clip_size)
    };
    // a done operation is answered from what was fixed when it finished
    let (polls, seconds, terminal, clip_size) = {
        let mut st = shared.lock();
        let Some(op) = st.operations.get_mut(&name) else {
            return google_error(StatusCode::NOT_FOUND, "operation not found");
        };
        op.polls += 1;
        (op.polls, op.seconds, op.terminal.clone(), oriented(clip_size, op.portrait))
    };
    if let Some(terminal) = terminal {
        return with_bytes(shared, terminal, seconds, clip_size).await;
    }
    if polls < polls_needed || outcome == VeoOutcome::Hold {
        return axum::Json(json!({"name": name, "done": false})).into_response();
    }
    let response_type = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse";
    let terminal = match outcome {
        VeoOutcome::Video | VeoOutcome::Hold => {
            // `with_bytes` fills in the video
            json!({"name": name, "done": true, "response": {"@type": response_type, "raiMediaFilteredCount": 0, "videos": [{"mimeType": "video/mp4", "bytesBase64Encoded": ""}]}})
        }
        VeoOutcome::GcsVideo => {
            let object = name.rsplit('/').next().unwrap_or("op");
            json!({"name": name, "done": true, "response": {"@type": response_type, "raiMediaFilteredCount": 0,
                "videos": [{"mimeType": "video/mp4", "gcsUri": format!("gs://fake-bucket/{object}/sample_0.mp4")}]}})
        }
        VeoOutcome::Filtered { reason } => json!({"name": name, "done": true, "response": {"@type": response_type,
            "raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [reason]}}),
        VeoOutcome::Error { code, message } => json!({"name": name, "done": true, "error": {"code": code, "message": message}}),
    };
    if let Some(op) = shared.lock().operations.get_mut(&name) {
        op.terminal = Some(terminal.clone());
    }
    with_bytes(shared, terminal, seconds, clip_size).await
}

/// Fills in inline video bytes of a done operation's answer.
async fn with_bytes(shared: &Shared, mut answer: Value, seconds: u32, size: (u32, u32)) -> Response {
    if let Some(video) = answer.get_mut("response").and_then(|r| r.get_mut("videos")).and_then(|v| v.get_mut(0))
        && video.get("bytesBase64Encoded").is_some()
    {
        match shared.clips.clip(seconds, size.0, size.1).await {
            Ok(bytes) => video["bytesBase64Encoded"] = Value::String(STANDARD.encode(bytes.as_slice())),
            Err(e) => return google_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        }
    }
    axum::Json(answer).into_response()
}

/// The JWT bearer grant: checks the assertion and issues a token.
pub(super) async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    serve(&shared, Endpoint::Token, async {
        let form = parse_form(&body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if field("grant_type") != Some(JWT_BEARER) {
            return oauth_error("unsupported_grant_type", "Invalid grant_type");
        }
        let Some(assertion) = field("assertion") else {
            return oauth_error("invalid_request", "Missing required parameter: assertion");
        };
        let claims = match check_assertion(&shared, assertion) {
            Ok(claims) => claims,
            Err(reason) => return oauth_error("invalid_grant", &reason),
        };
        let mut st = shared.lock();
        let n = st.next_id();
        let token = format!("ya29.fake-issued-{n}");
        st.issued_tokens.insert(token.clone());
        st.record(Endpoint::Token, claims);
        axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
    })
    .await
}

fn oauth_error(code: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": code, "error_description": description}))).into_response()
}

fn check_assertion(shared: &Shared, assertion: &str) -> Result<Value, String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts[..] else {
        return Err("the assertion is not a JWT".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "bad base64url in the JWT".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "bad JSON in the JWT".to_owned())
    };
    let header = decode(header_b64)?;
    let claims = decode(claims_b64)?;
    if header["alg"] != "RS256" {
        return Err("the JWT must be signed with RS256".into());
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let token_uri = format!("{}/oauth2/token", shared.base());
    if claims["aud"] != token_uri.as_str() {
        return Err("Invalid JWT: audience is not the token URI".into());
    }
    if claims["iss"].as_str().is_none_or(|iss| !iss.contains('@')) {
        return Err("Invalid JWT: no issuer".into());
    }
    if !claims["scope"].as_str().is_some_and(|s| s.split(' ').any(|s| s == "https://www.googleapis.com/auth/cloud-platform")) {
        return Err("Invalid JWT: the cloud-platform scope is missing".into());
    }
    let (iat, exp) = (claims["iat"].as_u64().unwrap_or(0), claims["exp"].as_u64().unwrap_or(0));
    if iat > now + 60 || exp <= now || exp > iat + 3600 {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe".into());
    }
    let key = shared.lock().config.jwt_public_key_der.clone();
    if let Some(key) = key {
        let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| "bad signature encoding".to_owned())?;
        let message = format!("{header_b64}.{claims_b64}");
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(message.as_bytes(), &signature)
            .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    }
    Ok(json!({"header": header, "claims": claims}))
}

/// `application/x-www-form-urlencoded` pairs.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /storage/{bucket}/{object}`: a `gs://` result of a done operation.
pub(super) async fn storage(
    State(shared): State<Arc<Shared>>,
    Path((bucket, object)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&shared, Endpoint::Storage, async {
        if let Err(denied) = authorized(&shared, &headers) {
            return denied;
        }
        let op_id = object.split('/').next().unwrap_or_default().to_owned();
        let found = {
            let st = shared.lock();
            let op = st.operations.iter().find(|(name, op)| {
                name.ends_with(&format!("/operations/{op_id}")) && op.terminal.as_ref().is_some_and(|t| t["done"] == true)
            });
            op.map(|(_, op)| (op.seconds, oriented(st.config.clip_size, op.portrait)))
        };
        match (bucket.as_str(), found) {
            ("fake-bucket", Some((seconds, size))) => match shared.clips.clip(seconds, size.0, size.1).await {
                Ok(bytes) => ([(header::CONTENT_TYPE, "video/mp4")], bytes.as_ref().clone()).into_response(),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
            },
            _ => google_error(StatusCode::NOT_FOUND, "No such object"),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_the_veo_reference() {
        let v3 = "veo-3.0-generate-001";
        assert_eq!(
            check_parameters(
                v3,
                &json!({"durationSeconds": 6, "aspectRatio": "16:9", "sampleCount": 1, "generateAudio": false}),
                false
            ),
            Ok(6)
        );
        for bad in [
            json!({"durationSeconds": 5, "generateAudio": true}),
            json!({"durationSeconds": 7, "generateAudio": true}),
            json!({"generateAudio": true}),
            json!({"durationSeconds": 8}),
            json!({"durationSeconds": 8, "generateAudio": true, "aspectRatio": "1:1"}),
            json!({"durationSeconds": 8, "generateAudio": true, "sampleCount": 5}),
        ] {
            assert!(check_parameters(v3, &bad, false).is_err(), "{bad}");
        }
        assert_eq!(check_parameters("veo-3.1-generate-001", &json!({"durationSeconds": 7, "generateAudio": true}), true), Ok(7));
        let v2 = "veo-2.0-generate-001";
        assert_eq!(check_parameters(v2, &json!({"durationSeconds": 5}), false), Ok(5));
        assert!(check_parameters(v2, &json!({"durationSeconds": 4}), false).is_err());
        assert!(check_parameters(v2, &json!({"durationSeconds": 5, "generateAudio": false}), false).is_err());
        assert!(check_parameters("imagen-3", &json!({"durationSeconds": 5}), false).is_err());
        assert_eq!(
            check_parameters(v3, &json!({"durationSeconds": 8, "generateAudio": true, "aspectRatio": "9:16"}), false),
            Ok(8)
        );
        assert!(
            check_parameters(v3, &json!({"durationSeconds": 8, "generateAudio": true, "aspectRatio": "4:3"}), false).is_err()
        );
        assert!(check_parameters(v2, &json!({"durationSeconds": 9}), false).is_err());
    }

    #[test]
    fn images_follow_the_veo_reference() {
        assert!(check_image(&json!({"bytesBase64Encoded": "AAAA", "mimeType": "image/jpeg"})).is_ok());
        assert!(check_image(&json!({"gcsUri": "gs://b/photo.png", "mimeType": "image/png"})).is_ok());
        for bad in [
            json!({"bytesBase64Encoded": "AAAA"}),
            json!({"mimeType": "image/jpeg"}),
            json!({"bytesBase64Encoded": "AAAA", "mimeType": "image/webp"}),
            json!({"bytesBase64Encoded": "AAAA", "mimeType": "image/gif"}),
            json!({"bytesBase64Encoded": "not base64!", "mimeType": "image/png"}),
            json!({"bytesBase64Encoded": "AAAA", "gcsUri": "gs://b/o", "mimeType": "image/png"}),
            json!("AAAA"),
        ] {
            assert!(check_image(&bad).is_err(), "{bad}");
        }
    }
}

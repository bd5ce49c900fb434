//! Request decoding (query string, JSON, urlencoded form, multipart) and
//! validation against the method list extracted from the Bot API spec.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Subset of <https://github.com/PaulSonOfLars/telegram-bot-api-spec>
/// (MIT, see `LICENSE-api-json`).
const METHODS_JSON: &str = include_str!("methods.json");

/// Largest non-file body / text part accepted (Telegram's own limit for
/// non-upload requests is in this range).
const TEXT_LIMIT: usize = 10 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct FieldSpec {
    pub name: String,
    pub types: Vec<String>,
    pub required: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MethodSpec {
    pub name: String,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

#[derive(Deserialize)]
struct SpecFile {
    methods: HashMap<String, MethodSpec>,
}

/// Method names are case-insensitive in the Bot API.
pub(crate) fn spec(method: &str) -> Option<&'static MethodSpec> {
    static SPECS: OnceLock<HashMap<String, MethodSpec>> = OnceLock::new();
    SPECS
        .get_or_init(|| {
            let file: SpecFile = serde_json::from_str(METHODS_JSON).expect("embedded methods.json is valid");
            file.methods.into_values().map(|m| (m.name.to_ascii_lowercase(), m)).collect()
        })
        .get(&method.to_ascii_lowercase())
}

#[derive(Debug)]
pub(crate) struct Upload {
    pub bytes: Bytes,
    pub file_name: Option<String>,
}

/// Decoded request parameters. Values from the query string, form bodies and
/// multipart text parts are strings; JSON bodies keep their JSON types.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub values: Map<String, Value>,
    pub files: HashMap<String, Upload>,
}

pub(crate) enum DecodeError {
    BadRequest(String),
    TooLarge,
}

fn bad(msg: &str) -> DecodeError {
    DecodeError::BadRequest(format!("Bad Request: {msg}"))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn pct_decode(s: &[u8]) -> Result<String, DecodeError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (s.get(i + 1).and_then(|&c| hex(c)), s.get(i + 2).and_then(|&c| hex(c))) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad("strings must be encoded in UTF-8"))
}

/// Percent-decodes a path segment (no `+` handling).
pub(crate) fn decode_path_segment(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c)))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn parse_urlencoded(s: &[u8], into: &mut Map<String, Value>) -> Result<(), DecodeError> {
    for pair in s.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(p) => (&pair[..p], &pair[p + 1..]),
            None => (pair, &b""[..]),
        };
        let key = pct_decode(k)?;
        if key.is_empty() {
            continue;
        }
        into.insert(key, Value::String(pct_decode(v)?));
    }
    Ok(())
}

/// Reads the whole request. `max_file` bounds each uploaded file part; a
/// larger one makes the request fail with [`DecodeError::TooLarge`] (the rest
/// of the body is still drained so the client gets to read the answer).
pub(crate) async fn decode(req: Request, max_file: usize) -> Result<Params, DecodeError> {
    let mut p = Params::default();
    if let Some(q) = req.uri().query() {
        parse_urlencoded(q.as_bytes(), &mut p.values)?;
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match content_type.as_str() {
        "application/json" => {
            let body = read_body(req).await?;
            if body.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(p);
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(m)) => p.values.extend(m),
                _ => return Err(bad("can't parse JSON object")),
            }
        }
        "application/x-www-form-urlencoded" => {
            let body = read_body(req).await?;
            parse_urlencoded(&body, &mut p.values)?;
        }
        "multipart/form-data" => read_multipart(req, max_file, &mut p).await?,
        _ => {}
    }
    Ok(p)
}

async fn read_body(req: Request) -> Result<Bytes, DecodeError> {
    axum::body::to_bytes(req.into_body(), TEXT_LIMIT).await.map_err(|_| DecodeError::TooLarge)
}

async fn read_multipart(req: Request, max_file: usize, p: &mut Params) -> Result<(), DecodeError> {
    let malformed = || bad("can't parse multipart/form-data request");
    let mut mp = Multipart::from_request(req, &()).await.map_err(|_| malformed())?;
    let mut too_large = false;
    while let Some(mut field) = mp.next_field().await.map_err(|_| malformed())? {
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let limit = if file_name.is_some() { max_file } else { TEXT_LIMIT };
        let mut buf: Vec<u8> = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.chunk().await.map_err(|_| malformed())? {
            if over {
                continue;
            }
            if buf.len() + chunk.len() > limit {
                over = true;
                buf = Vec::new();
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if over {
            too_large = true;
            continue;
        }
        let Some(name) = name else { continue };
        if file_name.is_none() {
            match String::from_utf8(buf) {
                Ok(s) => {
                    p.values.insert(name, Value::String(s));
                    continue;
                }
                Err(e) => buf = e.into_bytes(),
            }
        }
        p.files.insert(name, Upload { bytes: Bytes::from(buf), file_name });
    }
    if too_large {
        return Err(DecodeError::TooLarge);
    }
    Ok(())
}

fn missing_message(field: &str) -> String {
    match field {
        "chat_id" => "Bad Request: chat_id is empty".into(),
        "text" => "Bad Request: message text is empty".into(),
        "video" => "Bad Request: there is no video in the request".into(),
        f => format!("Bad Request: {f} is empty"),
    }
}

fn parses_as(s: &str, want_array: bool) -> bool {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Array(_)) => want_array,
        Ok(Value::Object(_)) => !want_array,
        _ => false,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "Integer" => match v {
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => s.trim().parse::<i64>().is_ok(),
            _ => false,
        },
        "Float" => match v {
            Value::Number(_) => true,
            Value::String(s) => s.trim().parse::<f64>().is_ok(),
            _ => false,
        },
        "String" | "InputFile" => v.is_string(),
        "Boolean" => match v {
            Value::Bool(_) => true,
            Value::String(s) => {
                matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "false" | "1" | "0")
            }
            _ => false,
        },
        t if t.starts_with("Array of") => match v {
            Value::Array(_) => true,
            Value::String(s) => parses_as(s, true),
            _ => false,
        },
        // object types (InlineKeyboardMarkup, ReplyParameters, ...)
        _ => match v {
            Value::Object(_) => true,
            Value::String(s) => parses_as(s, false),
            _ => false,
        },
    }
}

/// Checks required fields and basic types. `Err` is the full description.
pub(crate) fn validate(spec: &MethodSpec, p: &Params) -> Result<(), String> {
    for f in &spec.fields {
        let value = p.values.get(&f.name).filter(|v| !v.is_null());
        let has_file = p.files.contains_key(&f.name);
        let Some(value) = value else {
            if f.required && !has_file {
                return Err(missing_message(&f.name));
            }
            continue;
        };
        if matches!(f.name.as_str(), "chat_id" | "text" | "video") && value.as_str().is_some_and(|s| s.is_empty()) && !has_file {
            return Err(missing_message(&f.name));
        }
        if !f.types.iter().any(|t| type_matches(t, value)) {
            return Err(format!("Bad Request: field \"{}\" must be of type {}", f.name, f.types.join(" or ")));
        }
    }
    Ok(())
}

impl Params {
    pub fn has(&self, k: &str) -> bool {
        self.values.get(k).is_some_and(|v| !v.is_null())
    }

    pub fn str(&self, k: &str) -> Option<&str> {
        self.values.get(k).and_then(Value::as_str)
    }

    pub fn int(&self, k: &str) -> Option<i64> {
        match self.values.get(k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self, k: &str) -> Option<bool> {
        match self.values.get(k)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A JSON-serialized parameter: objects/arrays as-is, strings parsed.
    pub fn json(&self, k: &str) -> Option<Value> {
        match self.values.get(k)? {
            v @ (Value::Object(_) | Value::Array(_)) => Some(v.clone()),
            Value::String(s) => serde_json::from_str(s).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_is_embedded() {
        for m in [
            "getMe",
            "getUpdates",
            "deleteWebhook",
            "setWebhook",
            "getWebhookInfo",
            "setMyCommands",
            "sendMessage",
            "editMessageText",
            "sendChatAction",
            "sendVideo",
        ] {
            assert!(spec(m).is_some(), "{m}");
        }
        assert_eq!(spec("SENDMESSAGE").unwrap().name, "sendMessage");
        assert!(spec("sendDice").is_none(), "a method the fake does not serve is refused");
    }

    #[test]
    fn urlencoded() {
        let mut m = Map::new();
        parse_urlencoded(b"chat_id=12&text=a+b%21%zz&&x", &mut m).ok().unwrap();
        assert_eq!(m["chat_id"], "12");
        assert_eq!(m["text"], "a b!%zz");
        assert_eq!(m["x"], "");
    }

    #[test]
    fn validation() {
        let spec = spec("sendMessage").unwrap();
        let mut p = Params::default();
        assert_eq!(validate(spec, &p).unwrap_err(), "Bad Request: chat_id is empty");
        p.values.insert("chat_id".into(), "5".into());
        assert_eq!(validate(spec, &p).unwrap_err(), "Bad Request: message text is empty");
        p.values.insert("text".into(), 5.into());
        assert!(validate(spec, &p).unwrap_err().contains("\"text\" must be of type String"));
        p.values.insert("text".into(), "hi".into());
        p.values.insert("disable_notification".into(), "maybe".into());
        assert!(validate(spec, &p).is_err());
        p.values.insert("disable_notification".into(), "true".into());
        p.values.insert("reply_markup".into(), r#"{"inline_keyboard":[]}"#.into());
        validate(spec, &p).unwrap();
        p.values.insert("reply_markup".into(), "[1]".into());
        assert!(validate(spec, &p).is_err());
    }
}

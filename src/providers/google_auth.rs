//! Google access tokens: a fixed one (`VERTEX_ACCESS_TOKEN`) or one got
//! for a service account (`GOOGLE_APPLICATION_CREDENTIALS`) with the JWT
//! bearer grant (RFC 7523): an RS256-signed assertion posted to the key's
//! `token_uri`. Tokens are cached until shortly before they expire.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::http::{Http, ProviderError, Replay, Secret};

/// The scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The grant type of a JWT bearer assertion.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A token is renewed this long before it expires.
const EARLY: Duration = Duration::from_secs(60);
/// The longest a token is kept, whatever its `expires_in` says.
const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

const WHAT: &str = "google oauth";

/// The fields of a service-account key file this client uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A service account that can sign its own token requests.
pub struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    project_id: Option<String>,
    token_uri: String,
    key: RsaKeyPair,
    http: Http,
    cached: Mutex<Option<(Secret, tokio::time::Instant)>>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount").field("client_email", &self.client_email).finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a service-account JSON key file.
    pub fn from_file(path: &Path, http: Http) -> Result<Self, ProviderError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProviderError::local(WHAT, format!("cannot read the service-account key {}: {e}", path.display())))?;
        Self::from_json(&text, http)
    }

    /// Parses a service-account JSON key (the `private_key` is PKCS#8 PEM).
    pub fn from_json(json: &str, http: Http) -> Result<Self, ProviderError> {
        // serde's message may quote the input, which holds the private key
        let file: KeyFile =
            serde_json::from_str(json).map_err(|_| ProviderError::local(WHAT, "the service-account key is not valid JSON"))?;
        if file.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err(ProviderError::local(WHAT, "the credentials file is not a service-account key"));
        }
        let der = pem_to_der(&file.private_key)?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| ProviderError::local(WHAT, format!("the service-account private key was rejected: {e}")))?;
        if !(file.token_uri.starts_with("https://") || file.token_uri.starts_with("http://")) {
            return Err(ProviderError::local(WHAT, "the service-account key's token_uri is not an http(s) URL"));
        }
        Ok(Self {
            client_email: file.client_email,
            key_id: file.private_key_id,
            project_id: file.project_id,
            token_uri: file.token_uri,
            key,
            http,
            cached: Mutex::new(None),
        })
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The signed JWT asserting this account, valid for an hour from `now`.
    pub fn assertion(&self, now: SystemTime) -> Result<String, ProviderError> {
        let iat = now.duration_since(UNIX_EPOCH).map_err(|_| ProviderError::local(WHAT, "the clock is before 1970"))?.as_secs();
        let header = Header { alg: "RS256", typ: "JWT", kid: self.key_id.as_deref() };
        let claims = Claims { iss: &self.client_email, scope: CLOUD_PLATFORM_SCOPE, aud: &self.token_uri, iat, exp: iat + 3600 };
        let signing_input = format!("{}.{}", b64_json(&header)?, b64_json(&claims)?);
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| ProviderError::local(WHAT, "signing the token request failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// A valid access token, from the cache or from `token_uri`.
    pub async fn token(&self) -> Result<Secret, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && tokio::time::Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let assertion = self.assertion(SystemTime::now())?;
        let form = [("grant_type", JWT_BEARER_GRANT), ("assertion", assertion.as_str())];
        let answer: TokenAnswer = self.http.json(WHAT, Replay::Idempotent, |c| c.post(&self.token_uri).form(&form)).await?;
        if answer.access_token.is_empty() {
            return Err(ProviderError::decode(WHAT, "the token answer had no access_token"));
        }
        // At most a day, whatever the answer says: `Instant + u64::MAX s` would panic.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(MAX_TOKEN_LIFETIME_SECS));
        let token = Secret::new(answer.access_token);
        *cached = Some((token.clone(), tokio::time::Instant::now() + lifetime.saturating_sub(EARLY)));
        Ok(token)
    }
}

fn b64_json(value: &impl Serialize) -> Result<String, ProviderError> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).map_err(|e| ProviderError::local(WHAT, e))?))
}

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` PEM block.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, ProviderError> {
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err(ProviderError::local(WHAT, "the private key is PKCS#1; service-account keys are PKCS#8 (BEGIN PRIVATE KEY)"));
    }
    let body: String = pem.lines().map(str::trim).filter(|line| !line.starts_with("-----")).collect();
    STANDARD.decode(body.as_bytes()).map_err(|_| ProviderError::local(WHAT, "the private key is not valid PEM"))
}

/// Where Vertex requests get their bearer token.
#[derive(Debug)]
pub enum TokenSource {
    Fixed(Secret),
    ServiceAccount(Box<ServiceAccount>),
}

impl TokenSource {
    pub async fn token(&self) -> Result<Secret, ProviderError> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::ServiceAccount(account) => account.token().await,
        }
    }
}

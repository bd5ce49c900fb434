//! Clients of the AI providers that real generation uses, each with typed
//! requests and answers, timeouts, and retries that never pay twice:
//!
//! - [`openai`]: an OpenAI-compatible API — chat (script, prompts), speech
//!   (voice-over), transcription (voice messages);
//! - [`runway`]: text-to-image and image-to-video tasks;
//! - [`vertex`]: Vertex AI Veo text-to-video, with [`google_auth`] tokens.
//!
//! [`http`] holds what they share; [`meter`] records what each call cost.
//! Their settings are read by `config`; API keys are `config::Secret`s:
//! never printed, and scrubbed from error texts.

pub mod google_auth;
pub mod http;
pub mod meter;
pub mod openai;
pub mod runway;
pub mod vertex;

pub use http::{ProviderError, Replay, RetryPolicy, Secret, SetupError};
pub use meter::Meter;
pub use openai::OpenAiClient;
pub use runway::RunwayClient;
pub use vertex::VertexClient;

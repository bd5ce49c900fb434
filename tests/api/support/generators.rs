//! Generator test doubles.
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use vidcache::domain::Prompt;
use vidcache::generator::{GenerateError, GenerationRequest, Generator, LocalGenerator};

/// Fails for prompts in `failing` (until removed), hangs for prompts in
/// `hanging` (both by their normalized text), renders the rest with the local generator. Counts calls.
#[derive(Default)]
pub struct Scripted {
    pub failing: Mutex<HashSet<String>>,
    pub hanging: Mutex<HashSet<String>>,
    pub calls: AtomicUsize,
    local: LocalGenerator,
}

impl Scripted {
    pub fn fail(&self, prompt: &str) {
        self.failing.lock().expect("lock").insert(prompt.to_owned());
    }
    pub fn heal(&self, prompt: &str) {
        self.failing.lock().expect("lock").remove(prompt);
        self.hanging.lock().expect("lock").remove(prompt);
    }
    pub fn hang(&self, prompt: &str) {
        self.hanging.lock().expect("lock").insert(prompt.to_owned());
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Generator for Scripted {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // the generator gets the prompt as typed; the test names it normalized
        let prompt = Prompt::parse(&request.prompt, usize::MAX).map(|p| p.as_str().to_owned()).unwrap_or_default();
        let fails = self.failing.lock().expect("lock").contains(&prompt);
        let hangs = self.hanging.lock().expect("lock").contains(&prompt);
        let render = self.local.generate(request);
        async move {
            if hangs {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if fails {
                return Err(GenerateError::Failed("the test provider is down".into()));
            }
            render.await
        }
        .boxed()
    }
}

//! The admin listener, on every role: `/metrics`, `/livez`, `/readyz` and
//! the operator console.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::Running;
use super::startup::{self, Backends, SendPath};
use crate::admin::{self, AdminDeps, ConsoleDeps};
use crate::config::Settings;
use crate::service::{Console, Health};

/// Binds the listener (`ADMIN_LISTEN_ADDR`) and returns its server, or
/// nothing when it is off or its default address is taken.
pub(super) async fn build(
    settings: &Settings,
    backends: &Backends,
    shared: &SendPath,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    let db = &backends.db;
    let health = Health::new(db.clone(), backends.queue.clone());
    let operator = Arc::new(startup::operator(settings, backends));
    let console = Console::new(db.clone(), operator, shared.approvals.clone(), backends.store.clone());
    let deps = AdminDeps { health, console: ConsoleDeps { console } };
    let mut running = Running::default();
    if let Some(server) =
        admin::start(&settings.admin, deps, shutdown.clone()).await.context("cannot start the admin listener")?
    {
        running.add(server);
    }
    Ok(running)
}

//! Channels: thin adapters that verify a request, turn it into an
//! [`Inquiry`](crate::agent::Inquiry), and render the answer. No business logic.
//!
//! Each channel owns its routes, state and auth, and hands the server a
//! [`Router`]; the server merges them and knows none of them.

use axum::Router;

use crate::app::App;
use crate::config::ConfigError;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

pub mod slack;
pub mod webhook;

/// The routers of every channel this app serves over HTTP; a channel's
/// background tasks (Slack's Socket Mode and outbox) join `shutdown`'s set.
/// A channel without settings is left out.
pub fn routers(
    app: &App,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Vec<Router>, ConfigError> {
    let mut routers = vec![webhook::router(webhook::WebhookState::from_app(
        app, metrics,
    )?)];
    routers.extend(slack::serve(app, metrics, shutdown)?);
    Ok(routers)
}

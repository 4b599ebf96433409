//! Channels: thin adapters that verify a request, turn it into an
//! [`Inquiry`](crate::agent::Inquiry), and render the answer. No business logic.

pub mod webhook;

//! costbot: answers questions about an AWS bill with Cost Explorer's own numbers.
//!
//! The path every question takes: a channel turns a message into an
//! [`agent::Inquiry`], the [`agent::Agent`] plans tool calls against a
//! [`costs::CostSource`] and a [`retrieval::Retriever`], and a renderer turns
//! the channel-neutral [`agent::Answer`] into text for the channel.

pub mod agent;
pub mod app;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod costs;
pub mod digest;
pub mod http;
pub mod keyed_lock;
pub mod language;
pub mod llm;
pub mod metrics;
pub mod render;
pub mod retrieval;
pub mod server;
pub mod shutdown;
pub mod store;

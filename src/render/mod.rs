//! Renderers: an [`Answer`](crate::agent::Answer) to text for a channel.

pub mod discord;
pub mod json;
pub mod markdown;
pub mod slack;

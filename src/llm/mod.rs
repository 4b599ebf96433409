//! An OpenAI-compatible chat-completions client with tool calling, and the
//! vendor differences it absorbs ([`dialect`]). It knows nothing of costs:
//! the agent loop in `agent::llm` decides what to send.

mod client;
pub mod dialect;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use client::{ClientSettings, LlmClient};
pub use dialect::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool call as the model made it. `arguments` is the parsed JSON; a string
/// that is not JSON stays a `Value::String` (and fails validation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// One message of a chat, vendor-neutral; [`Dialect`] writes the wire form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `role: tool`: the call this result answers, and its tool's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    fn text(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::text(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::text(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text(Role::Assistant, content)
    }
    /// The assistant's turn that asked for tool calls, echoed back as sent.
    pub fn assistant_calls(content: Option<String>, calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content,
            tool_calls: calls,
            tool_call_id: None,
            name: None,
        }
    }
    pub fn tool_result(call: &ToolCall, content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call.id.clone()),
            name: Some(call.name.clone()),
        }
    }
}

/// Whether the model must, may or must not call a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    Required,
    None,
}

/// One request: the conversation so far and the tools on offer.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Tool definitions in the OpenAI function shape.
    pub tools: Value,
    pub tool_choice: ToolChoice,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    ToolCalls,
    /// Cut by the token limit: the text is incomplete.
    Length,
    ContentFilter,
    Other(String),
}

/// The model's reply to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish: FinishReason,
    pub usage: Usage,
}

/// Why a request got no usable reply.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no reply within {0} seconds")]
    Timeout(u64),
    #[error("rate limited by the model's server{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the model's server answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("could not reach the model's server: {0}")]
    Unreachable(String),
    #[error("the model's reply is not a chat completion: {0}")]
    Malformed(String),
}

impl LlmError {
    /// A few words for the note users see ("timed out", "HTTP 500").
    pub fn short(&self) -> String {
        match self {
            LlmError::Timeout(s) => format!("no reply within {s} s"),
            LlmError::RateLimited { .. } => "rate limited".into(),
            LlmError::Status { status, .. } => format!("HTTP {status}"),
            LlmError::Unreachable(_) => "unreachable".into(),
            LlmError::Malformed(_) => "a malformed reply".into(),
        }
    }

    /// The label `/metrics` counts it under.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout(_) => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Status { .. } => "http_status",
            LlmError::Unreachable(_) => "unreachable",
            LlmError::Malformed(_) => "malformed",
        }
    }
}

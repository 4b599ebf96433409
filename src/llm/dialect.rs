//! What differs between OpenAI-compatible servers, in one place:
//!
//! - Azure OpenAI: the deployment is in the path, `?api-version=` is
//!   required, and the key goes in an `api-key` header.
//! - Mistral: `tool_choice` says `"any"` where OpenAI says `"required"`, and
//!   tool call ids must be exactly 9 letters or digits.
//! - Ollama, vLLM, llama.cpp: `arguments` may come as a JSON object instead
//!   of a string, ids may be missing, and `finish_reason` may say `"stop"`
//!   (or `"tool_call"`) for a reply that calls tools.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    ChatMessage, ChatRequest, Completion, FinishReason, LlmError, Role, ToolCall, ToolChoice, Usage,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// OpenAI and every server that follows it (Ollama, vLLM, llama.cpp, ...).
    #[default]
    OpenAi,
    Azure,
    Mistral,
}

impl std::str::FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(Dialect::OpenAi),
            "azure" => Ok(Dialect::Azure),
            "mistral" => Ok(Dialect::Mistral),
            other => Err(format!(
                "'{other}' is not an LLM dialect; use openai, azure or mistral"
            )),
        }
    }
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Azure => "azure",
            Dialect::Mistral => "mistral",
        }
    }

    /// The dialect a base URL implies when none is configured.
    pub fn detect(base_url: &str) -> Dialect {
        let host = crate::config::url_origin(base_url).unwrap_or_default();
        if host.ends_with(".openai.azure.com") || host.ends_with(".cognitiveservices.azure.com") {
            Dialect::Azure
        } else if host.ends_with("api.mistral.ai") {
            Dialect::Mistral
        } else {
            Dialect::OpenAi
        }
    }

    /// The chat-completions URL for `base_url` (e.g. `http://host:8080/v1`).
    pub fn url(self, base_url: &str, model: &str, api_version: &str) -> String {
        let base = base_url.trim_end_matches('/');
        match self {
            Dialect::Azure => {
                // `https://NAME.openai.azure.com` alone: the model names the deployment.
                let base = if base.contains("/deployments/") {
                    base.to_string()
                } else {
                    format!("{base}/openai/deployments/{model}")
                };
                format!("{base}/chat/completions?api-version={api_version}")
            }
            _ => format!("{base}/chat/completions"),
        }
    }

    /// The header that carries the key: (name, value).
    pub fn auth_header(self, key: &str) -> (&'static str, String) {
        match self {
            Dialect::Azure => ("api-key", key.to_string()),
            _ => ("authorization", format!("Bearer {key}")),
        }
    }

    fn tool_choice(self, c: ToolChoice) -> Value {
        match (self, c) {
            (_, ToolChoice::Auto) => json!("auto"),
            (_, ToolChoice::None) => json!("none"),
            (Dialect::Mistral, ToolChoice::Required) => json!("any"),
            (_, ToolChoice::Required) => json!("required"),
        }
    }

    /// The request body.
    pub fn body(self, req: &ChatRequest, s: &super::ClientSettings) -> Value {
        let messages: Vec<Value> = req.messages.iter().map(|m| self.message(m)).collect();
        let mut body = json!({
            "model": s.model,
            "messages": messages,
            "tools": req.tools,
            "tool_choice": self.tool_choice(req.tool_choice),
            "temperature": s.temperature,
            // Every server named in the README takes `max_tokens`; OpenAI's
            // reasoning models want `max_completion_tokens` (not supported here).
            "max_tokens": s.max_tokens,
            "stream": false,
        });
        // Sent only to turn them off: a server that does not know the field never sees it.
        if !s.parallel_tool_calls {
            body["parallel_tool_calls"] = json!(false);
        }
        body
    }

    fn message(self, m: &ChatMessage) -> Value {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut v = json!({ "role": role, "content": m.content });
        if !m.tool_calls.is_empty() {
            v["tool_calls"] = Value::Array(
                m.tool_calls
                    .iter()
                    .map(|c| {
                        json!({ "id": c.id, "type": "function", "function": {
                            "name": c.name,
                            // The wire form is a string; one that was not JSON goes back as it came.
                            "arguments": match &c.arguments {
                                Value::String(raw) => raw.clone(),
                                other => other.to_string(),
                            }
                        }})
                    })
                    .collect(),
            );
        }
        if let Some(id) = &m.tool_call_id {
            v["tool_call_id"] = json!(id);
            // Mistral's tool messages name the function; OpenAI's do not.
            if self == Dialect::Mistral {
                v["name"] = json!(m.name);
            }
        }
        v
    }

    /// Reads a chat-completions response body. `next_id` numbers calls that
    /// came without an id.
    pub fn parse(self, body: &[u8], next_id: &mut u32) -> Result<Completion, LlmError> {
        let wire: WireResponse = serde_json::from_slice(body)
            .map_err(|e| LlmError::Malformed(format!("{e} in {}", preview(body))))?;
        let choice = wire
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Malformed("no choices in the reply".into()))?;
        let mut calls = Vec::new();
        for c in choice.message.tool_calls.unwrap_or_default() {
            let arguments = match c.function.arguments {
                Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Default::default()),
                Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                Some(other) => other,
                None => Value::Object(Default::default()),
            };
            let id = match c.id.filter(|id| !id.is_empty()) {
                Some(id) => id,
                None => {
                    *next_id += 1;
                    // Nine letters and digits suit every vendor, Mistral included.
                    format!("call{:05}", *next_id % 100_000)
                }
            };
            calls.push(ToolCall {
                id,
                name: c.function.name,
                arguments,
            });
        }
        let finish = match choice.finish_reason.as_deref() {
            _ if !calls.is_empty() => FinishReason::ToolCalls,
            Some("stop") | Some("eos") | None => FinishReason::Stop,
            Some("length") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            Some("tool_calls") | Some("tool_call") | Some("function_call") => {
                FinishReason::ToolCalls
            }
            Some(other) => FinishReason::Other(other.to_string()),
        };
        let content = choice.message.content.filter(|c| !c.trim().is_empty());
        Ok(Completion {
            content,
            tool_calls: calls,
            finish,
            usage: wire
                .usage
                .map(|u| Usage {
                    prompt_tokens: u.prompt_tokens.unwrap_or(0),
                    completion_tokens: u.completion_tokens.unwrap_or(0),
                })
                .unwrap_or_default(),
        })
    }
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
}

#[derive(Deserialize)]
struct WireResponse {
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    tool_calls: Option<Vec<WireCall>>,
}

#[derive(Deserialize)]
struct WireCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_are_told_apart_by_host() {
        assert_eq!(
            Dialect::detect("https://acme.openai.azure.com/openai/deployments/gpt4o"),
            Dialect::Azure
        );
        assert_eq!(
            Dialect::detect("https://api.mistral.ai/v1"),
            Dialect::Mistral
        );
        assert_eq!(
            Dialect::detect("http://127.0.0.1:11434/v1"),
            Dialect::OpenAi
        );
        assert_eq!(
            Dialect::Azure.url("https://acme.openai.azure.com", "gpt4o", "2024-10-21"),
            "https://acme.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(Dialect::Azure.auth_header("k").0, "api-key");
        assert_eq!(Dialect::OpenAi.auth_header("k").1, "Bearer k");
    }

    #[test]
    fn mistral_says_any_for_required() {
        let req = ChatRequest {
            messages: vec![],
            tools: json!([]),
            tool_choice: ToolChoice::Required,
        };
        let mut s = crate::config::LlmConfig {
            base_url: Some("http://127.0.0.1:1/v1".into()),
            ..Default::default()
        }
        .client_settings()
        .unwrap();
        assert_eq!(Dialect::Mistral.body(&req, &s)["tool_choice"], "any");
        assert!(Dialect::Mistral
            .body(&req, &s)
            .get("parallel_tool_calls")
            .is_none());
        s.parallel_tool_calls = false;
        assert_eq!(Dialect::OpenAi.body(&req, &s)["parallel_tool_calls"], false);
        assert_eq!(Dialect::OpenAi.body(&req, &s)["tool_choice"], "required");
    }

    #[test]
    fn object_arguments_missing_ids_and_stop_with_calls_are_read() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"","tool_calls":[
            {"function":{"name":"get_cost_and_usage","arguments":{"period":{"start":"2026-10-01","end":"2026-10-31"}}}},
            {"id":"","type":"function","function":{"name":"search_guides","arguments":"{\"query\":\"nat\"}"}}
        ]},"finish_reason":"stop"}]}"#;
        let mut n = 0;
        let c = Dialect::OpenAi.parse(body, &mut n).unwrap();
        assert_eq!(c.finish, FinishReason::ToolCalls);
        assert_eq!(c.content, None);
        assert_eq!(c.tool_calls[0].arguments["period"]["start"], "2026-10-01");
        assert_eq!(c.tool_calls[1].arguments["query"], "nat");
        assert_eq!(c.tool_calls[0].id, "call00001");
        assert_eq!(c.tool_calls[1].id.len(), 9);
        assert!(c
            .tool_calls
            .iter()
            .all(|t| t.id.chars().all(|ch| ch.is_ascii_alphanumeric())));
        assert_eq!(c.usage, Usage::default());
    }

    #[test]
    fn garbage_is_malformed() {
        let mut n = 0;
        assert!(matches!(
            Dialect::OpenAi.parse(b"<html>oops", &mut n),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            Dialect::OpenAi.parse(br#"{"choices":[]}"#, &mut n),
            Err(LlmError::Malformed(_))
        ));
    }
}

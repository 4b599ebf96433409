//! A scripted OpenAI-compatible chat-completions server on 127.0.0.1: it
//! answers each POST /v1/chat/completions with the next scripted reply and
//! keeps every request (body and headers) for the test to check.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

type Writer = Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// One scripted reply.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this chat-completion body.
    Json(Value),
    /// 200 with a body computed from the request.
    With(Writer),
    /// An error status with a body and an optional Retry-After.
    Status(u16, Value, Option<&'static str>),
    /// 200 with a body that is not JSON.
    Raw(&'static str),
    /// Never answers (the client's timeout must end it).
    Hang,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub body: Value,
    pub authorization: Option<String>,
    pub api_key: Option<String>,
    pub query: Option<String>,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

pub struct FakeLlm {
    /// The base URL costbot is given (`http://127.0.0.1:PORT/v1`).
    pub base_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start(script: Vec<Reply>) -> FakeLlm {
        let shared = Shared {
            script: Arc::new(Mutex::new(script.into())),
            ..Default::default()
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(completions),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeLlm {
            base_url: format!("http://{addr}/v1"),
            shared,
            task,
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().map(|s| s.body).collect()
    }

    /// Replies not yet used (a test that scripted too many says so).
    pub fn left(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }
}

async fn completions(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).expect("costbot sent JSON");
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    shared.seen.lock().unwrap().push(Seen {
        body: body.clone(),
        authorization: header("authorization"),
        api_key: header("api-key"),
        query: uri.query().map(String::from),
    });
    let next = shared.script.lock().unwrap().pop_front();
    match next {
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the script has no more replies",
        )
            .into_response(),
        Some(Reply::Json(v)) => axum::Json(v).into_response(),
        Some(Reply::With(f)) => axum::Json(f(&body)).into_response(),
        Some(Reply::Status(code, v, retry)) => {
            let mut r = (StatusCode::from_u16(code).unwrap(), axum::Json(v)).into_response();
            if let Some(s) = retry {
                r.headers_mut().insert("retry-after", s.parse().unwrap());
            }
            r
        }
        Some(Reply::Raw(s)) => ([("content-type", "application/json")], s).into_response(),
        Some(Reply::Hang) => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

/// A reply that calls tools: (id, name, arguments), arguments sent as a JSON string.
pub fn calls(list: &[(&str, &str, Value)], usage: (u64, u64)) -> Reply {
    Reply::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": list.iter().map(|(id, name, args)| json!({
                "id": id, "type": "function", "function": { "name": name, "arguments": args.to_string() }
            })).collect::<Vec<_>>()
        }}],
        "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 }
    }))
}

/// The body of a final text reply.
pub fn text_body(content: &str, usage: (u64, u64)) -> Value {
    json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "fake",
        "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": content } }],
        "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 }
    })
}

pub fn text(content: &str, usage: (u64, u64)) -> Reply {
    Reply::Json(text_body(content, usage))
}

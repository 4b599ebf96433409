//! One end-to-end smoke test with a real small model served by llama.cpp's
//! `llama-server`. It runs when `COSTBOT_LLAMA_SERVER_URL` names a running
//! server's OpenAI base URL (e.g. `http://127.0.0.1:8080/v1`), skips
//! otherwise, and fails instead of skipping with `COSTBOT_REQUIRE_LLM=1`.
//! It asserts on structure, never on prose:
//! - asked with costbot's own system prompt and tools and `tool_choice:
//!   required`, the model answers every question with tool calls that pass
//!   costbot's schema check, and costbot runs them (the data may refuse a
//!   meaningless argument: that is a run, not a crash);
//! - a whole turn through the Agent always answers, every figure shown is in
//!   that turn's tool results, whatever the model wrote.
//!
//! Latency and the counts are printed for the closing note.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use costbot::agent::grounding::{self, Facts};
use costbot::agent::llm::{prompt, schema, LlmPlanner};
use costbot::agent::tools::{self, ToolError};
use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
use costbot::config::{CacheConfig, LlmConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::sample::SampleSource;
use costbot::llm::{ChatMessage, ChatRequest, LlmClient, ToolChoice};
use costbot::metrics::LlmMetrics;
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;

// Phrased the way people ask, not the way the rules planner's tests do.
const QUESTIONS: &[&str] = &[
    "How much did we spend last month?",
    "What were the top 5 services last month?",
    "What is the forecast for the end of this month?",
    "Any anomalies in the last 14 days?",
    "why did EC2 go up last week?",
    "break down october by region",
    "are we going to blow the budget this month?",
    "how do I cut our NAT gateway bill?",
];

fn server_url() -> Option<String> {
    let url = std::env::var("COSTBOT_LLAMA_SERVER_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        assert!(
            std::env::var("COSTBOT_REQUIRE_LLM").as_deref() != Ok("1"),
            "COSTBOT_REQUIRE_LLM=1 but COSTBOT_LLAMA_SERVER_URL is not set: start llama-server (see README) and point it there"
        );
        eprintln!("skipped: set COSTBOT_LLAMA_SERVER_URL to a running llama-server's /v1 URL");
    }
    url
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

fn config(url: String) -> LlmConfig {
    LlmConfig {
        base_url: Some(url),
        model: std::env::var("COSTBOT_LLM_MODEL").unwrap_or_else(|_| "smollm2".into()),
        timeout_secs: 600,
        max_tool_steps: 2,
        // A 135M model on two cores writes about 15 tokens a second.
        max_tokens: 256,
        parallel_tool_calls: false,
        ..Default::default()
    }
}

async fn sample_tools(store: &Store) -> Tools {
    let today = today();
    let source = CachedSource::new(
        Arc::new(SampleSource::new(today)),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    Tools {
        source: Arc::new(source),
        retriever: Arc::new(index),
        budget: Some("60000".parse().unwrap()),
        connections: vec![],
    }
}

#[tokio::test]
async fn with_tool_choice_required_the_model_makes_schema_valid_calls_that_costbot_runs() {
    let Some(url) = server_url() else { return };
    let today = today();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let tools = sample_tools(&store).await;
    let settings = config(url).client_settings().unwrap();
    let client = LlmClient::new(settings).unwrap();
    let system = prompt::system(
        today,
        tools.source.earliest_day(today),
        &tools.source.known_accounts(),
        None,
    );
    let (mut valid, mut with_data, mut invalid, mut failed) = (0, 0, 0, 0);
    for q in QUESTIONS {
        let started = Instant::now();
        let reply = client
            .chat(&ChatRequest {
                messages: vec![ChatMessage::system(system.clone()), ChatMessage::user(*q)],
                tools: tools::definitions(),
                tool_choice: ToolChoice::Required,
            })
            .await;
        let took = started.elapsed().as_secs_f64();
        let reply = match reply {
            Ok(r) => r,
            // A small model loops until max_tokens and the server cannot parse its call.
            Err(e) => {
                failed += 1;
                eprintln!("required {took:.1} s: {q} -> the server failed: {e}");
                continue;
            }
        };
        assert!(
            !reply.tool_calls.is_empty(),
            "{q}: required, but no tool call"
        );
        for call in &reply.tool_calls {
            let outcome = match schema::validate(&call.name, &call.arguments) {
                Err(e) => {
                    invalid += 1;
                    format!("schema check failed: {e}")
                }
                Ok(args) => {
                    valid += 1;
                    match tools.run(&args, today).await {
                        Ok(out) => {
                            with_data += 1;
                            assert!(out.compact().is_object(), "{q}: {} gave no view", call.name);
                            "ran: data".to_string()
                        }
                        Err(ToolError::Cost(e)) if e.is_request_fault() => {
                            format!("ran: refused: {e}")
                        }
                        Err(
                            e @ (ToolError::UnknownService(_) | ToolError::BadArguments { .. }),
                        ) => {
                            format!("ran: refused: {e}")
                        }
                        Err(e) => panic!("{q}: costbot could not run {}: {e}", call.name),
                    }
                }
            };
            eprintln!(
                "required {took:.1} s, {}+{} tokens: {q} -> {} {} -> {outcome}",
                reply.usage.prompt_tokens, reply.usage.completion_tokens, call.name, call.arguments
            );
        }
    }
    eprintln!(
        "over {} questions: {valid} schema-valid calls run by costbot ({with_data} returned data), {invalid} failed the schema check, {failed} requests failed at the server",
        QUESTIONS.len()
    );
    assert!(
        valid > 0,
        "the model made no schema-valid tool call that costbot could run"
    );
}

#[tokio::test]
async fn whole_turns_always_answer_and_never_show_an_invented_figure() {
    let Some(url) = server_url() else { return };
    let today = today();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let tools = sample_tools(&store).await;
    let metrics = LlmMetrics::new();
    let planner = LlmPlanner::new(&config(url), metrics.clone())
        .unwrap()
        .unwrap();
    let agent = Agent::new(tools, store, Arc::new(move || today)).with_planner(Box::new(planner));

    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, q) in QUESTIONS.iter().enumerate() {
        let started = Instant::now();
        let a = agent
            .handle(Inquiry::new(ConversationKey::New, "t", "test", *q))
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let took = started.elapsed();
        let llm = a.llm.clone().expect("the model took part in every turn");
        eprintln!(
            "turn {i}: {:.1} s, grounding {}{}, {} requests, {}+{} tokens, calls {:?}: {}",
            took.as_secs_f64(),
            llm.grounding,
            if llm.grounding == "unavailable" {
                format!(" ({})", a.notes.first().map(String::as_str).unwrap_or(""))
            } else {
                String::new()
            },
            llm.requests,
            llm.prompt_tokens,
            llm.completion_tokens,
            a.tool_calls
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            a.summary
        );
        *outcomes.entry(llm.grounding.clone()).or_default() += 1;
        // Whatever the model did, every figure shown is in this turn's tool results.
        let mut facts = Facts::new();
        for c in &a.tool_calls {
            let out = agent
                .tools()
                .call(&c.name, &c.arguments, today)
                .await
                .unwrap();
            facts.add_tool_view(&out.compact());
        }
        facts.add_answer(&a);
        let verdict = grounding::check(&a.summary, &facts);
        assert!(
            verdict.is_grounded(),
            "{q}: shown {:?}: {:?}",
            a.summary,
            verdict.unsupported
        );
        assert!(!a.tool_calls.is_empty(), "{q}: no tool ran");
        if llm.grounding != "unavailable" {
            // The turn ran on the model's own calls: each one schema-valid.
            for c in &a.tool_calls {
                schema::validate(&c.name, &c.arguments).unwrap_or_else(|e| panic!("{q}: {e}"));
            }
        }
    }
    eprintln!(
        "turn outcomes over {} questions: {outcomes:?}",
        QUESTIONS.len()
    );
}

//! One end-to-end smoke test with a real small model served by llama.cpp's
//! `llama-server`. It runs when `COSTBOT_LLAMA_SERVER_URL` names a running
//! server's OpenAI base URL (e.g. `http://127.0.0.1:8080/v1`), skips
//! otherwise, and fails instead of skipping with `COSTBOT_REQUIRE_LLM=1`.
//! It asserts on structure, never on prose: a schema-valid tool call that
//! costbot ran, the figures from the tool, no unsupported figure shown.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use costbot::agent::grounding::{self, Facts};
use costbot::agent::llm::{schema, LlmPlanner};
use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
use costbot::config::{CacheConfig, LlmConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::sample::SampleSource;
use costbot::metrics::LlmMetrics;
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;

const QUESTIONS: &[&str] = &[
    "How much did we spend last month?",
    "What were the top 5 services last month?",
    "What is the forecast for the end of this month?",
    "Any anomalies in the last 14 days?",
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

#[tokio::test]
async fn a_real_small_model_makes_valid_tool_calls_and_never_shows_an_invented_figure() {
    let Some(url) = server_url() else { return };
    let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let source = CachedSource::new(
        Arc::new(SampleSource::new(today)),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(source),
        retriever: Arc::new(index),
        budget: Some("60000".parse().unwrap()),
        connections: vec![],
    };
    let config = LlmConfig {
        base_url: Some(url),
        model: std::env::var("COSTBOT_LLM_MODEL").unwrap_or_else(|_| "smollm2".into()),
        timeout_secs: 600,
        max_tool_steps: 2,
        // A 135M model on two cores writes about 8 tokens a second.
        max_tokens: 256,
        parallel_tool_calls: false,
        ..Default::default()
    };
    let metrics = LlmMetrics::new();
    let planner = LlmPlanner::new(&config, metrics.clone()).unwrap().unwrap();
    let agent = Agent::new(tools, store, Arc::new(move || today)).with_planner(Box::new(planner));

    let mut valid_turns = 0;
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
        assert!(
            !a.figures.is_empty() || a.table.is_some(),
            "{q}: no figures from the tool"
        );
        if llm.grounding != "unavailable" {
            // The model's own calls: schema-valid, run by costbot, and the answer's figures are theirs.
            for c in &a.tool_calls {
                schema::validate(&c.name, &c.arguments).unwrap_or_else(|e| panic!("{q}: {e}"));
            }
            valid_turns += 1;
        }
    }
    eprintln!(
        "tool-call validity: {valid_turns}/{} turns ran the model's own schema-valid calls",
        QUESTIONS.len()
    );
    assert!(
        valid_turns > 0,
        "the model made no schema-valid tool call in any turn"
    );
}

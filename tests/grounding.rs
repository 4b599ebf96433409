//! The grounding check on a labelled set of model replies
//! (tests/grounding_cases.jsonl). Facts come from the real tools on the sample
//! organization for a fixed day: each case names the questions of its
//! conversation, the last one is "this turn", and its tool calls' compact
//! views plus its composed answer are the facts. Cases may instead carry
//! compact views inline. No invented figure may pass; false rejects are
//! counted and must stay under MAX_FALSE_REJECT_RATE.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use costbot::agent::grounding::{self, Facts};
use costbot::agent::{Agent, Answer, ConversationKey, Inquiry, Tools};
use costbot::costs::sample::SampleSource;
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use serde::Deserialize;
use serde_json::Value;

/// Of the replies labelled grounded, at most this share may be rejected.
const MAX_FALSE_REJECT_RATE: f64 = 0.10;

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    /// The conversation's questions; the last is this turn.
    #[serde(default)]
    asks: Vec<String>,
    /// Compact views given inline instead of (or as well as) questions.
    #[serde(default)]
    views: Vec<Value>,
    prose: String,
    label: String,
    note: String,
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

async fn agent(dir: &std::path::Path) -> Agent {
    let store = Store::open(&dir.join("costbot.db")).await.unwrap();
    let t = today();
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(SampleSource::new(t)),
        retriever: Arc::new(index),
        budget: Some("25000".parse().unwrap()),
        connections: vec![],
    };
    Agent::new(tools, store, Arc::new(move || t))
}

/// This turn's answer and its tool calls' compact views (the calls re-run
/// exactly as recorded; the sample source is deterministic).
async fn turn(agent: &Agent, conversation: &str, asks: &[String]) -> (Answer, Vec<Value>) {
    let mut last = None;
    for q in asks {
        let a = agent
            .handle(Inquiry::new(
                ConversationKey::Channel(conversation.into()),
                "t",
                "test",
                q,
            ))
            .await
            .unwrap_or_else(|e| panic!("{q}: {e:?}"));
        last = Some(a);
    }
    let answer = last.expect("a case with questions");
    let mut views = Vec::new();
    for c in &answer.tool_calls {
        let out = agent
            .tools()
            .call(&c.name, &c.arguments, today())
            .await
            .unwrap();
        views.push(out.compact());
    }
    (answer, views)
}

fn cases() -> Vec<Case> {
    include_str!("grounding_cases.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn labelled_replies_no_false_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let cases = cases();
    assert!(cases.len() >= 60, "the set has {} cases", cases.len());
    let mut turns: HashMap<Vec<String>, (Answer, Vec<Value>)> = HashMap::new();
    let (mut false_accepts, mut false_rejects, mut grounded) = (vec![], vec![], 0);
    for (i, case) in cases.iter().enumerate() {
        assert!(
            case.label == "grounded" || case.label == "ungrounded",
            "{}: label '{}'",
            case.id,
            case.label
        );
        let mut facts = Facts::new();
        if !case.asks.is_empty() {
            if !turns.contains_key(&case.asks) {
                let t = turn(&agent, &format!("case-{i}"), &case.asks).await;
                turns.insert(case.asks.clone(), t);
            }
            let (answer, views) = &turns[&case.asks];
            for v in views {
                facts.add_tool_view(v);
            }
            facts.add_answer(answer);
        }
        for v in &case.views {
            facts.add_tool_view(v);
        }
        let verdict = grounding::check(&case.prose, &facts);
        let expected = case.label == "grounded";
        if expected {
            grounded += 1;
        }
        match (expected, verdict.is_grounded()) {
            (false, true) => false_accepts.push(format!("{} ({})", case.id, case.note)),
            (true, false) => false_rejects.push(format!(
                "{} ({}): {:?}",
                case.id, case.note, verdict.unsupported
            )),
            _ => {}
        }
    }
    println!(
        "grounding: {} cases, {} labelled grounded; false accepts {}, false rejects {}",
        cases.len(),
        grounded,
        false_accepts.len(),
        false_rejects.len()
    );
    for r in &false_rejects {
        println!("  false reject: {r}");
    }
    assert!(
        false_accepts.is_empty(),
        "invented figures passed: {false_accepts:#?}"
    );
    let rate = false_rejects.len() as f64 / grounded as f64;
    assert!(
        rate <= MAX_FALSE_REJECT_RATE,
        "false reject rate {rate:.2} over {MAX_FALSE_REJECT_RATE}: {false_rejects:#?}"
    );
}

/// Prints this turn's views and answer for a question, to write cases from:
/// `cargo test --test grounding dump -- --ignored --nocapture`
/// with GROUNDING_DUMP="question 1|question 2".
#[tokio::test]
#[ignore]
async fn dump() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let asks: Vec<String> = std::env::var("GROUNDING_DUMP")
        .unwrap_or_else(|_| "How much did we spend last month?".into())
        .split('|')
        .map(String::from)
        .collect();
    let (answer, views) = turn(&agent, "dump", &asks).await;
    for v in &views {
        println!("{}", serde_json::to_string(v).unwrap());
    }
    println!("{}", serde_json::to_string_pretty(&answer).unwrap());
}

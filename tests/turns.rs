//! Turns as the store keeps them: a turn is written whole or not at all,
//! concurrent turns in one conversation stay paired, and AWS's own error text
//! (ARNs, account ids) never reaches a reply or the history.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use costbot::agent::{Agent, ConversationKey, ErrorKind, Inquiry, Tools};
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::sample::SampleSource;
use costbot::costs::{CostError, CostQuery, CostResult, CostSource};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::{Role, Store};
use tokio::sync::Notify;

mod common;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

async fn agent_with(store: &Store, source: Arc<dyn CostSource>) -> Agent {
    let t = today();
    let cached = CachedSource::new(
        source,
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || t),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    Agent::new(tools, store.clone(), Arc::new(move || t))
}

fn inquiry(key: &str, text: &str) -> Inquiry {
    Inquiry::new(ConversationKey::Channel(key.into()), "scope", "test", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_turns_in_one_conversation_stay_paired() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let agent = Arc::new(agent_with(&store, Arc::new(SampleSource::new(today()))).await);
    let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let days: Vec<NaiveDate> = (0..50).map(|i| first + chrono::Duration::days(i)).collect();
    let mut tasks = Vec::new();
    for day in &days {
        let agent = agent.clone();
        let text = format!("How much did we spend on {day}?");
        tasks.push(tokio::spawn(async move {
            agent.handle(inquiry("thread", &text)).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let answer = t.await.unwrap().expect("every turn is answered");
        ids.insert(answer.conversation_id);
    }
    assert_eq!(ids.len(), 1, "one conversation: {ids:?}");
    let messages = store.messages(ids.first().unwrap()).await.unwrap();
    assert_eq!(messages.len(), 100);
    let mut asked = std::collections::BTreeSet::new();
    for pair in messages.chunks(2) {
        let (q, a) = (&pair[0], &pair[1]);
        assert_eq!(q.role, Role::User, "{q:?}");
        assert_eq!(a.role, Role::Assistant, "{a:?}");
        assert_eq!(a.reply_to, Some(q.id), "each answer names its question");
        // The answer is about the day its own question named.
        let start = a.answer.as_ref().unwrap()["basis"]["start"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(q.text, format!("How much did we spend on {start}?"));
        asked.insert(start);
    }
    assert_eq!(asked.len(), 50);
}

/// A cost source that never answers: the turn is cut off mid-way.
struct Stuck {
    entered: Arc<Notify>,
}

#[async_trait]
impl CostSource for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    async fn cost_and_usage(&self, _: &CostQuery) -> Result<CostResult, CostError> {
        self.entered.notify_one();
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_turn_cut_off_mid_way_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let entered = Arc::new(Notify::new());
    let agent = Arc::new(
        agent_with(
            &store,
            Arc::new(Stuck {
                entered: entered.clone(),
            }),
        )
        .await,
    );
    // An earlier turn that needed no cost data.
    let help = agent.handle(inquiry("k", "help")).await.unwrap();
    let before = store.messages(&help.conversation_id).await.unwrap();
    assert_eq!(before.len(), 2);

    for key in ["k", "fresh"] {
        let a = agent.clone();
        let task = tokio::spawn(async move {
            a.handle(inquiry(key, "How much did we spend last month?"))
                .await
        });
        entered.notified().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
    assert_eq!(store.messages(&help.conversation_id).await.unwrap(), before);
    assert_eq!(store.conversation_by_key("fresh").await.unwrap(), None);
    // The conversation's lock was released: the next turn goes through.
    let again = agent.handle(inquiry("k", "help")).await.unwrap();
    assert_eq!(again.conversation_id, help.conversation_id);
}

/// Error replies a Cost Explorer stand-in gives, each naming a role ARN and
/// an account id the way AWS's messages do.
const LEAKY: [(u16, &str); 4] = [
    (400, "AccessDeniedException"),
    (400, "ValidationException"),
    (400, "DataUnavailableException"),
    (500, "InternalServerException"),
];
const ARN: &str = "arn:aws:iam::123456789012:role/costbot-reader";

#[tokio::test]
async fn aws_error_text_never_reaches_a_reply_or_the_history() {
    for (status, kind) in LEAKY {
        let app = axum::Router::new().fallback(move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amzn-errortype", kind),
                ],
                format!(
                    r#"{{"__type":"{kind}","message":"User: {ARN} is not authorized to perform ce:GetCostAndUsage on https://ce.internal.example:8443/ (account 123456789012)"}}"#
                ),
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let aws = AwsConfig {
            endpoint_url: Some(url.clone()),
            max_requests_per_query: 2,
            ..AwsConfig::default()
        };
        let source = ExplorerSource::with_base(common::sdk_config(&url).await, &aws).await;

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
        let agent = agent_with(&store, Arc::new(source)).await;
        let err = agent
            .handle(inquiry("leak", "How much did we spend last month?"))
            .await
            .unwrap_err();
        let public = serde_json::to_string(&err.public).unwrap();
        for secret in [
            "arn:aws",
            "123456789012",
            "ce.internal.example",
            "not authorized",
        ] {
            assert!(
                !public.contains(secret),
                "{kind}: the reply names {secret}: {public}"
            );
        }
        assert_ne!(err.public.kind, ErrorKind::Internal, "{kind}: {public}");
        let id = err.conversation_id.expect("the failed turn is recorded");
        let history = serde_json::to_string(&store.messages(&id).await.unwrap()).unwrap();
        for secret in [
            "arn:aws",
            "123456789012",
            "ce.internal.example",
            "not authorized",
        ] {
            assert!(
                !history.contains(secret),
                "{kind}: the history names {secret}: {history}"
            );
        }
        assert!(
            history.contains(&err.public.message),
            "{kind}: the history keeps the public sentence: {history}"
        );
        store.close().await;
    }
}

//! The LLM planner against a scripted OpenAI-compatible fake on 127.0.0.1:
//! every case checks the exact requests costbot sent (system prompt,
//! history, tools, tool results with their ids) and what reached the user.

#[path = "support/llm.rs"]
mod llm;
#[path = "support/running.rs"]
mod running;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use costbot::agent::compose::{self, Labels};
use costbot::agent::llm::{prompt, LlmPlanner, Persona};
use costbot::agent::{Agent, Answer, Ask, ConversationKey, Inquiry, ToolArgs, Tools};
use costbot::config::{CacheConfig, LlmConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::sample::SampleSource;
use costbot::metrics::LlmMetrics;
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use llm::{calls, text, text_body, FakeLlm, Reply};
use serde_json::{json, Value};

const MODEL: &str = "fake-model";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

struct Bot {
    agent: Agent,
    metrics: Arc<LlmMetrics>,
    _dir: tempfile::TempDir,
}

async fn agent_in(dir: &std::path::Path) -> Agent {
    let store = Store::open(&dir.join("costbot.db")).await.unwrap();
    let t = today();
    let source = CachedSource::new(
        Arc::new(SampleSource::new(t)),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || t),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(source),
        retriever: Arc::new(index),
        budget: Some("60000".parse().unwrap()),
        connections: vec![],
    };
    Agent::new(tools, store, Arc::new(move || t))
}

async fn bot_with(fake: &FakeLlm, tweak: impl FnOnce(&mut LlmConfig)) -> Bot {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LlmConfig {
        base_url: Some(fake.base_url.clone()),
        model: MODEL.into(),
        ..Default::default()
    };
    tweak(&mut config);
    let metrics = LlmMetrics::new();
    let planner = LlmPlanner::new(&config, metrics.clone()).unwrap().unwrap();
    let agent = agent_in(dir.path()).await.with_planner(Box::new(planner));
    Bot {
        agent,
        metrics,
        _dir: dir,
    }
}

async fn bot(fake: &FakeLlm) -> Bot {
    bot_with(fake, |_| {}).await
}

async fn ask_on(agent: &Agent, conversation: &str, channel: &str, question: &str) -> Answer {
    agent
        .handle(Inquiry::new(
            ConversationKey::Channel(conversation.into()),
            "t",
            channel,
            question,
        ))
        .await
        .unwrap_or_else(|e| panic!("{question}: {e}"))
}

async fn ask(agent: &Agent, conversation: &str, question: &str) -> Answer {
    ask_on(agent, conversation, "test", question).await
}

/// What the tool returns, as the model is shown it.
async fn view(agent: &Agent, name: &str, args: &Value) -> Value {
    agent
        .tools()
        .call(name, args, today())
        .await
        .unwrap()
        .compact()
}

fn system(agent: &Agent, persona: Option<Persona>) -> Value {
    let source = &agent.tools().source;
    json!({ "role": "system", "content": prompt::system(today(), source.earliest_day(today()), &source.known_accounts(), persona) })
}

fn user(text: &str) -> Value {
    json!({ "role": "user", "content": text })
}

fn assistant(text: &str) -> Value {
    json!({ "role": "assistant", "content": text })
}

fn assistant_calls(list: &[(&str, &str, &Value)]) -> Value {
    json!({ "role": "assistant", "content": null, "tool_calls": list.iter().map(|(id, name, args)| json!({
        "id": id, "type": "function", "function": { "name": name, "arguments": args.to_string() }
    })).collect::<Vec<_>>() })
}

fn tool(id: &str, content: &Value) -> Value {
    json!({ "role": "tool", "tool_call_id": id, "content": content.to_string() })
}

/// A request exactly as costbot must send it.
fn request(messages: Vec<Value>, tool_choice: &str) -> Value {
    json!({
        "model": MODEL,
        "messages": messages,
        "tools": costbot::agent::tools::definitions(),
        "tool_choice": tool_choice,
        "temperature": 0.0,
        "max_tokens": 1024,
        "stream": false,
    })
}

fn last_month() -> Value {
    json!({ "period": { "start": "2026-10-01", "end": "2026-10-31" }, "group_by": ["SERVICE"] })
}

fn total(view: &Value, kind: &str) -> String {
    view[kind]["total"].as_str().unwrap().to_string()
}

/// The summary costbot composes from these tool calls without a model.
async fn deterministic(agent: &Agent, list: &[(&str, Value)]) -> String {
    let mut args = Vec::new();
    let mut outputs = Vec::new();
    for (name, a) in list {
        args.push(ToolArgs::parse(name, a).unwrap());
        outputs.push(agent.tools().call(name, a, today()).await.unwrap());
    }
    let labels = Labels {
        accounts: agent.tools().source.known_accounts(),
    };
    compose::compose(&Ask::from_calls(&args), &outputs, &labels, true, today()).summary
}

/// How the grounding check names the one figure in `prose` (checked against nothing).
fn said(prose: &str) -> String {
    let v = costbot::agent::grounding::check(prose, &costbot::agent::grounding::Facts::new());
    assert_eq!(v.unsupported.len(), 1, "{prose}: {:?}", v.unsupported);
    v.unsupported[0].said.clone()
}

fn rendered(metrics: &LlmMetrics) -> String {
    let mut out = String::new();
    metrics.render(&mut out);
    out
}

#[tokio::test]
async fn a_single_tool_call_then_grounded_prose() {
    let q = "What did we spend last month by service?";
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (300, 20)),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!(
                    "October cost ${} in total; the table shows each service.",
                    v["costs"]["total"].as_str().unwrap()
                ),
                (450, 30),
            )
        })),
    ])
    .await;
    let bot = bot(&fake).await;
    let v = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let a = ask(&bot.agent, "c1", q).await;

    assert_eq!(
        a.summary,
        format!(
            "October cost ${} in total; the table shows each service.",
            total(&v, "costs")
        )
    );
    let llm = a.llm.as_ref().unwrap();
    assert_eq!(
        (
            llm.grounding.as_str(),
            llm.requests,
            llm.prompt_tokens,
            llm.completion_tokens
        ),
        ("grounded", 2, 750, 50)
    );
    assert_eq!(a.figures[0].amount, total(&v, "costs"));
    assert!(a.table.is_some() && a.basis.is_some());
    assert_eq!(a.tool_calls.len(), 1);
    assert_eq!(a.tool_calls[0].arguments, last_month());

    let sent = fake.bodies();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0],
        request(vec![system(&bot.agent, None), user(q)], "required")
    );
    assert_eq!(
        sent[1],
        request(
            vec![
                system(&bot.agent, None),
                user(q),
                assistant_calls(&[("call_1", "get_cost_and_usage", &last_month())]),
                tool("call_1", &v),
            ],
            "auto"
        )
    );
    // Tokens are kept with the turn and counted.
    let usage = bot
        .agent
        .store()
        .conversation_llm_usage(&a.conversation_id)
        .await
        .unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (750, 50));
    let m = rendered(&bot.metrics);
    assert!(
        m.contains("costbot_llm_tokens_total{kind=\"prompt\"} 750\n"),
        "{m}"
    );
    assert!(
        m.contains("costbot_llm_tokens_total{kind=\"completion\"} 50\n"),
        "{m}"
    );
    assert!(m.contains("costbot_llm_requests_total 2\n"), "{m}");
    // "How did you get that?" names the model's cost.
    let how = ask(&bot.agent, "c1", "how did you get that?").await;
    assert!(
        how.details.iter().any(|d| d == "Language model fake-model: 2 requests, 750 prompt and 50 completion tokens; its figures were all found in the tool results."),
        "{:?}",
        how.details
    );
    assert_eq!(fake.left(), 0);
}

#[tokio::test]
async fn several_steps_with_the_conversation_so_far() {
    let first = "What did we spend last month by service?";
    let second = "Why did it change compared with September?";
    let compare = json!({ "current": { "start": "2026-10-01", "end": "2026-10-31" }, "previous": { "start": "2026-09-01", "end": "2026-09-30" }, "group_by": ["SERVICE"] });
    let daily =
        json!({ "period": { "start": "2026-10-01", "end": "2026-10-31" }, "granularity": "DAILY" });
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (100, 10)),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!("October: ${}.", v["costs"]["total"].as_str().unwrap()),
                (100, 10),
            )
        })),
        calls(&[("call_2", "compare_periods", compare.clone())], (200, 10)),
        calls(
            &[("call_3", "get_cost_and_usage", daily.clone())],
            (300, 10),
        ),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value =
                serde_json::from_str(msgs[msgs.len() - 3]["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!(
                    "Spend changed by ${} against September.",
                    v["comparison"]["change"].as_str().unwrap()
                ),
                (400, 20),
            )
        })),
    ])
    .await;
    let bot = bot(&fake).await;
    let v1 = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let v2 = view(&bot.agent, "compare_periods", &compare).await;
    let v3 = view(&bot.agent, "get_cost_and_usage", &daily).await;
    let a1 = ask(&bot.agent, "c2", first).await;
    assert_eq!(a1.summary, format!("October: ${}.", total(&v1, "costs")));
    let a2 = ask(&bot.agent, "c2", second).await;
    assert_eq!(
        a2.summary,
        format!(
            "Spend changed by ${} against September.",
            v2["comparison"]["change"].as_str().unwrap()
        )
    );
    assert_eq!(a2.llm.as_ref().unwrap().grounding, "grounded");
    assert_eq!(a2.tool_calls.len(), 2);
    // The composed answer is a comparison: its figures come from compare_periods.
    assert!(a2.basis.as_ref().unwrap().compared_with.is_some());
    // The daily costs are a section of their own, not written over the comparison.
    assert_eq!(a2.sections.len(), 1);
    assert!(a2.sections[0].answer.series.is_some());

    let sent = fake.bodies();
    assert_eq!(sent.len(), 5);
    let history = vec![
        system(&bot.agent, None),
        user(first),
        assistant(&a1.summary),
        user(second),
    ];
    assert_eq!(sent[2], request(history.clone(), "required"));
    let mut step2 = history.clone();
    step2.push(assistant_calls(&[("call_2", "compare_periods", &compare)]));
    step2.push(tool("call_2", &v2));
    assert_eq!(sent[3], request(step2.clone(), "auto"));
    let mut step3 = step2;
    step3.push(assistant_calls(&[("call_3", "get_cost_and_usage", &daily)]));
    step3.push(tool("call_3", &v3));
    assert_eq!(sent[4], request(step3, "auto"));
}

#[tokio::test]
async fn parallel_tool_calls_are_all_answered_by_id() {
    let q = "How are we doing this month against the budget?";
    let mtd = json!({ "period": { "start": "2026-11-01", "end": "2026-11-19" } });
    let fake = FakeLlm::start(vec![
        calls(
            &[
                ("call_a", "get_cost_and_usage", mtd.clone()),
                ("call_b", "forecast_month_end", json!({})),
            ],
            (200, 30),
        ),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let f: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!(
                    "November should end near ${} against a budget of ${}.",
                    f["forecast"]["forecast_total"].as_str().unwrap(),
                    f["forecast"]["budget"].as_str().unwrap()
                ),
                (300, 20),
            )
        })),
    ])
    .await;
    let bot = bot(&fake).await;
    let va = view(&bot.agent, "get_cost_and_usage", &mtd).await;
    let vb = view(&bot.agent, "forecast_month_end", &json!({})).await;
    let a = ask(&bot.agent, "c3", q).await;
    assert_eq!(
        a.llm.as_ref().unwrap().grounding,
        "grounded",
        "{}",
        a.summary
    );
    assert!(a
        .summary
        .contains(vb["forecast"]["forecast_total"].as_str().unwrap()));
    assert_eq!(
        a.tool_calls
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["get_cost_and_usage", "forecast_month_end"]
    );
    assert_eq!(a.figures[0].amount, total(&va, "costs"));
    assert_eq!(a.sections.len(), 1, "the forecast is a section");
    let sent = fake.bodies();
    assert_eq!(
        sent[1],
        request(
            vec![
                system(&bot.agent, None),
                user(q),
                assistant_calls(&[
                    ("call_a", "get_cost_and_usage", &mtd),
                    ("call_b", "forecast_month_end", &json!({}))
                ]),
                tool("call_a", &va),
                tool("call_b", &vb),
            ],
            "auto"
        )
    );
}

#[tokio::test]
async fn an_invented_figure_never_reaches_the_user() {
    let q = "What did we spend last month by service?";
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (100, 10)),
        text("We spent $999,999.99 last month.", (100, 10)),
        text("We spent about $123,456.78 last month.", (100, 10)),
    ])
    .await;
    let bot = bot(&fake).await;
    let v = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let a = ask(&bot.agent, "c4", q).await;
    // The deterministic summary, composed from the tool output, is what the user gets.
    assert_eq!(
        a.summary,
        deterministic(&bot.agent, &[("get_cost_and_usage", last_month())]).await
    );
    // Not in what any channel shows either.
    let shown = format!(
        "{}{:?}{:?}",
        costbot::render::markdown::render(&a),
        costbot::render::slack::render(&a, None),
        costbot::render::discord::render(&a, None)
    );
    assert!(!shown.contains("999,999.99") && !shown.contains("123,456.78"));
    assert!(!a.summary.contains("123,456.78") && !a.summary.contains("999,999.99"));
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(j["llm"]["grounding"], "fallback");
    assert_eq!(
        j["llm"]["unsupported"][0]["said"],
        said("We spent about $123,456.78 last month.")
    );
    assert!(a
        .notes
        .iter()
        .any(|n| n.contains("named figures that no tool returned")));
    assert_eq!(
        bot.metrics
            .grounding_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(rendered(&bot.metrics).contains("costbot_llm_grounding_failures_total 1\n"));
    // The correction named the figure and asked for text only.
    let sent = fake.bodies();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent[2],
        request(
            vec![
                system(&bot.agent, None),
                user(q),
                assistant_calls(&[("call_1", "get_cost_and_usage", &last_month())]),
                tool("call_1", &v),
                assistant("We spent $999,999.99 last month."),
                user(&format!("Your answer has figures that no tool result of this turn contains: {}. Rewrite it using only figures copied exactly from the tool results above.", said("We spent $999,999.99 last month."))),
            ],
            "none"
        )
    );
    // The stored reply is the deterministic one too.
    let stored = bot
        .agent
        .store()
        .messages(&a.conversation_id)
        .await
        .unwrap();
    assert_eq!(stored.last().unwrap().text, a.summary);
}

#[tokio::test]
async fn a_corrected_answer_is_used() {
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (100, 10)),
        text("We spent $999,999.99 last month.", (100, 10)),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value = serde_json::from_str(msgs[3]["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!(
                    "We spent ${} last month.",
                    v["costs"]["total"].as_str().unwrap()
                ),
                (100, 10),
            )
        })),
    ])
    .await;
    let bot = bot(&fake).await;
    let v = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let a = ask(&bot.agent, "c5", "What did we spend last month by service?").await;
    assert_eq!(
        a.summary,
        format!("We spent ${} last month.", total(&v, "costs"))
    );
    assert_eq!(a.llm.as_ref().unwrap().grounding, "corrected");
    assert_eq!(
        bot.metrics
            .grounding_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// Small models asked for words (llama.cpp with `tool_choice: none`) write
/// the call they wanted as text; that is no answer to show.
#[tokio::test]
async fn a_tool_call_written_as_text_is_not_the_answer() {
    let q = "What did we spend last month by service?";
    let leaked = format!(
        "{{\"name\": \"get_cost_and_usage\", \"arguments\": {}}}",
        last_month()
    );
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (100, 10)),
        text(&leaked, (100, 10)),
    ])
    .await;
    let bot = bot(&fake).await;
    let a = ask(&bot.agent, "c5b", q).await;
    assert_eq!(
        a.summary,
        deterministic(&bot.agent, &[("get_cost_and_usage", last_month())]).await
    );
    assert_eq!(a.llm.as_ref().unwrap().grounding, "fallback");
    assert!(a
        .notes
        .iter()
        .any(|n| n.contains("wrote a tool call instead of an answer")));
    // No correction round: the text has no figure to correct.
    assert_eq!(fake.bodies().len(), 2);
    assert_eq!(
        bot.metrics
            .grounding_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

/// The rules planner's answer to `question`, from an agent with no model.
async fn rules_answer(question: &str) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    ask(&agent_in(dir.path()).await, "r", question).await
}

async fn falls_back(
    script: Vec<Reply>,
    tweak: impl FnOnce(&mut LlmConfig),
    why: &str,
) -> (FakeLlm, Bot, Answer) {
    let q = "What did we spend last month by service?";
    let fake = FakeLlm::start(script).await;
    let bot = bot_with(&fake, tweak).await;
    let a = ask(&bot.agent, "cf", q).await;
    let rules = rules_answer(q).await;
    assert_eq!(
        a.notes[0],
        format!(
            "The language model was unavailable ({why}); this answer comes from the rules planner."
        )
    );
    assert_eq!(a.summary, rules.summary);
    assert_eq!(a.figures, rules.figures);
    assert_eq!(a.table, rules.table);
    assert_eq!(a.basis, rules.basis);
    assert_eq!(a.llm.as_ref().unwrap().grounding, "unavailable");
    assert_eq!(
        bot.metrics
            .fallbacks
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Nothing is lost: the turn is recorded as usual, and a follow-up builds on it.
    let stored = bot
        .agent
        .store()
        .messages(&a.conversation_id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].text, q);
    assert!(stored[0].slots.is_some());
    assert_eq!(stored[1].text, a.summary);
    // The first request was the usual one.
    assert_eq!(
        fake.bodies()[0],
        request(vec![system(&bot.agent, None), user(q)], "required")
    );
    (fake, bot, a)
}

#[tokio::test]
async fn invalid_tool_arguments_get_one_correction_then_the_rules_answer() {
    let bad = json!({ "period": { "start": "last month", "end": "2026-10-31" } });
    let (fake, bot, a) = falls_back(
        vec![
            calls(&[("call_1", "get_cost_and_usage", bad.clone())], (100, 10)),
            calls(
                &[(
                    "call_2",
                    "get_cost_and_usage",
                    json!({ "period": "October" }),
                )],
                (100, 10),
            ),
        ],
        |_| {},
        "its tool arguments were not valid",
    )
    .await;
    let sent = fake.bodies();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1],
        request(
            vec![
                system(&bot.agent, None),
                user("What did we spend last month by service?"),
                assistant_calls(&[("call_1", "get_cost_and_usage", &bad)]),
                tool("call_1", &json!({ "error": "arguments.period.start 'last month' is not a date in the form YYYY-MM-DD" })),
                user("These tool calls were not run because their arguments are not valid: get_cost_and_usage: arguments.period.start 'last month' is not a date in the form YYYY-MM-DD. Call the tools again with arguments that follow their JSON Schemas."),
            ],
            "auto"
        )
    );
    assert_eq!(fake.left(), 0);
    // Nothing ran for the invalid calls: the tool calls are the rules planner's.
    assert_eq!(
        a.tool_calls,
        rules_answer("What did we spend last month by service?")
            .await
            .tool_calls
    );
    // What the two requests cost is kept with the turn.
    let llm = a.llm.as_ref().unwrap();
    assert_eq!(
        (llm.requests, llm.prompt_tokens, llm.completion_tokens),
        (2, 200, 20)
    );
    let usage = bot
        .agent
        .store()
        .conversation_llm_usage(&a.conversation_id)
        .await
        .unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (200, 20));
}

/// A real SmolLM2 asked for December 2021: a valid call the data cannot
/// answer. The model hears why and may ask again; then the rules answer.
#[tokio::test]
async fn a_period_the_data_does_not_cover_goes_back_to_the_model_then_the_rules_answer() {
    let old = json!({ "period": { "start": "2021-12-04", "end": "2022-01-01" } });
    let (fake, bot, a) = falls_back(
        vec![
            calls(&[("call_1", "get_cost_and_usage", old.clone())], (100, 10)),
            calls(&[("call_2", "get_cost_and_usage", old.clone())], (100, 10)),
        ],
        |_| {},
        "its tool arguments were not valid",
    )
    .await;
    let sent = fake.bodies();
    assert_eq!(sent.len(), 2);
    let error = sent[1]["messages"][3].clone();
    assert_eq!(error["role"], "tool");
    assert_eq!(error["tool_call_id"], "call_1");
    let said: Value = serde_json::from_str(error["content"].as_str().unwrap()).unwrap();
    assert!(
        said["error"]
            .as_str()
            .unwrap()
            .starts_with("data for 4 December 2021 – 1 January 2022"),
        "{said}"
    );
    assert_eq!(sent[1]["messages"][4]["role"], "user");
    assert_eq!(fake.left(), 0);
    assert!(
        a.summary.starts_with("AWS spend in 1–31 October 2026"),
        "{}",
        a.summary
    );
    assert_eq!(
        bot.metrics
            .fallbacks
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn rate_limited_is_the_rules_answer() {
    let (fake, bot, _) = falls_back(
        vec![Reply::Status(
            429,
            json!({ "error": { "message": "Rate limit reached" } }),
            Some("7"),
        )],
        |_| {},
        "rate limited",
    )
    .await;
    assert_eq!(fake.bodies().len(), 1);
    assert!(rendered(&bot.metrics)
        .contains("costbot_llm_request_failures_total{kind=\"rate_limited\"} 1\n"));
}

#[tokio::test]
async fn a_server_error_is_the_rules_answer() {
    let (fake, bot, _) = falls_back(
        vec![Reply::Status(
            500,
            json!({ "error": { "message": "internal" } }),
            None,
        )],
        |_| {},
        "HTTP 500",
    )
    .await;
    assert_eq!(fake.bodies().len(), 1);
    assert!(rendered(&bot.metrics)
        .contains("costbot_llm_request_failures_total{kind=\"http_status\"} 1\n"));
}

#[tokio::test]
async fn a_timeout_is_the_rules_answer() {
    let (fake, _, _) = falls_back(
        vec![Reply::Hang],
        |c| c.timeout_secs = 1,
        "no reply within 1 s",
    )
    .await;
    assert_eq!(fake.bodies().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_the_rules_answer() {
    let (fake, _, _) = falls_back(
        vec![Reply::Raw("{\"choices\": [ {\"message\": ")],
        |_| {},
        "a malformed reply",
    )
    .await;
    assert_eq!(fake.bodies().len(), 1);
}

#[tokio::test]
async fn the_client_types_its_errors_and_sends_the_key() {
    use costbot::llm::{ChatMessage, ChatRequest, LlmClient, LlmError, ToolChoice};
    let fake = FakeLlm::start(vec![
        Reply::Status(429, json!({}), Some("7")),
        Reply::Status(503, json!({ "error": "overloaded" }), None),
        Reply::Raw("not json"),
    ])
    .await;
    let mut config = LlmConfig {
        base_url: Some(fake.base_url.clone()),
        model: MODEL.into(),
        api_key: Some(costbot::config::Secret::new("sk-test")),
        ..Default::default()
    };
    let client = LlmClient::new(config.client_settings().unwrap()).unwrap();
    let req = ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        tools: json!([]),
        tool_choice: ToolChoice::Auto,
    };
    match client.chat(&req).await {
        Err(LlmError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.chat(&req).await,
        Err(LlmError::Status { status: 503, .. })
    ));
    assert!(matches!(
        client.chat(&req).await,
        Err(LlmError::Malformed(_))
    ));
    assert_eq!(
        fake.requests()[0].authorization.as_deref(),
        Some("Bearer sk-test")
    );
    // Azure: the deployment in the path, api-version in the query, the key in api-key.
    let azure = FakeLlm::start(vec![text("ok", (1, 1))]).await;
    config.base_url = Some(azure.base_url.trim_end_matches("/v1").to_string());
    config.dialect = Some(costbot::llm::Dialect::Azure);
    let client = LlmClient::new(config.client_settings().unwrap()).unwrap();
    assert_eq!(
        client.chat(&req).await.unwrap().content.as_deref(),
        Some("ok")
    );
    let seen = &azure.requests()[0];
    assert_eq!(seen.api_key.as_deref(), Some("sk-test"));
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
    // The key never prints.
    assert!(!format!("{config:?}").contains("sk-test"));
}

#[tokio::test]
async fn personas_change_the_prose_never_the_figures() {
    let writer = || {
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let sys = msgs[0]["content"].as_str().unwrap();
            let v: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            let t = v["costs"]["total"].as_str().unwrap();
            let prose = if sys.contains("The reader is an executive") {
                format!("Total: ${t}. No action needed.")
            } else if sys.contains("The reader is an engineer") {
                format!("${t} across services; start with the largest row and run `aws ce get-cost-and-usage`.")
            } else {
                format!("We spent ${t}.")
            };
            text_body(&prose, (10, 10))
        }))
    };
    let step = || calls(&[("call_1", "get_cost_and_usage", last_month())], (10, 10));
    let fake = FakeLlm::start(vec![
        step(),
        writer(),
        step(),
        writer(),
        step(),
        writer(),
        step(),
        writer(),
    ])
    .await;
    let bot = bot_with(&fake, |c| {
        c.channel_personas = BTreeMap::from([("slack".to_string(), Persona::Engineer)]);
    })
    .await;
    let exec = ask(
        &bot.agent,
        "p1",
        "What did we spend last month by service? Explain it for my CFO",
    )
    .await;
    let eng = ask(
        &bot.agent,
        "p2",
        "What did we spend last month by service? Put it for the on-call engineer",
    )
    .await;
    assert!(exec.summary.starts_with("Total: $"), "{}", exec.summary);
    assert!(
        eng.summary.contains("aws ce get-cost-and-usage"),
        "{}",
        eng.summary
    );
    assert_ne!(exec.summary, eng.summary);
    for a in [&exec, &eng] {
        assert_eq!(a.llm.as_ref().unwrap().grounding, "grounded");
    }
    assert_eq!(exec.figures, eng.figures);
    assert_eq!(exec.table, eng.table);
    assert_eq!(exec.basis, eng.basis);
    assert_eq!(
        exec.llm.as_ref().unwrap().persona.as_deref(),
        Some("executive")
    );
    // The conversation keeps its persona without being asked again.
    let again = ask(&bot.agent, "p1", "What did we spend last month by service?").await;
    assert!(again.summary.starts_with("Total: $"), "{}", again.summary);
    assert_eq!(
        bot.agent
            .store()
            .conversation_persona(&exec.conversation_id)
            .await
            .unwrap()
            .as_deref(),
        Some("executive")
    );
    // A channel's persona applies when the conversation has none.
    let slack = ask_on(
        &bot.agent,
        "p3",
        "slack",
        "What did we spend last month by service?",
    )
    .await;
    assert!(slack.summary.contains("aws ce"), "{}", slack.summary);
    let sent = fake.bodies();
    assert_eq!(
        sent[0]["messages"][0],
        system(&bot.agent, Some(Persona::Executive))
    );
    assert_eq!(
        sent[2]["messages"][0],
        system(&bot.agent, Some(Persona::Engineer))
    );
    assert_eq!(
        sent[6]["messages"][0],
        system(&bot.agent, Some(Persona::Engineer))
    );
}

#[tokio::test]
async fn served_answers_carry_the_grounding_note_and_metrics_count_it() {
    let fake = FakeLlm::start(vec![
        calls(&[("call_1", "get_cost_and_usage", last_month())], (120, 8)),
        text("We spent $999,999.99 last month.", (130, 9)),
        text("We spent $999,999.99 last month.", (140, 10)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = fake.base_url.clone();
    let s = running::start_with(dir.path(), 100, move |c| {
        c.llm.base_url = Some(base_url);
        c.llm.model = MODEL.into();
    })
    .await;
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{}/v1/inquiries", s.url))
        .bearer_auth(running::SECRET)
        .json(&json!({ "text": "What did we spend last month by service?" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = &body["answer"];
    assert_eq!(answer["llm"]["grounding"], "fallback", "{body}");
    assert_eq!(
        answer["llm"]["unsupported"][0]["said"],
        said("We spent $999,999.99 last month.")
    );
    assert!(!answer["summary"].as_str().unwrap().contains("999,999.99"));
    assert!(!body["text"].as_str().unwrap().contains("999,999.99"));
    assert_eq!(fake.bodies().len(), 3);
    let metrics = client
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "costbot_llm_grounding_failures_total 1\n",
        "costbot_llm_requests_total 3\n",
        "costbot_llm_tokens_total{kind=\"prompt\"} 390\n",
        "costbot_llm_tokens_total{kind=\"completion\"} 27\n",
        "costbot_llm_fallbacks_total 0\n",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    s.stop().await;
}

#[tokio::test]
async fn llama_cpp_style_calls_object_arguments_no_ids_finish_stop() {
    let q = "What did we spend last month by service?";
    let fake = FakeLlm::start(vec![
        Reply::Json(json!({
            "choices": [{ "finish_reason": "stop", "message": { "role": "assistant", "content": "",
                "tool_calls": [{ "type": "function", "function": { "name": "get_cost_and_usage", "arguments": last_month() } }] } }]
        })),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value = serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            text_body(&format!("${}.", v["costs"]["total"].as_str().unwrap()), (1, 1))
        })),
    ])
    .await;
    let bot = bot(&fake).await;
    let v = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let a = ask(&bot.agent, "l1", q).await;
    assert_eq!(a.llm.as_ref().unwrap().grounding, "grounded");
    assert_eq!(a.summary, format!("${}.", total(&v, "costs")));
    // The call got an id of its own, and its result answers that id.
    let sent = fake.bodies();
    assert_eq!(
        sent[1],
        request(
            vec![
                system(&bot.agent, None),
                user(q),
                assistant_calls(&[("call00001", "get_cost_and_usage", &last_month())]),
                tool("call00001", &v),
            ],
            "auto"
        )
    );
}

#[tokio::test]
async fn mistral_gets_any_and_named_tool_results() {
    let q = "What did we spend last month by service?";
    let fake = FakeLlm::start(vec![
        calls(&[("D681PevKs", "get_cost_and_usage", last_month())], (1, 1)),
        Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            text_body(
                &format!("${}.", v["costs"]["total"].as_str().unwrap()),
                (1, 1),
            )
        })),
    ])
    .await;
    let bot = bot_with(&fake, |c| c.dialect = Some(costbot::llm::Dialect::Mistral)).await;
    let v = view(&bot.agent, "get_cost_and_usage", &last_month()).await;
    let a = ask(&bot.agent, "m1", q).await;
    assert_eq!(a.llm.as_ref().unwrap().grounding, "grounded");
    let sent = fake.bodies();
    assert_eq!(
        sent[0],
        request(vec![system(&bot.agent, None), user(q)], "any")
    );
    let mut result = tool("D681PevKs", &v);
    result["name"] = json!("get_cost_and_usage");
    assert_eq!(
        sent[1],
        request(
            vec![
                system(&bot.agent, None),
                user(q),
                assistant_calls(&[("D681PevKs", "get_cost_and_usage", &last_month())]),
                result,
            ],
            "auto"
        )
    );
}

//! The Agent: history in, plan, tool calls, answer out. It sees the
//! [`CostSource`] and [`Retriever`] traits, never an SDK.

pub mod answer;
pub mod ask;
pub mod compose;
mod compose_aws;
mod compose_budgets;
mod compose_commitments;
mod compose_rightsizing;
pub mod error;
pub mod eval;
pub mod grounding;
pub mod inquiry;
pub mod llm;
mod model_turn;
pub mod planner;
pub mod tools;

use chrono::NaiveDate;

pub use answer::{
    Answer, Basis, Cell, Citation, Figure, LlmInfo, Section, Series, SeriesPoint, Table,
    ToolCallRecord,
};
pub use ask::Ask;
pub use error::{ErrorKind, PublicError, TurnError};
pub use inquiry::{ConversationKey, Inquiry, TurnClock};
pub use planner::{Intent, Plan, PlanContext, PlanError, Planner, RulesPlanner, Slots, ToolCall};
pub use tools::{ToolArgs, ToolError, ToolOutput, Tools};

use crate::costs::cache::Today;
use crate::keyed_lock::KeyedLocks;
use crate::store::{NewTurn, Store, StoreError};

/// Why a turn failed, with the operator detail; its public face is
/// [`AgentError::public`].
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The question could not be turned into tool calls; the message says what to try.
    #[error("{message}")]
    Unanswerable {
        message: String,
        suggestions: Vec<String>,
    },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("the conversation store failed: {0}")]
    Store(#[from] StoreError),
    /// No such conversation for this caller (missing, or someone else's).
    #[error("no such conversation for this caller")]
    NotFound,
}

/// Where a turn goes: an existing conversation, or a new one (with the
/// channel's key, when it has one).
struct Target {
    id: String,
    channel_key: Option<String>,
    existing: bool,
}

pub struct Agent {
    tools: Tools,
    planner: Box<dyn Planner>,
    /// The zone "today" is read in; Cost Explorer's days are UTC.
    time_zone: chrono_tz::Tz,
    store: Store,
    today: Today,
    /// Turns in one conversation run one at a time, so each sees the one
    /// before and history never interleaves.
    turns: KeyedLocks,
}

impl Agent {
    pub fn new(tools: Tools, store: Store, today: Today) -> Self {
        Agent {
            tools,
            planner: Box::new(RulesPlanner),
            time_zone: chrono_tz::UTC,
            store,
            today,
            turns: KeyedLocks::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Today by the Agent's own clock (a turn may bring its own).
    pub fn today(&self) -> NaiveDate {
        (self.today)()
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    pub fn with_time_zone(mut self, tz: chrono_tz::Tz) -> Self {
        self.time_zone = tz;
        self
    }

    /// Plans with another planner (an LLM planner) instead of the rules.
    pub fn with_planner(mut self, planner: Box<dyn Planner>) -> Self {
        self.planner = planner;
        self
    }

    fn context(&self, today: NaiveDate) -> PlanContext {
        let source = &self.tools.source;
        let mut ctx = PlanContext::new(today, source.known_accounts());
        ctx.earliest = source.earliest_day(today);
        ctx.tag_values = source.known_tag_values();
        ctx
    }

    /// Answers one turn and records it (question and reply together). On
    /// failure the public error is what is recorded and returned.
    pub async fn handle(&self, inquiry: Inquiry) -> Result<Answer, TurnError> {
        let lock_key = match &inquiry.conversation {
            ConversationKey::New => None,
            ConversationKey::Id(id) => Some(format!("id:{id}")),
            ConversationKey::Channel(k) => Some(format!("key:{k}")),
        };
        let _turn = match &lock_key {
            Some(k) => Some(self.turns.lock(k).await),
            None => None,
        };
        self.turn(&inquiry).await
    }

    async fn resolve(&self, inquiry: &Inquiry) -> Result<Target, AgentError> {
        let fresh = || uuid::Uuid::new_v4().to_string();
        match &inquiry.conversation {
            ConversationKey::New => Ok(Target {
                id: fresh(),
                channel_key: None,
                existing: false,
            }),
            ConversationKey::Id(id) => match self.store.conversation_owner(id).await? {
                Some(scope) if scope == inquiry.scope => Ok(Target {
                    id: id.clone(),
                    channel_key: None,
                    existing: true,
                }),
                _ => Err(AgentError::NotFound),
            },
            ConversationKey::Channel(key) => match self.store.conversation_by_key(key).await? {
                Some((id, scope)) if scope == inquiry.scope => Ok(Target {
                    id,
                    channel_key: Some(key.clone()),
                    existing: true,
                }),
                Some(_) => Err(AgentError::NotFound),
                None => Ok(Target {
                    id: fresh(),
                    channel_key: Some(key.clone()),
                    existing: false,
                }),
            },
        }
    }

    async fn turn(&self, inquiry: &Inquiry) -> Result<Answer, TurnError> {
        let target = self.resolve(inquiry).await.map_err(|e| TurnError {
            conversation_id: None,
            public: e.public(),
        })?;
        let today = inquiry
            .clock
            .map(|c| c.today)
            .unwrap_or_else(|| self.today());
        let outcome = self.answer(inquiry, &target, today).await;
        let mut persona = None;
        let mut usage = None;
        let (reply, answer_json, slots, result) = match outcome {
            Ok(t) => {
                // Only answers from tools are kept for "how did you get that?"; help and explain are not.
                let stored = t
                    .keep_answer
                    .then(|| serde_json::to_value(&t.answer).ok())
                    .flatten();
                persona = t.persona;
                usage = t.answer.llm.as_ref().map(|l| crate::llm::Usage {
                    prompt_tokens: l.prompt_tokens,
                    completion_tokens: l.completion_tokens,
                });
                (t.answer.summary.clone(), stored, t.slots, Ok(t.answer))
            }
            Err(e) => {
                let public = e.public();
                tracing::info!(conversation = %target.id, code = public.code, error = %e, "turn not answered");
                (public.message.clone(), None, None, Err(public))
            }
        };
        let recorded = self
            .store
            .record_turn(&NewTurn {
                conversation_id: &target.id,
                channel_key: target.channel_key.as_deref(),
                scope: &inquiry.scope,
                channel: &inquiry.channel,
                author: &inquiry.author,
                question: &inquiry.text,
                slots: slots.as_ref(),
                reply: &reply,
                answer: answer_json.as_ref(),
                persona: persona.map(|p| p.as_str()),
                usage,
            })
            .await;
        let conversation_id = match recorded {
            Ok(r) => r.conversation_id,
            Err(StoreError::NotOwner(_)) => {
                return Err(TurnError {
                    conversation_id: None,
                    public: AgentError::NotFound.public(),
                })
            }
            Err(e) => {
                return Err(TurnError {
                    conversation_id: target.existing.then(|| target.id.clone()),
                    public: AgentError::Store(e).public(),
                })
            }
        };
        match result {
            Ok(mut answer) => {
                answer.conversation_id = conversation_id;
                Ok(answer)
            }
            Err(public) => Err(TurnError {
                conversation_id: Some(conversation_id),
                public,
            }),
        }
    }

    /// Plans and runs a turn: with the model when there is one (the rules
    /// planner answers when it cannot), else with the rules planner.
    async fn answer(
        &self,
        inquiry: &Inquiry,
        target: &Target,
        today: NaiveDate,
    ) -> Result<Turned, AgentError> {
        let previous: Option<Slots> = if target.existing {
            self.store
                .last_slots(&target.id)
                .await?
                .and_then(|v| serde_json::from_value(v).ok())
        } else {
            None
        };
        // Names from Organizations (cached for a day) before the question is read.
        let listed = self.tools.source.refresh_accounts().await;
        let ctx = self.context(today);
        let mut turned = self
            .answer_with(inquiry, target, today, previous, ctx)
            .await?;
        if let (Some(l), true) = (listed, turned.keep_answer) {
            turned.answer.tool_calls.push(ToolCallRecord {
                name: "organization_accounts".into(),
                arguments: serde_json::json!({}),
                queries: vec![serde_json::json!({ "api": "ListAccounts", "query": l.query, "free_requests": l.requests })],
                cost_explorer_requests: 0,
            });
        }
        Ok(turned)
    }

    async fn answer_with(
        &self,
        inquiry: &Inquiry,
        target: &Target,
        today: NaiveDate,
        previous: Option<Slots>,
        ctx: PlanContext,
    ) -> Result<Turned, AgentError> {
        let planned = self
            .planner
            .plan(&inquiry.text, previous.as_ref(), &ctx)
            .await;
        let slots_of = |p: &Plan| serde_json::to_value(&p.slots).ok();
        let asked = llm::Persona::asked(&inquiry.text);
        // Help and "how did you get that?" are answered from the record, not
        // by the model; "explain it for my CFO" is for the model.
        let meta = asked.is_none()
            && matches!(&planned, Ok(p) if matches!(p.slots.intent, Intent::Help | Intent::Explain));
        let mut unavailable = None;
        if let (Some(model), false) = (self.planner.model(), meta) {
            match self
                .model_turn(model, inquiry, target, today, &ctx, asked)
                .await?
            {
                Ok(answer) => {
                    return Ok(Turned {
                        answer,
                        // The rules' reading, for a follow-up the rules may have to answer.
                        slots: planned
                            .as_ref()
                            .ok()
                            .filter(|p| !matches!(p.slots.intent, Intent::Help | Intent::Explain))
                            .and_then(slots_of),
                        keep_answer: true,
                        persona: asked,
                    });
                }
                Err(u) => unavailable = Some((u.note, u.info)),
            }
        }
        let plan = planned.map_err(|e| AgentError::Unanswerable {
            message: match &unavailable {
                Some((note, ..)) => format!("{note} {e}"),
                None => e.to_string(),
            },
            suggestions: e.suggestions(today),
        })?;
        let mut answer = match plan.slots.intent {
            Intent::Help => help(),
            Intent::Explain => {
                if target.existing {
                    self.explain(&target.id).await?
                } else {
                    explain_nothing()
                }
            }
            _ => self.run(&plan, today).await?,
        };
        // Asked for, a persona stays with the conversation for when the model is back.
        let persona = unavailable.is_some().then_some(asked).flatten();
        if let Some((note, info)) = unavailable {
            answer.notes.insert(0, note);
            answer.llm = Some(info);
        }
        // Explain and help do not replace the slots a follow-up should build on.
        let keep = !matches!(plan.slots.intent, Intent::Help | Intent::Explain);
        Ok(Turned {
            answer,
            slots: keep.then(|| slots_of(&plan)).flatten(),
            keep_answer: keep,
            persona,
        })
    }

    /// Runs the plan's tool calls and composes the answer.
    pub async fn run(&self, plan: &Plan, today: NaiveDate) -> Result<Answer, AgentError> {
        let mut outputs = Vec::new();
        let mut records = Vec::new();
        let mut beside_failed = Vec::new();
        for (i, call) in plan.calls.iter().enumerate() {
            let out = match self.tools.call(&call.name, &call.arguments, today).await {
                Ok(out) => out,
                // AWS's own analysis beside costbot's answer: its failure (no
                // permission yet, throttling) leaves costbot's answer standing.
                Err(e) if i > 0 && call.name.starts_with("aws_") => {
                    let public = AgentError::Tool(e).public();
                    beside_failed.push(format!(
                        "AWS's own {} could not be shown: {}",
                        match call.name.as_str() {
                            "aws_forecast" => "forecast",
                            "aws_commitment_recommendations" => "purchase recommendation",
                            "aws_commitment_usage" => "commitment coverage or utilization",
                            "aws_budgets" => "budgets (AWS Budgets)",
                            _ => "anomaly findings",
                        },
                        public.message
                    ));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            records.push(record_call(&call.name, call.arguments.clone(), &out));
            outputs.push(out);
        }
        // A cost answer with a clear mover offers the guides for that service.
        if let Some(ToolOutput::Comparison {
            movers, current, ..
        }) = outputs.first()
        {
            let dims = &current.query.group_by;
            let service = match (plan.slots.services.first(), dims.first(), movers.first()) {
                (Some(m), _, _) => m.services.first().cloned(),
                (None, Some(crate::costs::Dimension::Service), Some(top)) => {
                    top.key.first().cloned()
                }
                _ => None,
            };
            if let Some(service) = service {
                let args = serde_json::json!({ "query": format!("reduce {} cost", crate::language::services::short_name(&service)), "services": [service], "k": 2 });
                if let Ok(out) = self.tools.call("search_guides", &args, today).await {
                    records.push(ToolCallRecord {
                        name: "search_guides".into(),
                        arguments: args,
                        queries: vec![],
                        cost_explorer_requests: 0,
                    });
                    outputs.push(out);
                }
            }
        }
        let mut answer = self.finish(
            &Ask::from_slots(&plan.slots),
            &outputs,
            records,
            &plan.readings,
            today,
        );
        answer.notes.extend(beside_failed);
        Ok(answer)
    }

    /// Composes the answer from tool outputs, with the notes every answer
    /// carries (UTC days, sample data, how the question was read).
    pub(crate) fn finish(
        &self,
        ask: &Ask,
        outputs: &[ToolOutput],
        records: Vec<ToolCallRecord>,
        readings: &[String],
        today: NaiveDate,
    ) -> Answer {
        let labels = compose::Labels {
            accounts: self.tools.source.known_accounts(),
        };
        let mut answer =
            compose::compose(ask, outputs, &labels, self.tools.source.is_sample(), today);
        answer.tool_calls = records;
        let results: Vec<&crate::costs::CostResult> =
            outputs.iter().flat_map(|o| o.results()).collect();
        if let Some(end) = results.iter().filter_map(|r| r.end_clamped_to).min() {
            answer.notes.insert(0, format!(
                "In UTC, which is how Cost Explorer counts days, {} has not begun yet: the figures end on {}.",
                end.format("%-d %B %Y"),
                (end - chrono::Duration::days(1)).format("%-d %B %Y")
            ));
        }
        if self.time_zone != chrono_tz::UTC && results.iter().any(|r| r.days_are_utc) {
            answer.notes.push(format!(
                "Cost Explorer's days are UTC days; \"today\" here follows {}.",
                self.time_zone.name()
            ));
        }
        for reading in readings.iter().rev() {
            answer.notes.insert(0, reading.clone());
        }
        if self.tools.source.is_sample() {
            answer.notes.insert(0, "These numbers are costbot's built-in SAMPLE organization, not your AWS account. Set COSTBOT_SOURCE=explorer to use Cost Explorer.".into());
        }
        answer
    }

    async fn explain(&self, conversation_id: &str) -> Result<Answer, AgentError> {
        let last: Option<Answer> = self
            .store
            .last_answer(conversation_id)
            .await?
            .and_then(|v| serde_json::from_value(v).ok());
        let mut a = Answer::default();
        match last {
            None => return Ok(explain_nothing()),
            Some(prev) => {
                let requests: u32 = prev
                    .tool_calls
                    .iter()
                    .map(|c| c.cost_explorer_requests)
                    .sum();
                a.summary = format!(
                    "I made {} tool call{} for the last answer, which took {} billable Cost Explorer request{} (${:.2}).",
                    prev.tool_calls.len(),
                    if prev.tool_calls.len() == 1 { "" } else { "s" },
                    requests,
                    if requests == 1 { "" } else { "s" },
                    requests as f64 * 0.01
                );
                for c in &prev.tool_calls {
                    a.details.push(format!("{}({})", c.name, c.arguments));
                    for q in &c.queries {
                        // AWS's own analyses name their API; cost queries are GetCostAndUsage.
                        match (q.get("api").and_then(|v| v.as_str()), q.get("query")) {
                            (Some(api), Some(query)) => {
                                // Calls that page say how many requests they took; Budgets
                                // and Organizations say theirs are free of charge.
                                let s = |n: u64| if n == 1 { "" } else { "s" };
                                let pages = match (
                                    q.get("free_requests").and_then(|v| v.as_u64()),
                                    q.get("requests").and_then(|v| v.as_u64()),
                                ) {
                                    (Some(n), _) => {
                                        format!(" ({n} request{}, free of charge)", s(n))
                                    }
                                    (None, Some(n)) => format!(" ({n} request{})", s(n)),
                                    (None, None) => String::new(),
                                };
                                a.details.push(format!("  {api} query: {query}{pages}"))
                            }
                            _ => a.details.push(format!("  GetCostAndUsage query: {q}")),
                        }
                    }
                }
                if let Some(b) = &prev.basis {
                    a.details.push(b.line());
                }
                if let Some(l) = &prev.llm {
                    a.details.push(format!(
                        "Language model {}: {} request{}, {} prompt and {} completion tokens; its figures were {}.",
                        l.model,
                        l.requests,
                        if l.requests == 1 { "" } else { "s" },
                        l.prompt_tokens,
                        l.completion_tokens,
                        match l.grounding.as_str() {
                            "grounded" => "all found in the tool results",
                            "corrected" => "found in the tool results after one correction",
                            "fallback" => "not all in the tool results, so the standard summary was shown",
                            _ => "not used: the rules planner answered",
                        }
                    ));
                }
                a.tool_calls = prev.tool_calls.clone();
            }
        }
        Ok(a)
    }
}

/// A turn's outcome before it is recorded.
pub(crate) struct Turned {
    answer: Answer,
    /// What a follow-up builds on (None for help and explain).
    slots: Option<serde_json::Value>,
    /// Kept for "how did you get that?" (answers from tools).
    keep_answer: bool,
    /// A persona this turn asked for, to keep with the conversation.
    persona: Option<llm::Persona>,
}

/// A tool call as made, for "how did you get that?".
pub(crate) fn record_call(
    name: &str,
    arguments: serde_json::Value,
    out: &ToolOutput,
) -> ToolCallRecord {
    ToolCallRecord {
        name: name.to_string(),
        arguments,
        queries: out.queries(),
        cost_explorer_requests: out.requests(),
    }
}

/// [`record_call`] for typed arguments (as the model's calls are, once valid).
pub(crate) fn record(args: &ToolArgs, out: &ToolOutput) -> ToolCallRecord {
    record_call(args.name(), args.to_value(), out)
}

fn explain_nothing() -> Answer {
    Answer {
        summary: "There is no earlier answer in this conversation to explain yet.".into(),
        ..Default::default()
    }
}

fn help() -> Answer {
    Answer {
        summary: "I answer questions about your AWS bill with Cost Explorer's own numbers, and point to the optimization guide that fits.".into(),
        details: planner::EXAMPLES.iter().map(|e| format!("Try: \"{e}\"")).collect(),
        ..Default::default()
    }
}

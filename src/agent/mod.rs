//! The Agent: history in, plan, tool calls, answer out. It sees the
//! [`CostSource`] and [`Retriever`] traits, never an SDK.

pub mod answer;
pub mod ask;
pub mod compose;
pub mod error;
pub mod eval;
pub mod grounding;
pub mod inquiry;
pub mod planner;
pub mod tools;

use chrono::NaiveDate;

pub use answer::{
    Answer, Basis, Cell, Citation, Figure, Section, Series, SeriesPoint, Table, ToolCallRecord,
};
pub use ask::Ask;
pub use error::{ErrorKind, PublicError, TurnError};
pub use inquiry::{ConversationKey, Inquiry, TurnClock};
pub use planner::{Intent, Plan, PlanContext, PlanError, Planner, RulesPlanner, Slots, ToolCall};
pub use tools::{ToolError, ToolOutput, Tools};

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
        let (reply, answer_json, slots, result) = match outcome {
            Ok((answer, slots)) => {
                // Only answers from tools are kept for "how did you get that?"; help and explain are not.
                let stored = slots
                    .is_some()
                    .then(|| serde_json::to_value(&answer).ok())
                    .flatten();
                (answer.summary.clone(), stored, slots, Ok(answer))
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

    /// Plans and runs a turn; returns the answer and the slots a follow-up
    /// should build on (None for help and explain).
    async fn answer(
        &self,
        inquiry: &Inquiry,
        target: &Target,
        today: NaiveDate,
    ) -> Result<(Answer, Option<serde_json::Value>), AgentError> {
        let previous: Option<Slots> = if target.existing {
            self.store
                .last_slots(&target.id)
                .await?
                .and_then(|v| serde_json::from_value(v).ok())
        } else {
            None
        };
        let plan = self
            .planner
            .plan(&inquiry.text, previous.as_ref(), &self.context(today))
            .await
            .map_err(|e| AgentError::Unanswerable {
                message: e.to_string(),
                suggestions: e.suggestions(today),
            })?;
        let answer = match plan.slots.intent {
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
        // Explain and help do not replace the slots a follow-up should build on.
        let keep_slots = !matches!(plan.slots.intent, Intent::Help | Intent::Explain);
        let slots = keep_slots
            .then(|| serde_json::to_value(&plan.slots).ok())
            .flatten();
        Ok((answer, slots))
    }

    /// Runs the plan's tool calls and composes the answer.
    pub async fn run(&self, plan: &Plan, today: NaiveDate) -> Result<Answer, AgentError> {
        let mut outputs = Vec::new();
        let mut records = Vec::new();
        for call in &plan.calls {
            let out = self.tools.call(&call.name, &call.arguments, today).await?;
            records.push(ToolCallRecord {
                name: call.name.clone(),
                arguments: call.arguments.clone(),
                queries: out
                    .results()
                    .iter()
                    .map(|r| serde_json::to_value(&r.query).unwrap_or_default())
                    .collect(),
                cost_explorer_requests: out.results().iter().map(|r| r.requests).sum(),
            });
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
        let labels = compose::Labels {
            accounts: self.tools.source.known_accounts(),
        };
        let mut answer = compose::compose(
            &Ask::from_slots(&plan.slots),
            &outputs,
            &labels,
            self.tools.source.is_sample(),
            today,
        );
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
        for reading in plan.readings.iter().rev() {
            answer.notes.insert(0, reading.clone());
        }
        if self.tools.source.is_sample() {
            answer.notes.insert(0, "These numbers are costbot's built-in SAMPLE organization, not your AWS account. Set COSTBOT_SOURCE=explorer to use Cost Explorer.".into());
        }
        Ok(answer)
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
                        a.details.push(format!("  GetCostAndUsage query: {q}"));
                    }
                }
                if let Some(b) = &prev.basis {
                    a.details.push(b.line());
                }
                a.tool_calls = prev.tool_calls.clone();
            }
        }
        Ok(a)
    }
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

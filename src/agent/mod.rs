//! The Agent: history in, plan, tool calls, answer out. It sees the
//! [`CostSource`] and [`Retriever`] traits, never an SDK.

pub mod answer;
pub mod compose;
pub mod planner;
pub mod tools;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use answer::{Answer, Basis, Citation, Figure, Table, ToolCallRecord};
pub use planner::{Intent, Plan, PlanContext, PlanError, Slots, ToolCall};
pub use tools::{ToolError, ToolOutput, Tools};

use crate::costs::cache::Today;
use crate::costs::CostError;
use crate::store::{Role, Store, StoreError};

/// A question from any channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inquiry {
    /// Continue this conversation; a new one is started when None.
    pub conversation_id: Option<String>,
    /// Who asks (token name, Slack user, "cli").
    pub user: String,
    /// Which surface it came from ("cli", "webhook", ...).
    pub channel: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The question could not be turned into tool calls; the message says what to try.
    #[error("{message}")]
    Unanswerable {
        message: String,
        suggestions: Vec<String>,
        conversation_id: String,
    },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("the conversation store failed: {0}")]
    Store(#[from] StoreError),
    #[error("conversation {0} was started by someone else")]
    NotYours(String),
}

impl AgentError {
    /// Whether trying again later could help (throttling, a passing outage).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AgentError::Tool(ToolError::Cost(CostError::Throttled))
                | AgentError::Tool(ToolError::Cost(CostError::Service(_)))
        )
    }
}

pub struct Agent {
    tools: Tools,
    store: Store,
    today: Today,
}

impl Agent {
    pub fn new(tools: Tools, store: Store, today: Today) -> Self {
        Agent {
            tools,
            store,
            today,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn today(&self) -> NaiveDate {
        (self.today)()
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    fn context(&self) -> PlanContext {
        PlanContext {
            today: self.today(),
            accounts: self.tools.source.known_accounts(),
        }
    }

    pub async fn handle(&self, inquiry: Inquiry) -> Result<Answer, AgentError> {
        let id = inquiry
            .conversation_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        match self
            .store
            .ensure_conversation(&id, &inquiry.user, &inquiry.channel)
            .await
        {
            Err(StoreError::NotOwner(c)) => return Err(AgentError::NotYours(c)),
            other => other?,
        }
        let previous: Option<Slots> = self
            .store
            .last_slots(&id)
            .await?
            .and_then(|v| serde_json::from_value(v).ok());
        let ctx = self.context();
        let plan = match planner::plan(&inquiry.text, previous.as_ref(), &ctx) {
            Ok(p) => p,
            Err(e) => {
                let suggestions = match &e {
                    PlanError::UnknownService(u) => u
                        .suggestions
                        .iter()
                        .map(|s| format!("Ask about '{s}'"))
                        .collect(),
                    PlanError::Unanswerable { .. } | PlanError::UnreadableDate(_) => {
                        planner::EXAMPLES.iter().map(|s| s.to_string()).collect()
                    }
                };
                self.record_failure(&id, &inquiry, &e.to_string()).await?;
                return Err(AgentError::Unanswerable {
                    message: e.to_string(),
                    suggestions,
                    conversation_id: id,
                });
            }
        };
        let mut answer = match plan.slots.intent {
            Intent::Help => help(),
            Intent::Explain => self.explain(&id).await?,
            _ => match self.run(&plan).await {
                Ok(a) => a,
                Err(e) => {
                    self.record_failure(&id, &inquiry, &e.to_string()).await?;
                    return Err(e);
                }
            },
        };
        answer.conversation_id = id.clone();
        let slots = serde_json::to_value(&plan.slots).ok();
        // Explain and help do not replace the slots a follow-up should build on.
        let keep_slots = !matches!(plan.slots.intent, Intent::Help | Intent::Explain);
        self.store
            .append_message(
                &id,
                Role::User,
                Some(&inquiry.user),
                &inquiry.text,
                if keep_slots { slots.as_ref() } else { None },
                None,
            )
            .await?;
        let answer_json = serde_json::to_value(&answer).ok();
        self.store
            .append_message(
                &id,
                Role::Assistant,
                None,
                &answer.summary,
                None,
                if plan.slots.intent == Intent::Explain {
                    None
                } else {
                    answer_json.as_ref()
                },
            )
            .await?;
        Ok(answer)
    }

    /// Keeps a question that could not be answered, and why, in the history.
    async fn record_failure(
        &self,
        id: &str,
        inquiry: &Inquiry,
        why: &str,
    ) -> Result<(), StoreError> {
        self.store
            .append_message(
                id,
                Role::User,
                Some(&inquiry.user),
                &inquiry.text,
                None,
                None,
            )
            .await?;
        self.store
            .append_message(id, Role::Assistant, None, why, None, None)
            .await?;
        Ok(())
    }

    /// Runs the plan's tool calls and composes the answer.
    pub async fn run(&self, plan: &Plan) -> Result<Answer, AgentError> {
        let today = self.today();
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
                let args = serde_json::json!({ "query": format!("reduce {} cost", crate::costs::services::short_name(&service)), "services": [service], "k": 2 });
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
            &plan.slots,
            &outputs,
            &labels,
            self.tools.source.is_sample(),
            today,
        );
        answer.tool_calls = records;
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
            None => {
                a.summary = "There is no earlier answer in this conversation to explain yet.".into()
            }
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

fn help() -> Answer {
    Answer {
        summary: "I answer questions about your AWS bill with Cost Explorer's own numbers, and point to the optimization guide that fits.".into(),
        details: planner::EXAMPLES.iter().map(|e| format!("Try: \"{e}\"")).collect(),
        ..Default::default()
    }
}

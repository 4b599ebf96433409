//! The LLM planner: an OpenAI-compatible model calls the same tools, with
//! the same JSON Schemas, as the rules planner, and writes the prose around
//! an answer composed from the tool outputs. Every figure in that prose is
//! checked against this turn's results ([`crate::agent::grounding`]); the
//! rules planner answers whenever the model cannot.

mod persona;
pub mod prompt;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::{json, Value};

pub use persona::Persona;

use super::answer::{Answer, LlmInfo, ToolCallRecord, UnsupportedFigure};
use super::grounding::{self, Facts};
use super::planner::{Plan, PlanContext, PlanError, Planner, RulesPlanner, Slots};
use super::tools::{self, ToolArgs, ToolError, ToolOutput, Tools};
use crate::config::LlmConfig;
use crate::llm::{ChatMessage, ChatRequest, Completion, LlmClient, LlmError, ToolChoice, Usage};
use crate::metrics::LlmMetrics;
use crate::store::Message;

/// Why the model did not answer a turn; the rules planner answers instead.
#[derive(Debug, thiserror::Error)]
pub enum ModelFailure {
    #[error(transparent)]
    Unavailable(#[from] LlmError),
    #[error("it sent tool arguments that are not valid twice: {0}")]
    InvalidArguments(String),
    #[error("it answered without calling a tool")]
    NoToolCall,
    #[error("it asked for more than {0} rounds of tool calls")]
    TooManySteps(u32),
    /// A tool failed in a way a correction cannot fix (the cost source is down).
    #[error(transparent)]
    Tool(ToolError),
}

impl ModelFailure {
    /// The note on the rules planner's answer.
    pub fn note(&self) -> String {
        let why = match self {
            ModelFailure::Unavailable(e) => e.short(),
            ModelFailure::InvalidArguments(_) => "its tool arguments were not valid".into(),
            ModelFailure::NoToolCall => "it answered without looking at the data".into(),
            ModelFailure::TooManySteps(_) => "it did not finish within the step limit".into(),
            ModelFailure::Tool(_) => "a tool failed".into(),
        };
        format!(
            "The language model was unavailable ({why}); this answer comes from the rules planner."
        )
    }
}

/// A turn the model could not answer, with what it cost so far.
#[derive(Debug)]
pub struct Unanswered {
    pub failure: ModelFailure,
    pub usage: Usage,
    pub requests: u32,
}

/// One turn as the model sees it.
pub struct ModelTurn<'a> {
    pub question: &'a str,
    /// The conversation so far (store messages, oldest first).
    pub history: &'a [Message],
    pub persona: Option<Persona>,
    pub today: NaiveDate,
    pub context: &'a PlanContext,
    pub tools: &'a Tools,
}

/// Composes the answer from the turn's tool calls and outputs (the Agent's
/// composer), so the model never supplies a figure, table or basis.
pub type Compose<'a> =
    dyn Fn(&[ToolArgs], &[ToolOutput], Vec<ToolCallRecord>) -> Answer + Send + Sync + 'a;

pub struct LlmPlanner {
    client: LlmClient,
    rules: RulesPlanner,
    max_tool_steps: u32,
    max_history_tokens: usize,
    default_persona: Option<Persona>,
    channel_personas: BTreeMap<String, Persona>,
    metrics: Arc<LlmMetrics>,
}

#[async_trait]
impl Planner for LlmPlanner {
    /// The rules planner's plan: slots for follow-ups, help and explain, and
    /// the answer when the model is unavailable.
    async fn plan(
        &self,
        text: &str,
        previous: Option<&Slots>,
        ctx: &PlanContext,
    ) -> Result<Plan, PlanError> {
        self.rules.plan(text, previous, ctx).await
    }

    fn model(&self) -> Option<&LlmPlanner> {
        Some(self)
    }
}

/// What the loop gathered.
struct Gathered {
    args: Vec<ToolArgs>,
    outputs: Vec<ToolOutput>,
    records: Vec<ToolCallRecord>,
    facts: Facts,
    messages: Vec<ChatMessage>,
    prose: String,
}

impl LlmPlanner {
    pub fn new(
        config: &LlmConfig,
        metrics: Arc<LlmMetrics>,
    ) -> Result<Option<LlmPlanner>, LlmError> {
        let Some(settings) = config.client_settings() else {
            return Ok(None);
        };
        Ok(Some(LlmPlanner {
            client: LlmClient::new(settings)?,
            rules: RulesPlanner,
            max_tool_steps: config.max_tool_steps,
            max_history_tokens: config.max_history_tokens,
            default_persona: config.persona,
            channel_personas: config.channel_personas.clone(),
            metrics,
        }))
    }

    pub fn model_name(&self) -> &str {
        &self.client.settings().model
    }

    pub fn metrics(&self) -> &Arc<LlmMetrics> {
        &self.metrics
    }

    /// The persona for a turn: asked for now, else the conversation's, else
    /// the channel's, else the default.
    pub fn persona(
        &self,
        asked: Option<Persona>,
        stored: Option<Persona>,
        channel: &str,
    ) -> Option<Persona> {
        asked
            .or(stored)
            .or_else(|| self.channel_personas.get(channel).copied())
            .or(self.default_persona)
    }

    /// Runs the turn with the model. The answer's figures, table and basis
    /// come from `compose`; the model's text becomes the summary only if
    /// every figure in it is grounded.
    pub async fn converse(
        &self,
        turn: &ModelTurn<'_>,
        compose: &Compose<'_>,
    ) -> Result<Answer, Unanswered> {
        let mut usage = Usage::default();
        let mut requests = 0u32;
        let g = match self.gather(turn, &mut usage, &mut requests).await {
            Ok(g) => g,
            Err(failure) => {
                return Err(Unanswered {
                    failure,
                    usage,
                    requests,
                })
            }
        };
        let mut answer = compose(&g.args, &g.outputs, g.records);
        let mut facts = g.facts;
        facts.add_answer(&answer);
        let mut info = LlmInfo {
            model: self.client.settings().model.clone(),
            persona: turn.persona.map(|p| p.as_str().to_string()),
            grounding: "grounded".into(),
            prompt_tokens: 0,
            completion_tokens: 0,
            requests: 0,
            unsupported: Vec::new(),
        };
        let verdict = grounding::check(&g.prose, &facts);
        if !is_prose(&g.prose) {
            // Small models asked for words sometimes write a tool call as text.
            self.metrics.grounding_failure();
            info.grounding = "fallback".into();
            answer.notes.push("The language model wrote a tool call instead of an answer, so this is costbot's standard summary.".into());
        } else if verdict.is_grounded() {
            answer.summary = g.prose;
        } else {
            // One correction naming the figures, then the deterministic summary.
            let mut said: Vec<String> = Vec::new();
            for u in &verdict.unsupported {
                if !said.contains(&u.said) {
                    said.push(u.said.clone());
                }
            }
            let mut messages = g.messages;
            messages.push(ChatMessage::assistant(g.prose));
            messages.push(ChatMessage::user(format!(
                "Your answer has figures that no tool result of this turn contains: {}. Rewrite it using only figures copied exactly from the tool results above.",
                said.join(", ")
            )));
            let retried = self
                .request(messages, ToolChoice::None, &mut usage, &mut requests)
                .await;
            let last = match retried {
                Ok(c) if c.tool_calls.is_empty() && c.content.is_some() => {
                    let prose = c.content.unwrap_or_default();
                    let v = grounding::check(&prose, &facts);
                    if v.is_grounded() {
                        answer.summary = prose;
                        info.grounding = "corrected".into();
                        None
                    } else {
                        Some(v.unsupported)
                    }
                }
                _ => Some(verdict.unsupported),
            };
            if let Some(unsupported) = last {
                self.metrics.grounding_failure();
                info.grounding = "fallback".into();
                info.unsupported = unsupported
                    .into_iter()
                    .map(|u| UnsupportedFigure {
                        said: u.said,
                        reason: u.reason,
                    })
                    .collect();
                answer.notes.push("The language model's wording named figures that no tool returned, so this is costbot's standard summary.".into());
            }
        }
        info.prompt_tokens = usage.prompt_tokens;
        info.completion_tokens = usage.completion_tokens;
        info.requests = requests;
        answer.llm = Some(info);
        Ok(answer)
    }

    /// Model → tool calls → results → model, until the model writes text.
    async fn gather(
        &self,
        turn: &ModelTurn<'_>,
        usage: &mut Usage,
        requests: &mut u32,
    ) -> Result<Gathered, ModelFailure> {
        let ctx = turn.context;
        let mut messages = vec![ChatMessage::system(prompt::system(
            turn.today,
            ctx.earliest,
            &ctx.accounts,
            turn.persona,
        ))];
        messages.extend(prompt::history(
            &prompt::turns(turn.history),
            self.max_history_tokens,
        ));
        messages.push(ChatMessage::user(turn.question));
        let mut g = Gathered {
            args: Vec::new(),
            outputs: Vec::new(),
            records: Vec::new(),
            facts: Facts::new(),
            messages: Vec::new(),
            prose: String::new(),
        };
        let mut corrected = false;
        for step in 0..=self.max_tool_steps {
            // The first reply must look at the data; the last must answer.
            let choice = if step == 0 {
                ToolChoice::Required
            } else if step == self.max_tool_steps {
                ToolChoice::None
            } else {
                ToolChoice::Auto
            };
            let c = self
                .request(messages.clone(), choice, usage, requests)
                .await?;
            if c.tool_calls.is_empty() {
                if g.outputs.is_empty() {
                    return Err(ModelFailure::NoToolCall);
                }
                g.prose = c.content.ok_or_else(|| {
                    LlmError::Malformed("a reply with neither text nor tool calls".into())
                })?;
                g.messages = messages;
                return Ok(g);
            }
            if step == self.max_tool_steps {
                return Err(ModelFailure::TooManySteps(self.max_tool_steps));
            }
            messages.push(ChatMessage::assistant_calls(
                c.content,
                c.tool_calls.clone(),
            ));
            let mut invalid = Vec::new();
            for call in &c.tool_calls {
                let result = match schema::validate(&call.name, &call.arguments) {
                    Err(message) => Err(message),
                    Ok(args) => match turn.tools.run(&args, turn.today).await {
                        Ok(out) => Ok((args, out)),
                        // The model asked for what the data cannot give: it may ask again.
                        Err(ToolError::Cost(e)) if e.is_request_fault() => Err(e.to_string()),
                        Err(e @ (ToolError::Cost(_) | ToolError::Retrieval(_))) => {
                            return Err(ModelFailure::Tool(e))
                        }
                        Err(e) => Err(e.to_string()),
                    },
                };
                match result {
                    Ok((args, out)) => {
                        let view = out.compact();
                        g.facts.add_tool_view(&view);
                        messages.push(ChatMessage::tool_result(call, view.to_string()));
                        g.records.push(super::record(&args, &out));
                        g.args.push(args);
                        g.outputs.push(out);
                    }
                    Err(message) => {
                        messages.push(ChatMessage::tool_result(
                            call,
                            json!({ "error": message }).to_string(),
                        ));
                        invalid.push(format!("{}: {message}", call.name));
                    }
                }
            }
            if !invalid.is_empty() {
                if corrected {
                    return Err(ModelFailure::InvalidArguments(invalid.join("; ")));
                }
                corrected = true;
                messages.push(ChatMessage::user(format!(
                    "These tool calls were not run because their arguments are not valid: {}. Call the tools again with arguments that follow their JSON Schemas.",
                    invalid.join("; ")
                )));
            }
        }
        Err(ModelFailure::TooManySteps(self.max_tool_steps))
    }

    async fn request(
        &self,
        messages: Vec<ChatMessage>,
        tool_choice: ToolChoice,
        usage: &mut Usage,
        requests: &mut u32,
    ) -> Result<Completion, LlmError> {
        let req = ChatRequest {
            messages,
            tools: tool_definitions(),
            tool_choice,
        };
        let started = Instant::now();
        let result = self.client.chat(&req).await;
        *requests += 1;
        self.metrics.request(
            started.elapsed(),
            result.as_ref().map(|c| c.usage).map_err(|e| e.kind()),
        );
        if let Ok(c) = &result {
            *usage += c.usage;
        }
        result
    }
}

/// Whether a final reply reads as an answer: not empty, not a JSON value,
/// not a tool call in a chat template's markup.
fn is_prose(text: &str) -> bool {
    let t = text.trim();
    let call_as_text = serde_json::from_str::<Value>(t).is_ok()
        || t.contains("<tool_call>")
        || (t.starts_with('{') && t.contains("\"arguments\""));
    !t.is_empty() && !call_as_text
}

/// The tools exactly as the rules planner and the tests know them.
pub fn tool_definitions() -> Value {
    tools::definitions()
}

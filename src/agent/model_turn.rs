//! The Agent's side of a turn a language model answers: it gathers the
//! history and persona, lends the model the tools and the composer, and
//! says why the rules planner must answer when the model cannot.

use chrono::NaiveDate;

use super::answer::{self, Answer, LlmInfo, ToolCallRecord};
use super::llm::{LlmPlanner, ModelFailure, ModelTurn, Persona, Unanswered};
use super::{Agent, AgentError, Ask, Inquiry, PlanContext, Target, ToolArgs, ToolOutput};

/// The model could not answer: the note for the rules planner's answer and
/// what the attempt cost.
pub(super) struct Unavailable {
    pub note: String,
    pub info: LlmInfo,
}

impl Agent {
    /// Runs the turn with the model. A tool failure no correction can fix
    /// (the cost source is down) is the turn's error, as it would be for the
    /// rules planner.
    pub(super) async fn model_turn(
        &self,
        model: &LlmPlanner,
        inquiry: &Inquiry,
        target: &Target,
        today: NaiveDate,
        ctx: &PlanContext,
        asked: Option<Persona>,
    ) -> Result<Result<Answer, Unavailable>, AgentError> {
        let (history, stored) = if target.existing {
            (
                self.store.messages(&target.id).await?,
                self.store
                    .conversation_persona(&target.id)
                    .await?
                    .and_then(|p| p.parse().ok()),
            )
        } else {
            (Vec::new(), None)
        };
        let turn = ModelTurn {
            question: &inquiry.text,
            history: &history,
            persona: model.persona(asked, stored, &inquiry.channel),
            today,
            context: ctx,
            tools: &self.tools,
        };
        let compose = |args: &[ToolArgs], outputs: &[ToolOutput], records| {
            self.compose_calls(args, outputs, records, today)
        };
        match model.converse(&turn, &compose).await {
            Ok(answer) => Ok(Ok(answer)),
            Err(Unanswered {
                failure: ModelFailure::Tool(e),
                ..
            }) => Err(e.into()),
            Err(u) => {
                tracing::warn!(conversation = %target.id, error = %u.failure, "the language model could not answer; the rules planner does");
                model.metrics().fallback();
                Ok(Err(Unavailable {
                    note: u.failure.note(),
                    info: LlmInfo {
                        model: model.model_name().to_string(),
                        persona: turn.persona.map(|p| p.as_str().to_string()),
                        grounding: "unavailable".into(),
                        unsupported: Vec::new(),
                        prompt_tokens: u.usage.prompt_tokens,
                        completion_tokens: u.usage.completion_tokens,
                        requests: u.requests,
                    },
                }))
            }
        }
    }

    /// Composes a model's tool calls: the first cost call (with any guides)
    /// is the answer, and every further cost call a titled section of its
    /// own, so no table or basis is written over by another.
    pub(super) fn compose_calls(
        &self,
        args: &[ToolArgs],
        outputs: &[ToolOutput],
        records: Vec<ToolCallRecord>,
        today: NaiveDate,
    ) -> Answer {
        let is_guides = |a: &ToolArgs| matches!(a, ToolArgs::SearchGuides(_));
        let primary = args.iter().position(|a| !is_guides(a));
        let (mut main_args, mut main_out, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (a, o)) in args.iter().zip(outputs).enumerate() {
            if is_guides(a) || Some(i) == primary {
                main_args.push(a.clone());
                main_out.push(o.clone());
            } else {
                rest.push((a, o));
            }
        }
        let mut answer = self.finish(&Ask::from_calls(&main_args), &main_out, records, &[], today);
        for (a, o) in rest {
            let ask = Ask::from_calls(std::slice::from_ref(a));
            let mut part = self.finish(&ask, std::slice::from_ref(o), Vec::new(), &[], today);
            part.notes.retain(|n| !answer.notes.contains(n));
            let title = match &part.basis {
                Some(b) => format!("{:?} · {}", ask.intent, b.period),
                None => format!("{:?}", ask.intent),
            };
            answer.sections.push(answer::Section {
                title,
                answer: part,
            });
        }
        answer
    }
}

//! Errors have two faces: a public sentence a user can act on, which every
//! channel shows and history stores, and the operator detail, which only the
//! log sees. AWS error text can name accounts, roles and endpoints, so it
//! never crosses into the public face.

use serde::Serialize;

use super::tools::ToolError;
use super::AgentError;
use crate::costs::CostError;

/// What went wrong, as channels need to know it to pick a status or an emoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The question could not be answered as asked; rephrasing helps.
    BadQuestion,
    /// The conversation does not exist for this caller.
    NotFound,
    /// Trying again later helps (throttling, a passing outage, a spent budget).
    Unavailable,
    /// AWS refused costbot's credentials; the operator must act.
    Upstream,
    /// costbot itself failed; the operator must look at the log.
    Internal,
}

/// The user-facing face of an error: a stable code, one sentence, what to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicError {
    pub kind: ErrorKind,
    /// Stable, for programs: "unanswerable", "unknown_service", "throttled", ...
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// Seconds after which trying again may help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl PublicError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        PublicError {
            kind,
            code,
            message: message.into(),
            suggestions: Vec::new(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    fn suggest(mut self, suggestions: Vec<String>) -> Self {
        self.suggestions = suggestions;
        self
    }
}

impl std::fmt::Display for PublicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A turn that produced no answer: the public error, and the conversation it
/// was recorded in (None when the caller may not see one).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{public}")]
pub struct TurnError {
    pub conversation_id: Option<String>,
    pub public: PublicError,
}

impl AgentError {
    /// The public face. Logs the operator detail where it differs.
    pub fn public(&self) -> PublicError {
        use ErrorKind::*;
        match self {
            AgentError::Unanswerable {
                message,
                suggestions,
            } => PublicError::new(BadQuestion, "unanswerable", message.clone())
                .suggest(suggestions.clone()),
            AgentError::NotFound => PublicError::new(
                NotFound,
                "not_found",
                "There is no such conversation for you; leave out the conversation id to start a new one.",
            ),
            AgentError::Store(e) => {
                tracing::error!(error = %e, "conversation store failed");
                PublicError::new(
                    Internal,
                    "internal",
                    "costbot's conversation store failed; the operator should check the server log.",
                )
            }
            AgentError::Tool(t) => tool_public(t),
        }
    }
}

fn tool_public(t: &ToolError) -> PublicError {
    use ErrorKind::*;
    match t {
        ToolError::UnknownService(u) => {
            PublicError::new(BadQuestion, "unknown_service", u.to_string()).suggest(
                u.suggestions
                    .iter()
                    .map(|s| format!("Ask about '{s}'"))
                    .collect(),
            )
        }
        ToolError::UnknownAccount { .. } => {
            PublicError::new(BadQuestion, "unknown_account", t.to_string())
        }
        ToolError::BadArguments { .. } | ToolError::UnknownTool(_) => {
            PublicError::new(BadQuestion, "cannot_answer", t.to_string())
        }
        ToolError::Retrieval(e) => {
            tracing::error!(error = %e, "guide search failed");
            PublicError::new(
                Internal,
                "internal",
                "costbot's guide search failed; the operator should check the server log.",
            )
        }
        ToolError::Cost(c) => cost_public(c),
    }
}

fn cost_public(c: &CostError) -> PublicError {
    use ErrorKind::*;
    match c {
        CostError::Throttled => {
            PublicError::new(Unavailable, "throttled", c.to_string()).retry_after(30)
        }
        CostError::MonthlyBudget { .. } => {
            PublicError::new(Unavailable, "request_budget", c.to_string()).retry_after(3600)
        }
        // Messages costbot wrote itself: safe and useful as they are.
        CostError::RequestBudget { .. }
        | CostError::InvalidQuery(_)
        | CostError::UnknownConnection(_)
        | CostError::OutOfRange(_)
        | CostError::Unsupported(_) => {
            PublicError::new(BadQuestion, "cannot_answer", c.to_string())
        }
        // From here on the text is AWS's own: it goes to the log only.
        CostError::Unavailable(_) => {
            tracing::warn!(error = %c, "Cost Explorer has no data");
            PublicError::new(
                BadQuestion,
                "data_unavailable",
                "Cost Explorer has no data for that period: it keeps about 13 months (14 with multi-year data enabled). Ask about a more recent period.",
            )
        }
        CostError::Rejected(_) => {
            tracing::warn!(error = %c, "Cost Explorer rejected a query");
            PublicError::new(
                BadQuestion,
                "cannot_answer",
                "Cost Explorer did not accept the query for that question; try a shorter period or fewer groupings.",
            )
        }
        CostError::AccessDenied(_) => {
            tracing::warn!(error = %c, "Cost Explorer refused the credentials");
            PublicError::new(
                Upstream,
                "cost_source_failed",
                "AWS refused costbot's credentials; the operator should run `costbot doctor --aws`.",
            )
        }
        CostError::Service(_) => {
            tracing::warn!(error = %c, "Cost Explorer failed");
            PublicError::new(
                Unavailable,
                "cost_source_failed",
                "Cost Explorer could not be reached or failed; try again in a few minutes.",
            )
            .retry_after(60)
        }
        CostError::Cache(_) => {
            tracing::error!(error = %c, "cost cache failed");
            PublicError::new(
                Internal,
                "internal",
                "costbot's cost cache failed; the operator should check the server log.",
            )
        }
    }
}

//! The channel-neutral answer. Every figure in it is carried from a tool
//! result; renderers only format it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub label: String,
    /// The exact amount as the tool returned it (decimal string).
    pub amount: String,
    /// Rounded for people: "$1,234.56".
    pub display: String,
    pub unit: String,
}

/// One table cell: the text people read and, for money, the exact amount
/// beside it, so a renderer can align, chart or re-format without parsing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub text: String,
    /// The exact decimal the tool returned, for money cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            amount: None,
        }
    }

    /// A money cell: "$1,234.56" beside the exact amount.
    pub fn money(amount: Decimal, unit: &str) -> Self {
        Cell {
            text: crate::costs::money::format(amount, unit),
            amount: Some(amount.normalize()),
        }
    }

    /// A signed change: "+$12.00" beside the exact amount.
    pub fn change(amount: Decimal, unit: &str) -> Self {
        Cell {
            text: crate::costs::money::format_change(amount, unit),
            amount: Some(amount.normalize()),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::text(text)
    }
}

impl PartialEq<&str> for Cell {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

// Answers stored before cells carried amounts have plain strings.
impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Plain(String),
            Full {
                text: String,
                #[serde(default)]
                amount: Option<Decimal>,
            },
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Plain(text) => Cell::text(text),
            Repr::Full { text, amount } => Cell { text, amount },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Points for a chart: (date, group, amount), all from one tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Series {
    pub unit: String,
    /// "DAILY" or "MONTHLY".
    pub granularity: String,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub date: NaiveDate,
    /// The group (service, account, ...) or None for the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub amount: Decimal,
    /// The bucket is not complete yet (today, or a month cut by the period).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// A titled part of a larger post: a digest is several answers in one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub answer: Answer,
}

/// What the numbers are: period, metric, and what is in or out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// "1–31 October 2026".
    pub period: String,
    pub start: NaiveDate,
    /// Inclusive, as people say it (Cost Explorer's End is one day later).
    pub end_inclusive: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<String>,
    pub metric: String,
    pub credits_refunds_excluded: bool,
    /// Whether credits and refunds mean anything for this data (not for
    /// anomalies, commitments or recommendations).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub credits_apply: bool,
    /// "AWS Cost Explorer" or "sample data".
    pub source: String,
    pub sample_data: bool,
    /// Cost Explorer marked part of the data as estimated (open periods).
    pub estimated: bool,
    /// Served from costbot's cache rather than a new request.
    pub cached: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Basis {
    /// One line: "Basis: 1–31 October 2026 · unblended cost · credits and refunds excluded · AWS Cost Explorer".
    pub fn line(&self) -> String {
        let mut parts = vec![self.period.clone()];
        if let Some(c) = &self.compared_with {
            parts[0] = format!("{} vs {}", self.period, c);
        }
        parts.push(self.metric.clone());
        if self.credits_apply {
            parts.push(if self.credits_refunds_excluded {
                "credits and refunds excluded".into()
            } else {
                "credits and refunds included".into()
            });
        }
        parts.push(if self.sample_data {
            "SAMPLE DATA, not your AWS account".into()
        } else {
            self.source.clone()
        });
        if self.estimated {
            parts.push("includes estimated (not yet final) data".into());
        }
        if self.cached {
            parts.push("from cache".into());
        }
        format!("Basis: {}", parts.join(" · "))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub title: String,
    pub section: String,
    pub guide: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
}

/// A tool call as made, so "how did you get that?" has an exact answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub name: String,
    pub arguments: serde_json::Value,
    /// The normalized Cost Explorer queries the call made (GetCostAndUsage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<serde_json::Value>,
    /// Billable Cost Explorer requests (pages) it took; 0 when cached or sample.
    pub cost_explorer_requests: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Answer {
    pub conversation_id: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<Figure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    /// The numbers behind a chart, when the answer has a shape over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
    /// Extra lines of prose (advice passages, forecast method).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Follow-up questions worth trying.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// Further titled answers in the same post (digests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    /// How a language model took part, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmInfo>,
}

/// A language model's part in an answer: its grounding and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LlmInfo {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    /// "grounded"; "corrected" (grounded after one correction); "fallback"
    /// (the deterministic summary); "unavailable" (the rules planner answered).
    pub grounding: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<UnsupportedFigure>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Chat-completions requests made for the turn.
    pub requests: u32,
}

/// A figure the model wrote that no tool result supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsupportedFigure {
    pub said: String,
    pub reason: String,
}

impl Answer {
    pub fn figure(&mut self, label: impl Into<String>, amount: Decimal, unit: &str) {
        self.figures.push(Figure {
            label: label.into(),
            amount: amount.normalize().to_string(),
            display: crate::costs::money::format(amount, unit),
            unit: unit.to_string(),
        });
    }
}

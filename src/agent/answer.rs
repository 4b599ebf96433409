//! The channel-neutral answer. Every figure in it is carried from a tool
//! result; renderers only format it.

use chrono::NaiveDate;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
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
    /// "AWS Cost Explorer" or "sample data".
    pub source: String,
    pub sample_data: bool,
    /// Cost Explorer marked part of the data as estimated (open periods).
    pub estimated: bool,
    /// Served from costbot's cache rather than a new request.
    pub cached: bool,
}

impl Basis {
    /// One line: "Basis: 1–31 October 2026 · unblended cost · credits and refunds excluded · AWS Cost Explorer".
    pub fn line(&self) -> String {
        let mut parts = vec![self.period.clone()];
        if let Some(c) = &self.compared_with {
            parts[0] = format!("{} vs {}", self.period, c);
        }
        parts.push(self.metric.clone());
        parts.push(if self.credits_refunds_excluded {
            "credits and refunds excluded".into()
        } else {
            "credits and refunds included".into()
        });
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
}

impl Answer {
    pub fn figure(&mut self, label: impl Into<String>, amount: rust_decimal::Decimal, unit: &str) {
        self.figures.push(Figure {
            label: label.into(),
            amount: amount.normalize().to_string(),
            display: crate::costs::money::format(amount, unit),
            unit: unit.to_string(),
        });
    }
}

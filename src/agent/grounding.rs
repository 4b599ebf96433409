//! src/agent/grounding.rs — every figure in model prose must match a tool result of this turn.
//!
//! A simple, strict stand-in: every number in the prose must appear exactly
//! (as a decimal, ignoring `$`, thousands separators and trailing zeros)
//! somewhere in this turn's tool views or composed answer.

use std::collections::BTreeSet;

use regex::Regex;
use rust_decimal::Decimal;
use serde_json::Value;

pub struct Facts {
    numbers: BTreeSet<Decimal>,
}

impl Facts {
    pub fn new() -> Self {
        Facts {
            numbers: BTreeSet::new(),
        }
    }

    /// A tool output's compact view (src/agent/tools/compact.rs) as handed to the model.
    pub fn add_tool_view(&mut self, view: &serde_json::Value) {
        self.walk(view);
    }

    /// The figures, table cells and basis of the answer composed from this turn's tool outputs.
    pub fn add_answer(&mut self, answer: &crate::agent::answer::Answer) {
        if let Ok(v) = serde_json::to_value(answer) {
            self.walk(&v);
        }
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.numbers.extend(numbers(s)),
            Value::Number(n) => self.numbers.extend(numbers(&n.to_string())),
            Value::Array(a) => a.iter().for_each(|x| self.walk(x)),
            Value::Object(o) => o.values().for_each(|x| self.walk(x)),
            _ => {}
        }
    }
}

impl Default for Facts {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unsupported {
    pub said: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verdict {
    pub unsupported: Vec<Unsupported>,
}

impl Verdict {
    pub fn is_grounded(&self) -> bool {
        self.unsupported.is_empty()
    }
}

fn number_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\d[\d,]*(?:\.\d+)?").expect("valid regex"))
}

fn parse(token: &str) -> Option<Decimal> {
    token
        .replace(',', "")
        .parse::<Decimal>()
        .ok()
        .map(|d| d.normalize())
}

fn numbers(s: &str) -> Vec<Decimal> {
    number_re()
        .find_iter(s)
        .filter_map(|m| parse(m.as_str()))
        .collect()
}

pub fn check(prose: &str, facts: &Facts) -> Verdict {
    let mut unsupported = Vec::new();
    for m in number_re().find_iter(prose) {
        let Some(n) = parse(m.as_str()) else { continue };
        if !facts.numbers.contains(&n) {
            unsupported.push(Unsupported {
                said: m.as_str().to_string(),
                reason: "no tool result of this turn has this figure".into(),
            });
        }
    }
    Verdict { unsupported }
}

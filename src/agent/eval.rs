//! `costbot eval planner`: runs a labelled question set through a planner
//! and scores each reading: intent, period, grouping, filters, asking back,
//! and (for advice) whether the right guide is among the top three passages.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::planner::{Plan, PlanContext, PlanError, Planner, Slots};
use super::Intent;
use crate::costs::Dimension;
use crate::language::services::short_name;

/// One labelled question (see `tests/planner_questions.jsonl`).
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    pub id: String,
    #[serde(default)]
    pub style: String,
    pub q: String,
    #[serde(default)]
    pub previous: Vec<String>,
    pub expect: Expect,
    #[serde(default)]
    pub intent: Option<Intent>,
    #[serde(default)]
    pub period: Option<[chrono::NaiveDate; 2]>,
    #[serde(default)]
    pub compare_to: Option<[chrono::NaiveDate; 2]>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    #[serde(default)]
    pub top_n: Option<usize>,
    #[serde(default)]
    pub guide: Option<String>,
    /// The tools the plan calls, in order, when the label says.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Answer,
    AskBack,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

pub fn load(path: &Path) -> Result<Vec<Labelled>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::Read {
                path: format!("{}:{}", path.display(), i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

/// What went wrong with one question, slot by slot.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub id: String,
    pub exact: bool,
    pub asked_back: bool,
    /// Slots that differ from the label: "intent: total ≠ advice".
    pub misses: Vec<String>,
    /// None when the question has no guide label.
    pub guide_top3: Option<bool>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub right: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.right += usize::from(ok);
    }
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.right as f64 / self.total as f64
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub exact: Tally,
    pub per_intent: BTreeMap<String, Tally>,
    pub per_slot: BTreeMap<&'static str, Tally>,
    /// Questions that must be asked back, and were.
    pub asked_back: Tally,
    /// Questions that should be answered but were asked back.
    pub wrongly_asked_back: usize,
    pub guide_top3: Tally,
    /// The same, by style of question (problem statements, how-to, definitions…).
    pub guide_top3_by_style: BTreeMap<String, Tally>,
}

fn range(p: &crate::costs::periods::Period) -> [chrono::NaiveDate; 2] {
    [p.start, p.last_day()]
}

fn dim(d: &Dimension) -> String {
    match d {
        Dimension::Tag(k) => format!("TAG:{k}"),
        other => other.key().to_string(),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The slots that decide the answer, compared with the label.
fn compare(l: &Labelled, plan: &Plan, out: &mut Outcome, report: &mut Report) {
    let s: &Slots = &plan.slots;
    let mut check = |slot: &'static str, ok: bool, detail: String, report: &mut Report| {
        report.per_slot.entry(slot).or_default().add(ok);
        if !ok {
            out.misses.push(format!("{slot}: {detail}"));
        }
    };
    if let Some(want) = &l.tools {
        let got: Vec<&str> = plan.calls.iter().map(|c| c.name.as_str()).collect();
        check(
            "tools",
            &got == want,
            format!("{got:?} (want {want:?})"),
            report,
        );
    }
    let want_intent = l.intent.unwrap_or(Intent::Total);
    check(
        "intent",
        s.intent == want_intent,
        format!("{:?} (want {:?})", s.intent, want_intent),
        report,
    );
    if matches!(want_intent, Intent::Explain | Intent::Help) {
        return;
    }
    if let Some(want) = l.period {
        let got = if s.intent == Intent::Forecast {
            // A forecast is for a month: compare months.
            let month = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
            let asked = plan
                .calls
                .first()
                .and_then(|c| c.arguments.get("month"))
                .and_then(|m| m.as_str())
                .map(str::to_string);
            (asked == Some(month(want[0]))).then_some(want)
        } else {
            Some(range(&s.period.period))
        };
        check(
            "period",
            got == Some(want),
            format!("{:?} (want {:?})", got, want),
            report,
        );
    }
    if let Some(want) = l.compare_to {
        let got = s.compare_to.map(|c| range(&c.period));
        check(
            "period",
            got == Some(want),
            format!("compare_to {:?} (want {:?})", got, want),
            report,
        );
    }
    let services = sorted(s.services.iter().map(|m| short_name(&m.display)).collect());
    let want_services = sorted(l.services.iter().map(|m| short_name(m)).collect());
    let accounts = sorted(s.accounts.clone());
    let regions = sorted(s.regions.clone());
    let tags: BTreeMap<String, Vec<String>> = s
        .tags
        .iter()
        .map(|t| (t.key.clone(), sorted(t.values.clone())))
        .collect();
    let want_tags: BTreeMap<String, Vec<String>> = l
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), sorted(v.clone())))
        .collect();
    let filters_ok = services == want_services
        && accounts == sorted(l.accounts.clone())
        && regions == sorted(l.regions.clone())
        && tags == want_tags;
    check(
        "filters",
        filters_ok,
        format!(
            "services {services:?} accounts {accounts:?} regions {regions:?} tags {tags:?} (want {want_services:?} {:?} {:?} {want_tags:?})",
            l.accounts, l.regions
        ),
        report,
    );
    if let Some(want) = &l.group_by {
        // What the tool is asked to group by (the planner's defaults included).
        let got: Vec<String> = plan
            .calls
            .first()
            .and_then(|c| c.arguments.get("group_by"))
            .and_then(|g| g.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| s.group_by.iter().map(dim).collect());
        check(
            "grouping",
            &got == want,
            format!("{got:?} (want {want:?})"),
            report,
        );
    }
    if let Some(want) = l.top_n {
        let got = plan
            .calls
            .first()
            .and_then(|c| c.arguments.get("top_n"))
            .and_then(|n| n.as_u64())
            .map(|n| n as usize)
            .or(s.top_n);
        check(
            "grouping",
            got == Some(want),
            format!("top {got:?} (want {want})"),
            report,
        );
    }
}

/// Plans the conversation up to the question, as the Agent would: each turn
/// builds on the slots of the last turn that was answered.
async fn plan_in_conversation(
    planner: &dyn Planner,
    l: &Labelled,
    ctx: &PlanContext,
) -> Result<Plan, PlanError> {
    let mut slots: Option<Slots> = None;
    for earlier in &l.previous {
        if let Ok(p) = planner.plan(earlier, slots.as_ref(), ctx).await {
            if !matches!(p.slots.intent, Intent::Help | Intent::Explain) {
                slots = Some(p.slots);
            }
        }
    }
    planner.plan(&l.q, slots.as_ref(), ctx).await
}

/// Scores every question. `top_guides` returns the guides the plan's guide
/// search finds (top three), or None when the plan searches no guide.
pub async fn evaluate<F, Fut>(
    planner: &dyn Planner,
    questions: &[Labelled],
    ctx: &PlanContext,
    top_guides: F,
) -> Report
where
    F: Fn(Plan) -> Fut,
    Fut: std::future::Future<Output = Option<Vec<String>>>,
{
    let mut report = Report::default();
    for l in questions {
        let mut out = Outcome {
            id: l.id.clone(),
            ..Default::default()
        };
        let planned = plan_in_conversation(planner, l, ctx).await;
        let intent_key = match l.expect {
            Expect::AskBack => "ask back".to_string(),
            Expect::Answer => format!("{:?}", l.intent.unwrap_or(Intent::Total)).to_lowercase(),
        };
        match (l.expect, &planned) {
            (Expect::AskBack, Err(_)) => {
                out.asked_back = true;
                out.exact = true;
                report.asked_back.add(true);
            }
            (Expect::AskBack, Ok(p)) => {
                report.asked_back.add(false);
                out.misses.push(format!(
                    "answered ({:?}, {}) instead of asking back",
                    p.slots.intent,
                    p.slots.period.period.label()
                ));
            }
            (Expect::Answer, Err(e)) => {
                out.asked_back = true;
                report.wrongly_asked_back += 1;
                out.misses.push(format!("asked back: {e}"));
            }
            (Expect::Answer, Ok(p)) => {
                compare(l, p, &mut out, &mut report);
                out.exact = out.misses.is_empty();
            }
        }
        if let Some(guide) = &l.guide {
            let found = match &planned {
                Ok(p) => top_guides(p.clone()).await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let ok = found.iter().take(3).any(|g| g == guide);
            if !ok {
                out.misses.push(format!("guide: {found:?} (want {guide})"));
            }
            out.guide_top3 = Some(ok);
            report.guide_top3.add(ok);
            report
                .guide_top3_by_style
                .entry(l.style.clone())
                .or_default()
                .add(ok);
        }
        report.exact.add(out.exact);
        report
            .per_intent
            .entry(intent_key)
            .or_default()
            .add(out.exact);
        report.outcomes.push(out);
    }
    report
}

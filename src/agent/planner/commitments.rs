//! Commitment questions: what to buy (AWS's Savings Plans / RI purchase
//! recommendations) and how well what is bought covers and is used. Asking
//! for figures makes it a commitments turn; a problem told in figures ("our
//! utilization dropped to 70%"), a how-to or a definition stays advice.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::vocabulary::re;
use super::{Slots, ToolCall};
use crate::costs::periods::Period;

/// What a commitments turn asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommitmentAsk {
    pub savings_plans: bool,
    pub reservations: bool,
    pub recommend: bool,
    pub coverage: bool,
    pub utilization: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_option: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savings_plans_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_days: Option<u32>,
}

static SAVINGS_PLAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"savings?\s*plans?|\bsps?\b|\bcsps?\b"));
static RESERVATION: LazyLock<Regex> = LazyLock::new(|| {
    re(r"reserved (instances?|db|database|nodes?|capacity|cache)|\breservations?\b|\bris\b|\bri\b")
});
static COMMITMENT: LazyLock<Regex> = LazyLock::new(|| re(r"\bcommitments?\b|\bcommitted\b"));
static RECOMMEND: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(what|which|how much)\b.{0,40}\b(should|could|can|do) (we|i) (buy|purchase|get|commit)\b|\bshould (we|i) (buy|purchase|get)\b.{0,60}\bor\b|\bwhat (should|to|do we|would you|can we) (buy|purchase|commit)|recommend|how much (would|could|can|will|does|do|might)\b.{0,60}\bsave|\bwhat would\b.{0,60}\bsave|\bworth (buying|getting|committing)\b.{0,40}\bhow much",
    )
});
static COVERAGE: LazyLock<Regex> = LazyLock::new(|| re(r"\bcover(ed|age|s|ing)?\b"));
static UTILIZATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"utili[sz](ation|ed|e|ing)|\bbeing used\b|\b(are|is) (we|our|they|it|those|these)\b.{0,20}\b(using|used)\b|\bunused\b|\bwast(e|ing|ed)\b|\bidle\b|\bunderused\b",
    )
});
/// A question about commitments that is a how-to, a definition or a told problem.
static NOT_FIGURES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bhow (do|should|can|would) (i|we|you)\b|\bhow to\b|\bwhat('s| is| are) (a|an|the difference)\b|\bdifference\b|\bexplain\b|\bmeaning\b|\bvs\.? the\b|\d+\s*%|\bis that (bad|ok|normal|good)\b|\bwork out\b|\bfigure out\b|\baim for\b",
    )
});

// Terms, payment options, plan types and look-back periods as people say them.
static THREE_YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b(3|three)[- ]?(years?|yr)\b"));
static ONE_YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b(1|one)[- ]?(years?|yr)\b"));
static NO_UPFRONT: LazyLock<Regex> = LazyLock::new(|| re(r"\bno[- ]?upfront\b"));
static PARTIAL_UPFRONT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bpartial(ly)?[- ]?(upfront|up front|prepaid)\b"));
static ALL_UPFRONT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(all|full(y)?)[- ]?(upfront|up front|prepaid)\b"));
static EC2_INSTANCE_SP: LazyLock<Regex> =
    LazyLock::new(|| re(r"ec2 instance (savings|sp)|instance[- ]family"));
static SAGEMAKER: LazyLock<Regex> = LazyLock::new(|| re(r"sagemaker"));
static DATABASE_SP: LazyLock<Regex> = LazyLock::new(|| re(r"database savings"));
static SEVEN_DAYS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(7|seven) days\b|\blast week\b"));
static SIXTY_DAYS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(60|sixty) days\b"));

/// Whether the message asks for commitment figures.
pub(super) fn asks(t: &str) -> bool {
    let noun = SAVINGS_PLAN.is_match(t) || RESERVATION.is_match(t) || COMMITMENT.is_match(t);
    noun && !NOT_FIGURES.is_match(t)
        && (RECOMMEND.is_match(t) || COVERAGE.is_match(t) || UTILIZATION.is_match(t))
}

/// Reads what a commitments question asks for, or None when it is not one.
pub(super) fn read(t: &str) -> Option<CommitmentAsk> {
    if !asks(t) {
        return None;
    }
    let sp = SAVINGS_PLAN.is_match(t);
    let ri = RESERVATION.is_match(t);
    // "commitments" alone, or both named: both kinds.
    let (savings_plans, reservations) = if sp || ri { (sp, ri) } else { (true, true) };
    let recommend = RECOMMEND.is_match(t);
    let mut coverage = !recommend && COVERAGE.is_match(t);
    let utilization = !recommend && UTILIZATION.is_match(t);
    if !recommend && !utilization {
        coverage = true;
    }
    let term = if THREE_YEAR.is_match(t) {
        Some("THREE_YEARS".into())
    } else if ONE_YEAR.is_match(t) {
        Some("ONE_YEAR".into())
    } else {
        None
    };
    let payment_option = if NO_UPFRONT.is_match(t) {
        Some("NO_UPFRONT".into())
    } else if PARTIAL_UPFRONT.is_match(t) {
        Some("PARTIAL_UPFRONT".into())
    } else if ALL_UPFRONT.is_match(t) {
        Some("ALL_UPFRONT".into())
    } else {
        None
    };
    let savings_plans_type = if EC2_INSTANCE_SP.is_match(t) {
        Some("EC2_INSTANCE_SP".into())
    } else if SAGEMAKER.is_match(t) {
        Some("SAGEMAKER_SP".into())
    } else if DATABASE_SP.is_match(t) {
        Some("DATABASE_SP".into())
    } else {
        None
    };
    let lookback_days = if SEVEN_DAYS.is_match(t) {
        Some(7)
    } else if SIXTY_DAYS.is_match(t) {
        Some(60)
    } else {
        None
    };
    Some(CommitmentAsk {
        savings_plans,
        reservations,
        recommend,
        coverage,
        utilization,
        term,
        payment_option,
        savings_plans_type,
        lookback_days,
    })
}

/// The guide each kind of commitment answer cites.
fn guide_query(c: &CommitmentAsk, service: Option<&str>) -> &'static str {
    if !c.recommend {
        "commitment coverage and utilization of savings plans and reserved instances"
    } else if c.reservations && !c.savings_plans && service == Some("RDS") {
        "RDS reserved instances for databases"
    } else if c.reservations && !c.savings_plans {
        "reserved instances standard convertible"
    } else {
        "savings plans compute commitment"
    }
}

fn call(name: &str, v: Value) -> ToolCall {
    ToolCall {
        name: name.into(),
        arguments: v,
    }
}

/// The calls that answer a commitments turn, then the matching guide.
pub(super) fn calls(s: &Slots) -> Vec<ToolCall> {
    let c = s.commitment.clone().unwrap_or(CommitmentAsk {
        savings_plans: true,
        reservations: true,
        coverage: true,
        ..Default::default()
    });
    let service = s.services.first().map(|m| m.display.clone());
    let mut calls = Vec::new();
    let kinds = [
        (c.savings_plans, "savings_plans"),
        (c.reservations, "reserved_instances"),
    ];
    if c.recommend {
        for (wanted, kind) in kinds {
            if !wanted {
                continue;
            }
            let mut m = serde_json::Map::new();
            m.insert("kind".into(), json!(kind));
            if kind == "savings_plans" {
                if let Some(t) = &c.savings_plans_type {
                    m.insert("savings_plans_type".into(), json!(t));
                }
            } else if let Some(svc) = &service {
                m.insert("service".into(), json!(svc));
            }
            if let Some(t) = &c.term {
                m.insert("term".into(), json!(t));
            }
            if let Some(p) = &c.payment_option {
                m.insert("payment_option".into(), json!(p));
            }
            if let Some(d) = c.lookback_days {
                m.insert("lookback_days".into(), json!(d));
            }
            calls.push(call("aws_commitment_recommendations", Value::Object(m)));
        }
    } else {
        let p: Period = s.period.period;
        let range = json!({ "start": p.start.to_string(), "end": p.last_day().to_string() });
        for (measure, on) in [("coverage", c.coverage), ("utilization", c.utilization)] {
            if !on {
                continue;
            }
            for (wanted, kind) in kinds {
                if !wanted {
                    continue;
                }
                let mut m = serde_json::Map::new();
                m.insert("kind".into(), json!(kind));
                m.insert("measure".into(), json!(measure));
                m.insert("period".into(), range.clone());
                let per_plan = kind == "savings_plans" && measure == "utilization";
                if let (Some(svc), false) = (&service, per_plan) {
                    m.insert("service".into(), json!(svc));
                }
                calls.push(call("aws_commitment_usage", Value::Object(m)));
            }
        }
    }
    calls.push(call(
        "search_guides",
        json!({ "query": guide_query(&c, service.as_deref()), "k": 1 }),
    ));
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_commitment_questions_and_problems_stay_advice() {
        for q in [
            "what should we buy — savings plans or ris?",
            "how much would a 1-year no-upfront compute savings plan save?",
            "ri recommendations for rds",
            "how much of ec2 is covered by commitments?",
            "are our savings plans being used?",
            "ri utilization last month",
            "how much are we wasting on unused reservations?",
        ] {
            assert!(asks(q), "{q}");
        }
        for q in [
            "savings plan utilization dropped to 70% after we moved workloads around, is that bad?",
            "how do i see our savings plans utilization and coverage",
            "what's the difference between savings plan coverage and utilization",
            "our compute savings plan only covers 40% of eligible usage",
            "how should i work out how much to commit on a compute savings plan?",
            "what is a savings plan",
            // Whether to buy at all is advice; what to buy, or which of two, is a recommendation.
            "should we buy savings plans",
        ] {
            assert!(!asks(q), "{q}");
        }
        let c = read("how much would a 3-year partial upfront compute savings plan save?").unwrap();
        assert!(c.recommend && c.savings_plans && !c.reservations);
        assert_eq!(c.term.as_deref(), Some("THREE_YEARS"));
        assert_eq!(c.payment_option.as_deref(), Some("PARTIAL_UPFRONT"));
        let c = read("how much are we wasting on unused reservations?").unwrap();
        assert!(c.utilization && c.reservations && !c.savings_plans && !c.coverage);
    }
}

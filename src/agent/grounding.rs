//! src/agent/grounding.rs — every figure in model prose must match a tool result of this turn.
//!
//! A figure is accepted only when a fact of this turn supports it:
//! - amounts: a tool amount, or the sum or difference of two amounts of one
//!   view (or two periods' totals, or one group in two periods), rounded to
//!   the place it is written to ("$1,234.56", "$1,235", "$1.2k", "about
//!   $1,200"); never fewer than two significant digits are assumed, so
//!   "$1,000" is read to the hundred. Sums and differences are accepted only
//!   written to the dollar or finer: near a total there are too many of them
//!   for "about $210k" to mean anything. "over/under/nearly X" accept a fact
//!   within 10% on the right side of X.
//! - percentages: a change between two figures the tools pair (two periods, a
//!   mover's before and after, forecast and budget, a spike and a typical
//!   day, consecutive points) or a share of a total, at the written
//!   precision. A stated direction ("up", "a drop", "-4%") needs a change
//!   that went that way (a share is no change). "half of", "a third of", "a quarter of" are shares
//!   within 2.5 points; "3x" a ratio of such a pair.
//! - dates: window edges, points, forecast dates; in a sentence about a spike
//!   or the budget only a spike's days, the highest point and window edges
//!   (the budget's crossing day is one). Inside `code`,
//!   Cost Explorer's exclusive End is allowed too. Months must overlap a period.
//! - counts with a noun ("3 anomalies", "12 services") and spans ("last 7
//!   days") must be counts or period lengths the tools returned.
//! - figures quoted from guide passages are accepted only exactly as there.
//!
//! Not figures: years, ordinals, "top 3", numbers in names (EC2, S3,
//! m5.large, us-east-1, Route 53), a forecast's "80%" interval level.

mod extract;
mod facts;

use rust_decimal::Decimal;
use serde::Serialize;

use extract::{Bound, Claim, Sign, SpanUnit};
use facts::{FactSet, Num};

/// What this turn's tools returned, as the grounding check reads it.
pub struct Facts {
    set: FactSet,
}

impl Facts {
    pub fn new() -> Self {
        Facts {
            set: FactSet::default(),
        }
    }

    /// A tool output's compact view (src/agent/tools/compact.rs) as handed to the model.
    pub fn add_tool_view(&mut self, view: &serde_json::Value) {
        self.set.add_view(view);
    }

    /// The figures, table cells and basis of the answer composed from this turn's tool outputs.
    pub fn add_answer(&mut self, answer: &crate::agent::answer::Answer) {
        self.set.add_answer(answer);
    }
}

impl Default for Facts {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unsupported {
    pub said: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    pub unsupported: Vec<Unsupported>,
}

impl Verdict {
    pub fn is_grounded(&self) -> bool {
        self.unsupported.is_empty()
    }
}

/// Checks every figure in `prose` against `facts`.
pub fn check(prose: &str, facts: &Facts) -> Verdict {
    let set = &facts.set;
    let (derived_money, derived_pct) = set.derived();
    let money: Vec<Num> = set.money.iter().chain(&derived_money).copied().collect();
    let percents: Vec<Num> = set.percents.iter().chain(&derived_pct).copied().collect();
    let mut unsupported = Vec::new();
    for said in extract::figures(prose) {
        if let Some(reason) = reject(&said.claim, set, &money, &percents) {
            unsupported.push(Unsupported {
                said: said.text,
                reason,
            });
        }
    }
    Verdict { unsupported }
}

fn within(m: Decimal, v: Decimal, precision: Decimal, bound: Bound) -> bool {
    let tenth = v / Decimal::from(10);
    let half = precision / Decimal::from(2);
    let (Some(hi), Some(lo)) = (v.checked_add(tenth), v.checked_add(half)) else {
        return false;
    };
    match bound {
        Bound::Approx => (m - v).abs() <= half,
        Bound::Over => m > v && m <= hi,
        Bound::Under => m < v && m >= v - tenth,
        Bound::Nearly => m <= lo && m >= v - tenth,
    }
}

/// Some candidate matches the magnitude, and when the tools say which way a
/// matching figure moved, the prose says the same way. With `changes_only`
/// a direction ("rose 15%") needs a change: a share of 15% is no rise.
fn supported(
    cands: &[Num],
    v: Decimal,
    precision: Decimal,
    bound: Bound,
    sign: Sign,
    changes_only: bool,
) -> bool {
    let hits: Vec<&Num> = cands
        .iter()
        .filter(|c| !c.derived || precision <= Decimal::ONE)
        .filter(|c| within(c.value.abs(), v, precision, bound))
        .collect();
    if sign == Sign::Unknown {
        return !hits.is_empty();
    }
    let agrees = |c: &&Num| match sign {
        Sign::Up => c.value > Decimal::ZERO,
        Sign::Down => c.value < Decimal::ZERO,
        Sign::Unknown => true,
    };
    let signed: Vec<&&Num> = hits.iter().filter(|c| c.signed).collect();
    if signed.is_empty() && !changes_only {
        !hits.is_empty()
    } else {
        signed.into_iter().any(agrees)
    }
}

fn closest(cands: &[Num], v: Decimal) -> Option<Decimal> {
    cands
        .iter()
        .map(|c| c.value.abs())
        .min_by_key(|m| (*m - v).abs())
}

fn place(p: Decimal) -> String {
    if p >= Decimal::ONE {
        format!("to the nearest {}", p.normalize())
    } else {
        format!("to {} decimal places", p.scale())
    }
}

fn reject(claim: &Claim, set: &FactSet, money: &[Num], percents: &[Num]) -> Option<String> {
    match claim {
        Claim::Money {
            value,
            precision,
            sign,
            bound,
            currency,
            ..
        } => {
            if let Some(c) = currency {
                if !set.units.is_empty() && !set.units.contains(c) {
                    return Some(format!(
                        "the tools reported {}, not {c}",
                        set.units.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if set.quoted_money.iter().any(|q| q == value) {
                return None;
            }
            if supported(money, *value, *precision, *bound, *sign, false) {
                return None;
            }
            Some(match closest(money, *value) {
                None => "no tool of this turn returned an amount".into(),
                Some(c) if within(c, *value, *precision, *bound) => format!(
                    "the matching figure {} went the other way",
                    c.normalize()
                ),
                Some(c) => format!(
                    "no amount of this turn's tools (nor a sum or difference of two) matches {} {}; the closest is {}",
                    value.normalize(),
                    place(*precision),
                    c.normalize()
                ),
            })
        }
        Claim::Percent {
            value,
            precision,
            sign,
            bound,
        } => {
            if set.quoted_percent.iter().any(|q| q == value) {
                return None;
            }
            if supported(percents, *value, *precision, *bound, *sign, true) {
                return None;
            }
            Some(match closest(percents, *value) {
                None => "no two figures of this turn give a percentage".into(),
                Some(_) if *sign != Sign::Unknown => format!(
                    "no change between this turn's figures went that way by {}%",
                    value.normalize()
                ),
                Some(c) => format!(
                    "no change or share between this turn's figures is {}% {}; the closest is {}%",
                    value.normalize(),
                    place(*precision),
                    c.round_dp(1)
                ),
            })
        }
        Claim::Fraction { percent, tolerance } => {
            let ok = percents
                .iter()
                .any(|c| c.value > Decimal::ZERO && (c.value - percent).abs() <= *tolerance);
            (!ok).then(|| {
                format!(
                    "no share of this turn's figures is near {}%",
                    percent.round_dp(0)
                )
            })
        }
        Claim::Ratio { value, precision } => {
            let ok = set
                .ratios
                .iter()
                .any(|r| (*r - value).abs() <= *precision / Decimal::from(2));
            (!ok).then(|| "no two figures of this turn have that ratio".into())
        }
        Claim::Date {
            year,
            month,
            day,
            spike,
            in_code,
        } => {
            let matches = |d: &chrono::NaiveDate| {
                use chrono::Datelike;
                d.month() == *month && d.day() == *day && year.is_none_or(|y| d.year() == y)
            };
            let ok = if *spike {
                set.spike_dates.iter().chain(&set.edges).any(matches)
            } else {
                set.dates
                    .iter()
                    .chain(&set.edges)
                    .chain(&set.spike_dates)
                    .any(matches)
                    || (*in_code && set.exclusive_ends.iter().any(matches))
            };
            (!ok).then(|| {
                if *spike {
                    "no spike of this turn's tools is on that day".into()
                } else {
                    "no tool of this turn returned that date".into()
                }
            })
        }
        Claim::Month { year, month } => {
            use chrono::Datelike;
            let ok = set.periods.iter().any(|(s, e)| {
                let (a, b) = (
                    s.year() * 12 + s.month() as i32,
                    e.year() * 12 + e.month() as i32,
                );
                match year {
                    Some(y) => (a..=b).contains(&(y * 12 + *month as i32)),
                    None => (a..=b).any(|m| (m - 1).rem_euclid(12) + 1 == *month as i32),
                }
            }) || set
                .dates
                .iter()
                .any(|d| d.month() == *month && year.is_none_or(|y| d.year() == y));
            (!ok).then(|| "that month is outside every period of this turn".into())
        }
        Claim::Count { n, noun } => {
            let set_for = if noun.starts_with("day") {
                set.counts.contains(n) || set.span_days.contains(n)
            } else if noun.starts_with("week") {
                set.span_weeks.contains(n)
            } else if noun.starts_with("month") {
                set.span_months.contains(n) || set.counts.contains(n)
            } else {
                set.counts.contains(n)
            };
            (!set_for).then(|| format!("no tool of this turn counted {n} {noun}"))
        }
        Claim::Span { n, unit } => {
            let ok = match unit {
                SpanUnit::Days => set.span_days.contains(n),
                SpanUnit::Weeks => set.span_weeks.contains(n),
                SpanUnit::Months => set.span_months.contains(n),
            };
            (!ok).then(|| "no period of this turn has that length".into())
        }
        Claim::Usage { unit, .. } => Some(format!(
            "no tool of this turn returned quantities in {unit}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> Facts {
        let mut f = Facts::new();
        f.add_tool_view(&json!({ "comparison": {
            "current": { "period": { "start": "2026-10-01", "end": "2026-10-31", "label": "October 2026" }, "total": "1234.56" },
            "previous": { "period": { "start": "2026-09-01", "end": "2026-09-30", "label": "September 2026" }, "total": "1000" },
            "change": "234.56", "unit": "USD", "metric": "UnblendedCost", "group_by": ["Service"],
            "movers": [ { "key": "Amazon Elastic Compute Cloud - Compute", "before": "600", "after": "800.4", "change": "200.4" },
                        { "key": "Amazon Simple Storage Service", "before": "150", "after": "120", "change": "-30" } ]
        }}));
        f
    }

    fn ok(prose: &str) -> bool {
        let v = check(prose, &facts());
        v.is_grounded()
    }

    #[test]
    fn rounding_to_the_written_place() {
        assert!(ok("October cost $1,234.56."));
        assert!(ok("October cost $1,235."));
        assert!(ok("October cost about $1.2k."));
        assert!(ok("October cost about $1,200."));
        assert!(!ok("October cost $1,234.00."));
        assert!(!ok("October cost $1,250."));
        assert!(!ok("October cost $1,300."));
    }

    #[test]
    fn sums_differences_changes_shares() {
        assert!(ok("EC2 rose by $200.40 to $800.40."));
        assert!(ok("EC2 and S3 together cost $920.40 in October."));
        assert!(ok("Spend rose 23.5% from September."));
        assert!(!ok("Spend fell 23.5% from September."));
        assert!(!ok("Spend rose 25% from September."));
        assert!(ok("EC2 was 64.8% of October's bill."));
        assert!(ok("S3 dropped 20%."));
        assert!(!ok("S3 rose 20%."));
        assert!(ok("EC2 drove 85% of the increase."));
    }

    #[test]
    fn dates_counts_and_currencies() {
        assert!(ok("From September 1 to 30 and in October"));
        assert!(!ok("On October 12 costs rose."));
        assert!(!ok("In March costs rose."));
        assert!(ok("2 services moved."));
        assert!(!ok("5 services moved."));
        assert!(!ok("It was €1,234.56."));
        assert!(!ok("It moved 1,200 GB."));
    }
}

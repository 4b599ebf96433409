//! Composes commitment answers: AWS's Savings Plans and RI purchase
//! recommendations, and the coverage and utilization of what is bought.
//! Every figure is AWS's (or the sample's stand-in) as the tool returned it;
//! the basis names the API, the look-back period, term and payment option.

use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;

use super::answer::{Answer, Cell, Table};
use super::compose_aws::basis;
use crate::costs::commitments::{
    lookback_days, savings_plans_type_label, CommitmentKind, RecommendationResult, UsageFigures,
    UsageMeasure, UsageResult,
};
use crate::costs::money::format;
use crate::costs::periods::Period;
use crate::language::services::short_name;

fn append(a: &mut Answer, text: String) {
    if a.summary.is_empty() {
        a.summary = text;
    } else {
        a.summary = format!("{} {text}", a.summary);
    }
}

fn percent(d: Decimal) -> String {
    format!("{}%", d.round_dp(2).normalize())
}

/// Hours and counts as people read them: "223,659.58", "6".
fn number(d: Decimal) -> String {
    let text = d.round_dp(2).normalize().to_string();
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), format!(".{f}")),
        None => (text.clone(), String::new()),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped}{frac}")
}

fn what_is_bought(r: &RecommendationResult) -> String {
    match r.query.kind {
        CommitmentKind::SavingsPlans => {
            savings_plans_type_label(r.query.savings_plans_type.as_deref().unwrap_or_default())
                .to_string()
        }
        CommitmentKind::Reservations => format!(
            "{} reservations",
            short_name(r.query.service.as_deref().unwrap_or_default())
        ),
    }
}

pub fn recommendation(r: &RecommendationResult, sample: bool, today: NaiveDate, a: &mut Answer) {
    let unit = &r.currency;
    let q = &r.query;
    let bought = what_is_bought(r);
    let terms = q.terms_label();
    let who = if sample {
        "The sample organization's stand-in for AWS's recommendation"
    } else {
        "AWS recommends"
    };
    let days = lookback_days(&q.lookback);
    let window = Period::new(today - Duration::days(days), today);
    let s = &r.summary;
    if r.details.is_empty() && s.estimated_monthly_savings.is_none() {
        append(
            a,
            format!("AWS has no {bought} purchase recommendation ({terms}): nothing to buy on that usage."),
        );
    } else {
        let mut parts = Vec::new();
        match q.kind {
            CommitmentKind::SavingsPlans => {
                if let Some(h) = s.hourly_commitment {
                    parts.push(format!("a commitment of {} an hour", format(h, unit)));
                }
            }
            CommitmentKind::Reservations => {
                let items: Vec<String> = r
                    .details
                    .iter()
                    .take(3)
                    .filter_map(|d| {
                        let n = d.recommended_instances?;
                        let kind = d
                            .instance_type
                            .clone()
                            .unwrap_or_else(|| "instances".into());
                        let where_ = [d.platform.clone(), d.region.clone()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(", ");
                        Some(if where_.is_empty() {
                            format!("{} × {kind}", number(n))
                        } else {
                            format!("{} × {kind} ({where_})", number(n))
                        })
                    })
                    .collect();
                if !items.is_empty() {
                    let more = r.details.len().saturating_sub(3);
                    let tail = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    parts.push(format!("{}{tail}", items.join(", ")));
                }
            }
        }
        let mut sentence = format!(
            "{who}: {bought}, {}{}{}",
            terms,
            if parts.is_empty() { "" } else { ": " },
            parts.join("")
        );
        if let Some(m) = s.estimated_monthly_savings {
            sentence.push_str(&format!(", estimated savings {} a month", format(m, unit)));
            a.figure(format!("Estimated monthly savings, {bought}"), m, unit);
        }
        if let Some(p) = s.estimated_savings_percentage {
            sentence.push_str(&format!(" ({})", percent(p)));
            a.figure(format!("Estimated savings percentage, {bought}"), p, "%");
        }
        if let Some(h) = s.hourly_commitment {
            a.figure(format!("Hourly commitment, {bought}"), h, unit);
        }
        if let Some(u) = r.total_upfront() {
            sentence.push_str(&format!(", upfront {}", format(u, unit)));
            a.figure(format!("Upfront cost, {bought}"), u, unit);
        }
        let break_even: Vec<Decimal> = r
            .details
            .iter()
            .filter_map(|d| d.break_even_months)
            .collect();
        if let [one] = break_even.as_slice() {
            if !one.is_zero() {
                sentence.push_str(&format!(", break-even in {} months", number(*one)));
            }
        }
        sentence.push('.');
        append(a, sentence);
        if a.table.is_none() && (r.details.len() > 1 || q.kind == CommitmentKind::Reservations) {
            a.table = Some(detail_table(r));
        }
    }
    a.details.push(format!(
        "Source: AWS Cost Explorer {} ({bought}, {terms}{}).",
        q.api(),
        match &r.generated_at {
            Some(t) => format!("; generated {t}"),
            None => String::new(),
        }
    ));
    basis(a, q.api(), window, &terms, sample, r.cached);
}

fn detail_table(r: &RecommendationResult) -> Table {
    let unit = &r.currency;
    let opt_money = |v: Option<Decimal>| {
        v.map(|d| Cell::money(d, unit))
            .unwrap_or_else(|| Cell::text("–"))
    };
    let opt = |v: Option<Decimal>, f: fn(Decimal) -> String| {
        v.map(|d| Cell::text(f(d)))
            .unwrap_or_else(|| Cell::text("–"))
    };
    Table {
        columns: vec![
            "What".into(),
            "Instances / hourly commitment".into(),
            "Upfront".into(),
            "Est. monthly savings".into(),
            "Savings".into(),
            "Break-even (months)".into(),
        ],
        rows: r
            .details
            .iter()
            .take(10)
            .map(|d| {
                let what = [
                    d.instance_type.clone().or(d.instance_family.clone()),
                    d.platform.clone(),
                    d.region.clone(),
                    d.account_id.clone().map(|a| format!("account {a}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
                let amount = match (d.recommended_instances, d.hourly_commitment) {
                    (Some(n), _) => Cell::text(number(n)),
                    (None, Some(h)) => Cell::text(format!("{}/hour", format(h, unit))),
                    _ => Cell::text("–"),
                };
                vec![
                    Cell::text(if what.is_empty() {
                        "–".to_string()
                    } else {
                        what
                    }),
                    amount,
                    opt_money(d.upfront_cost),
                    opt_money(d.estimated_monthly_savings),
                    opt(d.estimated_savings_percentage, percent),
                    opt(d.break_even_months, number),
                ]
            })
            .collect(),
    }
}

/// Beside each other, the two recommendations cover the same usage.
pub fn both_recommendations(recs: &[&RecommendationResult], a: &mut Answer) {
    let [sp, ri] = recs else { return };
    if let (Some(x), Some(y)) = (
        sp.summary.estimated_monthly_savings,
        ri.summary.estimated_monthly_savings,
    ) {
        let (more, less) = if x >= y { (sp, ri) } else { (ri, sp) };
        append(
            a,
            format!(
                "Of the two, the {} saves more a month than the {}.",
                what_is_bought(more),
                what_is_bought(less)
            ),
        );
    }
    a.notes.push("Each recommendation assumes nothing else is bought: they cover the same on-demand usage, so buy one or split the usage, do not add their savings up.".into());
}

fn subject(r: &UsageResult) -> String {
    match r.query.services.first() {
        Some(s) => short_name(s),
        // Without a service, reservation coverage is EC2's; utilization is every reservation's.
        None if r.query.kind == CommitmentKind::Reservations
            && r.query.measure == UsageMeasure::Coverage =>
        {
            "EC2".into()
        }
        None if r.query.kind == CommitmentKind::Reservations => "all reservations".into(),
        None => "eligible usage".into(),
    }
}

fn usage_sentence(r: &UsageResult, f: &UsageFigures, when: &str) -> Option<String> {
    let unit = "USD";
    let what = subject(r);
    let m = |v: Option<Decimal>| v.map(|d| format(d, unit));
    Some(match (r.query.kind, r.query.measure) {
        (CommitmentKind::SavingsPlans, UsageMeasure::Coverage) => {
            let mut s = format!(
                "Savings Plans covered {} of {}{} in {when}",
                percent(f.coverage_percentage?),
                if what == "eligible usage" {
                    String::new()
                } else {
                    format!("{what}'s ")
                },
                "eligible spend"
            );
            if let (Some(c), Some(o)) = (m(f.covered_spend), m(f.on_demand_cost)) {
                s.push_str(&format!(": {c} covered, {o} on demand (not covered)"));
            }
            s
        }
        (CommitmentKind::SavingsPlans, UsageMeasure::Utilization) => {
            let mut s = format!(
                "Savings Plans utilization in {when}: {}",
                percent(f.utilization_percentage?)
            );
            if let (Some(u), Some(t)) = (m(f.used_commitment), m(f.total_commitment)) {
                s.push_str(&format!(" ({u} of the {t} commitment used"));
                if let Some(x) = m(f.unused_commitment) {
                    s.push_str(&format!(", {x} unused"));
                }
                s.push(')');
            }
            if let Some(n) = m(f.net_savings) {
                s.push_str(&format!("; net savings {n} against on-demand"));
            }
            s
        }
        (CommitmentKind::Reservations, UsageMeasure::Coverage) => {
            let mut s = format!(
                "Reservations covered {} of {what}'s running hours in {when}",
                percent(f.coverage_percentage?)
            );
            if let (Some(r), Some(h)) = (f.reserved_hours, f.total_running_hours) {
                s.push_str(&format!(" ({} reserved of {} hours)", number(r), number(h)));
            }
            if let Some(o) = m(f.on_demand_cost) {
                s.push_str(&format!("; on-demand cost not covered: {o}"));
            }
            s
        }
        (CommitmentKind::Reservations, UsageMeasure::Utilization) => {
            let mut s = format!(
                "Reserved Instance utilization for {what} in {when}: {}",
                percent(f.utilization_percentage?)
            );
            if let (Some(u), Some(p)) = (f.unused_hours, f.purchased_hours) {
                s.push_str(&format!(
                    " ({} unused of {} purchased hours",
                    number(u),
                    number(p)
                ));
                if let Some(c) = m(f.unused_cost) {
                    s.push_str(&format!(", costing {c}"));
                }
                s.push(')');
            }
            if let Some(n) = m(f.net_savings) {
                s.push_str(&format!("; net savings {n}"));
            }
            s
        }
    })
}

fn usage_figures(r: &UsageResult, f: &UsageFigures, when: &str, a: &mut Answer) {
    let unit = "USD";
    let kind = r.query.kind.label();
    let mut add = |label: &str, v: Option<Decimal>, u: &str| {
        if let Some(v) = v {
            a.figure(format!("{kind} {label}, {when}"), v, u);
        }
    };
    add("coverage", f.coverage_percentage, "%");
    add("on-demand cost not covered", f.on_demand_cost, unit);
    add("covered spend", f.covered_spend, unit);
    add("utilization", f.utilization_percentage, "%");
    add("unused commitment", f.unused_commitment, unit);
    add("unused reservation cost", f.unused_cost, unit);
    add("net savings", f.net_savings, unit);
}

pub fn usage(r: &UsageResult, what: &str, sample: bool, a: &mut Answer) {
    let q = &r.query;
    let period = q.period;
    let measure = match q.measure {
        UsageMeasure::Coverage => "coverage",
        UsageMeasure::Utilization => "utilization",
    };
    let kind = q.kind.label();
    // Said once, at the start of the answer.
    let who = if sample && a.summary.is_empty() {
        "In the sample organization, "
    } else {
        ""
    };
    // AWS's total for the period, else the last period's figures (the table has them all).
    let (figures, when) = match (r.overall(), r.buckets.last()) {
        (Some(f), _) => (Some(f), period.label()),
        (None, Some(last)) => (
            Some(&last.figures),
            Period::new(last.start, last.end).label(),
        ),
        (None, None) => (None, period.label()),
    };
    let sentence = figures.and_then(|f| {
        let s = usage_sentence(r, f, &when)?;
        usage_figures(r, f, &when, a);
        Some(s)
    });
    match sentence {
        Some(s) => append(a, format!("{who}{s}.")),
        None => append(
            a,
            format!(
                "{who}AWS reports no {kind} {measure} for {} in {}: there may be no active {} for it.",
                subject(r),
                period.label(),
                kind
            ),
        ),
    }
    if r.buckets.len() > 1 && a.table.is_none() {
        a.table = Some(usage_table(r));
    }
    if q.kind == CommitmentKind::SavingsPlans
        && q.measure == UsageMeasure::Utilization
        && what != "AWS"
    {
        a.notes.push(format!(
            "Savings Plans utilization is for the plans as a whole, not only {what}: a plan's commitment applies across services."
        ));
    }
    a.details.push(format!(
        "Source: AWS Cost Explorer {} for {} ({}), {} granularity.",
        q.api(),
        period.label(),
        if q.services.is_empty() {
            "no service filter".to_string()
        } else {
            format!("SERVICE = {}", q.services.join(", "))
        },
        match q.granularity {
            crate::costs::Granularity::Daily => "daily",
            crate::costs::Granularity::Monthly => "monthly",
        }
    ));
    basis(
        a,
        q.api(),
        period,
        &format!("{kind} {measure}"),
        sample,
        r.cached,
    );
}

fn usage_table(r: &UsageResult) -> Table {
    let unit = "USD";
    let money = |v: Option<Decimal>| {
        v.map(|d| Cell::money(d, unit))
            .unwrap_or_else(|| Cell::text("–"))
    };
    let pct = |v: Option<Decimal>| {
        v.map(|d| Cell::text(percent(d)))
            .unwrap_or_else(|| Cell::text("–"))
    };
    let coverage = r.query.measure == UsageMeasure::Coverage;
    let columns = if coverage {
        vec![
            "Period".into(),
            "Coverage".into(),
            "On-demand cost not covered".into(),
        ]
    } else if r.query.kind == CommitmentKind::SavingsPlans {
        vec![
            "Period".into(),
            "Utilization".into(),
            "Unused commitment".into(),
            "Net savings".into(),
        ]
    } else {
        vec![
            "Period".into(),
            "Utilization".into(),
            "Unused hours cost".into(),
            "Net savings".into(),
        ]
    };
    let rows = r
        .buckets
        .iter()
        .map(|b| {
            let f = &b.figures;
            let when = Cell::text(Period::new(b.start, b.end).label());
            if coverage {
                vec![when, pct(f.coverage_percentage), money(f.on_demand_cost)]
            } else if r.query.kind == CommitmentKind::SavingsPlans {
                vec![
                    when,
                    pct(f.utilization_percentage),
                    money(f.unused_commitment),
                    money(f.net_savings),
                ]
            } else {
                vec![
                    when,
                    pct(f.utilization_percentage),
                    money(f.unused_cost),
                    money(f.net_savings),
                ]
            }
        })
        .collect();
    Table { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn hours_are_grouped_by_thousands() {
        let n = |s: &str| number(s.parse().unwrap());
        assert_eq!(n("223659.58"), "223,659.58");
        assert_eq!(n("6"), "6");
        assert_eq!(n("1000"), "1,000");
        assert_eq!(n("-2436.944"), "-2,436.94");
        assert_eq!(n("7.10"), "7.1");
    }
}

//! Composes AWS's rightsizing recommendations (GetRightsizingRecommendation,
//! and Cost Optimization Hub's ListRecommendations where read): AWS's own
//! estimated monthly savings exactly as returned, each kind of
//! recommendation tied to the guide that explains it.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::answer::{Answer, Basis, Cell, Citation, Table};
use super::compose::Labels;
use crate::costs::money::format;
use crate::costs::periods::Period;
use crate::costs::rightsizing::{
    day_of, guide_for_hub, guide_for_instance, lookback_label, HubRecommendation,
    InstanceRecommendation, RightsizingAction,
};
use crate::costs::{HubResult, RightsizingResult};

fn append(a: &mut Answer, text: String) {
    if a.summary.is_empty() {
        a.summary = text;
    } else {
        a.summary = format!("{} {text}", a.summary);
    }
}

fn account(id: Option<&str>, labels: &Labels) -> String {
    let Some(id) = id else { return "–".into() };
    match labels.accounts.iter().find(|(_, i)| i == id) {
        Some((name, _)) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

fn instance(r: &InstanceRecommendation) -> String {
    match (&r.instance_name, &r.instance_id) {
        (Some(n), Some(id)) => format!("{n} ({id})"),
        (None, Some(id)) => id.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => "(unnamed instance)".into(),
    }
}

fn change(r: &InstanceRecommendation) -> String {
    let from = r.current_type.as_deref().unwrap_or("?");
    match (
        r.action,
        r.target.as_ref().and_then(|t| t.instance_type.as_deref()),
    ) {
        (RightsizingAction::Terminate, _) => format!("{from} → terminate (idle)"),
        (RightsizingAction::Modify, Some(to)) => format!("{from} → {to}"),
        (RightsizingAction::Modify, None) => format!("{from} → a smaller type"),
    }
}

fn percent(d: Option<Decimal>) -> Cell {
    match d {
        Some(p) => Cell::text(format!("{}%", p.normalize())),
        None => Cell::text("–"),
    }
}

fn money(d: Option<Decimal>, unit: &str) -> Cell {
    match d {
        Some(v) => Cell::money(v, unit),
        None => Cell::text("–"),
    }
}

/// Cites each guide once, in the order first needed.
fn cite(guide: &str, a: &mut Answer) {
    if a.citations.iter().any(|c| c.guide == guide) {
        return;
    }
    if let Some(g) = crate::retrieval::guides::embedded_guide(guide) {
        a.citations.push(Citation {
            title: g.meta.title.clone(),
            section: format!("{} > Overview", g.meta.title),
            guide: guide.to_string(),
            source_url: g.meta.sources.first().cloned(),
        });
    }
}

fn hub_line(r: &HubRecommendation, labels: &Labels) -> String {
    let unit = r.currency.as_deref().unwrap_or("USD");
    format!(
        "{} {} in {}{}: {} {} → {}, {} a month{}{} (guide: {})",
        r.resource_type.as_deref().unwrap_or("resource"),
        r.resource_id.as_deref().unwrap_or("?"),
        account(r.account_id.as_deref(), labels),
        r.region
            .as_deref()
            .map(|x| format!(", {x}"))
            .unwrap_or_default(),
        r.action_type.as_deref().unwrap_or("Change"),
        r.current.as_deref().unwrap_or("?"),
        r.recommended.as_deref().unwrap_or("?"),
        r.estimated_monthly_savings
            .map(|s| format(s, unit))
            .unwrap_or_else(|| "no estimate".into()),
        r.implementation_effort
            .as_deref()
            .map(|e| format!(", effort {e}"))
            .unwrap_or_default(),
        if r.restart_needed == Some(true) {
            ", needs a restart"
        } else {
            ""
        },
        guide_for_hub(r),
    )
}

#[allow(clippy::too_many_arguments)]
pub fn compose(
    r: &RightsizingResult,
    hub: Option<&HubResult>,
    hub_note: Option<&str>,
    what: &str,
    labels: &Labels,
    sample: bool,
    today: NaiveDate,
    a: &mut Answer,
) {
    let unit = r.summary.currency.as_deref().unwrap_or("USD");
    let who = if sample {
        "The sample organization's stand-in for AWS Cost Explorer's rightsizing recommendations"
    } else {
        "AWS Cost Explorer's rightsizing recommendations"
    };
    // "AWS (account prod)" reads as "for account prod".
    let scope = match what.strip_prefix("AWS") {
        Some("") => String::new(),
        Some(rest) => format!(
            " for {}",
            rest.trim().trim_start_matches('(').trim_end_matches(')')
        ),
        None => format!(" for {what}"),
    };
    let setting = format!(
        "{}, {}",
        r.query.target.label(),
        if r.query.benefits_considered {
            "Reserved Instance and Savings Plans discounts considered"
        } else {
            "without Reserved Instance and Savings Plans discounts"
        }
    );
    let count = r
        .summary
        .total_recommendation_count
        .unwrap_or(r.recommendations.len() as u32);
    if r.recommendations.is_empty() {
        append(
            a,
            format!("{who}{scope} list no EC2 instance to downsize or terminate ({setting})."),
        );
    } else {
        let idle = r
            .recommendations
            .iter()
            .filter(|x| x.action == RightsizingAction::Terminate)
            .count();
        let savings = match r.summary.estimated_total_monthly_savings {
            Some(s) => format!(
                ": estimated savings {} a month{}",
                format(s, unit),
                r.summary
                    .savings_percentage
                    .map(|p| format!(" ({}% of those instances' cost)", p.normalize()))
                    .unwrap_or_default()
            ),
            None => String::new(),
        };
        let top = &r.recommendations[0];
        append(
            a,
            format!(
                "{who}{scope}: {count} EC2 instance{} to rightsize ({setting}){savings}; {idle} idle to terminate, {} to downsize. The largest: {} in {}, {}, {} a month.",
                if count == 1 { "" } else { "s" },
                r.recommendations.len() - idle,
                instance(top),
                account(top.account_id.as_deref(), labels),
                change(top),
                top.estimated_monthly_savings
                    .map(|s| format(s, top.currency.as_deref().unwrap_or(unit)))
                    .unwrap_or_else(|| "no estimate".into()),
            ),
        );
        if let Some(s) = r.summary.estimated_total_monthly_savings {
            a.figure("AWS-estimated monthly rightsizing savings", s, unit);
        }
        a.table = Some(Table {
            columns: vec![
                "Account".into(),
                "Instance".into(),
                "Region".into(),
                "Change".into(),
                "Est. monthly savings".into(),
                "Current monthly cost".into(),
                "Max CPU".into(),
                "Max memory".into(),
                "Guide".into(),
            ],
            rows: r
                .recommendations
                .iter()
                .take(15)
                .map(|x| {
                    let u = x.currency.as_deref().unwrap_or(unit);
                    vec![
                        account(x.account_id.as_deref(), labels).into(),
                        instance(x).into(),
                        x.region.clone().unwrap_or_else(|| "–".into()).into(),
                        change(x).into(),
                        money(x.estimated_monthly_savings, u),
                        money(x.current_monthly_cost, u),
                        percent(x.max_cpu_percent),
                        percent(x.max_memory_percent),
                        guide_for_instance(x).into(),
                    ]
                })
                .collect(),
        });
        if r.recommendations.len() > 15 {
            a.notes.push(format!(
                "{} more recommendations are not listed; ask for one account or region to see them.",
                r.recommendations.len() - 15
            ));
        }
        for x in &r.recommendations {
            cite(guide_for_instance(x), a);
        }
        if r.recommendations
            .iter()
            .any(|x| x.max_memory_percent.is_none())
        {
            a.notes.push(
                "Where memory utilization shows –, AWS had no memory metrics (the CloudWatch agent is not installed): check memory before downsizing.".into(),
            );
        }
    }
    let lookback = r.lookback.as_deref().map(lookback_label);
    let generated = r.generated.as_deref().and_then(day_of);
    a.details.push(format!(
        "AWS's rightsizing: Cost Explorer GetRightsizingRecommendation, service AmazonEC2, RecommendationTarget {} ({}), BenefitsConsidered {}; look-back {}{}. Savings are AWS's estimates, not costbot's.",
        r.query.target.as_str(),
        r.query.target.label(),
        r.query.benefits_considered,
        lookback.clone().unwrap_or_else(|| "not stated by AWS".into()),
        generated
            .map(|d| format!(", generated {}", Period::day(d).label()))
            .unwrap_or_default(),
    ));
    if let Some(h) = hub {
        hub_part(h, labels, sample, a);
    }
    if let Some(note) = hub_note {
        a.notes.push(note.to_string());
    }
    let hub_source = match hub {
        Some(h) => format!(
            "; Cost Optimization Hub ListRecommendations ({} request{}, no per-request charge)",
            h.requests,
            if h.requests == 1 { "" } else { "s" }
        ),
        None => String::new(),
    };
    let period_label = match (&lookback, generated) {
        (Some(l), Some(d)) => format!("look-back {l} before {}", Period::day(d).label()),
        (Some(l), None) => format!("look-back {l}"),
        (None, _) => "look-back not stated by AWS".into(),
    };
    // The turn's day when AWS did not say when it generated them.
    let day = generated.unwrap_or(today);
    a.basis = Some(Basis {
        period: period_label,
        start: day,
        end_inclusive: day,
        compared_with: None,
        metric: format!("AWS-estimated monthly savings ({setting})"),
        credits_refunds_excluded: false,
        credits_apply: false,
        source: if sample {
            "sample data (standing in for AWS GetRightsizingRecommendation and Cost Optimization Hub)"
                .into()
        } else {
            format!(
                "AWS Cost Explorer GetRightsizingRecommendation ({} billed request{}){hub_source}",
                r.requests,
                if r.requests == 1 { "" } else { "s" }
            )
        },
        sample_data: sample,
        estimated: true,
        cached: r.cached && hub.is_none_or(|h| h.cached),
    });
    a.suggestions = vec![
        "What would rightsizing across instance families save?".into(),
        "How do I rightsize EC2 safely?".into(),
    ];
}

fn hub_part(h: &HubResult, labels: &Labels, sample: bool, a: &mut Answer) {
    let who = if sample {
        "The sample's stand-in for Cost Optimization Hub"
    } else {
        "Cost Optimization Hub"
    };
    let Some(top) = h.recommendations.first() else {
        append(a, format!("{who} lists no recommendations."));
        return;
    };
    let mut kinds: Vec<&str> = h
        .recommendations
        .iter()
        .filter_map(|x| x.resource_type.as_deref())
        .collect();
    kinds.sort();
    kinds.dedup();
    let unit = top.currency.as_deref().unwrap_or("USD");
    append(
        a,
        format!(
            "{who} lists {} recommendation{} ({}); the largest: {} {} {}, {} a month.",
            h.recommendations.len(),
            if h.recommendations.len() == 1 {
                ""
            } else {
                "s"
            },
            kinds.join(", "),
            top.action_type.as_deref().unwrap_or("Change"),
            top.resource_type.as_deref().unwrap_or("resource"),
            top.resource_id.as_deref().unwrap_or("?"),
            top.estimated_monthly_savings
                .map(|s| format(s, unit))
                .unwrap_or_else(|| "no estimate".into()),
        ),
    );
    for x in h.recommendations.iter().take(10) {
        if let Some(s) = x.estimated_monthly_savings {
            a.figure(
                format!(
                    "Cost Optimization Hub: {} {}",
                    x.action_type.as_deref().unwrap_or("Change"),
                    x.resource_id.as_deref().unwrap_or("?")
                ),
                s,
                x.currency.as_deref().unwrap_or("USD"),
            );
        }
        a.details
            .push(format!("Cost Optimization Hub: {}", hub_line(x, labels)));
        cite(guide_for_hub(x), a);
    }
    if h.recommendations.len() > 10 {
        a.details.push(format!(
            "Cost Optimization Hub: {} more not listed.",
            h.recommendations.len() - 10
        ));
    }
    a.notes.push(
        "Cost Optimization Hub's estimates can overlap Cost Explorer's and each other's (one instance may be both downsized and moved to Graviton): do not add them up.".into(),
    );
}

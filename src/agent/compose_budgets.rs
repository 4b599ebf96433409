//! Composes AWS Budgets (DescribeBudgets) and the account list into an
//! answer. AWS's budgets are labelled as AWS's, beside costbot's own
//! projection against the configured budget when that ran too.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::answer::{Answer, Basis, Cell, Table};
use super::tools::NamedAccount;
use crate::costs::budgets::{current_period, AccountList, AwsBudget, BudgetResult, BudgetStanding};
use crate::costs::money::format;
use crate::costs::periods::Period;

fn append(a: &mut Answer, text: String) {
    if a.summary.is_empty() {
        a.summary = text;
    } else {
        a.summary = format!("{} {text}", a.summary);
    }
}

/// The budget's current period: by its time unit, or its own for CUSTOM.
fn period_of(b: &AwsBudget, today: NaiveDate) -> Option<Period> {
    current_period(&b.time_unit, today).or(match (b.period_start, b.period_end) {
        (Some(s), Some(e)) if e > s => Some(Period::new(s, e)),
        _ => None,
    })
}

fn money_or_dash(v: Option<Decimal>, unit: &str) -> Cell {
    match v {
        Some(d) => Cell::money(d, unit),
        None => Cell::text("–"),
    }
}

fn standing_text(s: BudgetStanding) -> &'static str {
    match s {
        BudgetStanding::Over => "over",
        BudgetStanding::ForecastOver => "forecast over",
        BudgetStanding::Within => "within",
        BudgetStanding::Unknown => "no spend calculated",
    }
}

fn one(b: &AwsBudget) -> String {
    let u = &b.unit;
    let limit = b
        .limit
        .map(|l| format(l, u))
        .unwrap_or_else(|| "no limit".into());
    match b.standing() {
        BudgetStanding::Over => format!(
            "{} ({}) at {} against {limit}",
            b.name,
            b.time_unit.to_lowercase(),
            b.actual.map(|v| format(v, u)).unwrap_or_default()
        ),
        _ => format!(
            "{} ({}) forecast at {} against {limit}",
            b.name,
            b.time_unit.to_lowercase(),
            b.forecasted.map(|v| format(v, u)).unwrap_or_default()
        ),
    }
}

pub fn budgets(
    r: &BudgetResult,
    left_out: usize,
    what: &str,
    beside_own: bool,
    sample: bool,
    today: NaiveDate,
    a: &mut Answer,
) {
    let who = if sample {
        "The sample organization's AWS Budgets"
    } else {
        "AWS Budgets"
    };
    let over: Vec<&AwsBudget> = r
        .budgets
        .iter()
        .filter(|b| b.standing() == BudgetStanding::Over)
        .collect();
    let forecast_over: Vec<&AwsBudget> = r
        .budgets
        .iter()
        .filter(|b| b.standing() == BudgetStanding::ForecastOver)
        .collect();
    let shown = r.budgets.len();
    let text = if shown == 0 && left_out == 0 {
        format!("{who}: no budgets are set in account {}.", r.account_id)
    } else if shown == 0 {
        format!(
            "{who}: none of the {left_out} budget{} is over its limit or forecast to go over.",
            if left_out == 1 { "" } else { "s" }
        )
    } else {
        let mut t = format!(
            "{who}: {} over {} limit, {} forecast to go over, {} within (of {shown} budget{}).",
            over.len(),
            if over.len() == 1 { "its" } else { "their" },
            forecast_over.len(),
            r.budgets
                .iter()
                .filter(|b| b.standing() == BudgetStanding::Within)
                .count(),
            if shown == 1 { "" } else { "s" }
        );
        if !over.is_empty() {
            let names: Vec<String> = over.iter().map(|b| one(b)).collect();
            t.push_str(&format!(" Over: {}.", names.join("; ")));
        }
        if !forecast_over.is_empty() {
            let names: Vec<String> = forecast_over.iter().map(|b| one(b)).collect();
            t.push_str(&format!(" Forecast over: {}.", names.join("; ")));
        }
        t
    };
    append(a, text);
    for b in &r.budgets {
        let u = &b.unit;
        if let Some(l) = b.limit {
            a.figure(format!("AWS budget {} limit", b.name), l, u);
        }
        if let Some(v) = b.actual {
            a.figure(format!("AWS budget {} actual", b.name), v, u);
        }
        if let Some(v) = b.forecasted {
            a.figure(format!("AWS budget {} forecasted", b.name), v, u);
        }
    }
    let table = Table {
        columns: vec![
            "AWS budget".into(),
            "Type".into(),
            "Period".into(),
            "Limit".into(),
            "Actual".into(),
            "Forecasted".into(),
            "Standing".into(),
        ],
        rows: r
            .budgets
            .iter()
            .map(|b| {
                vec![
                    b.name.clone().into(),
                    format!(
                        "{} {}",
                        b.time_unit.to_lowercase(),
                        b.budget_type.to_lowercase()
                    )
                    .into(),
                    period_of(b, today)
                        .map(|p| p.label())
                        .unwrap_or_else(|| "–".into())
                        .into(),
                    money_or_dash(b.limit, &b.unit),
                    money_or_dash(b.actual, &b.unit),
                    money_or_dash(b.forecasted, &b.unit),
                    standing_text(b.standing()).into(),
                ]
            })
            .collect(),
    };
    // costbot's own projection keeps its chart; AWS's budgets are the table.
    a.table = Some(table);
    if what != "AWS" {
        // DescribeBudgets takes no filter: each budget has its own scope.
        a.notes.push(format!(
            "AWS Budgets are listed whole, not only for {what}; each budget covers the scope it was set up with in AWS."
        ));
    }
    if left_out > 0 && shown > 0 {
        a.notes.push(format!(
            "{left_out} other AWS budget{} left out as asked.",
            if left_out == 1 { " is" } else { "s are" }
        ));
    }
    a.details.push(format!(
        "AWS's budgets: AWS Budgets DescribeBudgets for account {}, actual and forecasted spend as AWS calculated them for each budget's current period (AWS refreshes them a few times a day){}. DescribeBudgets is free of charge; {} request{} made, not counted against the Cost Explorer request budget.",
        r.account_id,
        if beside_own {
            "; costbot's projection above is compared with the monthly budget in costbot's config (budget_monthly), a separate figure"
        } else {
            ""
        },
        r.requests,
        if r.requests == 1 { "" } else { "s" },
    ));
    let period = r
        .budgets
        .iter()
        .filter_map(|b| period_of(b, today))
        .find(|p| p.contains(today))
        .unwrap_or_else(|| Period::day(today));
    let api = "AWS Budgets DescribeBudgets (free of charge)";
    match &mut a.basis {
        Some(b) => {
            b.source = format!("{}; {api} for each budget's current period", b.source);
            b.cached &= r.cached;
        }
        None => {
            a.basis = Some(Basis {
                period: format!("{} (each budget's current period)", period.label()),
                start: period.start,
                end_inclusive: period.last_day(),
                compared_with: None,
                metric: "each budget's own cost types".into(),
                credits_refunds_excluded: false,
                // Each budget says for itself whether credits count.
                credits_apply: false,
                source: if sample {
                    format!("sample data (standing in for {api})")
                } else {
                    api.to_string()
                },
                sample_data: sample,
                estimated: true,
                cached: r.cached,
            })
        }
    }
}

pub fn accounts(
    accounts: &[NamedAccount],
    listed: Option<&AccountList>,
    sample: bool,
    a: &mut Answer,
) {
    let from_org = accounts
        .iter()
        .filter(|x| x.from == "Organizations")
        .count();
    append(
        a,
        format!(
            "I know {} account{} by name{}.",
            accounts.len(),
            if accounts.len() == 1 { "" } else { "s" },
            if sample {
                " in the sample organization".to_string()
            } else if from_org > 0 {
                format!(
                    ": {} from costbot.toml, {from_org} from AWS Organizations",
                    accounts.len() - from_org
                )
            } else {
                " from costbot.toml (none from AWS Organizations)".to_string()
            }
        ),
    );
    // Beside spend by account, that table stays; the names go to the details.
    if a.table.is_some() {
        a.details.push(format!(
            "Account names: {}.",
            accounts
                .iter()
                .map(|x| format!("{} ({}, from {})", x.name, x.id, x.from))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    } else {
        a.table = Some(Table {
            columns: vec!["Account".into(), "Id".into(), "Name from".into()],
            rows: accounts
                .iter()
                .map(|x| vec![x.name.clone().into(), x.id.clone().into(), x.from.into()])
                .collect(),
        });
    }
    a.details.push(match listed {
        Some(l) => format!(
            "Organizations ListAccounts was asked now ({} request{}, free of charge) and is kept for a day; names configured in costbot.toml win over the organization's.",
            l.requests,
            if l.requests == 1 { "" } else { "s" }
        ),
        None => "The organization's names come from Organizations ListAccounts, read at most once a day (free of charge); names configured in costbot.toml win. Without access to Organizations (only the management account may list accounts) costbot uses the configured names only.".into(),
    });
}

//! AWS Budgets (DescribeBudgets) and the organization's account names
//! (Organizations ListAccounts). Query and result types only; sources
//! implement them beside `cost_and_usage`. Both APIs are free of charge:
//! their requests are counted, never billed nor held against the Cost
//! Explorer monthly cap.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::insights::Paid;
use super::periods::{add_months, month_start, Period};

/// A DescribeBudgets request: every budget of the connection's account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct BudgetQuery {
    /// Page size (1–1000); AWS's default (100) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

impl BudgetQuery {
    pub fn canonical(&self) -> String {
        format!(
            "budgets|{}",
            serde_json::to_string(self).expect("a query always serializes")
        )
    }
}

/// One AWS budget with what AWS calculated against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsBudget {
    pub name: String,
    /// COST, USAGE, RI_UTILIZATION, RI_COVERAGE, SAVINGS_PLANS_UTILIZATION, SAVINGS_PLANS_COVERAGE.
    pub budget_type: String,
    /// DAILY, MONTHLY, QUARTERLY, ANNUALLY, CUSTOM.
    pub time_unit: String,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub limit: Option<Decimal>,
    /// The limit's unit ("USD", or a usage unit such as "GB").
    pub unit: String,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub actual: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub forecasted: Option<Decimal>,
    /// The budget's period as AWS states it (start, end; end may be far away).
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
}

/// Where a budget stands against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStanding {
    /// Actual spend is above the limit.
    Over,
    /// Actual spend is within the limit, the forecast is above it.
    ForecastOver,
    Within,
    /// No limit or no calculated spend to compare.
    Unknown,
}

impl AwsBudget {
    pub fn standing(&self) -> BudgetStanding {
        match (self.limit, self.actual, self.forecasted) {
            (Some(l), Some(a), _) if a > l => BudgetStanding::Over,
            (Some(l), _, Some(f)) if f > l => BudgetStanding::ForecastOver,
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => BudgetStanding::Within,
            _ => BudgetStanding::Unknown,
        }
    }
}

/// The budget period that contains `today` for a recurring time unit (None
/// for CUSTOM, whose period is the budget's own).
pub fn current_period(time_unit: &str, today: NaiveDate) -> Option<Period> {
    use chrono::Datelike;
    let m = month_start(today);
    Some(match time_unit {
        "DAILY" => Period::day(today),
        "MONTHLY" => Period::new(m, add_months(m, 1)),
        "QUARTERLY" => {
            let q = add_months(m, -(((today.month() - 1) % 3) as i32));
            Period::new(q, add_months(q, 3))
        }
        "ANNUALLY" => {
            let y = NaiveDate::from_ymd_opt(today.year(), 1, 1)?;
            Period::new(y, add_months(y, 12))
        }
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetResult {
    pub query: BudgetQuery,
    /// The account whose budgets these are.
    pub account_id: String,
    /// In AWS's order (by name).
    pub budgets: Vec<AwsBudget>,
    /// "aws-budgets" or "sample".
    pub source: String,
    /// DescribeBudgets requests (pages) made; free of charge.
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

impl Paid for BudgetResult {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

/// One account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE (as Organizations says).
    pub status: Option<String>,
}

/// A ListAccounts request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct AccountsQuery {
    /// Page size (1–20); AWS's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

impl AccountsQuery {
    pub fn canonical(&self) -> String {
        format!(
            "org-accounts|{}",
            serde_json::to_string(self).expect("a query always serializes")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountList {
    pub query: AccountsQuery,
    pub accounts: Vec<OrgAccount>,
    /// "organizations" or "sample".
    pub source: String,
    /// ListAccounts requests (pages) made; free of charge.
    pub requests: u32,
    #[serde(default)]
    pub cached: bool,
}

impl Paid for AccountList {
    fn mark_cached(&mut self) {
        self.cached = true;
        self.requests = 0;
    }
}

/// Configured names first (they win, by name and by id), then the
/// organization's names for the other accounts.
pub fn merge_accounts(
    configured: Vec<(String, String)>,
    organization: &[OrgAccount],
) -> Vec<(String, String)> {
    let mut out = configured;
    for a in organization {
        let taken = out
            .iter()
            .any(|(n, id)| *id == a.id || n.eq_ignore_ascii_case(&a.name));
        if !taken && !a.name.trim().is_empty() {
            out.push((a.name.clone(), a.id.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: name.into(),
            status: Some("ACTIVE".into()),
        }
    }

    #[test]
    fn configured_names_win_by_id_and_by_name() {
        let configured = vec![("prod".to_string(), "111111111111".to_string())];
        let merged = merge_accounts(
            configured,
            &[
                org("111111111111", "Production Workloads"),
                org("222222222222", "prod"),
                org("333333333333", "payments"),
            ],
        );
        assert_eq!(
            merged,
            vec![
                ("prod".to_string(), "111111111111".to_string()),
                ("payments".to_string(), "333333333333".to_string()),
            ]
        );
    }

    #[test]
    fn current_periods_follow_the_time_unit() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-30");
        assert_eq!(
            current_period("MONTHLY", today),
            Some(Period::new(d("2026-11-01"), d("2026-12-01")))
        );
        assert_eq!(
            current_period("QUARTERLY", today),
            Some(Period::new(d("2026-10-01"), d("2027-01-01")))
        );
        assert_eq!(
            current_period("ANNUALLY", today),
            Some(Period::new(d("2026-01-01"), d("2027-01-01")))
        );
        assert_eq!(current_period("CUSTOM", today), None);
    }

    #[test]
    fn standing_compares_actual_then_forecast() {
        let mut b = AwsBudget {
            name: "x".into(),
            budget_type: "COST".into(),
            time_unit: "MONTHLY".into(),
            limit: Some(Decimal::from(100)),
            unit: "USD".into(),
            actual: Some(Decimal::from(101)),
            forecasted: Some(Decimal::from(90)),
            period_start: None,
            period_end: None,
        };
        assert_eq!(b.standing(), BudgetStanding::Over);
        b.actual = Some(Decimal::from(50));
        assert_eq!(b.standing(), BudgetStanding::Within);
        b.forecasted = Some("100.01".parse().unwrap());
        assert_eq!(b.standing(), BudgetStanding::ForecastOver);
        b.limit = None;
        assert_eq!(b.standing(), BudgetStanding::Unknown);
    }
}

//! The sample organization's AWS budgets and account list, so the embedded
//! default answers "are we over any budget?". Spend is the sample's own:
//! actual = the budget period to date (complete days), forecasted = that
//! plus the sample's stand-in for AWS's forecast of the rest of the period,
//! so both agree with the sample's month-to-date and AWS-forecast answers.
//! Limits are set from the previous month's spend so that the demo shows
//! every standing (within, forecast over, over) on most days.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::catalog::ACCOUNTS;
use super::SampleSource;
use crate::costs::budgets::{
    current_period, AccountList, AccountsQuery, AwsBudget, BudgetQuery, BudgetResult, OrgAccount,
};
use crate::costs::insights::ForecastQuery;
use crate::costs::periods::{add_months, month_start};
use crate::costs::{CostError, CostQuery, CostSource, Granularity, Period};

/// The sample's management account (its budgets live there).
const MANAGEMENT_ACCOUNT: &str = "111111111111";

/// (name, time unit, account name or None for the whole bill, limit as a
/// share of the previous month's spend in that scope, rounded to).
const BUDGETS: &[(&str, &str, Option<&str>, &str, i64)] = &[
    ("org-monthly-total", "MONTHLY", None, "1.10", 1000),
    ("prod-monthly", "MONTHLY", Some("prod"), "0.97", 100),
    ("dev-monthly", "MONTHLY", Some("dev"), "0.50", 100),
    ("data-quarterly", "QUARTERLY", Some("data"), "3.60", 1000),
];

async fn spend(
    sample: &SampleSource,
    period: Period,
    account: Option<&str>,
) -> Result<Decimal, CostError> {
    if period.start >= period.end {
        return Ok(Decimal::ZERO);
    }
    let mut q = CostQuery::new(period);
    q.granularity = Granularity::Monthly;
    if let Some(a) = account {
        q.filter.accounts = ACCOUNTS
            .iter()
            .filter(|(n, _)| *n == a)
            .map(|(_, id)| id.to_string())
            .collect();
    }
    Ok(sample.cost_and_usage(&q).await?.total())
}

fn round_to(v: Decimal, step: i64) -> Decimal {
    let step = Decimal::from(step);
    ((v / step).round() * step).max(step)
}

pub(super) async fn budgets(
    sample: &SampleSource,
    q: &BudgetQuery,
    today: NaiveDate,
) -> Result<BudgetResult, CostError> {
    if let Some(c) = &q.connection {
        return Err(CostError::UnknownConnection(c.clone()));
    }
    let last_month = Period::new(add_months(month_start(today), -1), month_start(today));
    let mut out = Vec::new();
    for (name, unit, account, share, step) in BUDGETS {
        let period = current_period(unit, today).expect("recurring units only");
        let base = spend(sample, last_month, *account).await?;
        let share: Decimal = share.parse().expect("a constant");
        let actual = spend(sample, Period::new(period.start, today), *account).await?;
        let mut fq = ForecastQuery::new(Period::new(today, period.end));
        fq.filter.accounts = account
            .and_then(|a| ACCOUNTS.iter().find(|(n, _)| *n == a))
            .map(|(_, id)| vec![id.to_string()])
            .unwrap_or_default();
        let rest = super::insights::forecast(sample, &fq, today).await?.total;
        out.push(AwsBudget {
            name: name.to_string(),
            budget_type: "COST".into(),
            time_unit: unit.to_string(),
            limit: Some(round_to(base * share, *step)),
            unit: "USD".into(),
            actual: Some(actual),
            forecasted: Some(actual + rest),
            period_start: Some(period.start),
            period_end: Some(period.end),
        });
    }
    Ok(BudgetResult {
        query: q.clone(),
        account_id: MANAGEMENT_ACCOUNT.into(),
        budgets: out,
        source: "sample".into(),
        requests: 0,
        cached: false,
    })
}

pub(super) fn accounts(q: &AccountsQuery) -> Result<AccountList, CostError> {
    if let Some(c) = &q.connection {
        return Err(CostError::UnknownConnection(c.clone()));
    }
    Ok(AccountList {
        query: q.clone(),
        accounts: ACCOUNTS
            .iter()
            .map(|(n, id)| OrgAccount {
                id: id.to_string(),
                name: n.to_string(),
                status: Some("ACTIVE".into()),
            })
            .collect(),
        source: "sample".into(),
        requests: 0,
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::CostSource;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn the_sample_budgets_agree_with_its_month_to_date_and_aws_forecast() {
        let today = d("2026-11-19");
        let sample = SampleSource::new(today);
        let r = sample.budgets(&BudgetQuery::default()).await.unwrap();
        assert_eq!(r.budgets.len(), BUDGETS.len());
        let total = r
            .budgets
            .iter()
            .find(|b| b.name == "org-monthly-total")
            .unwrap();
        let mut mtd = CostQuery::new(Period::new(d("2026-11-01"), today));
        mtd.granularity = Granularity::Monthly;
        let mtd = sample.cost_and_usage(&mtd).await.unwrap().total();
        let rest = sample
            .forecast(&ForecastQuery::new(Period::new(today, d("2026-12-01"))))
            .await
            .unwrap()
            .total;
        assert_eq!(total.actual, Some(mtd));
        assert_eq!(total.forecasted, Some(mtd + rest));
        assert_eq!(
            (total.period_start, total.period_end),
            (Some(d("2026-11-01")), Some(d("2026-12-01")))
        );
        // Limits are whole steps, never zero.
        assert!(r
            .budgets
            .iter()
            .all(|b| b.limit.is_some_and(|l| l >= Decimal::from(100))));
    }
}

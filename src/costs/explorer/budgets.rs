//! AWS Budgets (DescribeBudgets) and Organizations (ListAccounts) through
//! their SDKs, on the same connections (profile, role) as Cost Explorer.
//! Both APIs are free: every request is recorded in the meter, none is
//! admitted against the Cost Explorer cap nor counted as a Cost Explorer request.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_budgets::types as bt;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{classify, ExplorerSource};
use crate::costs::budgets::{
    AccountList, AccountsQuery, AwsBudget, BudgetQuery, BudgetResult, OrgAccount,
};
use crate::costs::{CostError, Meter};

/// Budgets, Organizations and STS clients per connection (None = default),
/// and the account id each connection resolves to (asked once).
pub(super) struct OtherClients {
    clients: HashMap<Option<String>, Clients>,
    account_ids: Mutex<HashMap<Option<String>, String>>,
}

struct Clients {
    budgets: aws_sdk_budgets::Client,
    organizations: aws_sdk_organizations::Client,
    sts: aws_sdk_sts::Client,
}

impl OtherClients {
    pub(super) fn new(default: &SdkConfig) -> Self {
        let mut o = OtherClients {
            clients: HashMap::new(),
            account_ids: Mutex::new(HashMap::new()),
        };
        o.add(None, default);
        o
    }

    pub(super) fn add(&mut self, connection: Option<String>, sdk: &SdkConfig) {
        self.clients.insert(
            connection,
            Clients {
                budgets: aws_sdk_budgets::Client::new(sdk),
                organizations: aws_sdk_organizations::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
            },
        );
    }

    fn get(&self, connection: Option<&str>) -> Result<&Clients, CostError> {
        self.clients
            .get(&connection.map(String::from))
            .ok_or_else(|| CostError::UnknownConnection(connection.unwrap_or_default().into()))
    }
}

/// A Budgets amount, parsed exactly (it arrives as a decimal string).
fn spend(s: Option<&bt::Spend>) -> Result<Option<Decimal>, CostError> {
    let Some(s) = s else { return Ok(None) };
    let raw = s.amount();
    raw.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(raw))
        .map(Some)
        .map_err(|_| {
            CostError::Service(format!("AWS Budgets returned an unreadable amount '{raw}'"))
        })
}

/// A refusal (a 403, even one whose body the SDK cannot read) as
/// AccessDenied naming what to allow; anything else as Cost Explorer's errors are.
fn refused<E>(
    e: aws_sdk_budgets::error::SdkError<E, aws_sdk_budgets::config::http::HttpResponse>,
    codes: &[&str],
    what: &str,
) -> CostError
where
    E: aws_sdk_budgets::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_budgets::error::ProvideErrorMetadata;
    let forbidden = e.raw_response().map(|r| r.status().as_u16()) == Some(403);
    if forbidden || e.code().is_some_and(|c| codes.contains(&c)) {
        return CostError::AccessDenied(what.into());
    }
    classify(e)
}

fn day(t: Option<&aws_sdk_budgets::primitives::DateTime>) -> Option<NaiveDate> {
    let t = t?;
    chrono::DateTime::from_timestamp(t.secs(), 0).map(|d| d.date_naive())
}

fn budget(b: &bt::Budget) -> Result<AwsBudget, CostError> {
    let calculated = b.calculated_spend();
    let limit = b.budget_limit();
    Ok(AwsBudget {
        name: b.budget_name().to_string(),
        budget_type: b.budget_type().as_str().to_string(),
        time_unit: b.time_unit().as_str().to_string(),
        limit: spend(limit)?,
        unit: limit
            .map(|l| l.unit().to_string())
            .or_else(|| {
                calculated
                    .and_then(|c| c.actual_spend())
                    .map(|s| s.unit().to_string())
            })
            .unwrap_or_else(|| "USD".into()),
        actual: spend(calculated.and_then(|c| c.actual_spend()))?,
        forecasted: spend(calculated.and_then(|c| c.forecasted_spend()))?,
        period_start: day(b.time_period().and_then(|p| p.start())),
        period_end: day(b.time_period().and_then(|p| p.end())),
    })
}

impl ExplorerSource {
    /// The account id the connection's credentials belong to (STS
    /// GetCallerIdentity, free, asked once per connection and counted).
    async fn account_id(
        &self,
        connection: Option<&str>,
        meter: &Meter<'_>,
    ) -> Result<String, CostError> {
        let key = connection.map(String::from);
        if let Some(id) = self
            .others
            .account_ids
            .lock()
            .expect("not poisoned")
            .get(&key)
        {
            return Ok(id.clone());
        }
        let clients = self.others.get(connection)?;
        let out = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(classify);
        meter.record(1);
        let id = out?
            .account()
            .map(String::from)
            .ok_or_else(|| CostError::Service("STS returned no account id".into()))?;
        self.others
            .account_ids
            .lock()
            .expect("not poisoned")
            .insert(key, id.clone());
        Ok(id)
    }

    pub(super) async fn budgets_inner(
        &self,
        q: &BudgetQuery,
        meter: &Meter<'_>,
    ) -> Result<BudgetResult, CostError> {
        let clients = self.others.get(q.connection.as_deref())?;
        let before = meter.spent();
        let account_id = self.account_id(q.connection.as_deref(), meter).await?;
        let mut budgets = Vec::new();
        let mut token: Option<String> = None;
        loop {
            if meter.spent() - before > self.max_requests_per_query {
                return Err(CostError::Service(format!(
                    "AWS Budgets kept paging past {} requests",
                    self.max_requests_per_query
                )));
            }
            let resp = clients
                .budgets
                .describe_budgets()
                .account_id(&account_id)
                .set_max_results(q.max_results.map(|n| n as i32))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    refused(
                        e,
                        &["AccessDeniedException", "AccessDenied"],
                        "AWS Budgets refused DescribeBudgets; allow budgets:ViewBudget",
                    )
                });
            meter.record(1);
            let resp = resp?;
            for b in resp.budgets() {
                budgets.push(budget(b)?);
            }
            token = resp
                .next_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        Ok(BudgetResult {
            query: q.clone(),
            account_id,
            budgets,
            source: "aws-budgets".into(),
            requests: meter.spent() - before,
            cached: false,
        })
    }

    pub(super) async fn accounts_inner(
        &self,
        q: &AccountsQuery,
        meter: &Meter<'_>,
    ) -> Result<AccountList, CostError> {
        let clients = self.others.get(q.connection.as_deref())?;
        let mut accounts = Vec::new();
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query.max(50) {
                return Err(CostError::Service(format!(
                    "Organizations kept paging past {requests} requests"
                )));
            }
            let resp = clients
                .organizations
                .list_accounts()
                .set_max_results(q.max_results.map(|n| n as i32))
                .set_next_token(token.clone())
                .send()
                .await;
            requests += 1;
            meter.record(1);
            // Not the management account, or no organization: the same to costbot.
            let resp = resp.map_err(|e| {
                refused(
                    e,
                    &["AccessDeniedException", "AccessDenied", "AWSOrganizationsNotInUseException"],
                    "Organizations refused ListAccounts: only an organization's management account, allowed organizations:ListAccounts, may list its accounts",
                )
            })?;
            for a in resp.accounts() {
                let (Some(id), Some(name)) = (a.id(), a.name()) else {
                    continue;
                };
                accounts.push(OrgAccount {
                    id: id.to_string(),
                    name: name.to_string(),
                    status: a.state().map(|s| s.as_str().to_string()),
                });
            }
            token = resp
                .next_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        Ok(AccountList {
            query: q.clone(),
            accounts,
            source: "organizations".into(),
            requests,
            cached: false,
        })
    }
}

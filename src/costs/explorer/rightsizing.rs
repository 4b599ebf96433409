//! Cost Explorer's GetRightsizingRecommendation (Service "AmazonEC2"): every
//! page is a billable request, counted and admitted through the meter.

use std::sync::atomic::Ordering;

use aws_sdk_costexplorer::types as ce;

use super::{classify, ExplorerSource};
use crate::costs::rightsizing::{
    exact, InstanceRecommendation, RecommendationTarget, RightsizingAction, RightsizingSummary,
    TargetType,
};
use crate::costs::{CostError, Meter, RightsizingQuery, RightsizingResult};

/// The only service GetRightsizingRecommendation accepts today.
const SERVICE: &str = "AmazonEC2";

fn dimension(key: ce::Dimension, values: &[String]) -> ce::Expression {
    ce::Expression::builder()
        .dimensions(
            ce::DimensionValues::builder()
                .key(key)
                .set_values(Some(values.to_vec()))
                .build(),
        )
        .build()
}

/// Accounts and regions; `And` only around two expressions, as Cost Explorer wants.
fn filter(q: &RightsizingQuery) -> Option<ce::Expression> {
    let mut parts = Vec::new();
    if !q.accounts.is_empty() {
        parts.push(dimension(ce::Dimension::LinkedAccount, &q.accounts));
    }
    if !q.regions.is_empty() {
        parts.push(dimension(ce::Dimension::Region, &q.regions));
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(ce::Expression::builder().set_and(Some(parts)).build()),
    }
}

fn target(t: RecommendationTarget) -> ce::RecommendationTarget {
    match t {
        RecommendationTarget::SameInstanceFamily => ce::RecommendationTarget::SameInstanceFamily,
        RecommendationTarget::CrossInstanceFamily => ce::RecommendationTarget::CrossInstanceFamily,
    }
}

impl ExplorerSource {
    pub(super) async fn rightsizing_inner(
        &self,
        q: &RightsizingQuery,
        meter: &Meter<'_>,
    ) -> Result<RightsizingResult, CostError> {
        let client = self.client(q.connection.as_deref())?;
        let configuration = ce::RightsizingRecommendationConfiguration::builder()
            .recommendation_target(target(q.target))
            .benefits_considered(q.benefits_considered)
            .build()
            .map_err(|e| CostError::InvalidQuery(e.to_string()))?;
        let mut recommendations = Vec::new();
        let mut summary: Option<RightsizingSummary> = None;
        let mut lookback = None;
        let mut generated = None;
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query {
                return Err(CostError::RequestBudget {
                    limit: self.max_requests_per_query,
                });
            }
            // Each page is billed: the meter may refuse it.
            meter.admit().await?;
            let resp = client
                .get_rightsizing_recommendation()
                .service(SERVICE)
                .configuration(configuration.clone())
                .set_filter(filter(q))
                .set_next_page_token(token.clone())
                .send()
                .await
                .map_err(classify);
            requests += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            meter.record(1);
            let resp = resp?;
            if summary.is_none() {
                if let Some(s) = resp.summary() {
                    summary = Some(read_summary(s)?);
                }
            }
            if let Some(m) = resp.metadata() {
                lookback = lookback.or(m.lookback_period_in_days().map(|l| l.as_str().to_string()));
                generated = generated.or(m.generation_timestamp().map(String::from));
            }
            for r in resp.rightsizing_recommendations() {
                recommendations.push(read(r)?);
            }
            token = resp
                .next_page_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        recommendations.sort_by(|a: &InstanceRecommendation, b| {
            b.estimated_monthly_savings
                .cmp(&a.estimated_monthly_savings)
                .then_with(|| a.instance_id.cmp(&b.instance_id))
        });
        Ok(RightsizingResult {
            query: q.clone(),
            recommendations,
            summary: summary.unwrap_or_default(),
            lookback,
            generated,
            source: "cost-explorer".into(),
            requests,
            cached: false,
        })
    }
}

fn read_summary(s: &ce::RightsizingRecommendationSummary) -> Result<RightsizingSummary, CostError> {
    let count = match s.total_recommendation_count() {
        Some(c) => Some(c.trim().parse::<u32>().map_err(|_| {
            CostError::Service(format!(
                "Cost Explorer returned an unreadable recommendation count '{c}'"
            ))
        })?),
        None => None,
    };
    Ok(RightsizingSummary {
        total_recommendation_count: count,
        estimated_total_monthly_savings: exact(
            s.estimated_total_monthly_savings_amount(),
            "savings amount",
        )?,
        currency: s.savings_currency_code().map(String::from),
        savings_percentage: exact(s.savings_percentage(), "savings percentage")?,
    })
}

fn read(r: &ce::RightsizingRecommendation) -> Result<InstanceRecommendation, CostError> {
    let current = r.current_instance();
    let details = current
        .and_then(|c| c.resource_details())
        .and_then(|d| d.ec2_resource_details());
    let usage = current
        .and_then(|c| c.resource_utilization())
        .and_then(|u| u.ec2_resource_utilization());
    let action = match r.rightsizing_type() {
        Some(ce::RightsizingType::Terminate) => RightsizingAction::Terminate,
        _ => RightsizingAction::Modify,
    };
    let targets = r
        .modify_recommendation_detail()
        .map(|m| m.target_instances())
        .unwrap_or_default();
    // AWS marks one target as its default; the first stands in when none is.
    let chosen = targets
        .iter()
        .find(|t| t.default_target_instance())
        .or_else(|| targets.first());
    let target = match chosen {
        Some(t) => Some(TargetType {
            instance_type: t
                .resource_details()
                .and_then(|d| d.ec2_resource_details())
                .and_then(|d| d.instance_type())
                .map(String::from),
            estimated_monthly_cost: exact(t.estimated_monthly_cost(), "monthly cost")?,
            estimated_monthly_savings: exact(t.estimated_monthly_savings(), "monthly savings")?,
            default_target: t.default_target_instance(),
        }),
        None => None,
    };
    let (savings, currency) = match action {
        RightsizingAction::Terminate => {
            let t = r.terminate_recommendation_detail();
            (
                exact(
                    t.and_then(|t| t.estimated_monthly_savings()),
                    "monthly savings",
                )?,
                t.and_then(|t| t.currency_code()).map(String::from),
            )
        }
        RightsizingAction::Modify => (
            target.as_ref().and_then(|t| t.estimated_monthly_savings),
            chosen.and_then(|t| t.currency_code()).map(String::from),
        ),
    };
    Ok(InstanceRecommendation {
        account_id: r.account_id().map(String::from),
        instance_id: current.and_then(|c| c.resource_id()).map(String::from),
        instance_name: current
            .and_then(|c| c.instance_name())
            .filter(|n| !n.is_empty())
            .map(String::from),
        region: details.and_then(|d| d.region()).map(String::from),
        current_type: details.and_then(|d| d.instance_type()).map(String::from),
        action,
        target,
        estimated_monthly_savings: savings,
        current_monthly_cost: exact(current.and_then(|c| c.monthly_cost()), "monthly cost")?,
        currency: currency.or_else(|| current.and_then(|c| c.currency_code()).map(String::from)),
        max_cpu_percent: exact(
            usage.and_then(|u| u.max_cpu_utilization_percentage()),
            "CPU utilization",
        )?,
        max_memory_percent: exact(
            usage.and_then(|u| u.max_memory_utilization_percentage()),
            "memory utilization",
        )?,
        finding_reasons: r
            .finding_reason_codes()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    })
}

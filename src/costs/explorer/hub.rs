//! Cost Optimization Hub's ListRecommendations (AWS JSON 1.0, us-east-1),
//! read only when `aws.cost_optimization_hub` is on. Every page is counted
//! through the meter like a Cost Explorer page, so "how did you get that?"
//! stays honest about what was sent.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use aws_config::SdkConfig;
use aws_sdk_costoptimizationhub::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_costoptimizationhub::types as coh;
use aws_sdk_costoptimizationhub::Client;

use super::{classify, ExplorerSource};
use crate::costs::rightsizing::{from_double, HubRecommendation};
use crate::costs::{CostError, HubQuery, HubResult, Meter};

/// One client per connection, like Cost Explorer's.
pub struct HubClients {
    default: Client,
    connections: HashMap<String, Client>,
}

impl HubClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        HubClients {
            default: Client::new(sdk),
            connections: HashMap::new(),
        }
    }
    pub fn add(&mut self, name: &str, sdk: &SdkConfig) {
        self.connections.insert(name.to_string(), Client::new(sdk));
    }
    fn client(&self, connection: Option<&str>) -> Result<&Client, CostError> {
        match connection {
            None => Ok(&self.default),
            Some(name) => self
                .connections
                .get(name)
                .ok_or_else(|| CostError::UnknownConnection(name.to_string())),
        }
    }
}

/// What a user can do about the hub not being there: a short sentence.
fn hub_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> CostError {
    let message = err
        .as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // An account that has not opted in is refused with a message saying so.
    if message.contains("enroll") || message.contains("opt in") || message.contains("opted in") {
        return CostError::Unsupported(
            "Cost Optimization Hub is not enabled for this account; an administrator can opt in under Billing and Cost Management > Cost Optimization Hub, or set aws.cost_optimization_hub = false".into(),
        );
    }
    classify(err)
}

impl ExplorerSource {
    /// Whether Cost Optimization Hub is switched on for this source.
    pub fn reads_hub(&self) -> bool {
        self.hub.is_some()
    }

    pub(super) async fn hub_inner(
        &self,
        q: &HubQuery,
        meter: &Meter<'_>,
    ) -> Result<HubResult, CostError> {
        let Some(hub) = &self.hub else {
            return Err(CostError::Unsupported(
                "Cost Optimization Hub is not read (set aws.cost_optimization_hub = true)".into(),
            ));
        };
        let client = hub.client(q.connection.as_deref())?;
        let filter = coh::Filter::builder()
            .set_account_ids((!q.accounts.is_empty()).then(|| q.accounts.clone()))
            .set_regions((!q.regions.is_empty()).then(|| q.regions.clone()))
            .set_resource_types((!q.resource_types.is_empty()).then(|| {
                q.resource_types
                    .iter()
                    .map(|t| coh::ResourceType::from(t.as_str()))
                    .collect()
            }))
            .build();
        let mut recommendations = Vec::new();
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query {
                return Err(CostError::RequestBudget {
                    limit: self.max_requests_per_query,
                });
            }
            meter.admit().await?;
            let resp = client
                .list_recommendations()
                .filter(filter.clone())
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(hub_error);
            requests += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            meter.record(1);
            let resp = resp?;
            for r in resp.items() {
                recommendations.push(read(r)?);
            }
            token = resp
                .next_token()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                break;
            }
        }
        recommendations.sort_by(|a: &HubRecommendation, b| {
            b.estimated_monthly_savings
                .cmp(&a.estimated_monthly_savings)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(HubResult {
            query: q.clone(),
            recommendations,
            source: "cost-optimization-hub".into(),
            requests,
            cached: false,
        })
    }
}

fn read(r: &coh::Recommendation) -> Result<HubRecommendation, CostError> {
    Ok(HubRecommendation {
        id: r.recommendation_id().map(String::from),
        account_id: r.account_id().map(String::from),
        region: r.region().map(String::from),
        resource_id: r.resource_id().map(String::from),
        resource_type: r.current_resource_type().map(String::from),
        current: r.current_resource_summary().map(String::from),
        recommended: r.recommended_resource_summary().map(String::from),
        action_type: r.action_type().map(String::from),
        implementation_effort: r.implementation_effort().map(String::from),
        restart_needed: r.restart_needed(),
        estimated_monthly_savings: from_double(r.estimated_monthly_savings(), "monthly savings")?,
        estimated_monthly_cost: from_double(r.estimated_monthly_cost(), "monthly cost")?,
        estimated_savings_percentage: from_double(
            r.estimated_savings_percentage(),
            "savings percentage",
        )?,
        currency: r.currency_code().map(String::from),
        lookback_days: r.recommendation_lookback_period_in_days(),
    })
}

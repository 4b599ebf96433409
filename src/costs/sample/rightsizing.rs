//! The sample organization's stand-ins for Cost Explorer's rightsizing
//! recommendations and Cost Optimization Hub: a fixed set of instances and
//! resources of the types its bill runs (m7i.xlarge and c7g.2xlarge on EC2,
//! db.r6g.xlarge on RDS, gp2 volumes, Lambda), priced at us-east-1 On-Demand
//! rates over 730 hours, so the embedded default shows both answers.

use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;

use super::catalog::ACCOUNTS;
use crate::costs::rightsizing::{
    HubRecommendation, InstanceRecommendation, RecommendationTarget, RightsizingAction,
    RightsizingSummary, TargetType,
};
use crate::costs::{HubQuery, HubResult, RightsizingQuery, RightsizingResult};

fn d(s: &str) -> Decimal {
    s.parse().expect("sample amounts are decimals")
}

fn account(name: &str) -> String {
    ACCOUNTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| id.to_string())
        .unwrap_or_default()
}

/// (account, id, name, region, type, CPU %, memory %, monthly cost, same-family
/// target, cross-family target); no target = idle, terminate.
type Instance = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<(&'static str, &'static str)>,
    Option<(&'static str, &'static str)>,
);

const INSTANCES: &[Instance] = &[
    (
        "prod",
        "i-0a1b2c3d4e5f60001",
        "api-worker-3",
        "us-east-1",
        "m7i.xlarge",
        "18.4",
        Some("31.0"),
        "147.17",
        Some(("m7i.large", "73.58")),
        Some(("m7g.large", "59.57")),
    ),
    (
        "prod",
        "i-0a1b2c3d4e5f60002",
        "batch-runner-1",
        "us-east-1",
        "c7g.2xlarge",
        "22.7",
        None,
        "210.97",
        Some(("c7g.xlarge", "105.49")),
        Some(("c7g.xlarge", "105.49")),
    ),
    (
        "staging",
        "i-0b1c2d3e4f5a60003",
        "staging-api-2",
        "us-east-1",
        "m7i.xlarge",
        "0.9",
        Some("4.2"),
        "147.17",
        None,
        None,
    ),
    (
        "dev",
        "i-0c1d2e3f4a5b60004",
        "dev-sandbox-7",
        "us-west-2",
        "m7i.xlarge",
        "0.4",
        None,
        "147.17",
        None,
        None,
    ),
    (
        "data",
        "i-0d1e2f3a4b5c60005",
        "etl-scheduler",
        "us-east-1",
        "m7i.xlarge",
        "12.1",
        Some("22.5"),
        "147.17",
        Some(("m7i.large", "73.58")),
        Some(("m7g.large", "59.57")),
    ),
];

fn kept(accounts: &[String], regions: &[String], account_id: &str, region: &str) -> bool {
    (accounts.is_empty() || accounts.iter().any(|a| a == account_id))
        && (regions.is_empty() || regions.iter().any(|r| r == region))
}

pub(super) fn rightsizing(q: &RightsizingQuery, today: NaiveDate) -> RightsizingResult {
    let mut recommendations = Vec::new();
    for &(acct, id, name, region, ty, cpu, mem, cost, same, cross) in INSTANCES {
        let account_id = account(acct);
        if !kept(&q.accounts, &q.regions, &account_id, region) {
            continue;
        }
        let cost = d(cost);
        let target = match q.target {
            RecommendationTarget::SameInstanceFamily => same,
            RecommendationTarget::CrossInstanceFamily => cross,
        };
        let (action, target) = match target {
            Some((t, new_cost)) => {
                let new_cost = d(new_cost);
                (
                    RightsizingAction::Modify,
                    Some(TargetType {
                        instance_type: Some(t.into()),
                        estimated_monthly_cost: Some(new_cost),
                        estimated_monthly_savings: Some(cost - new_cost),
                        default_target: true,
                    }),
                )
            }
            None => (RightsizingAction::Terminate, None),
        };
        let savings = match &target {
            Some(t) => t.estimated_monthly_savings,
            None => Some(cost),
        };
        recommendations.push(InstanceRecommendation {
            account_id: Some(account_id),
            instance_id: Some(id.into()),
            instance_name: Some(name.into()),
            region: Some(region.into()),
            current_type: Some(ty.into()),
            action,
            target,
            estimated_monthly_savings: savings,
            current_monthly_cost: Some(cost),
            currency: Some("USD".into()),
            max_cpu_percent: Some(d(cpu)),
            max_memory_percent: mem.map(d),
            finding_reasons: vec!["CPU_OVER_PROVISIONED".into()],
        });
    }
    recommendations.sort_by(|a, b| {
        b.estimated_monthly_savings
            .cmp(&a.estimated_monthly_savings)
            .then_with(|| a.instance_id.cmp(&b.instance_id))
    });
    let savings: Decimal = recommendations
        .iter()
        .filter_map(|r| r.estimated_monthly_savings)
        .sum();
    let cost: Decimal = recommendations
        .iter()
        .filter_map(|r| r.current_monthly_cost)
        .sum();
    let percentage = (!cost.is_zero()).then(|| (savings / cost * Decimal::from(100)).round_dp(2));
    RightsizingResult {
        query: q.clone(),
        summary: RightsizingSummary {
            total_recommendation_count: Some(recommendations.len() as u32),
            estimated_total_monthly_savings: Some(savings),
            currency: Some("USD".into()),
            savings_percentage: percentage,
        },
        recommendations,
        lookback: Some("THIRTY_DAYS".into()),
        generated: Some(format!(
            "{}T06:00:00Z",
            (today - Duration::days(1)).format("%Y-%m-%d")
        )),
        source: "sample".into(),
        requests: 0,
        cached: false,
    }
}

/// (account, region, resource id, type, action, current, recommended, effort,
/// restart, monthly cost, monthly savings).
type HubItem = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    &'static str,
);

const HUB: &[HubItem] = &[
    (
        "staging",
        "us-east-1",
        "costbot-sample-staging-db",
        "RdsDbInstance",
        "Rightsize",
        "db.r6g.xlarge",
        "db.r6g.large",
        "Medium",
        true,
        "350.40",
        "175.20",
    ),
    (
        "staging",
        "us-east-1",
        "i-0b1c2d3e4f5a60003",
        "Ec2Instance",
        "Stop",
        "m7i.xlarge",
        "Stopped",
        "Low",
        true,
        "147.17",
        "147.17",
    ),
    (
        "prod",
        "us-east-1",
        "i-0a1b2c3d4e5f60001",
        "Ec2Instance",
        "Rightsize",
        "m7i.xlarge",
        "m7i.large",
        "Medium",
        true,
        "147.17",
        "73.59",
    ),
    (
        "prod",
        "us-east-1",
        "checkout-handler",
        "LambdaFunction",
        "Rightsize",
        "3008 MB memory",
        "1536 MB memory",
        "Low",
        false,
        "96.40",
        "44.87",
    ),
    (
        "prod",
        "us-east-1",
        "i-0a1b2c3d4e5f60006",
        "Ec2Instance",
        "MigrateToGraviton",
        "m7i.xlarge",
        "m7g.xlarge",
        "Medium",
        true,
        "147.17",
        "28.03",
    ),
    (
        "dev",
        "us-west-2",
        "vol-0c1d2e3f4a5b60008",
        "EbsVolume",
        "Delete",
        "gp3 200 GiB (unattached)",
        "Deleted",
        "Low",
        false,
        "16.00",
        "16.00",
    ),
    (
        "prod",
        "us-east-1",
        "vol-0a1b2c3d4e5f60007",
        "EbsVolume",
        "Upgrade",
        "gp2 500 GiB",
        "gp3 500 GiB",
        "VeryLow",
        false,
        "50.00",
        "10.00",
    ),
];

pub(super) fn hub(q: &HubQuery) -> HubResult {
    let mut recommendations: Vec<HubRecommendation> = HUB
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            let (acct, region, _, kind, ..) = **item;
            kept(&q.accounts, &q.regions, &account(acct), region)
                && (q.resource_types.is_empty() || q.resource_types.iter().any(|t| t == kind))
        })
        .map(
            |(
                i,
                &(
                    acct,
                    region,
                    id,
                    kind,
                    action,
                    current,
                    recommended,
                    effort,
                    restart,
                    cost,
                    saving,
                ),
            )| {
                let (cost, saving) = (d(cost), d(saving));
                HubRecommendation {
                    id: Some(format!("sample-coh-{}", i + 1)),
                    account_id: Some(account(acct)),
                    region: Some(region.into()),
                    resource_id: Some(id.into()),
                    resource_type: Some(kind.into()),
                    current: Some(current.into()),
                    recommended: Some(recommended.into()),
                    action_type: Some(action.into()),
                    implementation_effort: Some(effort.into()),
                    restart_needed: Some(restart),
                    estimated_monthly_savings: Some(saving),
                    estimated_monthly_cost: Some(cost),
                    estimated_savings_percentage: Some(
                        (saving / cost * Decimal::from(100)).round_dp(1),
                    ),
                    currency: Some("USD".into()),
                    lookback_days: Some(14),
                }
            },
        )
        .collect();
    recommendations.sort_by(|a, b| {
        b.estimated_monthly_savings
            .cmp(&a.estimated_monthly_savings)
            .then_with(|| a.id.cmp(&b.id))
    });
    HubResult {
        query: q.clone(),
        recommendations,
        source: "sample".into(),
        requests: 0,
        cached: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_sum_of_the_recommendations() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let r = rightsizing(&RightsizingQuery::new(), today);
        assert_eq!(r.summary.total_recommendation_count, Some(5));
        // 73.59 + 105.48 + 147.17 + 147.17 + 73.59
        assert_eq!(r.summary.estimated_total_monthly_savings, Some(d("547.00")));
        let prod = RightsizingQuery {
            accounts: vec!["111111111111".into()],
            ..RightsizingQuery::new()
        };
        let r = rightsizing(&prod, today);
        assert_eq!(r.recommendations.len(), 2);
        assert_eq!(
            r.recommendations[0].current_type.as_deref(),
            Some("c7g.2xlarge")
        );
        let h = hub(&HubQuery::default());
        assert_eq!(h.recommendations.len(), 7);
        assert_eq!(
            h.recommendations[0].resource_type.as_deref(),
            Some("RdsDbInstance")
        );
    }
}

//! The sample organization's commitments, derived from its own spend so the
//! answers agree with its cost figures: a Compute Savings Plan that covers
//! 62% of EC2's on-demand instance spend (BoxUsage) at 94% utilization, and
//! RDS reservations for 55% of its db.r6g.xlarge hours at 90% utilization.
//! Recommendations are sized from what is still on demand over the
//! look-back period, the way AWS sizes them.

use chrono::Duration;
use rust_decimal::Decimal;

use super::SampleSource;
use crate::costs::commitments::{
    lookback_days, CommitmentKind, RecommendationDetail, RecommendationQuery, RecommendationResult,
    RecommendationSummary, UsageBucket, UsageFigures, UsageMeasure, UsageQuery, UsageResult,
};
use crate::costs::{CostError, CostQuery, CostSource, Granularity, Period};

const EC2: &str = "Amazon Elastic Compute Cloud - Compute";
const RDS: &str = "Amazon Relational Database Service";

fn pct(n: i64) -> Decimal {
    Decimal::new(n, 2)
}

fn r2(d: Decimal) -> Decimal {
    d.round_dp(2)
}

/// Share of EC2's on-demand instance spend the sample's Savings Plan covers.
fn sp_covered() -> Decimal {
    pct(62)
}
/// The plan's discount off on-demand (1-year, no upfront, Compute).
fn sp_discount() -> Decimal {
    pct(28)
}
fn sp_utilization() -> Decimal {
    pct(94)
}
fn ri_covered() -> Decimal {
    pct(55)
}
fn ri_utilization() -> Decimal {
    pct(90)
}

/// The sample's on-demand hourly rate per reservable service, and the instance.
fn rate(service: &str) -> Option<(Decimal, &'static str, &'static str, &'static str)> {
    match service {
        EC2 => Some((
            Decimal::new(2016, 4),
            "BoxUsage:m7i",
            "m7i.xlarge",
            "Linux/UNIX",
        )),
        RDS => Some((
            Decimal::new(52, 2),
            "InstanceUsage:db.r6g",
            "db.r6g.xlarge",
            "PostgreSQL",
        )),
        _ => None,
    }
}

/// Reservation discount off on-demand by term and payment option.
fn ri_discount(term: &str, payment: &str) -> Decimal {
    match (term, payment) {
        ("THREE_YEARS", "ALL_UPFRONT") => pct(58),
        ("THREE_YEARS", "PARTIAL_UPFRONT") => pct(56),
        ("THREE_YEARS", _) => pct(50),
        (_, "ALL_UPFRONT") => pct(37),
        (_, "PARTIAL_UPFRONT") => pct(35),
        _ => pct(30),
    }
}

fn sp_discount_for(sp_type: &str, term: &str, payment: &str) -> Decimal {
    let base = match (term, payment) {
        ("THREE_YEARS", "ALL_UPFRONT") => pct(50),
        ("THREE_YEARS", "PARTIAL_UPFRONT") => pct(49),
        ("THREE_YEARS", _) => pct(46),
        (_, "ALL_UPFRONT") => pct(30),
        (_, "PARTIAL_UPFRONT") => pct(29),
        _ => sp_discount() - pct(1),
    };
    if sp_type == "EC2_INSTANCE_SP" {
        base + pct(10)
    } else {
        base
    }
}

fn upfront_share(payment: &str) -> Decimal {
    match payment {
        "ALL_UPFRONT" => Decimal::ONE,
        "PARTIAL_UPFRONT" => pct(50),
        _ => Decimal::ZERO,
    }
}

fn years(term: &str) -> Decimal {
    if term == "THREE_YEARS" {
        Decimal::from(3)
    } else {
        Decimal::ONE
    }
}

/// Spend on `service`'s usage types containing `usage`, per Cost Explorer bucket.
async fn spend(
    sample: &SampleSource,
    service: &str,
    usage: &str,
    period: Period,
    granularity: Granularity,
) -> Result<Vec<(Period, Decimal)>, CostError> {
    let mut q = CostQuery::new(period);
    q.granularity = granularity;
    q.filter.services = vec![service.to_string()];
    q.filter.usage_type_contains = vec![usage.to_string()];
    let r = sample.cost_and_usage(&q).await?;
    Ok(r.buckets
        .iter()
        .map(|b| (Period::new(b.start, b.end), b.total()))
        .collect())
}

/// Only complete days have commitment figures.
fn complete(period: Period, today: chrono::NaiveDate) -> Result<Period, CostError> {
    let end = period.end.min(today);
    if period.start >= end {
        return Err(CostError::InvalidQuery(
            "commitment figures exist for complete days only; ask about a period before today"
                .into(),
        ));
    }
    Ok(Period::new(period.start, end))
}

pub(super) async fn usage(
    sample: &SampleSource,
    q: &UsageQuery,
    today: chrono::NaiveDate,
) -> Result<UsageResult, CostError> {
    q.validate()?;
    let period = complete(q.period, today)?;
    // Without a SERVICE filter AWS reports coverage for EC2 and utilization
    // for every reservation (the sample reserves RDS only).
    let service = match (q.services.first(), q.measure) {
        (Some(s), _) => s.as_str(),
        (None, UsageMeasure::Utilization) if q.kind == CommitmentKind::Reservations => RDS,
        (None, _) => EC2,
    };
    let mut buckets = Vec::new();
    match (q.kind, q.measure) {
        (CommitmentKind::SavingsPlans, measure) => {
            // Savings Plans apply to EC2 instances here; other services have nothing eligible.
            let eligible = if q.services.is_empty() || service == EC2 {
                spend(sample, EC2, "BoxUsage", period, q.granularity).await?
            } else {
                Vec::new()
            };
            for (p, e) in eligible {
                let covered = r2(e * sp_covered());
                let used = r2(covered * (Decimal::ONE - sp_discount()));
                let commitment = r2(used / sp_utilization());
                let figures = match measure {
                    UsageMeasure::Coverage => UsageFigures {
                        coverage_percentage: (!e.is_zero())
                            .then(|| r2(covered / e * Decimal::from(100))),
                        on_demand_cost: Some(e - covered),
                        covered_spend: Some(covered),
                        total_cost: Some(e),
                        ..Default::default()
                    },
                    UsageMeasure::Utilization => UsageFigures {
                        utilization_percentage: (!commitment.is_zero())
                            .then(|| r2(used / commitment * Decimal::from(100))),
                        total_commitment: Some(commitment),
                        used_commitment: Some(used),
                        unused_commitment: Some(commitment - used),
                        net_savings: Some(covered - commitment),
                        on_demand_cost_equivalent: Some(covered),
                        ..Default::default()
                    },
                };
                buckets.push(UsageBucket {
                    start: p.start,
                    end: p.end,
                    figures,
                });
            }
        }
        (CommitmentKind::Reservations, measure) => {
            let Some((hourly, usage, _, _)) = rate(service) else {
                return Ok(result(q, period, Vec::new()));
            };
            // The sample reserves RDS only: EC2 runs fully on demand (its Savings Plan covers it).
            let reserved_share = if service == RDS {
                ri_covered()
            } else {
                Decimal::ZERO
            };
            for (p, s) in spend(sample, service, usage, period, q.granularity).await? {
                let hours = r2(s / hourly);
                let reserved = r2(hours * reserved_share);
                let figures = match measure {
                    UsageMeasure::Coverage => UsageFigures {
                        coverage_percentage: (!hours.is_zero())
                            .then(|| r2(reserved / hours * Decimal::from(100))),
                        reserved_hours: Some(reserved),
                        on_demand_hours: Some(hours - reserved),
                        total_running_hours: Some(hours),
                        on_demand_cost: Some(r2((hours - reserved) * hourly)),
                        ..Default::default()
                    },
                    UsageMeasure::Utilization if reserved.is_zero() => continue,
                    UsageMeasure::Utilization => {
                        let purchased = r2(reserved / ri_utilization());
                        let effective =
                            hourly * (Decimal::ONE - ri_discount("ONE_YEAR", "PARTIAL_UPFRONT"));
                        let fee = r2(purchased * effective);
                        let equivalent = r2(reserved * hourly);
                        UsageFigures {
                            utilization_percentage: Some(r2(
                                reserved / purchased * Decimal::from(100)
                            )),
                            purchased_hours: Some(purchased),
                            unused_hours: Some(purchased - reserved),
                            unused_cost: Some(r2((purchased - reserved) * effective)),
                            net_savings: Some(equivalent - fee),
                            on_demand_cost_equivalent: Some(equivalent),
                            total_commitment: Some(fee),
                            ..Default::default()
                        }
                    }
                };
                buckets.push(UsageBucket {
                    start: p.start,
                    end: p.end,
                    figures,
                });
            }
        }
    }
    Ok(result(q, period, buckets))
}

fn result(q: &UsageQuery, period: Period, buckets: Vec<UsageBucket>) -> UsageResult {
    let mut query = q.clone();
    query.period = period;
    UsageResult {
        query,
        buckets,
        total: None,
        source: "sample".into(),
        requests: 0,
        cached: false,
    }
}

pub(super) async fn recommendations(
    sample: &SampleSource,
    q: &RecommendationQuery,
    today: chrono::NaiveDate,
) -> Result<RecommendationResult, CostError> {
    q.validate()?;
    let days = lookback_days(&q.lookback);
    let window = Period::new(today - Duration::days(days), today);
    let hours = Decimal::from(days * 24);
    let month_hours = Decimal::from(730);
    let mut summary = RecommendationSummary::default();
    let mut details = Vec::new();
    match q.kind {
        CommitmentKind::SavingsPlans => {
            let sp_type = q.savings_plans_type.as_deref().unwrap_or("COMPUTE_SP");
            if matches!(sp_type, "COMPUTE_SP" | "EC2_INSTANCE_SP") {
                // Sized on what the current plan leaves on demand.
                let eligible: Decimal =
                    spend(sample, EC2, "BoxUsage", window, Granularity::Monthly)
                        .await?
                        .iter()
                        .map(|(_, d)| *d)
                        .sum();
                let on_demand = r2(eligible * (Decimal::ONE - sp_covered()));
                let target = on_demand / hours * pct(80);
                let d = sp_discount_for(sp_type, &q.term, &q.payment_option);
                let commitment = (target * (Decimal::ONE - d)).round_dp(3);
                let monthly = r2(target * d * month_hours);
                let saved_in_window = r2(target * d * hours);
                let upfront = r2(commitment
                    * Decimal::from(8760)
                    * years(&q.term)
                    * upfront_share(&q.payment_option));
                let percentage = (!on_demand.is_zero())
                    .then(|| r2(saved_in_window / on_demand * Decimal::from(100)));
                summary = RecommendationSummary {
                    estimated_monthly_savings: Some(monthly),
                    estimated_savings_percentage: percentage,
                    hourly_commitment: Some(commitment),
                    current_on_demand_spend: Some(on_demand),
                    estimated_total_cost: Some(on_demand - saved_in_window),
                    estimated_roi: None,
                    recommendation_count: Some("1".into()),
                };
                details.push(RecommendationDetail {
                    account_id: Some("111111111111".into()),
                    instance_family: (sp_type == "EC2_INSTANCE_SP").then(|| "m7i".into()),
                    region: (sp_type == "EC2_INSTANCE_SP").then(|| "us-east-1".into()),
                    hourly_commitment: Some(commitment),
                    upfront_cost: Some(upfront),
                    estimated_monthly_savings: Some(monthly),
                    estimated_savings_percentage: percentage,
                    average_utilization: Some(Decimal::from(100)),
                    ..Default::default()
                });
            }
        }
        CommitmentKind::Reservations => {
            let service = q.service.as_deref().unwrap_or(EC2);
            if let Some((hourly, usage, instance, platform)) = rate(service) {
                let spent: Decimal = spend(sample, service, usage, window, Granularity::Monthly)
                    .await?
                    .iter()
                    .map(|(_, d)| *d)
                    .sum();
                let covered = if service == RDS {
                    ri_covered()
                } else {
                    Decimal::ZERO
                };
                // EC2's Savings Plan already covers part of its hours.
                let covered = if service == EC2 {
                    sp_covered()
                } else {
                    covered
                };
                let on_demand_hours = spent / hourly * (Decimal::ONE - covered);
                let count = (on_demand_hours / hours * pct(85)).floor();
                if count > Decimal::ZERO {
                    let d = ri_discount(&q.term, &q.payment_option);
                    let effective = hourly * (Decimal::ONE - d);
                    let monthly = r2(count * hourly * d * month_hours);
                    let total = count * effective * Decimal::from(8760) * years(&q.term);
                    let upfront = r2(total * upfront_share(&q.payment_option));
                    let months = Decimal::from(12) * years(&q.term);
                    let recurring = r2((total - upfront) / months);
                    // Months until the on-demand cost saved repays the upfront.
                    let saved_monthly = count * hourly * month_hours - recurring;
                    let break_even = (saved_monthly > Decimal::ZERO)
                        .then(|| (upfront / saved_monthly).round_dp(1));
                    let percentage = r2(d * Decimal::from(100));
                    summary.estimated_monthly_savings = Some(monthly);
                    summary.estimated_savings_percentage = Some(percentage);
                    details.push(RecommendationDetail {
                        account_id: Some("111111111111".into()),
                        instance_type: Some(instance.into()),
                        region: Some("us-east-1".into()),
                        platform: Some(platform.into()),
                        recommended_instances: Some(count),
                        upfront_cost: Some(upfront),
                        recurring_monthly_cost: Some(recurring),
                        estimated_monthly_savings: Some(monthly),
                        estimated_savings_percentage: Some(percentage),
                        break_even_months: break_even,
                        average_utilization: Some(Decimal::from(100)),
                        ..Default::default()
                    });
                }
            }
        }
    }
    Ok(RecommendationResult {
        query: q.clone(),
        currency: "USD".into(),
        generated_at: Some(format!("{today}T00:00:00Z")),
        summary,
        details,
        source: "sample".into(),
        requests: 0,
        cached: false,
    })
}

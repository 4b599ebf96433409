//! Commitments through the SDK: Savings Plans and RI purchase
//! recommendations, coverage and utilization. Every request (each page) is
//! billed, so each goes through the meter before it is sent.

use std::future::Future;
use std::sync::atomic::Ordering;

use aws_sdk_costexplorer::types as ce;
use rust_decimal::Decimal;

use super::{classify, day_text, dim_filter, parse_day, parse_decimal, ExplorerSource};
use crate::costs::commitments::{
    CommitmentKind, RecommendationDetail, RecommendationQuery, RecommendationResult,
    RecommendationSummary, UsageBucket, UsageFigures, UsageMeasure, UsageQuery, UsageResult,
};
use crate::costs::{CostError, Granularity, Meter, Period};

fn dec(raw: Option<&str>, what: &str) -> Result<Option<Decimal>, CostError> {
    parse_decimal(raw.filter(|s| !s.is_empty()), what)
}

impl ExplorerSource {
    /// Sends pages until AWS gives no next token, each admitted by `meter`.
    async fn paged<T, F, Fut>(
        &self,
        meter: &Meter<'_>,
        mut send: F,
    ) -> Result<(Vec<T>, u32), CostError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<(T, Option<String>), CostError>>,
    {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        let mut requests = 0u32;
        loop {
            if requests >= self.max_requests_per_query {
                return Err(CostError::RequestBudget {
                    limit: self.max_requests_per_query,
                });
            }
            meter.admit().await?;
            let resp = send(token.clone()).await;
            requests += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            meter.record(1);
            let (page, next) = resp?;
            pages.push(page);
            token = next.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok((pages, requests));
            }
        }
    }

    pub(super) async fn recommendations_inner(
        &self,
        q: &RecommendationQuery,
        meter: &Meter<'_>,
    ) -> Result<RecommendationResult, CostError> {
        q.validate()?;
        let client = self.client(q.connection.as_deref())?;
        let term = ce::TermInYears::from(q.term.as_str());
        let payment = ce::PaymentOption::from(q.payment_option.as_str());
        let lookback = ce::LookbackPeriodInDays::from(q.lookback.as_str());
        let mut summary = RecommendationSummary::default();
        let mut details = Vec::new();
        let mut generated_at = None;
        let mut currency = None;
        let requests = match q.kind {
            CommitmentKind::SavingsPlans => {
                let sp_type = ce::SupportedSavingsPlansType::from(
                    q.savings_plans_type.as_deref().unwrap_or("COMPUTE_SP"),
                );
                let (pages, requests) = self
                    .paged(meter, |token| {
                        let req = client
                            .get_savings_plans_purchase_recommendation()
                            .savings_plans_type(sp_type.clone())
                            .term_in_years(term.clone())
                            .payment_option(payment.clone())
                            .lookback_period_in_days(lookback.clone())
                            .set_next_page_token(token);
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            let next = r.next_page_token().map(String::from);
                            Ok((r, next))
                        }
                    })
                    .await?;
                for page in &pages {
                    if generated_at.is_none() {
                        generated_at = page
                            .metadata()
                            .and_then(|m| m.generation_timestamp())
                            .map(String::from);
                    }
                    let Some(rec) = page.savings_plans_purchase_recommendation() else {
                        continue;
                    };
                    // The summary is the whole recommendation's: the first one sent stands.
                    if let (Some(s), None) = (
                        rec.savings_plans_purchase_recommendation_summary(),
                        &summary.estimated_monthly_savings,
                    ) {
                        summary = RecommendationSummary {
                            estimated_monthly_savings: dec(
                                s.estimated_monthly_savings_amount(),
                                "monthly savings",
                            )?,
                            estimated_savings_percentage: dec(
                                s.estimated_savings_percentage(),
                                "savings percentage",
                            )?,
                            hourly_commitment: dec(
                                s.hourly_commitment_to_purchase(),
                                "hourly commitment",
                            )?,
                            current_on_demand_spend: dec(
                                s.current_on_demand_spend(),
                                "on-demand spend",
                            )?,
                            estimated_total_cost: dec(s.estimated_total_cost(), "total cost")?,
                            estimated_roi: dec(s.estimated_roi(), "ROI")?,
                            recommendation_count: s.total_recommendation_count().map(String::from),
                        };
                        currency = s.currency_code().map(String::from);
                    }
                    for d in rec.savings_plans_purchase_recommendation_details() {
                        let sp = d.savings_plans_details();
                        details.push(RecommendationDetail {
                            account_id: d.account_id().map(String::from),
                            instance_family: sp.and_then(|s| s.instance_family()).map(String::from),
                            region: sp.and_then(|s| s.region()).map(String::from),
                            hourly_commitment: dec(
                                d.hourly_commitment_to_purchase(),
                                "hourly commitment",
                            )?,
                            upfront_cost: dec(d.upfront_cost(), "upfront cost")?,
                            estimated_monthly_savings: dec(
                                d.estimated_monthly_savings_amount(),
                                "monthly savings",
                            )?,
                            estimated_savings_percentage: dec(
                                d.estimated_savings_percentage(),
                                "savings percentage",
                            )?,
                            average_utilization: dec(
                                d.estimated_average_utilization(),
                                "utilization",
                            )?,
                            ..Default::default()
                        });
                        if currency.is_none() {
                            currency = d.currency_code().map(String::from);
                        }
                    }
                }
                requests
            }
            CommitmentKind::Reservations => {
                let service = q.service.clone().unwrap_or_default();
                let (pages, requests) = self
                    .paged(meter, |token| {
                        let req = client
                            .get_reservation_purchase_recommendation()
                            .service(service.clone())
                            .term_in_years(term.clone())
                            .payment_option(payment.clone())
                            .lookback_period_in_days(lookback.clone())
                            .set_next_page_token(token);
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            let next = r.next_page_token().map(String::from);
                            Ok((r, next))
                        }
                    })
                    .await?;
                for page in &pages {
                    if generated_at.is_none() {
                        generated_at = page
                            .metadata()
                            .and_then(|m| m.generation_timestamp())
                            .map(String::from);
                    }
                    for rec in page.recommendations() {
                        if let (Some(s), None) = (
                            rec.recommendation_summary(),
                            &summary.estimated_monthly_savings,
                        ) {
                            summary.estimated_monthly_savings = dec(
                                s.total_estimated_monthly_savings_amount(),
                                "monthly savings",
                            )?;
                            summary.estimated_savings_percentage = dec(
                                s.total_estimated_monthly_savings_percentage(),
                                "savings percentage",
                            )?;
                            currency = s.currency_code().map(String::from);
                        }
                        for d in rec.recommendation_details() {
                            details.push(reservation_detail(d)?);
                        }
                    }
                }
                requests
            }
        };
        details.sort_by(|a, b| {
            b.estimated_monthly_savings
                .cmp(&a.estimated_monthly_savings)
        });
        Ok(RecommendationResult {
            query: q.clone(),
            currency: currency.unwrap_or_else(|| "USD".into()),
            generated_at,
            summary,
            details,
            source: "cost-explorer".into(),
            requests,
            cached: false,
        })
    }

    pub(super) async fn commitment_usage_inner(
        &self,
        q: &UsageQuery,
        meter: &Meter<'_>,
    ) -> Result<UsageResult, CostError> {
        q.validate()?;
        let client = self.client(q.connection.as_deref())?;
        // Coverage and utilization exist for complete UTC days only.
        let end = q.period.end.min((self.utc_today)());
        if q.period.start >= end {
            return Err(CostError::InvalidQuery(
                "commitment figures exist for complete days only; ask about a period before today"
                    .into(),
            ));
        }
        let mut q = q.clone();
        q.period = Period::new(q.period.start, end);
        let q = &q;
        let period = ce::DateInterval::builder()
            .start(day_text(q.period.start))
            .end(day_text(q.period.end))
            .build()
            .map_err(|e| CostError::InvalidQuery(e.to_string()))?;
        let granularity = match q.granularity {
            Granularity::Daily => ce::Granularity::Daily,
            Granularity::Monthly => ce::Granularity::Monthly,
        };
        let filter =
            (!q.services.is_empty()).then(|| dim_filter(ce::Dimension::Service, &q.services));
        let mut buckets = Vec::new();
        let mut total = None;
        let requests = match (q.kind, q.measure) {
            (CommitmentKind::SavingsPlans, UsageMeasure::Coverage) => {
                let (pages, requests) = self
                    .paged(meter, |token| {
                        let req = client
                            .get_savings_plans_coverage()
                            .time_period(period.clone())
                            .granularity(granularity.clone())
                            .set_filter(filter.clone())
                            .set_next_token(token);
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            let next = r.next_token().map(String::from);
                            Ok((r, next))
                        }
                    })
                    .await?;
                for page in &pages {
                    for c in page.savings_plans_coverages() {
                        let tp = c.time_period();
                        let d = c.coverage();
                        buckets.push(UsageBucket {
                            start: parse_day(tp.map(|t| t.start()))?,
                            end: parse_day(tp.map(|t| t.end()))?,
                            figures: UsageFigures {
                                coverage_percentage: dec(
                                    d.and_then(|d| d.coverage_percentage()),
                                    "coverage",
                                )?,
                                on_demand_cost: dec(
                                    d.and_then(|d| d.on_demand_cost()),
                                    "on-demand cost",
                                )?,
                                covered_spend: dec(
                                    d.and_then(|d| d.spend_covered_by_savings_plans()),
                                    "covered spend",
                                )?,
                                total_cost: dec(d.and_then(|d| d.total_cost()), "total cost")?,
                                ..Default::default()
                            },
                        });
                    }
                }
                requests
            }
            (CommitmentKind::SavingsPlans, UsageMeasure::Utilization) => {
                // GetSavingsPlansUtilization does not page: one request.
                let (pages, requests) = self
                    .paged(meter, |_| {
                        let req = client
                            .get_savings_plans_utilization()
                            .time_period(period.clone())
                            .granularity(granularity.clone());
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            Ok((r, None))
                        }
                    })
                    .await?;
                for page in &pages {
                    for u in page.savings_plans_utilizations_by_time() {
                        let tp = u.time_period();
                        buckets.push(UsageBucket {
                            start: parse_day(tp.map(|t| t.start()))?,
                            end: parse_day(tp.map(|t| t.end()))?,
                            figures: sp_utilization(u.utilization(), u.savings())?,
                        });
                    }
                    if let Some(t) = page.total() {
                        total = Some(sp_utilization(t.utilization(), t.savings())?);
                    }
                }
                requests
            }
            (CommitmentKind::Reservations, UsageMeasure::Coverage) => {
                let metrics = vec!["Hour".to_string(), "Cost".to_string()];
                let (pages, requests) = self
                    .paged(meter, |token| {
                        let req = client
                            .get_reservation_coverage()
                            .time_period(period.clone())
                            .granularity(granularity.clone())
                            .set_filter(filter.clone())
                            .set_metrics(Some(metrics.clone()))
                            .set_next_page_token(token);
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            let next = r.next_page_token().map(String::from);
                            Ok((r, next))
                        }
                    })
                    .await?;
                for page in &pages {
                    for c in page.coverages_by_time() {
                        let tp = c.time_period();
                        buckets.push(UsageBucket {
                            start: parse_day(tp.map(|t| t.start()))?,
                            end: parse_day(tp.map(|t| t.end()))?,
                            figures: ri_coverage(c.total())?,
                        });
                    }
                    if let Some(t) = page.total() {
                        total = Some(ri_coverage(Some(t))?);
                    }
                }
                requests
            }
            (CommitmentKind::Reservations, UsageMeasure::Utilization) => {
                let (pages, requests) = self
                    .paged(meter, |token| {
                        let req = client
                            .get_reservation_utilization()
                            .time_period(period.clone())
                            .granularity(granularity.clone())
                            .set_filter(filter.clone())
                            .set_next_page_token(token);
                        async move {
                            let r = req.send().await.map_err(classify)?;
                            let next = r.next_page_token().map(String::from);
                            Ok((r, next))
                        }
                    })
                    .await?;
                for page in &pages {
                    for u in page.utilizations_by_time() {
                        let tp = u.time_period();
                        buckets.push(UsageBucket {
                            start: parse_day(tp.map(|t| t.start()))?,
                            end: parse_day(tp.map(|t| t.end()))?,
                            figures: ri_utilization(u.total())?,
                        });
                    }
                    if let Some(t) = page.total() {
                        total = Some(ri_utilization(Some(t))?);
                    }
                }
                requests
            }
        };
        Ok(UsageResult {
            query: q.clone(),
            buckets,
            total,
            source: "cost-explorer".into(),
            requests,
            cached: false,
        })
    }
}

fn sp_utilization(
    u: Option<&ce::SavingsPlansUtilization>,
    s: Option<&ce::SavingsPlansSavings>,
) -> Result<UsageFigures, CostError> {
    Ok(UsageFigures {
        utilization_percentage: dec(u.and_then(|u| u.utilization_percentage()), "utilization")?,
        total_commitment: dec(u.and_then(|u| u.total_commitment()), "commitment")?,
        used_commitment: dec(u.and_then(|u| u.used_commitment()), "used commitment")?,
        unused_commitment: dec(u.and_then(|u| u.unused_commitment()), "unused commitment")?,
        net_savings: dec(s.and_then(|s| s.net_savings()), "net savings")?,
        on_demand_cost_equivalent: dec(
            s.and_then(|s| s.on_demand_cost_equivalent()),
            "on-demand equivalent",
        )?,
        ..Default::default()
    })
}

fn ri_coverage(c: Option<&ce::Coverage>) -> Result<UsageFigures, CostError> {
    let h = c.and_then(|c| c.coverage_hours());
    Ok(UsageFigures {
        coverage_percentage: dec(h.and_then(|h| h.coverage_hours_percentage()), "coverage")?,
        reserved_hours: dec(h.and_then(|h| h.reserved_hours()), "reserved hours")?,
        on_demand_hours: dec(h.and_then(|h| h.on_demand_hours()), "on-demand hours")?,
        total_running_hours: dec(h.and_then(|h| h.total_running_hours()), "running hours")?,
        on_demand_cost: dec(
            c.and_then(|c| c.coverage_cost())
                .and_then(|c| c.on_demand_cost()),
            "on-demand cost",
        )?,
        ..Default::default()
    })
}

fn ri_utilization(r: Option<&ce::ReservationAggregates>) -> Result<UsageFigures, CostError> {
    let Some(r) = r else {
        return Ok(UsageFigures::default());
    };
    Ok(UsageFigures {
        utilization_percentage: dec(r.utilization_percentage(), "utilization")?,
        purchased_hours: dec(r.purchased_hours(), "purchased hours")?,
        unused_hours: dec(r.unused_hours(), "unused hours")?,
        unused_cost: dec(r.ri_cost_for_unused_hours(), "unused cost")?,
        net_savings: dec(r.net_ri_savings(), "net savings")?,
        on_demand_cost_equivalent: dec(
            r.on_demand_cost_of_ri_hours_used(),
            "on-demand equivalent",
        )?,
        total_commitment: dec(r.total_amortized_fee(), "amortized fee")?,
        ..Default::default()
    })
}

fn reservation_detail(
    d: &ce::ReservationPurchaseRecommendationDetail,
) -> Result<RecommendationDetail, CostError> {
    let i = d.instance_details();
    let (instance_type, region, platform) =
        if let Some(e) = i.and_then(|i| i.ec2_instance_details()) {
            (e.instance_type(), e.region(), e.platform())
        } else if let Some(r) = i.and_then(|i| i.rds_instance_details()) {
            (r.instance_type(), r.region(), r.database_engine())
        } else if let Some(c) = i.and_then(|i| i.elasti_cache_instance_details()) {
            (c.node_type(), c.region(), c.product_description())
        } else if let Some(r) = i.and_then(|i| i.redshift_instance_details()) {
            (r.node_type(), r.region(), None)
        } else if let Some(m) = i.and_then(|i| i.memory_db_instance_details()) {
            (m.node_type(), m.region(), None)
        } else if let Some(s) = i.and_then(|i| i.es_instance_details()) {
            (s.instance_size(), s.region(), None)
        } else {
            (None, None, None)
        };
    Ok(RecommendationDetail {
        account_id: d.account_id().map(String::from),
        instance_type: instance_type.map(String::from),
        region: region.map(String::from),
        platform: platform.map(String::from),
        recommended_instances: dec(
            d.recommended_number_of_instances_to_purchase(),
            "instance count",
        )?,
        upfront_cost: dec(d.upfront_cost(), "upfront cost")?,
        recurring_monthly_cost: dec(d.recurring_standard_monthly_cost(), "monthly cost")?,
        estimated_monthly_savings: dec(d.estimated_monthly_savings_amount(), "monthly savings")?,
        estimated_savings_percentage: dec(
            d.estimated_monthly_savings_percentage(),
            "savings percentage",
        )?,
        break_even_months: dec(d.estimated_break_even_in_months(), "break-even")?,
        average_utilization: dec(d.average_utilization(), "utilization")?,
        ..Default::default()
    })
}

//! Commitments through the real SDK against the local Cost Explorer fake on
//! 127.0.0.1 (moto implements none of these operations): Savings Plans and
//! RI purchase recommendations, SP and RI coverage and utilization. Every
//! request costbot sends and every answer the fake gives is checked against
//! botocore's service model; paging is billed per page; repeats are free.

#[path = "support/ce_fake.rs"]
mod ce_fake;
mod common;
#[path = "support/llm.rs"]
mod llm;

use std::sync::Arc;

use ce_fake::CeFake;
use chrono::NaiveDate;
use costbot::agent::{Agent, Answer, ConversationKey, Inquiry, Tools};
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::commitments::{CommitmentKind, RecommendationQuery, UsageMeasure, UsageQuery};
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::sample::SampleSource;
use costbot::costs::{CostError, CostQuery, CostSource, Period};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn explorer(fake: &CeFake) -> ExplorerSource {
    let config = AwsConfig {
        endpoint_url: Some(fake.url.clone()),
        ..AwsConfig::default()
    };
    ExplorerSource::with_base(common::sdk_config(&fake.url).await, &config)
        .await
        .with_utc_clock(Arc::new(|| d("2026-11-19")))
}

async fn cached(fake: &CeFake, dir: &std::path::Path) -> (CachedSource, Store) {
    let store = Store::open(&dir.join("costbot.db")).await.unwrap();
    let source = CachedSource::new(
        Arc::new(explorer(fake).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    )
    .with_monthly_limit(100);
    (source, store)
}

/// Seeds `body` after checking it is what AWS could send.
fn answer(fake: &CeFake, operation: &str, body: Value) {
    let problems = ce_fake::model_problems(operation, "output", &body);
    assert!(problems.is_empty(), "the fake's own answer: {problems:?}");
    fake.answer(operation, body);
}

/// Every request the fake received is well formed for its operation; the bodies.
fn requests_following_the_model(fake: &CeFake, operation: &str) -> Vec<Value> {
    let received = fake.received();
    assert!(!received.is_empty());
    for r in &received {
        assert_eq!(r.content_type, "application/x-amz-json-1.1");
        let op = r
            .target
            .strip_prefix("AWSInsightsIndexService.")
            .unwrap_or_else(|| panic!("target {}", r.target));
        let problems = ce_fake::model_problems(op, "input", &r.body);
        assert!(problems.is_empty(), "{op} request {}: {problems:?}", r.body);
    }
    received
        .into_iter()
        .filter(|r| r.target.ends_with(operation))
        .map(|r| r.body)
        .collect()
}

fn period() -> Value {
    json!({ "Start": "2026-10-01", "End": "2026-11-01" })
}

fn sp_recommendation_page(details: Value, next: Option<&str>) -> Value {
    let mut v = json!({
        "Metadata": { "RecommendationId": "rec-1", "GenerationTimestamp": "2026-11-18T06:12:09Z" },
        "SavingsPlansPurchaseRecommendation": {
            "AccountScope": "PAYER",
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "SavingsPlansPurchaseRecommendationDetails": details,
            "SavingsPlansPurchaseRecommendationSummary": {
                "EstimatedROI": "38.21",
                "CurrencyCode": "USD",
                "EstimatedTotalCost": "29780.512",
                "CurrentOnDemandSpend": "41130.2209",
                "EstimatedSavingsAmount": "11349.7089",
                "TotalRecommendationCount": "2",
                "DailyCommitmentToPurchase": "552.24",
                "HourlyCommitmentToPurchase": "23.01",
                "EstimatedSavingsPercentage": "27.5944",
                "EstimatedMonthlySavingsAmount": "11517.3127",
                "EstimatedOnDemandCostWithCurrentCommitment": "41130.2209"
            }
        }
    });
    if let Some(n) = next {
        v["NextPageToken"] = json!(n);
    }
    v
}

fn sp_detail(account: &str, hourly: &str, monthly: &str) -> Value {
    json!({
        "SavingsPlansDetails": { "Region": "us-east-1", "InstanceFamily": "m7i", "OfferingId": "off-1" },
        "AccountId": account,
        "UpfrontCost": "0",
        "EstimatedROI": "38.21",
        "CurrencyCode": "USD",
        "EstimatedSPCost": "8400.3",
        "EstimatedOnDemandCost": "11600.7",
        "EstimatedSavingsAmount": "3200.4",
        "EstimatedSavingsPercentage": "27.5944",
        "HourlyCommitmentToPurchase": hourly,
        "EstimatedAverageUtilization": "99.87",
        "EstimatedMonthlySavingsAmount": monthly,
        "CurrentMinimumHourlyOnDemandSpend": "30.1",
        "CurrentMaximumHourlyOnDemandSpend": "71.9",
        "CurrentAverageHourlyOnDemandSpend": "56.3",
        "RecommendationDetailId": "3f1c9a2e-7b4d-4e8a-9c11-2d5e6f7a8b90"
    })
}

#[tokio::test]
async fn savings_plans_recommendations_are_paged_billed_per_page_exact_and_repeats_are_free() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        "GetSavingsPlansPurchaseRecommendation",
        sp_recommendation_page(
            json!([sp_detail("111111111111", "15.004", "7800.1234")]),
            Some("page-2"),
        ),
    );
    answer(
        &fake,
        "GetSavingsPlansPurchaseRecommendation",
        sp_recommendation_page(
            json!([sp_detail("222222222222", "8.006", "3717.1893")]),
            None,
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let mut q = RecommendationQuery::new(CommitmentKind::SavingsPlans);
    q.term = "ONE_YEAR".into();
    let r = source.recommendations(&q).await.unwrap();
    assert_eq!(r.requests, 2, "one billed request per page");
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    // AWS's figures to the last digit.
    assert_eq!(r.summary.estimated_monthly_savings, Some(dec("11517.3127")));
    assert_eq!(r.summary.estimated_savings_percentage, Some(dec("27.5944")));
    assert_eq!(r.summary.hourly_commitment, Some(dec("23.01")));
    assert_eq!(r.summary.current_on_demand_spend, Some(dec("41130.2209")));
    assert_eq!(r.generated_at.as_deref(), Some("2026-11-18T06:12:09Z"));
    assert_eq!(r.details.len(), 2);
    assert_eq!(r.details[0].account_id.as_deref(), Some("111111111111"));
    assert_eq!(r.details[0].hourly_commitment, Some(dec("15.004")));
    assert_eq!(
        r.details[1].estimated_monthly_savings,
        Some(dec("3717.1893"))
    );
    assert_eq!(r.total_upfront(), Some(dec("0")));
    let sent = requests_following_the_model(&fake, "GetSavingsPlansPurchaseRecommendation");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["SavingsPlansType"], "COMPUTE_SP");
    assert_eq!(sent[0]["TermInYears"], "ONE_YEAR");
    assert_eq!(sent[0]["PaymentOption"], "NO_UPFRONT");
    assert_eq!(sent[0]["LookbackPeriodInDays"], "THIRTY_DAYS");
    assert!(sent[0].get("NextPageToken").is_none());
    assert_eq!(sent[1]["NextPageToken"], "page-2");
    // The same question again: from the cache, no request, nothing counted.
    let again = source.recommendations(&q).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.requests, 0);
    assert_eq!(again.summary, r.summary);
    assert_eq!(fake.count("GetSavingsPlansPurchaseRecommendation"), 2);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    // Another term is another question.
    let mut three = q.clone();
    three.term = "THREE_YEARS".into();
    source.recommendations(&three).await.unwrap();
    assert_eq!(fake.count("GetSavingsPlansPurchaseRecommendation"), 3);
}

fn rds_detail(count: &str, monthly: &str) -> Value {
    json!({
        "AccountId": "111111111111",
        "InstanceDetails": { "RDSInstanceDetails": {
            "Family": "r6g", "InstanceType": "db.r6g.xlarge", "Region": "US East (N. Virginia)",
            "DatabaseEngine": "PostgreSQL", "DeploymentOption": "Single-AZ",
            "LicenseModel": "No license required", "CurrentGeneration": true, "SizeFlexEligible": true
        }},
        "RecommendedNumberOfInstancesToPurchase": count,
        "RecommendedNormalizedUnitsToPurchase": "48",
        "MinimumNumberOfInstancesUsedPerHour": "6",
        "AverageNumberOfInstancesUsedPerHour": "6.4",
        "AverageUtilization": "0.98",
        "EstimatedBreakEvenInMonths": "7.11",
        "CurrencyCode": "USD",
        "EstimatedMonthlySavingsAmount": monthly,
        "EstimatedMonthlySavingsPercentage": "33.66",
        "EstimatedMonthlyOnDemandCost": "2275.44",
        "UpfrontCost": "9866.88",
        "RecurringStandardMonthlyCost": "822.24"
    })
}

#[tokio::test]
async fn reservation_recommendations_for_rds_are_paged_and_exact() {
    let fake = CeFake::start().await;
    let page = |details: Value, next: Option<&str>| {
        let mut v = json!({
            "Metadata": { "RecommendationId": "ri-1", "GenerationTimestamp": "2026-11-18T06:12:09Z" },
            "Recommendations": [{
                "AccountScope": "PAYER",
                "LookbackPeriodInDays": "SIXTY_DAYS",
                "TermInYears": "THREE_YEARS",
                "PaymentOption": "PARTIAL_UPFRONT",
                "RecommendationDetails": details,
                "RecommendationSummary": {
                    "TotalEstimatedMonthlySavingsAmount": "1021.12",
                    "TotalEstimatedMonthlySavingsPercentage": "33.66",
                    "CurrencyCode": "USD"
                }
            }]
        });
        if let Some(n) = next {
            v["NextPageToken"] = json!(n);
        }
        v
    };
    answer(
        &fake,
        "GetReservationPurchaseRecommendation",
        page(json!([rds_detail("6", "765.84")]), Some("p2")),
    );
    answer(
        &fake,
        "GetReservationPurchaseRecommendation",
        page(json!([rds_detail("2", "255.28")]), None),
    );
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let mut q = RecommendationQuery::new(CommitmentKind::Reservations);
    q.service = Some("Amazon Relational Database Service".into());
    q.term = "THREE_YEARS".into();
    q.payment_option = "PARTIAL_UPFRONT".into();
    q.lookback = "SIXTY_DAYS".into();
    let r = source.recommendations(&q).await.unwrap();
    assert_eq!(r.requests, 2);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    assert_eq!(r.summary.estimated_monthly_savings, Some(dec("1021.12")));
    assert_eq!(r.summary.estimated_savings_percentage, Some(dec("33.66")));
    let top = &r.details[0];
    assert_eq!(top.instance_type.as_deref(), Some("db.r6g.xlarge"));
    assert_eq!(top.platform.as_deref(), Some("PostgreSQL"));
    assert_eq!(top.recommended_instances, Some(dec("6")));
    assert_eq!(top.upfront_cost, Some(dec("9866.88")));
    assert_eq!(top.break_even_months, Some(dec("7.11")));
    assert_eq!(top.recurring_monthly_cost, Some(dec("822.24")));
    assert_eq!(r.total_upfront(), Some(dec("19733.76")));
    let sent = requests_following_the_model(&fake, "GetReservationPurchaseRecommendation");
    assert_eq!(sent[0]["Service"], "Amazon Relational Database Service");
    assert_eq!(sent[0]["TermInYears"], "THREE_YEARS");
    assert_eq!(sent[0]["PaymentOption"], "PARTIAL_UPFRONT");
    assert_eq!(sent[0]["LookbackPeriodInDays"], "SIXTY_DAYS");
    assert_eq!(sent[1]["NextPageToken"], "p2");
    let again = source.recommendations(&q).await.unwrap();
    assert_eq!((again.requests, again.cached), (0, true));
    assert_eq!(fake.count("GetReservationPurchaseRecommendation"), 2);
}

#[tokio::test]
async fn savings_plans_coverage_pages_with_next_token_and_utilization_takes_one_request() {
    let fake = CeFake::start().await;
    let coverage = |start: &str, end: &str, pct: &str, next: Option<&str>| {
        let mut v = json!({ "SavingsPlansCoverages": [{
            "Attributes": {},
            "Coverage": {
                "SpendCoveredBySavingsPlans": "43244.9912",
                "OnDemandCost": "26505.0088",
                "TotalCost": "69750.0000",
                "CoveragePercentage": pct
            },
            "TimePeriod": { "Start": start, "End": end }
        }]});
        if let Some(n) = next {
            v["NextToken"] = json!(n);
        }
        v
    };
    answer(
        &fake,
        "GetSavingsPlansCoverage",
        coverage("2026-09-01", "2026-10-01", "61.8", Some("t2")),
    );
    answer(
        &fake,
        "GetSavingsPlansCoverage",
        coverage("2026-10-01", "2026-11-01", "62.0000143", None),
    );
    let utilization = json!({
        "SavingsPlansUtilizationsByTime": [{
            "TimePeriod": period(),
            "Utilization": { "TotalCommitment": "33123.82", "UsedCommitment": "31136.39", "UnusedCommitment": "1987.43", "UtilizationPercentage": "94.0000012" },
            "Savings": { "NetSavings": "10121.17", "OnDemandCostEquivalent": "43244.99" },
            "AmortizedCommitment": { "AmortizedRecurringCommitment": "33123.82", "AmortizedUpfrontCommitment": "0", "TotalAmortizedCommitment": "33123.82" }
        }],
        "Total": {
            "Utilization": { "TotalCommitment": "33123.82", "UsedCommitment": "31136.39", "UnusedCommitment": "1987.43", "UtilizationPercentage": "94.0000012" },
            "Savings": { "NetSavings": "10121.17", "OnDemandCostEquivalent": "43244.99" },
            "AmortizedCommitment": { "TotalAmortizedCommitment": "33123.82" }
        }
    });
    answer(&fake, "GetSavingsPlansUtilization", utilization);
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let mut q = UsageQuery::new(
        CommitmentKind::SavingsPlans,
        UsageMeasure::Coverage,
        Period::new(d("2026-09-01"), d("2026-11-01")),
    );
    q.services = vec!["Amazon Elastic Compute Cloud - Compute".into()];
    let r = source.commitment_usage(&q).await.unwrap();
    assert_eq!(r.requests, 2);
    assert_eq!(r.buckets.len(), 2);
    assert_eq!(r.total, None, "GetSavingsPlansCoverage sends no total");
    let oct = &r.buckets[1].figures;
    assert_eq!(oct.coverage_percentage, Some(dec("62.0000143")));
    assert_eq!(oct.on_demand_cost, Some(dec("26505.0088")));
    assert_eq!(oct.covered_spend, Some(dec("43244.9912")));
    let sent = requests_following_the_model(&fake, "GetSavingsPlansCoverage");
    assert_eq!(
        sent[0]["TimePeriod"],
        json!({ "Start": "2026-09-01", "End": "2026-11-01" })
    );
    assert_eq!(sent[0]["Granularity"], "MONTHLY");
    assert!(sent[0]["Filter"]
        .to_string()
        .contains("Amazon Elastic Compute Cloud - Compute"));
    assert_eq!(sent[1]["NextToken"], "t2");

    let u = UsageQuery::new(
        CommitmentKind::SavingsPlans,
        UsageMeasure::Utilization,
        Period::new(d("2026-10-01"), d("2026-11-01")),
    );
    let r = source.commitment_usage(&u).await.unwrap();
    assert_eq!(r.requests, 1);
    let total = r.total.as_ref().unwrap();
    assert_eq!(total.utilization_percentage, Some(dec("94.0000012")));
    assert_eq!(total.unused_commitment, Some(dec("1987.43")));
    assert_eq!(total.net_savings, Some(dec("10121.17")));
    requests_following_the_model(&fake, "GetSavingsPlansUtilization");
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 3);
    // Repeats cost nothing.
    assert_eq!(source.commitment_usage(&q).await.unwrap().requests, 0);
    assert_eq!(source.commitment_usage(&u).await.unwrap().requests, 0);
    assert_eq!(fake.count("GetSavingsPlansCoverage"), 2);
    assert_eq!(fake.count("GetSavingsPlansUtilization"), 1);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 3);
}

fn aggregates(pct: &str, unused_hours: &str, unused_cost: &str) -> Value {
    json!({
        "UtilizationPercentage": pct,
        "PurchasedHours": "24369.39",
        "TotalActualHours": "21932.45",
        "UnusedHours": unused_hours,
        "OnDemandCostOfRIHoursUsed": "11404.87",
        "NetRISavings": "3168.02",
        "TotalPotentialRISavings": "3991.71",
        "AmortizedUpfrontFee": "4142.8",
        "AmortizedRecurringFee": "4094.05",
        "TotalAmortizedFee": "8236.85",
        "RICostForUnusedHours": unused_cost,
        "RealizedSavings": "3168.02",
        "UnrealizedSavings": "823.69"
    })
}

#[tokio::test]
async fn reservation_coverage_and_utilization_page_with_next_page_token() {
    let fake = CeFake::start().await;
    let coverage = |next: Option<&str>| {
        let total = json!({
            "CoverageHours": { "OnDemandHours": "10967.2", "ReservedHours": "13404.8", "TotalRunningHours": "24372", "CoverageHoursPercentage": "55.0008" },
            "CoverageCost": { "OnDemandCost": "5702.944" }
        });
        let mut v = json!({
            "CoveragesByTime": [{ "TimePeriod": period(), "Groups": [], "Total": total }],
            "Total": total
        });
        if let Some(n) = next {
            v["NextPageToken"] = json!(n);
        }
        v
    };
    answer(&fake, "GetReservationCoverage", coverage(Some("c2")));
    answer(&fake, "GetReservationCoverage", coverage(None));
    let util = |next: Option<&str>| {
        let mut v = json!({
            "UtilizationsByTime": [{ "TimePeriod": period(), "Groups": [], "Total": aggregates("90.0000021", "2436.94", "823.69") }],
            "Total": aggregates("90.0000021", "2436.94", "823.69")
        });
        if let Some(n) = next {
            v["NextPageToken"] = json!(n);
        }
        v
    };
    answer(&fake, "GetReservationUtilization", util(Some("u2")));
    answer(&fake, "GetReservationUtilization", util(None));
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let october = Period::new(d("2026-10-01"), d("2026-11-01"));
    let mut q = UsageQuery::new(
        CommitmentKind::Reservations,
        UsageMeasure::Coverage,
        october,
    );
    q.services = vec!["Amazon Relational Database Service".into()];
    let r = source.commitment_usage(&q).await.unwrap();
    assert_eq!(r.requests, 2);
    let t = r.overall().unwrap();
    assert_eq!(t.coverage_percentage, Some(dec("55.0008")));
    assert_eq!(t.reserved_hours, Some(dec("13404.8")));
    assert_eq!(t.on_demand_cost, Some(dec("5702.944")));
    let sent = requests_following_the_model(&fake, "GetReservationCoverage");
    assert_eq!(sent[0]["Metrics"], json!(["Hour", "Cost"]));
    assert!(sent[0]["Filter"]
        .to_string()
        .contains("Amazon Relational Database Service"));
    assert_eq!(sent[1]["NextPageToken"], "c2");

    let u = UsageQuery::new(
        CommitmentKind::Reservations,
        UsageMeasure::Utilization,
        october,
    );
    let r = source.commitment_usage(&u).await.unwrap();
    assert_eq!(r.requests, 2);
    let t = r.overall().unwrap();
    assert_eq!(t.utilization_percentage, Some(dec("90.0000021")));
    assert_eq!(t.unused_hours, Some(dec("2436.94")));
    assert_eq!(t.unused_cost, Some(dec("823.69")));
    assert_eq!(t.net_savings, Some(dec("3168.02")));
    let sent = requests_following_the_model(&fake, "GetReservationUtilization");
    assert!(sent[0].get("Filter").is_none(), "every reservation");
    assert_eq!(sent[1]["NextPageToken"], "u2");
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 4);
    assert_eq!(source.commitment_usage(&u).await.unwrap().requests, 0);
    assert_eq!(fake.count("GetReservationUtilization"), 2);
    // A period running into today asks only for the complete UTC days.
    let mut running = u.clone();
    running.period = Period::new(d("2026-11-01"), d("2026-11-20"));
    let r = source.commitment_usage(&running).await.unwrap();
    assert_eq!(
        r.query.period,
        Period::new(d("2026-11-01"), d("2026-11-19"))
    );
    let last = fake.received().pop().unwrap().body;
    assert_eq!(
        last["TimePeriod"],
        json!({ "Start": "2026-11-01", "End": "2026-11-19" })
    );
}

#[tokio::test]
async fn a_throttled_call_says_to_retry_is_not_cached_and_the_next_ask_gets_the_answer() {
    let fake = CeFake::start().await;
    fake.fail(
        "GetReservationUtilization",
        400,
        "LimitExceededException",
        "Rate exceeded",
    );
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let u = UsageQuery::new(
        CommitmentKind::Reservations,
        UsageMeasure::Utilization,
        Period::new(d("2026-10-01"), d("2026-11-01")),
    );
    let err = source.commitment_usage(&u).await.unwrap_err();
    assert!(matches!(err, CostError::Throttled), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Cost Explorer is throttling requests; try again in a minute"
    );
    assert!(fake.count("GetReservationUtilization") >= 1);
    // The request costbot made is counted, even though it failed (the SDK's
    // own retries of a throttled request are not billed requests of costbot's).
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
    // Nothing was cached: once AWS answers, the same question is asked again and answered.
    answer(
        &fake,
        "GetReservationUtilization",
        json!({ "UtilizationsByTime": [], "Total": aggregates("90", "2436.94", "823.69") }),
    );
    let r = source.commitment_usage(&u).await;
    // The fake pops the throttle only once a newer answer is queued.
    let r = match r {
        Ok(r) => r,
        Err(_) => source.commitment_usage(&u).await.unwrap(),
    };
    assert_eq!(r.overall().unwrap().unused_cost, Some(dec("823.69")));
    assert!(!r.cached);
}

async fn agent_on(source: Arc<dyn CostSource>, store: Store, today: NaiveDate) -> Agent {
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source,
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    Agent::new(tools, store, Arc::new(move || today))
}

async fn ask(agent: &Agent, conversation: &str, text: &str) -> Answer {
    agent
        .handle(Inquiry::new(
            ConversationKey::Channel(conversation.into()),
            "t",
            "test",
            text,
        ))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[tokio::test]
async fn a_throttled_ri_recommendation_beside_the_savings_plan_one_becomes_a_note() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        "GetSavingsPlansPurchaseRecommendation",
        sp_recommendation_page(
            json!([sp_detail("111111111111", "23.01", "11517.3127")]),
            None,
        ),
    );
    fake.fail(
        "GetReservationPurchaseRecommendation",
        400,
        "LimitExceededException",
        "Rate exceeded",
    );
    let dir = tempfile::tempdir().unwrap();
    let (source, store) = cached(&fake, dir.path()).await;
    let agent = agent_on(Arc::new(source), store, d("2026-11-19")).await;
    let a = ask(&agent, "buy", "what should we buy — Savings Plans or RIs?").await;
    assert!(a.summary.contains("$11,517.31 a month"), "{}", a.summary);
    assert!(a.summary.contains("$23.01 an hour"), "{}", a.summary);
    assert!(
        a.notes.iter().any(|n| n
            == "AWS's own purchase recommendation could not be shown: Cost Explorer is throttling requests; try again in a minute"),
        "{:?}",
        a.notes
    );
    let basis = a.basis.as_ref().unwrap();
    assert_eq!(basis.source, "AWS GetSavingsPlansPurchaseRecommendation");
    assert_eq!(
        basis.metric,
        "1-year, no upfront, based on the last 30 days"
    );
    assert_eq!(basis.period, "20 October – 18 November 2026");
    // The matching guide is cited.
    assert!(
        a.citations
            .iter()
            .any(|c| c.guide == "savings-plans.md" || c.guide == "sizing-a-commitment.md"),
        "{:?}",
        a.citations
    );
}

#[tokio::test]
async fn the_sample_answers_agree_with_its_spend_and_how_did_you_get_that_names_the_calls() {
    let today = d("2026-11-19");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let sample = Arc::new(SampleSource::new(today));
    let agent = agent_on(sample.clone(), store, today).await;
    let a = ask(&agent, "cov", "how much of EC2 is covered by commitments?").await;
    assert!(
        a.summary
            .contains("Savings Plans covered 62% of EC2's eligible spend in 1–31 October 2026"),
        "{}",
        a.summary
    );
    // Covered plus on demand is the sample's EC2 on-demand instance spend for October.
    let covered: Decimal = a
        .figures
        .iter()
        .find(|f| f.label.starts_with("Savings Plans covered spend"))
        .unwrap()
        .amount
        .parse()
        .unwrap();
    let on_demand: Decimal = a
        .figures
        .iter()
        .find(|f| {
            f.label
                .starts_with("Savings Plans on-demand cost not covered")
        })
        .unwrap()
        .amount
        .parse()
        .unwrap();
    let mut q = CostQuery::new(Period::new(d("2026-10-01"), d("2026-11-01")));
    q.filter.services = vec!["Amazon Elastic Compute Cloud - Compute".into()];
    q.filter.usage_type_contains = vec!["BoxUsage".into()];
    assert_eq!(
        covered + on_demand,
        sample.cost_and_usage(&q).await.unwrap().total()
    );
    assert!(
        a.details
            .iter()
            .any(|d| d.contains("GetSavingsPlansCoverage")),
        "{:?}",
        a.details
    );
    assert!(
        a.details
            .iter()
            .any(|d| d.contains("GetReservationCoverage")),
        "{:?}",
        a.details
    );
    assert!(
        a.citations
            .iter()
            .any(|c| c.guide == "commitment-coverage-utilization.md"),
        "{:?}",
        a.citations
    );
    let how = ask(&agent, "cov", "how did you get that?").await;
    assert!(
        how.details
            .iter()
            .any(|d| d.starts_with("aws_commitment_usage(")),
        "{:?}",
        how.details
    );
    assert!(
        how.details
            .iter()
            .any(|d| d.contains("GetSavingsPlansCoverage query")),
        "{:?}",
        how.details
    );
    assert!(
        how.details
            .iter()
            .any(|d| d.contains("GetReservationCoverage query")),
        "{:?}",
        how.details
    );

    let a = ask(&agent, "ri", "RI recommendations for RDS").await;
    assert!(a.summary.contains("db.r6g.xlarge"), "{}", a.summary);
    assert!(
        a.citations
            .iter()
            .any(|c| c.guide == "rds-reserved-instances.md"),
        "{:?}",
        a.citations
    );
    let how = ask(&agent, "ri", "how did you get that?").await;
    assert!(
        how.details
            .iter()
            .any(|d| d.contains("GetReservationPurchaseRecommendation query")),
        "{:?}",
        how.details
    );
}

#[test]
fn the_commitment_questions_answer_on_the_sample_organization_via_costbot_ask() {
    let dir = tempfile::tempdir().unwrap();
    let ask = |question: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("COSTBOT_DATA_DIR", dir.path())
            .current_dir(dir.path());
        for var in ["COSTBOT_MODEL_DIR", "COSTBOT_REQUIRE_MODEL"] {
            if let Ok(v) = std::env::var(var) {
                cmd.env(var, v);
            }
        }
        let out = cmd
            .args(["ask", "--as-of", "2026-11-19", question])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let buy = ask("what should we buy — Savings Plans or RIs?");
    assert!(
        buy.contains("Compute Savings Plan, 1-year, no upfront, based on the last 30 days"),
        "{buy}"
    );
    assert!(buy.contains("EC2 reservations"), "{buy}");
    assert!(
        buy.contains("GetSavingsPlansPurchaseRecommendation"),
        "{buy}"
    );
    assert!(
        buy.contains("GetReservationPurchaseRecommendation"),
        "{buy}"
    );
    let sp = ask("how much would a 3-year all upfront compute savings plan save?");
    assert!(sp.contains("3-year, all upfront"), "{sp}");
    let used = ask("are our savings plans being used?");
    assert!(
        used.contains("Savings Plans utilization in 1–31 October 2026: 94%"),
        "{used}"
    );
    assert!(used.contains("GetSavingsPlansUtilization"), "{used}");
    let waste = ask("how much are we wasting on unused reservations?");
    assert!(
        waste.contains("Reserved Instance utilization for all reservations"),
        "{waste}"
    );
    assert!(waste.contains("unused of"), "{waste}");
    assert!(waste.contains("GetReservationUtilization"), "{waste}");
}

#[tokio::test]
async fn a_model_calling_the_usage_tool_writes_only_figures_it_returned() {
    use costbot::agent::llm::LlmPlanner;
    use costbot::config::LlmConfig;
    use costbot::metrics::LlmMetrics;
    let today = d("2026-11-19");
    let args = json!({ "kind": "savings_plans", "measure": "utilization", "period": { "start": "2026-10-01", "end": "2026-10-31" } });
    let fake = llm::FakeLlm::start(vec![
        llm::calls(&[("call_1", "aws_commitment_usage", args.clone())], (300, 20)),
        llm::Reply::With(Arc::new(|req: &Value| {
            let msgs = req["messages"].as_array().unwrap();
            let v: Value =
                serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
            let f = &v["aws_commitment_usage"]["periods"][0]["figures"];
            llm::text_body(
                &format!(
                    "Your Savings Plans were {}% used in October; ${} of the commitment went unused.",
                    f["utilization_percentage"].as_str().unwrap(),
                    f["unused_commitment"].as_str().unwrap()
                ),
                (450, 30),
            )
        })),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let config = LlmConfig {
        base_url: Some(fake.base_url.clone()),
        model: "fake-model".into(),
        ..Default::default()
    };
    let planner = LlmPlanner::new(&config, LlmMetrics::new())
        .unwrap()
        .unwrap();
    let agent = agent_on(Arc::new(SampleSource::new(today)), store, today)
        .await
        .with_planner(Box::new(planner));
    let a = ask(&agent, "m", "are our savings plans being used?").await;
    assert_eq!(
        a.summary,
        "Your Savings Plans were 94% used in October; $1987.43 of the commitment went unused."
    );
    assert_eq!(a.llm.as_ref().unwrap().grounding, "grounded");
    // The composed figures and basis stand beside the model's words.
    assert!(
        a.figures
            .iter()
            .any(|f| f.label.starts_with("Savings Plans utilization") && f.amount == "94"),
        "{:?}",
        a.figures
    );
    let basis = a.basis.as_ref().unwrap();
    assert_eq!(basis.metric, "Savings Plans utilization");
    assert_eq!(basis.period, "1–31 October 2026");
    assert_eq!(a.tool_calls[0].name, "aws_commitment_usage");
    assert_eq!(fake.left(), 0);
}

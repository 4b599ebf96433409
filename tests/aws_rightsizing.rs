//! AWS's rightsizing recommendations through the real SDKs against a local
//! fake on 127.0.0.1 (moto implements neither): Cost Explorer's
//! GetRightsizingRecommendation (JSON 1.1) and Cost Optimization Hub's
//! ListRecommendations (JSON 1.0). Every request costbot sends and every
//! answer the fake gives is checked against botocore's service models.

#[path = "support/ce_fake.rs"]
mod ce_fake;
mod common;

use std::sync::Arc;

use ce_fake::{CeFake, HUB};
use chrono::NaiveDate;
use costbot::agent::{Agent, Answer, ConversationKey, Inquiry, Tools};
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::rightsizing::{RecommendationTarget, RightsizingAction};
use costbot::costs::{CostError, CostSource, HubQuery, RightsizingQuery};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const LIST: &str = "CostOptimizationHub.ListRecommendations";
const RIGHTSIZING: &str = "GetRightsizingRecommendation";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn explorer(fake: &CeFake, hub: bool) -> ExplorerSource {
    let config = AwsConfig {
        endpoint_url: Some(fake.url.clone()),
        cost_optimization_hub: hub,
        ..AwsConfig::default()
    };
    ExplorerSource::with_base(common::sdk_config(&fake.url).await, &config)
        .await
        .with_utc_clock(Arc::new(|| d("2026-11-19")))
}

/// Seeds `body` after checking it is what AWS could send.
fn answer(fake: &CeFake, operation: &str, body: Value) {
    let problems = ce_fake::model_problems(operation, "output", &body);
    assert!(problems.is_empty(), "the fake's own answer: {problems:?}");
    fake.answer(operation, body);
}

/// Every request the fake received is well formed for its service and operation.
fn assert_requests_follow_the_models(fake: &CeFake) {
    let received = fake.received();
    assert!(!received.is_empty());
    for r in received {
        // The Agent asks Organizations for account names on the same endpoint; this
        // fake refuses that, and costbot carries on with the configured names.
        if r.target.starts_with("AWSOrganizationsV20161128.") {
            continue;
        }
        let (operation, content_type) = match r.target.strip_prefix(ce_fake::HUB_TARGET_PREFIX) {
            Some(op) => (format!("{HUB}{op}"), ce_fake::HUB_CONTENT_TYPE),
            None => (
                r.target
                    .strip_prefix("AWSInsightsIndexService.")
                    .unwrap_or_else(|| panic!("target {}", r.target))
                    .to_string(),
                "application/x-amz-json-1.1",
            ),
        };
        assert_eq!(r.content_type, content_type, "{}", r.target);
        let problems = ce_fake::model_problems(&operation, "input", &r.body);
        assert!(
            problems.is_empty(),
            "{operation} request {}: {problems:?}",
            r.body
        );
    }
}

fn modify() -> Value {
    json!({
        "AccountId": "111111111111",
        "CurrentInstance": {
            "ResourceId": "i-0abc0000000000001",
            "InstanceName": "api-1",
            "Tags": [],
            "ResourceDetails": { "EC2ResourceDetails": {
                "InstanceType": "m5.2xlarge", "Region": "US East (N. Virginia)",
                "Platform": "Linux/UNIX", "HourlyOnDemandRate": "0.384", "Vcpu": "8", "Memory": "32 GiB"
            }},
            "ResourceUtilization": { "EC2ResourceUtilization": {
                "MaxCpuUtilizationPercentage": "12.5", "MaxMemoryUtilizationPercentage": "30.25"
            }},
            "TotalRunningHoursInLookbackPeriod": "168",
            "MonthlyCost": "280.3200000001",
            "CurrencyCode": "USD"
        },
        "RightsizingType": "MODIFY",
        "ModifyRecommendationDetail": { "TargetInstances": [
            {
                "EstimatedMonthlyCost": "112.42", "EstimatedMonthlySavings": "167.9",
                "CurrencyCode": "USD", "DefaultTargetInstance": false,
                "ResourceDetails": { "EC2ResourceDetails": { "InstanceType": "m6g.xlarge" } }
            },
            {
                "EstimatedMonthlyCost": "140.16", "EstimatedMonthlySavings": "140.1600000001",
                "CurrencyCode": "USD", "DefaultTargetInstance": true,
                "ResourceDetails": { "EC2ResourceDetails": { "InstanceType": "m5.xlarge" } }
            }
        ]},
        "FindingReasonCodes": ["CPU_OVER_PROVISIONED", "MEMORY_OVER_PROVISIONED"]
    })
}

fn terminate() -> Value {
    json!({
        "AccountId": "222222222222",
        "CurrentInstance": {
            "ResourceId": "i-0abc0000000000002",
            "InstanceName": "",
            "ResourceDetails": { "EC2ResourceDetails": { "InstanceType": "t3.large", "Region": "EU (Ireland)" } },
            "ResourceUtilization": { "EC2ResourceUtilization": { "MaxCpuUtilizationPercentage": "0.8" } },
            "MonthlyCost": "66.43",
            "CurrencyCode": "USD"
        },
        "RightsizingType": "TERMINATE",
        "TerminateRecommendationDetail": { "EstimatedMonthlySavings": "66.43", "CurrencyCode": "USD" },
        "FindingReasonCodes": ["CPU_OVER_PROVISIONED"]
    })
}

/// One page; the summary (the same on every page) counts `total` recommendations.
fn page(items: Vec<Value>, next: Option<&str>, total: u32) -> Value {
    let mut v = json!({
        "Metadata": {
            "RecommendationId": "8f1c-rightsizing",
            "GenerationTimestamp": "2026-11-18T06:12:44Z",
            "LookbackPeriodInDays": "SEVEN_DAYS",
            "AdditionalMetadata": "Savings take RI and Savings Plans coverage into account"
        },
        "Summary": {
            "TotalRecommendationCount": total.to_string(),
            "EstimatedTotalMonthlySavingsAmount": "206.5900000001",
            "SavingsCurrencyCode": "USD",
            "SavingsPercentage": "59.55"
        },
        "RightsizingRecommendations": items,
        "Configuration": { "RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": true }
    });
    if let Some(t) = next {
        v["NextPageToken"] = json!(t);
    }
    v
}

fn hub_item(id: &str, kind: &str, action: &str, savings: f64, cost: f64) -> Value {
    json!({
        "recommendationId": id,
        "accountId": "111111111111",
        "region": "us-east-1",
        "resourceId": format!("res-{id}"),
        "resourceArn": format!("arn:aws:ec2:us-east-1:111111111111:volume/res-{id}"),
        "currentResourceType": kind,
        "recommendedResourceType": kind,
        "estimatedMonthlySavings": savings,
        "estimatedSavingsPercentage": 20.5,
        "estimatedMonthlyCost": cost,
        "currencyCode": "USD",
        "implementationEffort": "VeryLow",
        "restartNeeded": false,
        "actionType": action,
        "rollbackPossible": true,
        "currentResourceSummary": "gp2 500 GiB",
        "recommendedResourceSummary": "gp3 500 GiB",
        "lastRefreshTimestamp": 1763500000,
        "recommendationLookbackPeriodInDays": 14,
        "source": "ComputeOptimizer",
        "tags": [{ "key": "team", "value": "data" }]
    })
}

async fn cached(source: ExplorerSource, store: &Store, limit: Option<u64>) -> Arc<dyn CostSource> {
    let c = CachedSource::new(
        Arc::new(source),
        store.clone(),
        CacheConfig::default(),
        Arc::new(|| d("2026-11-19")),
    );
    Arc::new(match limit {
        Some(l) => c.with_monthly_limit(l),
        None => c,
    })
}

#[tokio::test]
async fn rightsizing_is_paged_each_page_counted_exact_and_a_repeat_is_free() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        RIGHTSIZING,
        page(vec![terminate()], Some("page-2"), 2),
    );
    answer(&fake, RIGHTSIZING, page(vec![modify()], None, 2));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let source = cached(explorer(&fake, false).await, &store, Some(100)).await;
    let q = RightsizingQuery {
        accounts: vec!["222222222222".into(), "111111111111".into()],
        ..RightsizingQuery::new()
    };
    let r = source.rightsizing(&q).await.unwrap();
    assert_eq!(r.requests, 2, "one billed request per page");
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    // The summary exactly as AWS sent it, to the last digit.
    assert_eq!(r.summary.total_recommendation_count, Some(2));
    assert_eq!(
        r.summary
            .estimated_total_monthly_savings
            .unwrap()
            .to_string(),
        "206.5900000001"
    );
    assert_eq!(r.summary.savings_percentage, Some(dec("59.55")));
    assert_eq!(r.lookback.as_deref(), Some("SEVEN_DAYS"));
    // Largest savings first; the default target, not the first listed.
    let top = &r.recommendations[0];
    assert_eq!(top.action, RightsizingAction::Modify);
    assert_eq!(top.instance_id.as_deref(), Some("i-0abc0000000000001"));
    assert_eq!(top.current_type.as_deref(), Some("m5.2xlarge"));
    let target = top.target.as_ref().unwrap();
    assert_eq!(target.instance_type.as_deref(), Some("m5.xlarge"));
    assert_eq!(
        top.estimated_monthly_savings.unwrap().to_string(),
        "140.1600000001"
    );
    assert_eq!(top.current_monthly_cost, Some(dec("280.3200000001")));
    assert_eq!(top.max_cpu_percent, Some(dec("12.5")));
    assert_eq!(top.max_memory_percent, Some(dec("30.25")));
    let idle = &r.recommendations[1];
    assert_eq!(idle.action, RightsizingAction::Terminate);
    assert_eq!(idle.instance_name, None, "an empty name is no name");
    assert_eq!(idle.estimated_monthly_savings, Some(dec("66.43")));
    assert_eq!(idle.max_memory_percent, None);
    assert_requests_follow_the_models(&fake);
    let sent = fake.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body["Service"], "AmazonEC2");
    assert_eq!(
        sent[0].body["Configuration"],
        json!({ "RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": true })
    );
    assert_eq!(
        sent[0].body["Filter"]["Dimensions"]["Key"],
        "LINKED_ACCOUNT"
    );
    assert!(sent[0].body.get("NextPageToken").is_none());
    assert_eq!(sent[1].body["NextPageToken"], "page-2");
    // The same question, accounts in another order: from the cache, nothing paid.
    let again = source
        .rightsizing(&RightsizingQuery {
            accounts: vec!["111111111111".into(), "222222222222".into()],
            ..RightsizingQuery::new()
        })
        .await
        .unwrap();
    assert!(again.cached);
    assert_eq!(again.requests, 0);
    assert_eq!(again.recommendations, r.recommendations);
    assert_eq!(fake.count(RIGHTSIZING), 2);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    // Another target family is another question.
    let cross = RightsizingQuery {
        target: RecommendationTarget::CrossInstanceFamily,
        ..q.clone()
    };
    source.rightsizing(&cross).await.unwrap();
    assert_eq!(
        fake.received().last().unwrap().body["Configuration"]["RecommendationTarget"],
        "CROSS_INSTANCE_FAMILY"
    );
}

#[tokio::test]
async fn optimization_hub_is_paged_counted_exact_and_a_repeat_is_free() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        LIST,
        json!({ "items": [hub_item("r-1", "EbsVolume", "Upgrade", 12.34, 61.7)], "nextToken": "t-2" }),
    );
    answer(
        &fake,
        LIST,
        json!({ "items": [hub_item("r-2", "LambdaFunction", "Rightsize", 44.87, 96.4)] }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let source = cached(explorer(&fake, true).await, &store, None).await;
    assert!(source.reads_optimization_hub());
    let q = HubQuery {
        accounts: vec!["111111111111".into()],
        ..Default::default()
    };
    let r = source.hub_recommendations(&q).await.unwrap();
    assert_eq!(r.requests, 2);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 2);
    assert_eq!(r.recommendations.len(), 2);
    let top = &r.recommendations[0];
    assert_eq!(top.resource_type.as_deref(), Some("LambdaFunction"));
    // The JSON numbers AWS sent, read back as the same decimals.
    assert_eq!(top.estimated_monthly_savings.unwrap().to_string(), "44.87");
    assert_eq!(top.estimated_monthly_cost, Some(dec("96.4")));
    assert_eq!(r.recommendations[1].action_type.as_deref(), Some("Upgrade"));
    assert_eq!(r.recommendations[1].lookback_days, Some(14));
    assert_requests_follow_the_models(&fake);
    let sent = fake.received();
    assert_eq!(
        sent[0].target,
        "CostOptimizationHubService.ListRecommendations"
    );
    assert_eq!(
        sent[0].body["filter"]["accountIds"],
        json!(["111111111111"])
    );
    assert!(sent[0].body.get("nextToken").is_none());
    assert_eq!(sent[1].body["nextToken"], "t-2");
    let again = source.hub_recommendations(&q).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.requests, 0);
    assert_eq!(fake.count(LIST), 2);
}

#[tokio::test]
async fn throttling_maps_to_the_retry_sentence() {
    let fake = CeFake::start().await;
    fake.fail(RIGHTSIZING, 400, "LimitExceededException", "Rate exceeded");
    let source = explorer(&fake, false).await;
    let err = source
        .rightsizing(&RightsizingQuery::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CostError::Throttled), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Cost Explorer is throttling requests; try again in a minute"
    );
}

async fn agent(fake: &CeFake, hub: bool, store: &Store) -> Agent {
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: cached(explorer(fake, hub).await, store, None).await,
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    Agent::new(tools, store.clone(), Arc::new(|| d("2026-11-19")))
}

async fn ask(agent: &Agent, text: &str) -> Answer {
    agent
        .handle(Inquiry::new(
            ConversationKey::Channel("c".into()),
            "t",
            "test",
            text,
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_hub_not_enabled_is_a_note_and_costbot_still_answers() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        RIGHTSIZING,
        page(vec![modify(), terminate()], None, 2),
    );
    fake.fail(
        LIST,
        400,
        "AccessDeniedException",
        "The account is not enrolled in Cost Optimization Hub. Opt in to use this API.",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let agent = agent(&fake, true, &store).await;
    let a = ask(&agent, "which instances should we rightsize?").await;
    assert!(
        a.summary.contains("2 EC2 instances to rightsize") && a.summary.contains("$206.59 a month"),
        "{}",
        a.summary
    );
    assert!(
        a.notes.iter().any(|n| n.contains(
            "Cost Optimization Hub's recommendations could not be shown: Cost Optimization Hub is not enabled for this account"
        )),
        "{:?}",
        a.notes
    );
    // Each recommendation kind names its guide, and the guide is cited.
    let table = a.table.as_ref().unwrap();
    assert!(table.columns.iter().any(|c| c == "Guide"));
    assert!(a.citations.iter().any(|c| c.guide == "ec2-rightsizing.md"));
    let basis = a.basis.as_ref().unwrap();
    assert!(
        basis.period.contains("last 7 days before 18 November 2026"),
        "{}",
        basis.period
    );
    assert!(
        basis.metric.contains("same instance family"),
        "{}",
        basis.metric
    );
    assert!(
        basis.source.contains("GetRightsizingRecommendation"),
        "{}",
        basis.source
    );
    assert_eq!(
        fake.count(LIST),
        1,
        "asked once; the refusal is not retried"
    );
    assert_requests_follow_the_models(&fake);
}

#[tokio::test]
async fn how_did_you_get_that_names_both_calls_and_without_the_switch_the_hub_is_never_asked() {
    let fake = CeFake::start().await;
    answer(&fake, RIGHTSIZING, page(vec![modify()], None, 1));
    answer(
        &fake,
        LIST,
        json!({ "items": [hub_item("r-1", "EbsVolume", "Upgrade", 12.34, 61.7)] }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let on = agent(&fake, true, &store).await;
    let a = ask(&on, "rightsizing recommendations for account 111111111111").await;
    assert!(
        a.summary
            .contains("Cost Optimization Hub lists 1 recommendation"),
        "{} {:?}",
        a.summary,
        a.notes
    );
    assert!(
        a.details
            .iter()
            .any(|d| d.contains("EbsVolume res-r-1") && d.contains("ebs-gp2-to-gp3.md")),
        "{:?}",
        a.details
    );
    assert!(a.citations.iter().any(|c| c.guide == "ebs-gp2-to-gp3.md"));
    let how = ask(&on, "how did you get that?").await;
    // One billed Cost Explorer page; the hub's page is named, not billed.
    assert!(
        how.summary
            .contains("took 1 billable Cost Explorer request ($0.01)"),
        "{}",
        how.summary
    );
    let text = how.details.join("\n");
    assert!(
        text.contains("GetRightsizingRecommendation query"),
        "{text}"
    );
    assert!(
        text.contains("Cost Optimization Hub ListRecommendations query")
            && text.contains("\"resource_types\":[]} (1 request)"),
        "{text}"
    );
    assert_eq!(fake.count(LIST), 1);
    // The switch off: Cost Explorer only, not one request to the hub.
    let other = CeFake::start().await;
    answer(&other, RIGHTSIZING, page(vec![modify()], None, 1));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let off = agent(&other, false, &store).await;
    let a = ask(&off, "any oversized EC2?").await;
    assert!(
        a.summary.contains("1 EC2 instance to rightsize"),
        "{}",
        a.summary
    );
    assert!(
        !a.summary.contains("Cost Optimization Hub"),
        "{}",
        a.summary
    );
    assert_eq!(other.count(LIST), 0);
    assert_eq!(other.count(RIGHTSIZING), 1);
}

#[test]
fn the_sample_organization_answers_rightsizing_via_costbot_ask() {
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
        let out = cmd.args(["ask", question]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let all = ask("which instances should we rightsize?");
    assert!(
        all.contains("stand-in for AWS Cost Explorer's rightsizing recommendations"),
        "{all}"
    );
    assert!(all.contains("estimated savings $547.00 a month"), "{all}");
    assert!(all.contains("m7i.xlarge → m7i.large"), "{all}");
    assert!(all.contains("GetRightsizingRecommendation"), "{all}");
    assert!(all.contains("rds-rightsizing.md"), "{all}");
    let prod = ask("rightsizing recommendations for the prod account");
    assert!(prod.contains("for account prod: 2 EC2 instances"), "{prod}");
    assert!(!prod.contains("staging-api-2"), "{prod}");
    let cross = ask("what would rightsizing across instance families save us?");
    assert!(cross.contains("m7i.xlarge → m7g.large"), "{cross}");
    assert!(cross.contains("graviton.md"), "{cross}");
}

#[tokio::test]
async fn a_throttled_hub_says_so_beside_cost_explorers_answer() {
    let fake = CeFake::start().await;
    answer(&fake, RIGHTSIZING, page(vec![terminate()], None, 1));
    fake.fail(LIST, 400, "ThrottlingException", "Rate exceeded");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let agent = agent(&fake, true, &store).await;
    let a = ask(&agent, "idle instances we could terminate").await;
    assert!(a.summary.contains("1 idle to terminate"), "{}", a.summary);
    assert!(
        a.notes.iter().any(|n| n
            == "Cost Optimization Hub's recommendations could not be shown: Cost Optimization Hub is throttling requests; try again in a minute."),
        "{:?}",
        a.notes
    );
}

#[tokio::test]
async fn the_monthly_cap_stops_rightsizing_paging_between_pages() {
    let fake = CeFake::start().await;
    answer(
        &fake,
        RIGHTSIZING,
        page(vec![terminate()], Some("page-2"), 2),
    );
    answer(&fake, RIGHTSIZING, page(vec![modify()], None, 2));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("costbot.db")).await.unwrap();
    let source = cached(explorer(&fake, false).await, &store, Some(1)).await;
    let err = source
        .rightsizing(&RightsizingQuery::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CostError::MonthlyBudget { limit: 1 }),
        "{err:?}"
    );
    // The first page was made and counted; the second was never sent.
    assert_eq!(fake.count(RIGHTSIZING), 1);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 1);
}

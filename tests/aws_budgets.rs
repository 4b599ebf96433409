//! AWS Budgets (DescribeBudgets) through aws-sdk-budgets against a real moto
//! server: budgets with their limit, actual and forecasted spend read
//! exactly, every request counted in the meter but none billed nor held
//! against the Cost Explorer cap, repeats answered from the cache with zero
//! requests, "are we over any budget?" answered from AWS's budgets beside the
//! configured one, and the sample organization's budgets via `costbot ask`.
//!
//! moto's DescribeBudgets does not page (it ignores MaxResults and always
//! returns every budget with no NextToken), so paging is tested against the
//! botocore-checked fake in tests/support/ce_fake.rs; Organizations' paging
//! is tested in aws_accounts.rs.

#[path = "support/ce_fake.rs"]
mod ce_fake;
mod common;

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
use costbot::config::{AwsConfig, CacheConfig};
use costbot::costs::budgets::BudgetStanding;
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::{BudgetQuery, CostSource, Meter};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;
use rust_decimal::Decimal;

/// moto's default account: what STS GetCallerIdentity says with test credentials.
const ACCOUNT: &str = "123456789012";

fn spend(amount: &str) -> aws_sdk_budgets::types::Spend {
    aws_sdk_budgets::types::Spend::builder()
        .amount(amount)
        .unit("USD")
        .build()
        .unwrap()
}

/// Creates a monthly cost budget with AWS's calculated spend, as AWS keeps it.
async fn create(
    client: &aws_sdk_budgets::Client,
    name: &str,
    limit: &str,
    actual: &str,
    forecast: &str,
) {
    use aws_sdk_budgets::types::{Budget, BudgetType, CalculatedSpend, TimeUnit};
    let budget = Budget::builder()
        .budget_name(name)
        .budget_limit(spend(limit))
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        .calculated_spend(
            CalculatedSpend::builder()
                .actual_spend(spend(actual))
                .forecasted_spend(spend(forecast))
                .build(),
        )
        .build()
        .unwrap();
    client
        .create_budget()
        .account_id(ACCOUNT)
        .budget(budget)
        .send()
        .await
        .unwrap();
}

async fn seeded(moto: &common::Moto) {
    let client = aws_sdk_budgets::Client::new(&common::sdk_config(&moto.url).await);
    create(&client, "platform-monthly", "1000", "1200.55", "1500.10").await;
    create(&client, "prod-monthly", "5000", "3100.123456", "5250.5").await;
    create(&client, "sandbox-monthly", "300", "12.34", "45.6").await;
}

async fn explorer(moto: &common::Moto) -> ExplorerSource {
    let aws = AwsConfig {
        endpoint_url: Some(moto.url.clone()),
        ..AwsConfig::default()
    };
    ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws).await
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_read_exactly_and_every_request_is_counted() {
    let moto = common::start_moto().await;
    seeded(&moto).await;
    let source = explorer(&moto).await;
    let meter = Meter::new();
    let q = BudgetQuery {
        max_results: Some(1),
        connection: None,
    };
    let r = source.budgets_metered(&q, &meter).await.unwrap();
    // GetCallerIdentity (the account id) and one DescribeBudgets page.
    assert_eq!(meter.spent(), 2);
    assert_eq!(r.requests, 2);
    assert_eq!(r.account_id, ACCOUNT);
    assert_eq!(r.source, "aws-budgets");
    assert_eq!(source.requests_made(), 0, "no Cost Explorer request");
    let by_name = |n: &str| r.budgets.iter().find(|b| b.name == n).unwrap();
    let platform = by_name("platform-monthly");
    assert_eq!(platform.limit, Some(d("1000")));
    assert_eq!(platform.actual, Some(d("1200.55")));
    assert_eq!(platform.forecasted, Some(d("1500.10")));
    assert_eq!(
        (platform.time_unit.as_str(), platform.budget_type.as_str()),
        ("MONTHLY", "COST")
    );
    assert_eq!(platform.standing(), BudgetStanding::Over);
    let prod = by_name("prod-monthly");
    assert_eq!(prod.actual, Some(d("3100.123456")), "exact decimals");
    assert_eq!(prod.standing(), BudgetStanding::ForecastOver);
    assert_eq!(
        by_name("sandbox-monthly").standing(),
        BudgetStanding::Within
    );

    // The account id is asked once per connection.
    let again = Meter::new();
    source.budgets_metered(&q, &again).await.unwrap();
    assert_eq!(again.spent(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_answers_repeats_free_and_the_cost_explorer_cap_is_untouched() {
    let moto = common::start_moto().await;
    seeded(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let today = Utc::now().date_naive();
    // A cap of one Cost Explorer request: Budgets requests must not use it up.
    let cached = CachedSource::new(
        Arc::new(explorer(&moto).await),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    )
    .with_monthly_limit(1);
    let first = cached.budgets(&BudgetQuery::default()).await.unwrap();
    assert_eq!(first.requests, 2);
    assert!(!first.cached);
    let second = cached.budgets(&BudgetQuery::default()).await.unwrap();
    assert_eq!(second.requests, 0);
    assert!(second.cached);
    assert_eq!(second.budgets, first.budgets);
    let month = Utc::now().format("%Y-%m").to_string();
    assert_eq!(store.reserved_requests(&month).await.unwrap(), 0);
    assert_eq!(store.requests_since("2000-01-01").await.unwrap(), 0);
    let m = cached.metrics();
    assert_eq!(m.requests.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_any_budget_answers_from_aws_budgets_and_the_configured_one() {
    let moto = common::start_moto().await;
    seeded(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let source = explorer(&moto)
        .await
        .with_utc_clock(Arc::new(move || today));
    let cached = CachedSource::new(
        Arc::new(source),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(index),
        budget: Some(d("9000")),
        connections: vec![],
    };
    let agent = Agent::new(tools, store.clone(), Arc::new(move || today));
    let answer = agent
        .handle(Inquiry::new(
            ConversationKey::New,
            "cli",
            "cli",
            "are we over any budget?",
        ))
        .await
        .unwrap();
    let text = format!("{} {:?}", answer.summary, answer.details);
    // AWS's budgets, by source, with their figures from DescribeBudgets.
    assert!(
        answer
            .summary
            .contains("AWS Budgets: 1 over its limit, 1 forecast to go over, 1 within"),
        "{text}"
    );
    assert!(
        answer
            .summary
            .contains("platform-monthly (monthly) at $1,200.55 against $1,000.00"),
        "{text}"
    );
    let figure = |label: &str| {
        answer
            .figures
            .iter()
            .find(|f| f.label == label)
            .unwrap_or_else(|| panic!("no figure {label}: {:?}", answer.figures))
            .amount
            .clone()
    };
    assert_eq!(figure("AWS budget prod-monthly forecasted"), "5250.5");
    // costbot's configured budget, labelled as such.
    assert_eq!(figure("Monthly budget"), "9000");
    assert!(
        answer.summary.contains("budget set in costbot's config"),
        "{text}"
    );
    let calls: Vec<&str> = answer.tool_calls.iter().map(|c| c.name.as_str()).collect();
    // moto answers ListAccounts with no organization as an empty list: asked once, listed.
    assert_eq!(
        calls,
        ["forecast_month_end", "aws_budgets", "organization_accounts"]
    );
    assert_eq!(
        answer.tool_calls[1].cost_explorer_requests, 0,
        "free of charge"
    );

    // "how did you get that?" names DescribeBudgets and its free requests.
    let explained = agent
        .handle(Inquiry::new(
            ConversationKey::Id(answer.conversation_id.clone()),
            "cli",
            "cli",
            "how did you get that?",
        ))
        .await
        .unwrap();
    let details = explained.details.join("\n");
    assert!(details.contains("DescribeBudgets query:"), "{details}");
    assert!(
        details.contains("(2 requests, free of charge)"),
        "{details}"
    );
}

#[test]
fn the_sample_organization_answers_budget_questions() {
    let dir = tempfile::tempdir().unwrap();
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
    let out = cmd.args(["ask", "budget status"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("The sample organization's AWS Budgets:"),
        "{stdout}"
    );
    for name in [
        "org-monthly-total",
        "prod-monthly",
        "dev-monthly",
        "data-quarterly",
    ] {
        assert!(stdout.contains(name), "{name}: {stdout}");
    }
    assert!(stdout.contains("DescribeBudgets"), "{stdout}");
    assert!(
        stdout.contains("costbot's projection from the daily run rate"),
        "{stdout}"
    );
}

/// A user allowed Cost Explorer and STS only; moto checks IAM after the
/// three setup requests. Returns (key id, secret).
fn user_without_budgets(moto: &common::Moto) -> (String, String) {
    let python = std::env::var("COSTBOT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="costbot")
iam.put_user_policy(UserName="costbot", PolicyName="no-budgets", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ce:*", "sts:*"], "Resource": "*"}]}))
key = iam.create_access_key(UserName="costbot")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, &moto.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace();
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_budgets_leave_costbots_projection_standing() {
    let moto = common::start_moto_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]).await;
    let (key, secret) = user_without_budgets(&moto);
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "costbot-tests");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(creds)
        .load()
        .await;
    let aws = AwsConfig {
        endpoint_url: Some(moto.url.clone()),
        ..AwsConfig::default()
    };
    let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let source = ExplorerSource::with_base(sdk, &aws)
        .await
        .with_utc_clock(Arc::new(move || today));
    let refused = source.budgets(&BudgetQuery::default()).await.unwrap_err();
    assert!(
        matches!(refused, costbot::costs::CostError::AccessDenied(ref m) if m.contains("budgets:ViewBudget")),
        "{refused:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let cached = CachedSource::new(
        Arc::new(source),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(LexicalIndex::new(store.clone())),
        budget: Some(d("9000")),
        connections: vec![],
    };
    let agent = Agent::new(tools, store.clone(), Arc::new(move || today));
    let answer = agent
        .handle(Inquiry::new(
            ConversationKey::New,
            "cli",
            "cli",
            "budget status",
        ))
        .await
        .expect("no failed turn");
    // costbot's projection against the configured budget still answers.
    assert!(
        answer.summary.contains("under the $9,000.00 budget"),
        "{}",
        answer.summary
    );
    assert!(
        answer
            .notes
            .iter()
            .any(|n| n.starts_with("AWS's own budgets (AWS Budgets) could not be shown")),
        "{:?}",
        answer.notes
    );
}

/// One DescribeBudgets budget as AWS returns it (checked against botocore).
fn budget_json(name: &str, limit: &str, actual: &str, forecast: &str) -> serde_json::Value {
    serde_json::json!({
        "BudgetName": name,
        "BudgetLimit": { "Amount": limit, "Unit": "USD" },
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
        "CalculatedSpend": {
            "ActualSpend": { "Amount": actual, "Unit": "USD" },
            "ForecastedSpend": { "Amount": forecast, "Unit": "USD" }
        },
        "TimePeriod": { "Start": 1793491200.0, "End": 1796083200.0 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_budgets_follows_next_token_and_counts_every_page() {
    let fake = ce_fake::CeFake::start().await;
    let pages = [
        serde_json::json!({
            "Budgets": [budget_json("platform-monthly", "1000", "1200.55", "1500.10")],
            "NextToken": "page-2"
        }),
        serde_json::json!({
            "Budgets": [budget_json("prod-monthly", "5000", "3100.123456", "5250.5")]
        }),
    ];
    for page in pages {
        let problems = ce_fake::model_problems("Budgets.DescribeBudgets", "output", &page);
        assert!(problems.is_empty(), "the fake's own answer: {problems:?}");
        fake.answer("Budgets.DescribeBudgets", page);
    }
    let aws = AwsConfig {
        endpoint_url: Some(fake.url.clone()),
        ..AwsConfig::default()
    };
    let source = ExplorerSource::with_base(common::sdk_config(&fake.url).await, &aws).await;
    let meter = Meter::new();
    let q = BudgetQuery {
        max_results: Some(1),
        connection: None,
    };
    let r = source.budgets_metered(&q, &meter).await.unwrap();
    // GetCallerIdentity, then both pages.
    assert_eq!(fake.count("Budgets.DescribeBudgets"), 2);
    assert_eq!((meter.spent(), r.requests), (3, 3));
    assert_eq!(source.requests_made(), 0, "no Cost Explorer request");
    let names: Vec<&str> = r.budgets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["platform-monthly", "prod-monthly"]);
    assert_eq!(r.budgets[1].actual, Some(d("3100.123456")));
    // Every request as botocore's model has it; the second carries the token.
    let sent: Vec<serde_json::Value> = fake
        .received()
        .into_iter()
        .filter(|x| x.target == "AWSBudgetServiceGateway.DescribeBudgets")
        .map(|x| x.body)
        .collect();
    for body in &sent {
        let problems = ce_fake::model_problems("Budgets.DescribeBudgets", "input", body);
        assert!(
            problems.is_empty(),
            "costbot's request {body}: {problems:?}"
        );
        assert_eq!(body["AccountId"], ce_fake::ACCOUNT);
        assert_eq!(body["MaxResults"], 1);
    }
    assert!(sent[0].get("NextToken").is_none());
    assert_eq!(sent[1]["NextToken"], "page-2");
}

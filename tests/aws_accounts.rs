//! Account names from Organizations (ListAccounts) through
//! aws-sdk-organizations against a real moto server: paging counted, the
//! names kept for a day (in memory and in SQLite, so a repeat or a restart
//! asks nothing), configured names winning over the organization's, an
//! organization's account name usable in a question, and Organizations
//! refused (moto with IAM auth on, a user without organizations:*) leaving
//! the configured names only, said once, with no failed turn.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use costbot::agent::{Agent, ConversationKey, Inquiry, Tools};
use costbot::config::{AccountConfig, AwsConfig, CacheConfig};
use costbot::costs::cache::CachedSource;
use costbot::costs::explorer::ExplorerSource;
use costbot::costs::{
    AccountList, AccountsQuery, CostError, CostQuery, CostResult, CostSource, Meter,
};
use costbot::retrieval::{guides, LexicalIndex};
use costbot::store::Store;

/// Counts the ListAccounts calls that reach the source.
struct Counting {
    inner: ExplorerSource,
    listed: Arc<AtomicU32>,
}

#[async_trait]
impl CostSource for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn connection_id(&self, connection: Option<&str>) -> String {
        self.inner.connection_id(connection)
    }
    fn known_accounts(&self) -> Vec<(String, String)> {
        self.inner.known_accounts()
    }
    async fn cost_and_usage(&self, q: &CostQuery) -> Result<CostResult, CostError> {
        self.inner.cost_and_usage(q).await
    }
    async fn cost_and_usage_metered(
        &self,
        q: &CostQuery,
        meter: &Meter<'_>,
    ) -> Result<CostResult, CostError> {
        self.inner.cost_and_usage_metered(q, meter).await
    }
    async fn organization_accounts_metered(
        &self,
        q: &AccountsQuery,
        meter: &Meter<'_>,
    ) -> Result<AccountList, CostError> {
        self.listed.fetch_add(1, Ordering::SeqCst);
        self.inner.organization_accounts_metered(q, meter).await
    }
}

const NAMES: [&str; 5] = ["payments", "prod-web", "search", "data-lake", "sandbox"];

/// An organization with five member accounts; returns (name, id) of each.
async fn organization(moto: &common::Moto) -> Vec<(String, String)> {
    let org = aws_sdk_organizations::Client::new(&common::sdk_config(&moto.url).await);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    for n in NAMES {
        org.create_account()
            .account_name(n)
            .email(format!("{n}@example.com"))
            .send()
            .await
            .unwrap();
    }
    let listed = org.list_accounts().send().await.unwrap();
    listed
        .accounts()
        .iter()
        .map(|a| (a.name().unwrap().to_string(), a.id().unwrap().to_string()))
        .collect()
}

fn aws(moto: &common::Moto, accounts: Vec<AccountConfig>) -> AwsConfig {
    AwsConfig {
        endpoint_url: Some(moto.url.clone()),
        accounts,
        ..AwsConfig::default()
    }
}

fn configured(name: &str, id: &str) -> AccountConfig {
    AccountConfig {
        name: name.into(),
        id: Some(id.into()),
        profile: None,
        role_arn: None,
        external_id: None,
    }
}

fn id_of<'a>(accounts: &'a [(String, String)], name: &str) -> &'a str {
    &accounts.iter().find(|(n, _)| n == name).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_accounts_pages_and_counts_each_request() {
    let moto = common::start_moto().await;
    let org = organization(&moto).await;
    assert_eq!(org.len(), 6, "the management account and five members");
    let source =
        ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws(&moto, vec![])).await;
    let meter = Meter::new();
    let q = AccountsQuery {
        max_results: Some(2),
        connection: None,
    };
    let list = source
        .organization_accounts_metered(&q, &meter)
        .await
        .unwrap();
    // Six accounts two at a time: three pages, each a (free) request.
    assert_eq!(list.requests, 3);
    assert_eq!(meter.spent(), 3);
    assert_eq!(source.requests_made(), 0, "no Cost Explorer request");
    let mut got: Vec<(String, String)> = list
        .accounts
        .iter()
        .map(|a| (a.name.clone(), a.id.clone()))
        .collect();
    let mut want = org.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(list
        .accounts
        .iter()
        .all(|a| a.status.as_deref() == Some("ACTIVE")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_kept_for_a_day_and_configured_names_win() {
    let moto = common::start_moto().await;
    let org = organization(&moto).await;
    let web = id_of(&org, "prod-web").to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let listed = Arc::new(AtomicU32::new(0));
    // costbot.toml calls prod-web "prod".
    let config = aws(&moto, vec![configured("prod", &web)]);
    let open = || async {
        let inner = ExplorerSource::with_base(common::sdk_config(&moto.url).await, &config).await;
        let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        CachedSource::new(
            Arc::new(Counting {
                inner,
                listed: listed.clone(),
            }),
            store.clone(),
            CacheConfig::default(),
            Arc::new(move || today),
        )
    };
    let cached = open().await;
    assert_eq!(
        cached.known_accounts(),
        vec![("prod".to_string(), web.clone())]
    );
    let first = cached
        .refresh_accounts()
        .await
        .expect("asked Organizations");
    assert!(first.requests >= 1);
    assert_eq!(listed.load(Ordering::SeqCst), 1);
    let known = cached.known_accounts();
    assert!(known.contains(&("prod".to_string(), web.clone())));
    assert!(
        !known.iter().any(|(n, _)| n == "prod-web"),
        "configured name wins: {known:?}"
    );
    assert!(known.contains(&("payments".to_string(), id_of(&org, "payments").to_string())));
    assert_eq!(known.len(), 6);

    // A repeat asks nothing.
    assert!(cached.refresh_accounts().await.is_none());
    assert_eq!(listed.load(Ordering::SeqCst), 1);

    // A restart (a new cache on the same database) reads the names from SQLite.
    let restarted = open().await;
    assert!(restarted.refresh_accounts().await.is_none());
    assert_eq!(listed.load(Ordering::SeqCst), 1);
    assert_eq!(restarted.known_accounts(), known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_account_name_works_in_a_question() {
    let moto = common::start_moto().await;
    let org = organization(&moto).await;
    let payments = id_of(&org, "payments").to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let inner = ExplorerSource::with_base(common::sdk_config(&moto.url).await, &aws(&moto, vec![]))
        .await
        .with_utc_clock(Arc::new(move || today));
    let cached = CachedSource::new(
        Arc::new(inner),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    );
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: Arc::new(cached),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    let agent = Agent::new(tools, store.clone(), Arc::new(move || today));
    let ask = |text: &str| Inquiry::new(ConversationKey::New, "cli", "cli", text.to_string());
    let answer = agent
        .handle(ask("what did the payments account spend last month?"))
        .await
        .unwrap();
    let first = &answer.tool_calls[0];
    assert_eq!(first.name, "get_cost_and_usage");
    let query = first.queries[0].to_string();
    assert!(
        query.contains(&payments),
        "filtered on the payments account id: {query}"
    );
    // ListAccounts was asked before the question was read, and is listed.
    let org_call = answer
        .tool_calls
        .iter()
        .find(|c| c.name == "organization_accounts")
        .expect("ListAccounts listed");
    assert_eq!(org_call.queries[0]["api"], "ListAccounts");
    assert_eq!(org_call.cost_explorer_requests, 0);

    // The next question asks Organizations nothing and lists no such call.
    let again = agent
        .handle(ask("what did the search account cost last month?"))
        .await
        .unwrap();
    assert!(again
        .tool_calls
        .iter()
        .all(|c| c.name != "organization_accounts"));
    assert!(again.tool_calls[0].queries[0]
        .to_string()
        .contains(id_of(&org, "search")));
}

/// Organizations set up as root, then a user allowed Cost Explorer, Budgets
/// and STS only; moto checks IAM from then on. Returns (key id, secret).
fn user_without_organizations(moto: &common::Moto) -> (String, String) {
    let python = std::env::var("COSTBOT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
org = boto3.client("organizations", **kw)
org.create_organization(FeatureSet="ALL")
org.create_account(AccountName="payments", Email="payments@example.com")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="costbot")
iam.put_user_policy(UserName="costbot", PolicyName="no-organizations", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ce:*", "budgets:*", "sts:*"], "Resource": "*"}]}))
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
async fn organizations_refused_leaves_the_configured_names_and_no_failed_turn() {
    // Five requests set up as root (create_organization, create_account,
    // create_user, put_user_policy, create_access_key), then IAM applies.
    let moto = common::start_moto_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "5")]).await;
    let (key, secret) = user_without_organizations(&moto);
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "costbot-tests");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(creds)
        .load()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.db")).await.unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
    let listed = Arc::new(AtomicU32::new(0));
    let config = aws(&moto, vec![configured("prod", "111111111111")]);
    let inner = ExplorerSource::with_base(sdk, &config)
        .await
        .with_utc_clock(Arc::new(move || today));

    // Straight from the source: the refusal is AccessDenied.
    let refused = inner
        .organization_accounts_metered(&AccountsQuery::default(), &Meter::new())
        .await
        .unwrap_err();
    assert!(matches!(refused, CostError::AccessDenied(_)), "{refused:?}");

    let cached = Arc::new(CachedSource::new(
        Arc::new(Counting {
            inner,
            listed: listed.clone(),
        }),
        store.clone(),
        CacheConfig::default(),
        Arc::new(move || today),
    ));
    assert!(cached.refresh_accounts().await.is_none());
    assert_eq!(listed.load(Ordering::SeqCst), 1);
    assert_eq!(
        cached.known_accounts(),
        vec![("prod".to_string(), "111111111111".to_string())]
    );
    // Not asked again on every question.
    assert!(cached.refresh_accounts().await.is_none());
    assert_eq!(listed.load(Ordering::SeqCst), 1);

    // A turn still answers, with the configured names.
    let index = LexicalIndex::new(store.clone());
    index.sync(&guides::load(None).unwrap()).await.unwrap();
    let tools = Tools {
        source: cached.clone(),
        retriever: Arc::new(index),
        budget: None,
        connections: vec![],
    };
    let agent = Agent::new(tools, store.clone(), Arc::new(move || today));
    let answer = agent
        .handle(Inquiry::new(
            ConversationKey::New,
            "cli",
            "cli",
            "what did prod spend last month?",
        ))
        .await
        .expect("no failed turn");
    assert!(answer.tool_calls[0].queries[0]
        .to_string()
        .contains("111111111111"));
    assert!(answer
        .tool_calls
        .iter()
        .all(|c| c.name != "organization_accounts"));
    assert_eq!(listed.load(Ordering::SeqCst), 1);
    let tools = Tools {
        source: cached.clone(),
        retriever: Arc::new(LexicalIndex::new(store.clone())),
        budget: None,
        connections: vec![],
    };
    let out = tools
        .call("aws_accounts", &serde_json::json!({}), today)
        .await
        .unwrap();
    let view = out.compact().to_string();
    assert!(view.contains("\"name\":\"prod\""), "{view}");
    assert!(view.contains("costbot.toml"), "{view}");
    assert!(!view.contains("payments"), "{view}");
}

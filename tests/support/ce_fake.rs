//! A local fake of the Cost Explorer operations moto does not implement
//! (GetCostForecast, GetAnomalies, GetRightsizingRecommendation) and of Cost
//! Optimization Hub's ListRecommendations, speaking AWS JSON 1.1 as the SDK does:
//! POST / with `X-Amz-Target: AWSInsightsIndexService.<Operation>` and
//! `Content-Type: application/x-amz-json-1.1`. It answers from per-operation
//! queues (the last answer repeats) and records every request, so a test can
//! check each body against botocore's service model (`ce_model_check.py`).
//! It also answers AWS Budgets' DescribeBudgets (to test paging, which moto's
//! does not do) and the STS GetCallerIdentity costbot asks before it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use serde_json::Value;

const TARGET_PREFIX: &str = "AWSInsightsIndexService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Cost Optimization Hub speaks AWS JSON 1.0 under its own target prefix
/// (botocore's cost-optimization-hub model). The SDK sends it to the same
/// endpoint override as Cost Explorer, so this fake answers it too; its
/// operations are queued under "CostOptimizationHub.<Operation>".
pub const HUB_TARGET_PREFIX: &str = "CostOptimizationHubService.";
pub const HUB_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
pub const HUB: &str = "CostOptimizationHub.";
/// AWS Budgets speaks AWS JSON 1.1 under its own target prefix; queued as
/// "Budgets.<Operation>". moto has Budgets, but its DescribeBudgets never
/// pages, so the paging test uses this fake.
pub const BUDGETS_TARGET_PREFIX: &str = "AWSBudgetServiceGateway.";
pub const BUDGETS: &str = "Budgets.";
/// The account STS GetCallerIdentity names (AWS query protocol, XML), which
/// costbot asks before DescribeBudgets; recorded as "STS.GetCallerIdentity".
pub const ACCOUNT: &str = "123456789012";

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub target: String,
    pub content_type: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    answers: HashMap<String, VecDeque<(u16, Value)>>,
    received: Vec<Received>,
}

#[derive(Clone, Default)]
pub struct CeFake {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl CeFake {
    pub async fn start() -> CeFake {
        let mut fake = CeFake::default();
        let app = Router::new()
            .route("/", routing::post(handle))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        fake.url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Queues a 200 answer for `operation` (e.g. "GetCostForecast").
    pub fn answer(&self, operation: &str, body: Value) {
        self.queue(operation, 200, body);
    }

    /// Queues an AWS JSON 1.1 error: `__type` names it, as AWS does.
    pub fn fail(&self, operation: &str, status: u16, error_type: &str, message: &str) {
        self.queue(
            operation,
            status,
            serde_json::json!({ "__type": error_type, "message": message }),
        );
    }

    fn queue(&self, operation: &str, status: u16, body: Value) {
        self.inner
            .lock()
            .unwrap()
            .answers
            .entry(operation.to_string())
            .or_default()
            .push_back((status, body));
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn count(&self, operation: &str) -> usize {
        let target = match (operation.strip_prefix(HUB), operation.strip_prefix(BUDGETS)) {
            (Some(op), _) => format!("{HUB_TARGET_PREFIX}{op}"),
            (None, Some(op)) => format!("{BUDGETS_TARGET_PREFIX}{op}"),
            _ => format!("{TARGET_PREFIX}{operation}"),
        };
        self.received()
            .iter()
            .filter(|r| r.target == target)
            .count()
    }
}

async fn handle(State(fake): State<CeFake>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let target = header("x-amz-target");
    let content_type = header("content-type");
    if content_type.starts_with("application/x-www-form-urlencoded")
        && String::from_utf8_lossy(&body).contains("Action=GetCallerIdentity")
    {
        fake.inner.lock().unwrap().received.push(Received {
            target: "STS.GetCallerIdentity".into(),
            content_type,
            body: Value::Null,
        });
        return caller_identity();
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return error(400, "SerializationException", "the body is not JSON"),
    };
    let mut inner = fake.inner.lock().unwrap();
    inner.received.push(Received {
        target: target.clone(),
        content_type: content_type.clone(),
        body,
    });
    let (operation, wanted) = match (
        target.strip_prefix(TARGET_PREFIX),
        target.strip_prefix(HUB_TARGET_PREFIX),
        target.strip_prefix(BUDGETS_TARGET_PREFIX),
    ) {
        (Some(op), _, _) => (op.to_string(), CONTENT_TYPE),
        (None, Some(op), _) => (format!("{HUB}{op}"), HUB_CONTENT_TYPE),
        (None, None, Some(op)) => (format!("{BUDGETS}{op}"), CONTENT_TYPE),
        _ => return error(400, "UnknownOperationException", "no such target"),
    };
    if content_type != wanted {
        return error(400, "SerializationException", "wrong Content-Type");
    }
    let Some(queue) = inner.answers.get_mut(&operation) else {
        return error(400, "UnknownOperationException", "nothing seeded");
    };
    // The last answer repeats, so a retried error fails every attempt.
    let (status, body) = if queue.len() > 1 {
        queue.pop_front().unwrap()
    } else {
        queue.front().cloned().unwrap()
    };
    respond_as(status, body, wanted)
}

/// STS GetCallerIdentity's answer, as the query protocol returns it.
fn caller_identity() -> Response {
    let xml = format!(
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{ACCOUNT}:user/costbot</Arn>
    <UserId>AIDACOSTBOTTEST</UserId>
    <Account>{ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>costbot-fake</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
    );
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}

fn respond(status: u16, body: Value) -> Response {
    respond_as(status, body, CONTENT_TYPE)
}

fn respond_as(status: u16, body: Value, content_type: &'static str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", content_type)],
        body.to_string(),
    )
        .into_response()
}

fn error(status: u16, error_type: &str, message: &str) -> Response {
    respond(
        status,
        serde_json::json!({ "__type": error_type, "message": message }),
    )
}

/// Checks a body against botocore's model of `operation` ("input" or
/// "output"), with COSTBOT_PYTHON (botocore installed); the problems found.
pub fn model_problems(operation: &str, direction: &str, body: &Value) -> Vec<String> {
    if let Some(op) = operation.strip_prefix(BUDGETS) {
        return service_model_problems("budgets", op, direction, body);
    }
    match operation.strip_prefix(HUB) {
        Some(op) => service_model_problems("cost-optimization-hub", op, direction, body),
        None => service_model_problems("ce", operation, direction, body),
    }
}

/// The same against another botocore service model (e.g. "cost-optimization-hub").
pub fn service_model_problems(
    service: &str,
    operation: &str,
    direction: &str,
    body: &Value,
) -> Vec<String> {
    use std::io::Write;
    let python = std::env::var("COSTBOT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/ce_model_check.py"
    );
    let mut child = std::process::Command::new(&python)
        .args([script, operation, direction, service])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (set COSTBOT_PYTHON to a Python with botocore): {e}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "the model checker failed (is botocore installed for {python}?): {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

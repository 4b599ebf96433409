//! The IAM policy in `iam/costbot-policy.json` allows exactly the AWS
//! operations costbot's source calls, so it cannot drift: a new SDK call
//! without its action here fails this test, and so does an action nothing calls.

use std::collections::BTreeSet;
use std::path::Path;

/// Operations that need no IAM permission (AWS documents GetCallerIdentity so).
const NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

/// Operations whose IAM action is not named like the operation: AWS's
/// service authorization reference maps Budgets' DescribeBudgets to ViewBudget.
const ACTION_OF: &[(&str, &str)] = &[("budgets:DescribeBudgets", "budgets:ViewBudget")];

/// The SDK crates scanned, with each one's IAM prefix.
const CRATES: &[(&str, &str)] = &[
    ("aws_sdk_costexplorer", "ce"),
    ("aws_sdk_sts", "sts"),
    ("aws_sdk_budgets", "budgets"),
    ("aws_sdk_organizations", "organizations"),
    ("aws_sdk_costoptimizationhub", "cost-optimization-hub"),
];

/// Which service an operation method belongs to (the rest are Cost Explorer's).
fn prefix_of(method: &str) -> &'static str {
    match method {
        "get_caller_identity" => "sts",
        "describe_budgets" => "budgets",
        "list_accounts" => "organizations",
        "list_recommendations" => "cost-optimization-hub",
        _ => "ce",
    }
}

/// `snake_case` SDK method to the API's `PascalCase` operation.
fn pascal(method: &str) -> String {
    method
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// "ce:GetCostAndUsage" for each `.get_cost_and_usage()` sent on a Cost
/// Explorer client, "sts:..." on an STS client, found in the source.
fn called_operations() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let call = regex::Regex::new(r"\.\s*([a-z][a-z0-9_]*)\(\)\s*(?:\n\s*)?\.").unwrap();
    let mut ops = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let services: Vec<&str> = CRATES
            .iter()
            .filter(|(krate, _)| text.contains(krate))
            .map(|(_, prefix)| *prefix)
            .collect();
        if services.is_empty() {
            continue;
        }
        for c in call.captures_iter(&text) {
            let method = &c[1];
            // The SDK's fluent operation builders; other calls are not AWS operations.
            let is_op = ["get_", "list_", "describe_"]
                .iter()
                .any(|p| method.starts_with(p))
                && !method.starts_with("get_or");
            if !is_op {
                continue;
            }
            let prefix = prefix_of(method);
            assert!(services.contains(&prefix), "{method} in {}", f.display());
            let op = format!("{prefix}:{}", pascal(method));
            let action = ACTION_OF
                .iter()
                .find(|(o, _)| *o == op)
                .map(|(_, a)| a.to_string())
                .unwrap_or(op);
            ops.insert(action);
        }
    }
    ops
}

#[test]
fn the_policy_allows_exactly_what_costbot_calls() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/iam/costbot-policy.json"
    ))
    .unwrap();
    let policy: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut allowed = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow");
        match &st["Action"] {
            serde_json::Value::String(a) => {
                allowed.insert(a.clone());
            }
            serde_json::Value::Array(a) => {
                allowed.extend(a.iter().map(|x| x.as_str().unwrap().to_string()))
            }
            other => panic!("Action {other}"),
        }
    }
    assert!(
        allowed.iter().all(|a| !a.contains('*')),
        "no wildcards: {allowed:?}"
    );
    let called = called_operations();
    // The scan finds what is known to be called (it cannot silently find nothing).
    for known in [
        "ce:GetCostAndUsage",
        "ce:GetCostForecast",
        "ce:GetAnomalies",
        "ce:GetSavingsPlansPurchaseRecommendation",
        "ce:GetReservationUtilization",
        "ce:GetRightsizingRecommendation",
        "cost-optimization-hub:ListRecommendations",
        "budgets:ViewBudget",
        "organizations:ListAccounts",
    ] {
        assert!(called.contains(known), "{known} not found in {called:?}");
    }
    let needed: BTreeSet<String> = called
        .into_iter()
        .filter(|op| !NO_PERMISSION.contains(&op.as_str()))
        .collect();
    assert_eq!(
        allowed, needed,
        "iam/costbot-policy.json against the source"
    );
}

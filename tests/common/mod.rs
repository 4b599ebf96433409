//! Shared helpers for integration tests: a real moto server on 127.0.0.1.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `moto_server` (from `$MOTO_SERVER` or PATH) on a free local port.
/// `.ci/run` installs it; a missing moto fails the test rather than skipping it.
pub async fn start_moto() -> Moto {
    start_moto_with_env(&[]).await
}

/// [`start_moto`] with extra environment for the server (e.g. moto's
/// `INITIAL_NO_AUTH_ACTION_COUNT`, which turns IAM checks on).
pub async fn start_moto_with_env(env: &[(&str, &str)]) -> Moto {
    let exe = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {exe}: {e}. Install it with `pip install 'moto[server]'` or run `bash .ci/run`"));
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/moto-api/", moto.url)).send().await {
                if r.status().is_success() {
                    return moto;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("moto_server did not start");
}

impl Moto {
    /// Queues GetCostAndUsage responses for `account_id`, handed out in the
    /// order new request bodies arrive.
    pub async fn seed_cost_and_usage(&self, account_id: &str, results: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/moto-api/static/ce/cost-and-usage-results",
                self.url
            ))
            .json(&serde_json::json!({ "account_id": account_id, "results": results }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "seeding moto failed");
    }

    pub async fn reset(&self) {
        reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.url))
            .send()
            .await
            .unwrap();
    }
}

/// An AWS SDK config with static test credentials pointed at `endpoint`.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let creds =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "costbot-tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

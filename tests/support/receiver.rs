//! A digest webhook receiver on 127.0.0.1, written from the documented
//! contract only: it checks `X-Costbot-Signature: sha256=<hex>` (HMAC-SHA256
//! over the raw body) with its own HMAC code path (the `hmac` crate used
//! directly, not costbot's signer), requires `X-Costbot-Timestamp`, dedupes
//! on `Idempotency-Key`, and can fail the next requests with 503.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
struct Inner {
    /// Every request, in order: (idempotency key, status answered).
    requests: Vec<(String, u16)>,
    /// Accepted bodies by idempotency key (each request's body kept).
    accepted: BTreeMap<String, Vec<Vec<u8>>>,
    fail_next: usize,
    bad_signatures: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    secret: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start(secret: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let r = Receiver {
            url: format!("http://{addr}/hook"),
            secret: secret.to_string(),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().fail_next = n;
    }

    /// Distinct deliveries (by idempotency key) the receiver accepted.
    pub fn deliveries(&self) -> usize {
        self.inner.lock().unwrap().accepted.len()
    }

    /// Every request that reached the receiver, accepted or not.
    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().requests.len()
    }

    pub fn bad_signatures(&self) -> usize {
        self.inner.lock().unwrap().bad_signatures
    }

    /// The accepted bodies, per idempotency key.
    pub fn accepted(&self) -> BTreeMap<String, Vec<Vec<u8>>> {
        self.inner.lock().unwrap().accepted.clone()
    }

    /// The last accepted body as JSON.
    pub fn last(&self) -> serde_json::Value {
        let inner = self.inner.lock().unwrap();
        let (_, bodies) = inner.accepted.iter().last().expect("a delivery");
        serde_json::from_slice(bodies.last().unwrap()).unwrap()
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .accepted
            .values()
            .map(|b| serde_json::from_slice(&b[0]).unwrap())
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let key = header("idempotency-key").unwrap_or_default();
    let mut inner = r.inner.lock().unwrap();
    let signed = header("x-costbot-signature")
        .and_then(|s| s.strip_prefix("sha256=").map(String::from))
        .and_then(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .is_some_and(|tag| {
            let mut mac = Hmac::<Sha256>::new_from_slice(r.secret.as_bytes()).unwrap();
            mac.update(&body);
            mac.verify_slice(&tag).is_ok()
        });
    if !signed || header("x-costbot-timestamp").is_none() || key.is_empty() {
        inner.bad_signatures += 1;
        inner.requests.push((key, 401));
        return StatusCode::UNAUTHORIZED;
    }
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        inner.requests.push((key, 503));
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    inner.requests.push((key.clone(), 200));
    inner.accepted.entry(key).or_default().push(body.to_vec());
    StatusCode::OK
}

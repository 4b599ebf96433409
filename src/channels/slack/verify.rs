//! Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`
//! under the signing secret, with the timestamp within five minutes of now.
//! Checked before any other work, compared in constant time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Slack's own window: older (or later) requests are replays.
pub const MAX_AGE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the request has no Slack signature or timestamp")]
    Missing,
    #[error("the request's timestamp is not within five minutes of now")]
    Stale,
    #[error("the request's signature does not match its body")]
    Forged,
}

/// The signature Slack would send for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v0=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Checks a request's signature headers against its body at `now` (Unix seconds).
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(signature), Some(timestamp)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER))
    else {
        return Err(VerifyError::Missing);
    };
    verify_parts(secret, signature, timestamp, body, now)
}

pub fn verify_parts(
    secret: &str,
    signature: &str,
    timestamp: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::Stale)?;
    if (now - ts).abs() > MAX_AGE_SECS {
        return Err(VerifyError::Stale);
    }
    let expected = sign(secret, timestamp, body);
    // Lengths are public (always 67 for a real signature); the bytes are compared in constant time.
    if expected.as_bytes().ct_eq(signature.as_bytes()).into() {
        Ok(())
    } else {
        Err(VerifyError::Forged)
    }
}

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), SIG);
        let now = TS.parse::<i64>().unwrap() + 10;
        assert_eq!(verify_parts(SECRET, SIG, TS, BODY.as_bytes(), now), Ok(()));
    }

    #[test]
    fn stale_forged_and_changed_bodies_fail() {
        let now = TS.parse::<i64>().unwrap();
        assert_eq!(
            verify_parts(SECRET, SIG, TS, BODY.as_bytes(), now + MAX_AGE_SECS + 1),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify_parts(SECRET, SIG, TS, BODY.as_bytes(), now - MAX_AGE_SECS - 1),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify_parts(SECRET, SIG, "soon", BODY.as_bytes(), now),
            Err(VerifyError::Stale)
        );
        let mut changed = BODY.as_bytes().to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify_parts(SECRET, SIG, TS, &changed, now),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify_parts("another-secret", SIG, TS, BODY.as_bytes(), now),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify_parts(SECRET, "v0=", TS, BODY.as_bytes(), now),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify(SECRET, &HeaderMap::new(), BODY.as_bytes(), now),
            Err(VerifyError::Missing)
        );
    }

    #[test]
    fn slack_morphisms_verifier_agrees() {
        use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
        let now = unix_now().to_string();
        let body = r#"{"type":"url_verification","challenge":"x"}"#;
        let sig = sign(SECRET, &now, body.as_bytes());
        SlackEventSignatureVerifier::new(&SECRET.to_string().into())
            .verify(&sig, body, &now)
            .expect("slack-morphism accepts costbot's signature");
    }
}

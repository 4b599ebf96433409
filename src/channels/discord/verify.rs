//! Discord's interaction signature: Ed25519 over `X-Signature-Timestamp` +
//! raw body, under the application's public key, checked with serenity's
//! [`Verifier`]. serenity does not look at the timestamp's age, so a replay
//! of an old signed request would pass it; costbot refuses one older than
//! five minutes or more than a minute ahead.
//!
//! Verification uses only public values (key, signature, body), so its
//! timing reveals nothing a caller does not already hold; there is no secret
//! to compare, unlike Slack's HMAC.

use axum::http::HeaderMap;
use serenity::interactions_endpoint::Verifier;

use crate::config::ConfigError;

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// Older requests are replays.
pub const MAX_AGE_SECS: i64 = 5 * 60;
/// Clock skew allowed for requests from "the future".
pub const MAX_AHEAD_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the request has no Discord signature or timestamp")]
    Missing,
    #[error("the request's timestamp is not within five minutes of now")]
    Stale,
    #[error("the request's signature does not match its body")]
    Forged,
}

/// Checks interactions against one application's public key.
#[derive(Clone)]
pub struct InteractionVerifier {
    verifier: Verifier,
}

impl InteractionVerifier {
    pub fn new(public_key: [u8; 32]) -> Result<Self, ConfigError> {
        Verifier::try_new(public_key)
            .map(|verifier| InteractionVerifier { verifier })
            .map_err(|e| {
                ConfigError::Invalid(format!(
                    "discord.public_key is not a valid Ed25519 public key ({e}); copy it again from Developer Portal > General Information > Public Key"
                ))
            })
    }

    /// Checks a request's signature headers against its body at `now` (Unix seconds).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let (Some(signature), Some(timestamp)) = (
            header(headers, SIGNATURE_HEADER),
            header(headers, TIMESTAMP_HEADER),
        ) else {
            return Err(VerifyError::Missing);
        };
        self.verify_parts(signature, timestamp, body, now)
    }

    pub fn verify_parts(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        check_age(timestamp, now)?;
        self.verifier
            .verify(signature, timestamp, body)
            .map_err(|()| VerifyError::Forged)
    }
}

/// The timestamp is whole seconds, within [`MAX_AGE_SECS`] before `now` and
/// [`MAX_AHEAD_SECS`] after it.
pub fn check_age(timestamp: &str, now: i64) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::Stale)?;
    if now - ts > MAX_AGE_SECS || ts - now > MAX_AHEAD_SECS {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 2: a one-byte message.
    const PUBLIC: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const MESSAGE: [u8; 1] = [0x72];
    const SIGNATURE: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    fn verifier() -> InteractionVerifier {
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&PUBLIC[2 * i..2 * i + 2], 16).unwrap();
        }
        InteractionVerifier::new(key).unwrap()
    }

    /// The RFC's message split as Discord signs: "timestamp" + body. Its one
    /// byte is the body and the timestamp is empty, so the age check is
    /// tested apart.
    #[test]
    fn rfc_8032_vector_verifies_and_any_change_fails() {
        let v = verifier();
        assert_eq!(v.verifier.verify(SIGNATURE, "", &MESSAGE), Ok(()));
        let mut other = SIGNATURE.to_string();
        other.replace_range(0..1, "8");
        assert!(v.verifier.verify(&other, "", &MESSAGE).is_err());
        assert!(v.verifier.verify(SIGNATURE, "", &[0x73]).is_err());
        assert!(v.verifier.verify(SIGNATURE, "1", &MESSAGE).is_err());
        assert!(v.verifier.verify("zz", "", &MESSAGE).is_err());
        assert_eq!(
            v.verify_parts(SIGNATURE, "", &MESSAGE, 0),
            Err(VerifyError::Stale),
            "a request without a usable timestamp is refused before the signature"
        );
        assert_eq!(
            v.verify(&HeaderMap::new(), &MESSAGE, 0),
            Err(VerifyError::Missing)
        );
    }

    #[test]
    fn ages_outside_the_window_are_stale() {
        let now = 1_800_000_000;
        assert_eq!(check_age(&now.to_string(), now), Ok(()));
        assert_eq!(check_age(&(now - MAX_AGE_SECS).to_string(), now), Ok(()));
        assert_eq!(check_age(&(now + MAX_AHEAD_SECS).to_string(), now), Ok(()));
        assert_eq!(
            check_age(&(now - MAX_AGE_SECS - 1).to_string(), now),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            check_age(&(now + MAX_AHEAD_SECS + 1).to_string(), now),
            Err(VerifyError::Stale)
        );
        assert_eq!(check_age("soon", now), Err(VerifyError::Stale));
    }

    #[test]
    fn a_key_that_is_not_a_curve_point_is_refused_with_advice() {
        // y = 2 is not on the curve (no x satisfies the equation).
        let mut bad = [0u8; 32];
        bad[0] = 2;
        let err = InteractionVerifier::new(bad).err().unwrap().to_string();
        assert!(err.contains("Developer Portal"), "{err}");
    }
}

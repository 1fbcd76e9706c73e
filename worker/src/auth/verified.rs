//! Tokens this worker has already verified. A client sends the same token on every
//! request, and checking its HMAC and decoding its claims again each time costs more
//! than the rest of a small request; a token is bytes that once carried a valid
//! signature, so the same bytes are valid again until their `exp` passes.
//!
//! Bounded: past [`CAPACITY`] tokens the cache starts over, so a flood of distinct
//! (valid) tokens costs at most that much memory. Refused tokens are never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::jwt::{Claims, InvalidToken, TokenCodec, now_secs};

const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct VerifiedTokens {
    tokens: Mutex<HashMap<Box<str>, Arc<Claims>>>,
}

impl VerifiedTokens {
    /// `token`'s claims, as [`TokenCodec::verify`] finds them; expiry is checked on every
    /// call with no leeway, as the codec does (valid while `exp >= now`).
    pub fn verify(&self, codec: &TokenCodec, token: &str) -> Result<Arc<Claims>, InvalidToken> {
        let cached = self.lock().get(token).cloned();
        if let Some(claims) = cached {
            if claims.exp >= now_secs() {
                return Ok(claims);
            }
            self.lock().remove(token);
            return Err(InvalidToken::expired());
        }
        let claims = Arc::new(codec.verify(token)?);
        let mut tokens = self.lock();
        if tokens.len() >= CAPACITY {
            tokens.clear();
        }
        tokens.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Claims>>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lightrag_config::api::JwtAlgorithm;

    use super::*;
    use crate::auth::jwt::ROLE_USER;

    #[test]
    fn serves_a_verified_token_again_until_it_expires_and_never_keeps_refusals() {
        let codec = TokenCodec::new("secret", JwtAlgorithm::Hs256);
        let cache = VerifiedTokens::default();
        let token = codec.issue("alice", ROLE_USER, "enabled", Duration::from_secs(3600));
        let first = cache.verify(&codec, &token).unwrap();
        let again = cache.verify(&codec, &token).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second answer comes from the cache"
        );

        let other = TokenCodec::new("other", JwtAlgorithm::Hs256);
        let forged = other.issue("alice", ROLE_USER, "enabled", Duration::from_secs(3600));
        assert!(cache.verify(&codec, &forged).is_err());
        assert!(
            cache.verify(&codec, &forged).is_err(),
            "a refusal is not cached"
        );
        assert_eq!(cache.lock().len(), 1);

        // A cached token whose expiry has passed is refused and dropped.
        let mut stale = (*first).clone();
        stale.exp = now_secs() - 1;
        cache.lock().insert(token.as_str().into(), Arc::new(stale));
        assert!(cache.verify(&codec, &token).is_err());
        assert!(cache.lock().is_empty());
    }

    #[test]
    fn starts_over_past_its_capacity() {
        let codec = TokenCodec::new("secret", JwtAlgorithm::Hs256);
        let cache = VerifiedTokens::default();
        for i in 0..=CAPACITY {
            let token = codec.issue(
                &format!("u{i}"),
                ROLE_USER,
                "enabled",
                Duration::from_secs(60),
            );
            cache.verify(&codec, &token).unwrap();
        }
        assert_eq!(cache.lock().len(), 1);
    }
}

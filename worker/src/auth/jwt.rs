//! LightRAG's tokens: HMAC-signed JWTs with claims `sub`, `exp`, `role` and
//! `metadata.auth_mode`, no `iat`/`nbf`/`aud`, validated with no leeway (as PyJWT does).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lightrag_config::api::{JwtAlgorithm, MAX_USERNAME_LEN};
use serde::{Deserialize, Serialize};

pub const ROLE_USER: &str = "user";
pub const ROLE_GUEST: &str = "guest";
pub const GUEST_USER: &str = "guest";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

fn default_role() -> String {
    ROLE_USER.to_owned()
}

impl Claims {
    pub fn is_guest(&self) -> bool {
        self.role == ROLE_GUEST
    }
}

/// The token was not issued by us or is no longer valid; the reason is only logged.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

impl InvalidToken {
    pub fn expired() -> InvalidToken {
        InvalidToken("ExpiredSignature".to_owned())
    }
}

pub struct TokenCodec {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl TokenCodec {
    pub fn new(secret: &str, algorithm: JwtAlgorithm) -> TokenCodec {
        let algorithm = match algorithm {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenCodec {
            algorithm,
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// A token for `sub` valid for `lifetime` from now.
    pub fn issue(&self, sub: &str, role: &str, auth_mode: &str, lifetime: Duration) -> String {
        let mut metadata = serde_json::Map::new();
        metadata.insert("auth_mode".to_owned(), auth_mode.into());
        self.sign(&Claims {
            sub: sub.to_owned(),
            exp: now_secs() + lifetime.as_secs(),
            role: role.to_owned(),
            metadata,
        })
    }

    /// The same claims with a fresh expiry.
    pub fn renew(&self, claims: &Claims, lifetime: Duration) -> String {
        self.sign(&Claims {
            exp: now_secs() + lifetime.as_secs(),
            ..claims.clone()
        })
    }

    fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding)
            .expect("HMAC signing of serialisable claims cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let claims = data.claims;
        if claims.sub.is_empty() || claims.sub.chars().count() > MAX_USERNAME_LEN {
            return Err(InvalidToken("bad sub".to_owned()));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering() {
        let codec = TokenCodec::new("secret", JwtAlgorithm::Hs256);
        let token = codec.issue("alice", ROLE_USER, "enabled", Duration::from_secs(3600));
        let claims = codec.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str()),
            ("alice", "user")
        );
        assert_eq!(claims.metadata["auth_mode"], "enabled");

        let other = TokenCodec::new("other", JwtAlgorithm::Hs256);
        assert!(other.verify(&token).is_err(), "wrong secret");
        assert!(codec.verify("garbage").is_err());
        let expired = codec.sign(&Claims {
            exp: now_secs() - 1,
            ..claims.clone()
        });
        assert!(codec.verify(&expired).is_err(), "expired");
        // alg none: header {"alg":"none"} with the same claims and no signature.
        let none = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            token.split('.').nth(1).unwrap()
        );
        assert!(codec.verify(&none).is_err());
        let hs512 = TokenCodec::new("secret", JwtAlgorithm::Hs512);
        assert!(
            codec
                .verify(&hs512.renew(&claims, Duration::from_secs(60)))
                .is_err()
        );
    }
}

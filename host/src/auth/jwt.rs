//! Signed tokens (JWT): HMAC, RSA, ECDSA and EdDSA keys from files or a JWKS document.
//!
//! A token names its algorithm and, optionally, its key id (`kid`). It is checked against the
//! configured keys that accept that algorithm (and carry that `kid`, when it has one); the
//! algorithm list of each key is what stops a token from choosing a weaker algorithm.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{AuthError, Identity};
use crate::config::{AuthConfig, KeyConfig, KeyKind};
use crate::filter::Claims;

/// One verification key with the algorithms it accepts.
struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// Verifies tokens against the configured keys and turns their claims into an identity.
pub struct JwtVerifier {
    keys: Vec<Key>,
    config: AuthConfig,
}

/// A key file or JWKS document that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("auth key {file}: {reason}")]
pub struct KeyError {
    file: String,
    reason: String,
}

impl JwtVerifier {
    /// Loads every configured key; an unreadable or invalid key fails start-up.
    pub fn new(config: &AuthConfig) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for key in &config.keys {
            keys.extend(load(key)?);
        }
        Ok(Self {
            keys,
            config: config.clone(),
        })
    }

    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Verifies `token` and builds the identity it grants.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::WrongAlgorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_s;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let mut last = AuthError::BadSignature;
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => return self.identity(data.claims),
                Err(error) => last = classify(error.kind()),
            }
            if last != AuthError::BadSignature {
                break;
            }
        }
        Err(last)
    }

    fn identity(&self, claims: Map<String, Value>) -> Result<Identity, AuthError> {
        let tenant = claims
            .get(&self.config.tenant_claim)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NoTenant)?
            .to_string();
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let roles = match claims.get(&self.config.roles_claim) {
            Some(Value::Array(roles)) => roles
                .iter()
                .filter_map(|r| r.as_str().map(String::from))
                .collect(),
            Some(Value::String(role)) => role.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        };
        let expires_at = claims
            .get("exp")
            // The library accepts a fractional exp; so does the session. The connection lives
            // as long as the library would accept the token: until exp plus the leeway.
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            })
            .and_then(|s| s.checked_add(self.config.leeway_s))
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)));
        // Every other claim goes to the filter as text: strings as they are, the rest as JSON.
        let attributes = claims
            .iter()
            .filter(|(name, _)| !["sub", "exp", "iat", "nbf"].contains(&name.as_str()))
            .filter(|(name, _)| {
                **name != self.config.tenant_claim && **name != self.config.roles_claim
            })
            .map(|(name, value)| {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), String::from);
                (name.clone(), text)
            })
            .collect();
        let claims = Claims {
            tenant: tenant.clone(),
            subject,
            roles,
            attributes,
        };
        Ok(Identity {
            tenant: tenant.into(),
            claims,
            expires_at,
        })
    }
}

/// Maps a library error to the reason a client is given.
fn classify(kind: &jsonwebtoken::errors::ErrorKind) -> AuthError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => AuthError::BadSignature,
        K::ExpiredSignature => AuthError::Expired,
        K::ImmatureSignature => AuthError::NotYetValid,
        K::InvalidAlgorithm => AuthError::WrongAlgorithm,
        K::InvalidIssuer | K::InvalidAudience | K::MissingRequiredClaim(_) => {
            AuthError::InvalidClaims
        }
        _ => AuthError::Malformed,
    }
}

/// Reads one configured key (a JWKS document may hold several).
fn load(config: &KeyConfig) -> Result<Vec<Key>, KeyError> {
    let name = config
        .file
        .as_deref()
        .map_or("(inline secret)".into(), |f| f.display().to_string());
    let fail = |reason: String| KeyError {
        file: name.clone(),
        reason,
    };
    let bytes = match (&config.file, &config.secret) {
        (Some(file), None) => read(file).map_err(fail)?,
        (None, Some(secret)) if config.kind == KeyKind::Hmac => secret.as_bytes().to_vec(),
        _ => {
            return Err(fail(
                "give exactly one of `file` or (for hmac) `secret`".into(),
            ))
        }
    };
    let algorithms = if config.algorithms.is_empty() {
        default_algorithms(config.kind)
    } else {
        config
            .algorithms
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| fail(format!("unknown algorithm {a}")))
            })
            .collect::<Result<_, _>>()?
    };
    let single = |key: Result<DecodingKey, jsonwebtoken::errors::Error>| {
        let key = key.map_err(|e| fail(e.to_string()))?;
        Ok(vec![Key {
            kid: config.kid.clone(),
            algorithms: algorithms.clone(),
            key,
        }])
    };
    match config.kind {
        KeyKind::Hmac => single(DecodingKey::from_secret(&bytes)),
        KeyKind::Rsa => single(DecodingKey::from_rsa_pem(&bytes)),
        KeyKind::Ec => single(DecodingKey::from_ec_pem(&bytes)),
        KeyKind::Ed => single(DecodingKey::from_ed_pem(&bytes)),
        KeyKind::Jwks => {
            let set: JwkSet = serde_json::from_slice(&bytes)
                .map_err(|e| fail(format!("not a JWKS document: {e}")))?;
            set.keys
                .iter()
                .map(|jwk| {
                    let key = DecodingKey::from_jwk(jwk).map_err(|e| fail(e.to_string()))?;
                    // A key's own `alg` narrows what it accepts; otherwise its family's defaults.
                    let algorithms = match jwk
                        .common
                        .key_algorithm
                        .and_then(|a| Algorithm::try_from(a).ok())
                    {
                        Some(alg) => vec![alg],
                        None => algorithms_for_family(key.family()),
                    };
                    Ok(Key {
                        kid: jwk.common.key_id.clone(),
                        algorithms,
                        key,
                    })
                })
                .collect()
        }
    }
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| e.to_string())
}

fn default_algorithms(kind: KeyKind) -> Vec<Algorithm> {
    match kind {
        KeyKind::Hmac => vec![Algorithm::HS256],
        KeyKind::Rsa => vec![Algorithm::RS256],
        KeyKind::Ec => vec![Algorithm::ES256],
        KeyKind::Ed => vec![Algorithm::EdDSA],
        KeyKind::Jwks => Vec::new(),
    }
}

fn algorithms_for_family(family: jsonwebtoken::AlgorithmFamily) -> Vec<Algorithm> {
    use jsonwebtoken::AlgorithmFamily as F;
    match family {
        F::Hmac => vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
        F::Rsa => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        F::Ec => vec![Algorithm::ES256, Algorithm::ES384],
        F::Ed => vec![Algorithm::EdDSA],
    }
}

/// Seconds from now until `at`, zero if past.
pub fn until(at: SystemTime) -> Duration {
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyKind;
    use jsonwebtoken::{encode, EncodingKey, Header};

    const SECRET: &str = "unit-test-secret-0123456789abcdef";

    fn verifier(leeway_s: u64) -> JwtVerifier {
        let key = KeyConfig {
            kind: KeyKind::Hmac,
            file: None,
            secret: Some(SECRET.into()),
            algorithms: Vec::new(),
            kid: None,
        };
        let config = AuthConfig {
            leeway_s,
            keys: vec![key],
            ..AuthConfig::default()
        };
        JwtVerifier::new(&config).unwrap()
    }

    fn token(claims: serde_json::Value) -> String {
        let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
        encode(&Header::default(), &claims, &key).unwrap()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn connection_lives_until_exp_plus_leeway() {
        let exp = now() + 100;
        let identity = verifier(30)
            .verify(&token(serde_json::json!({"tenant": "t", "exp": exp})))
            .unwrap();
        assert_eq!(
            identity.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(exp + 30))
        );
    }

    #[test]
    fn fractional_exp_still_expires_the_connection() {
        let exp = now() as f64 + 100.5;
        let identity = verifier(0)
            .verify(&token(serde_json::json!({"tenant": "t", "exp": exp})))
            .unwrap();
        assert_eq!(
            identity.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(exp as u64))
        );
    }

    #[test]
    fn absurd_exp_does_not_overflow_the_clock() {
        let claims = serde_json::json!({"tenant": "t", "exp": u64::MAX});
        let identity = verifier(30).verify(&token(claims)).unwrap();
        assert_eq!(identity.expires_at, None);
    }

    #[test]
    fn other_claims_reach_the_filter_as_attributes() {
        let claims = serde_json::json!({
            "tenant": "t", "sub": "ann", "exp": now() + 60, "roles": ["a", "b"],
            "airline": "AFR", "level": 3
        });
        let identity = verifier(0).verify(&token(claims)).unwrap();
        assert_eq!(identity.claims.subject, "ann");
        assert_eq!(identity.claims.roles, ["a", "b"]);
        let mut attributes = identity.claims.attributes.clone();
        attributes.sort();
        assert_eq!(
            attributes,
            [
                ("airline".into(), "AFR".into()),
                ("level".into(), "3".into())
            ]
        );
    }
}

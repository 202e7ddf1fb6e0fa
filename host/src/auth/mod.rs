//! Who a connection is: credentials to tenant and claims.
//!
//! Two kinds of credential: signed tokens (JWT, see `jwt`) for production, and static API keys
//! from configuration for development. A token is recognised by its shape (three base64url
//! parts separated by dots); anything else is looked up as an API key.

pub mod jwt;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::http::HeaderMap;

use crate::config::{ApiKey, AuthConfig};
use crate::filter::Claims;
pub use jwt::KeyError;

/// A verified connection identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub tenant: Arc<str>,
    pub claims: Claims,
    /// When the credential stops being valid; the connection is closed then.
    pub expires_at: Option<SystemTime>,
}

/// Why a credential is refused. `reason()` is a metric label; `Display` is the client's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: pass ?token=, an Authorization: Bearer header, or a STOMP passcode")]
    Missing,
    #[error("unknown API key")]
    Unknown,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token algorithm is not accepted for its key")]
    WrongAlgorithm,
    #[error("token issuer, audience or expiry claim is not acceptable")]
    InvalidClaims,
    #[error("token names no tenant")]
    NoTenant,
    #[error("token names an unknown tenant")]
    UnknownTenant,
}

impl AuthError {
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::Unknown => "unknown_token",
            AuthError::Malformed => "malformed_token",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::BadSignature => "bad_signature",
            AuthError::WrongAlgorithm => "wrong_algorithm",
            AuthError::InvalidClaims => "invalid_claims",
            AuthError::NoTenant => "no_tenant",
            AuthError::UnknownTenant => "unknown_tenant",
        }
    }
}

/// The configured credentials.
pub struct Authenticator {
    keys: HashMap<String, Identity>,
    jwt: jwt::JwtVerifier,
}

impl Authenticator {
    pub fn new(api_keys: &[ApiKey], auth: &AuthConfig) -> Result<Self, KeyError> {
        let keys = api_keys
            .iter()
            .map(|k| {
                let claims = Claims {
                    tenant: k.tenant.clone(),
                    subject: k.subject.clone(),
                    roles: k.roles.clone(),
                    attributes: k
                        .attributes
                        .iter()
                        .map(|(a, v)| (a.clone(), v.clone()))
                        .collect(),
                };
                let identity = Identity {
                    tenant: k.tenant.as_str().into(),
                    claims,
                    expires_at: None,
                };
                (k.key.clone(), identity)
            })
            .collect();
        Ok(Self {
            keys,
            jwt: jwt::JwtVerifier::new(auth)?,
        })
    }

    /// Verifies a credential.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if looks_like_jwt(token) && self.jwt.has_keys() {
            return self.jwt.verify(token);
        }
        self.keys.get(token).cloned().ok_or(AuthError::Unknown)
    }

    /// The credential of a handshake: its `token` query parameter or its bearer header.
    pub fn from_handshake<'a>(
        query_token: Option<&'a str>,
        headers: &'a HeaderMap,
    ) -> Option<&'a str> {
        let query_token = query_token.filter(|t| !t.is_empty());
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        query_token.or(bearer)
    }
}

/// The token of an `Authorization: Bearer …` value (the scheme in any case), if any.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().take(2).all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

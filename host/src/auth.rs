//! Who a connection is: credentials to tenant and claims.
//!
//! For now the credentials are static API keys from configuration, meant for development;
//! they are compared as whole strings and should be long random values.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::config::ApiKey;
use crate::filter::Claims;

/// A verified connection identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub tenant: Arc<str>,
    pub claims: Claims,
}

/// Why a handshake is refused. The reason is a metric label and the client's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: pass ?token= or an Authorization: Bearer header")]
    Missing,
    #[error("unknown token")]
    Unknown,
}

impl AuthError {
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::Unknown => "unknown_token",
        }
    }
}

/// The configured credentials.
pub struct Authenticator {
    keys: HashMap<String, Identity>,
}

impl Authenticator {
    pub fn new(keys: &[ApiKey]) -> Self {
        let keys = keys
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
                (
                    k.key.clone(),
                    Identity {
                        tenant: k.tenant.as_str().into(),
                        claims,
                    },
                )
            })
            .collect();
        Self { keys }
    }

    /// Identifies a handshake from its `token` query parameter or its bearer header.
    pub fn identify(
        &self,
        query_token: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Identity, AuthError> {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let token = query_token
            .or(bearer)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        self.keys.get(token).cloned().ok_or(AuthError::Unknown)
    }
}

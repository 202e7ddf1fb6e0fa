//! Who may connect and how: signed-token authentication and the STOMP dialect's limits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// STOMP over WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StompConfig {
    /// The server's heart-beat offer, in milliseconds: it sends no more often than this and
    /// asks the client for no more than this. 0 turns heart-beats off. Default 10000.
    pub heartbeat_ms: u64,
    /// Largest frame a client may send, in bytes (across WebSocket messages). Default 64 KiB.
    pub max_frame_bytes: usize,
    /// Most header lines in a client frame. Default 64.
    pub max_headers: usize,
}

impl Default for StompConfig {
    fn default() -> Self {
        Self {
            heartbeat_ms: 10_000,
            max_frame_bytes: 64 * 1024,
            max_headers: 64,
        }
    }
}

/// Signed-token (JWT) authentication. Tokens must carry `exp`; the connection closes then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Claim naming the tenant. Default `tenant`.
    pub tenant_claim: String,
    /// Claim holding the roles: an array of strings, or one space-separated string.
    /// Default `roles`.
    pub roles_claim: String,
    /// Required issuer (`iss`). Default: not checked.
    pub issuer: Option<String>,
    /// Required audience (`aud`). Default: not checked.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds. Default 30.
    pub leeway_s: u64,
    /// How long before its token expires a connection is told, in seconds. Default 60.
    pub expiry_notice_s: u64,
    /// Verification keys. Without any, only API keys are accepted.
    pub keys: Vec<KeyConfig>,
}

/// One verification key, or a JWKS document of several.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub kind: KeyKind,
    /// File holding the key: the raw secret (hmac), a PEM public key (rsa, ec, ed) or a JWKS
    /// JSON document (jwks).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The secret itself, for hmac keys in development; prefer `file`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Algorithms this key accepts, e.g. `["RS256"]`. Default: HS256, RS256, ES256 or EdDSA
    /// by kind; for JWKS, each key's own `alg`.
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Key id (`kid`) of this key; a token that names a kid is only checked against it.
    #[serde(default)]
    pub kid: Option<String>,
}

/// The kind of a verification key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Hmac,
    Rsa,
    Ec,
    Ed,
    Jwks,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            issuer: None,
            audience: None,
            leeway_s: 30,
            expiry_notice_s: 60,
            keys: Vec::new(),
        }
    }
}

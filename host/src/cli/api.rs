//! The admin API's requests, built without touching the network.

use std::fmt;

use serde::Serialize;
use ureq::http::Method;

use super::error::CliError;
use super::model::{Claims, DryRunRequest, DryRunSubscription, ShadowRequest};
use super::DryRunArgs;

/// One request to the admin API: a method, a path (with its query) and a body.
#[derive(Debug, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// The path and query, encoded, starting with `/`.
    pub path: String,
    pub body: Body,
}

#[derive(Debug, PartialEq)]
pub enum Body {
    Empty,
    Json(Vec<u8>),
    /// A component's bytes, sent as `application/wasm`.
    Wasm(Vec<u8>),
}

/// Prints as `GET /v1/tenants`, to name the operation in messages.
impl fmt::Display for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl ApiRequest {
    fn new(method: Method, path: String) -> Self {
        ApiRequest {
            method,
            path,
            body: Body::Empty,
        }
    }

    fn json<T: Serialize>(mut self, value: &T) -> Self {
        // The request types hold only strings, numbers, lists and string-keyed maps, which
        // always serialize.
        let bytes = serde_json::to_vec(value).expect("admin API request serializes");
        self.body = Body::Json(bytes);
        self
    }

    fn wasm(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Wasm(bytes);
        self
    }
}

/// The API's base URL as given, with `http://` added when it names no scheme. The admin
/// listener speaks plain HTTP, and so does this client.
pub fn base_url(given: &str) -> Result<String, CliError> {
    let given = given.trim();
    let refuse = |reason: &str| CliError::BadUrl {
        url: given.to_owned(),
        reason: reason.to_owned(),
    };
    match given.split_once("://") {
        Some(("http", rest)) if !rest.is_empty() => Ok(given.to_owned()),
        Some(("https", _)) => Err(refuse(
            "the admin listener and this client speak plain HTTP; use http://",
        )),
        Some(_) => Err(refuse(
            "expected an http:// URL such as http://127.0.0.1:8081",
        )),
        None if given.is_empty() => Err(refuse(
            "expected an http:// URL such as http://127.0.0.1:8081",
        )),
        None => Ok(format!("http://{given}")),
    }
}

/// The full URL of `path` under the API's base URL (with or without a trailing slash).
pub fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

pub fn list_tenants() -> ApiRequest {
    ApiRequest::new(Method::GET, "/v1/tenants".into())
}

pub fn list_versions(tenant: &str) -> ApiRequest {
    ApiRequest::new(Method::GET, tenant_path(tenant, "/versions"))
}

pub fn upload(tenant: &str, component: Vec<u8>) -> ApiRequest {
    ApiRequest::new(Method::POST, tenant_path(tenant, "/versions")).wasm(component)
}

pub fn validate(tenant: &str, component: Vec<u8>) -> ApiRequest {
    ApiRequest::new(Method::POST, tenant_path(tenant, "/validate")).wasm(component)
}

pub fn activate(tenant: &str, version: &str) -> ApiRequest {
    ApiRequest::new(Method::POST, version_path(tenant, version, "/activate"))
}

pub fn rollback(tenant: &str) -> ApiRequest {
    ApiRequest::new(Method::POST, tenant_path(tenant, "/rollback"))
}

pub fn delete(tenant: &str, version: &str) -> ApiRequest {
    ApiRequest::new(Method::DELETE, version_path(tenant, version, ""))
}

pub fn shadow_start(tenant: &str, version: &str) -> ApiRequest {
    let body = ShadowRequest {
        version: version.to_owned(),
    };
    ApiRequest::new(Method::PUT, tenant_path(tenant, "/shadow")).json(&body)
}

pub fn shadow_report(tenant: &str) -> ApiRequest {
    ApiRequest::new(Method::GET, tenant_path(tenant, "/shadow"))
}

pub fn shadow_stop(tenant: &str) -> ApiRequest {
    ApiRequest::new(Method::DELETE, tenant_path(tenant, "/shadow"))
}

pub fn dry_run(tenant: &str, version: &str, body: &DryRunRequest) -> ApiRequest {
    ApiRequest::new(Method::POST, version_path(tenant, version, "/dry-run")).json(body)
}

pub fn audit(tenant: Option<&str>) -> ApiRequest {
    let path = match tenant {
        Some(tenant) => format!("/v1/audit?tenant={}", encode(tenant)),
        None => "/v1/audit".into(),
    };
    ApiRequest::new(Method::GET, path)
}

/// The dry run's body: every topic asked for by one connection with the claims given. Claims
/// are left out when none were given, so the server applies its own defaults.
pub fn dry_run_request(args: &DryRunArgs) -> DryRunRequest {
    let given = args.subject.is_some() || !args.roles.is_empty() || !args.claims.is_empty();
    let claims = given.then(|| Claims {
        subject: args.subject.clone(),
        roles: args.roles.clone(),
        attributes: args.claims.iter().cloned().collect(),
    });

    let subscriptions = args
        .topics
        .iter()
        .map(|topic| DryRunSubscription {
            topic: topic.clone(),
            claims: claims.clone(),
        })
        .collect();
    DryRunRequest {
        subscriptions,
        events: args.events,
    }
}

fn tenant_path(tenant: &str, rest: &str) -> String {
    format!("/v1/tenants/{}{rest}", encode(tenant))
}

fn version_path(tenant: &str, version: &str, rest: &str) -> String {
    tenant_path(tenant, &format!("/versions/{}{rest}", encode(version)))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so that a name holding
/// `/`, `?` or `%` stays one path segment or one query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_api() {
        assert_eq!(list_tenants().to_string(), "GET /v1/tenants");
        assert_eq!(list_versions("acme").path, "/v1/tenants/acme/versions");
        let activate = activate("acme", "0123abcd");
        assert_eq!(
            activate.to_string(),
            "POST /v1/tenants/acme/versions/0123abcd/activate"
        );
        assert_eq!(rollback("acme").path, "/v1/tenants/acme/rollback");
        assert_eq!(delete("acme", "0123abcd").method, Method::DELETE);
        assert_eq!(
            delete("acme", "0123abcd").path,
            "/v1/tenants/acme/versions/0123abcd"
        );
        assert_eq!(shadow_report("acme").method, Method::GET);
        assert_eq!(shadow_stop("acme").method, Method::DELETE);
        assert_eq!(audit(None).path, "/v1/audit");
        assert_eq!(audit(Some("acme")).path, "/v1/audit?tenant=acme");
    }

    #[test]
    fn names_with_reserved_characters_stay_one_segment() {
        assert_eq!(
            list_versions("a/b c").path,
            "/v1/tenants/a%2Fb%20c/versions"
        );
        assert_eq!(audit(Some("x&y=z")).path, "/v1/audit?tenant=x%26y%3Dz");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn uploads_carry_the_component_bytes() {
        let request = upload("acme", b"\0asm".to_vec());
        assert_eq!(request.to_string(), "POST /v1/tenants/acme/versions");
        assert_eq!(request.body, Body::Wasm(b"\0asm".to_vec()));
        assert_eq!(validate("acme", vec![1]).path, "/v1/tenants/acme/validate");
    }

    #[test]
    fn shadow_start_sends_the_version_as_json() {
        let request = shadow_start("acme", "0123abcd");
        assert_eq!(request.method, Method::PUT);
        assert_eq!(
            request.body,
            Body::Json(br#"{"version":"0123abcd"}"#.to_vec())
        );
    }

    #[test]
    fn base_url_defaults_to_http_and_refuses_other_schemes() {
        assert_eq!(base_url("127.0.0.1:8081").unwrap(), "http://127.0.0.1:8081");
        assert_eq!(base_url(" http://h:1/ ").unwrap(), "http://h:1/");
        let https = base_url("https://h:1").unwrap_err().to_string();
        assert!(https.contains("plain HTTP"), "{https}");
        assert!(base_url("ftp://h").is_err());
        assert!(base_url("").is_err());
        assert!(base_url("http://").is_err());
    }

    #[test]
    fn base_url_may_end_with_a_slash() {
        assert_eq!(url("http://h:8081/", "/v1/audit"), "http://h:8081/v1/audit");
        assert_eq!(url("http://h:8081", "/v1/audit"), "http://h:8081/v1/audit");
    }
}

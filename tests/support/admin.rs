//! A client of the admin API for tests: plain HTTP/1.1 over a fresh connection per request.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The admin tokens every platform test configures.
pub const OPERATOR: &str = "op-secret";
pub const DEMO_ADMIN: &str = "demo-secret";
pub const PARTNER_ADMIN: &str = "partner-secret";

/// The `[admin]` tokens section matching the constants above.
pub fn tokens() -> String {
    format!(
        r#"
[[admin.tokens]]
token = "{OPERATOR}"
name = "olivia-operator"
role = "operator"

[[admin.tokens]]
token = "{DEMO_ADMIN}"
name = "demo-ci"
role = "tenant"
tenant = "demo"

[[admin.tokens]]
token = "{PARTNER_ADMIN}"
name = "partner-ci"
role = "tenant"
tenant = "partner"
"#
    )
}

/// An answer: status and body (JSON when it parses, else a string value).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// One request; `token` of `None` sends no Authorization header.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let (content_type, bytes) = body.unwrap_or(("application/octet-stream", &[]));
    if body.is_some() || method != "GET" {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading a large body, and close.
    let _ = stream.write_all(bytes).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (headers, raw) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let raw = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(raw)
    } else {
        raw.to_string()
    };
    let body = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
    Answer { status, body }
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        raw = rest[size..].trim_start_matches("\r\n");
    }
    out
}

pub async fn get(addr: &str, path: &str, token: &str) -> Answer {
    request(addr, "GET", path, Some(token), None).await
}

pub async fn post(addr: &str, path: &str, token: &str) -> Answer {
    request(addr, "POST", path, Some(token), None).await
}

/// Uploads a component; returns the answer (201 with the version on success).
pub async fn upload(addr: &str, tenant: &str, token: &str, bytes: &[u8]) -> Answer {
    let path = format!("/v1/tenants/{tenant}/versions");
    request(
        addr,
        "POST",
        &path,
        Some(token),
        Some(("application/wasm", bytes)),
    )
    .await
}

/// Uploads and activates a component as the operator; returns its sha256.
pub async fn deploy(addr: &str, tenant: &str, bytes: &[u8]) -> String {
    let uploaded = upload(addr, tenant, OPERATOR, bytes).await;
    assert_eq!(uploaded.status, 201, "upload: {:?}", uploaded.body);
    let sha = uploaded.body["sha256"].as_str().unwrap().to_string();
    let path = format!("/v1/tenants/{tenant}/versions/{sha}/activate");
    let activated = post(addr, &path, OPERATOR).await;
    assert_eq!(activated.status, 200, "activate: {:?}", activated.body);
    sha
}

/// Waits (bounded) until `tenant` runs `sha` on the instance at `addr`; returns how long.
pub async fn wait_active(addr: &str, tenant: &str, sha: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answer = get(addr, &format!("/v1/tenants/{tenant}"), OPERATOR).await;
        if answer.body["active"]["sha256"] == sha {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{tenant} on {addr} still runs {:?}, not {sha}",
            answer.body["active"]["sha256"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A component's bytes from target/filters.
pub fn component(name: &str) -> Vec<u8> {
    std::fs::read(super::filter(name)).unwrap()
}

/// `bytes` with a custom section of `pad` bytes appended: the same behaviour, another version
/// (and as large as needed).
pub fn padded(bytes: &[u8], pad: usize) -> Vec<u8> {
    let name = b"flightcast-test-padding";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + pad, 0x5a);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}

/// The admin API's OpenAPI document, made strict for checking answers against it: an object
/// schema that lists its properties admits no others, so a field the server added or renamed
/// without the document is caught.
pub struct Contract {
    document: Value,
}

impl Contract {
    pub fn new(mut document: Value) -> Contract {
        fn strict(schema: &mut Value) {
            match schema {
                Value::Object(map) => {
                    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                        map.insert("additionalProperties".into(), Value::Bool(false));
                    }
                    map.values_mut().for_each(strict);
                }
                Value::Array(items) => items.iter_mut().for_each(strict),
                _ => {}
            }
        }
        strict(&mut document["components"]["schemas"]);
        Contract { document }
    }

    /// Panics, naming every violation, unless `value` is a `name` (such as `Tenant`) as the
    /// document describes it.
    pub fn check(&self, name: &str, value: &Value) {
        let errors = self.violations(name, value);
        assert!(
            errors.is_empty(),
            "answer is not a {name} as /openapi.json describes it:\n{}\n{value:#}",
            errors.join("\n")
        );
    }

    /// How `value` differs from a `name` as the document describes it.
    pub fn violations(&self, name: &str, value: &Value) -> Vec<String> {
        let schema = serde_json::json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": self.document["components"],
        });
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("the OpenAPI schema of {name} does not compile: {e}"));
        validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// As `check`, for every element of an array answer.
    pub fn check_all(&self, name: &str, value: &Value) {
        let items = value
            .as_array()
            .unwrap_or_else(|| panic!("expected an array of {name}"));
        items.iter().for_each(|item| self.check(name, item));
    }
}

//! Signed-token authentication against the real binary: every kind of bad token is refused
//! with its documented reason and receives nothing; good tokens of each key kind connect; a
//! token that expires during the connection is warned about, then closed.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::{config, Client, Service};

const SECRET: &str = "test-only-hmac-secret-0123456789abcdef";

fn fixture(name: &str) -> std::path::PathBuf {
    support::root().join("tests/fixtures/jwt").join(name)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(tenant: Option<&str>, exp: u64) -> Value {
    let mut claims = json!({"sub": "alice", "exp": exp, "roles": ["viewer"], "airline": "AFR"});
    if let Some(tenant) = tenant {
        claims["tenant"] = json!(tenant);
    }
    claims
}

fn hmac(claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn pem(claims: &Value, alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    let key = match alg {
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(&std::fs::read(fixture("ec-private.pem")).unwrap())
        }
        _ => EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()),
    };
    encode(&header, claims, &key.unwrap()).unwrap()
}

/// The service with one key of each kind, and a JWKS document holding the RSA key as `k1`.
fn start(name: &str, auth_extra: &str) -> (Service, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let private =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&private, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).unwrap();
    let auth = format!(
        r#"
[auth]
leeway_s = 0
{auth_extra}

[[auth.keys]]
kind = "hmac"
secret = "{SECRET}"

[[auth.keys]]
kind = "rsa"
file = "{rsa}"
kid = "rsa-file"

[[auth.keys]]
kind = "ec"
file = "{ec}"

[[auth.keys]]
kind = "jwks"
file = "{jwks}"
"#,
        rsa = fixture("rsa-public.pem").display(),
        ec = fixture("ec-public.pem").display(),
        jwks = jwks.display(),
    );
    let service = Service::start(
        name,
        &format!("{}{auth}", config("embedded_partitions = 4", "")),
    );
    (service, dir)
}

/// The status and body of a handshake with `token`.
async fn handshake(addr: &str, token: &str) -> (u16, String) {
    let url = format!("ws://{addr}/ws?token={token}");
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => (101, String::new()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).to_string());
            (response.status().as_u16(), body.unwrap_or_default())
        }
        Err(other) => panic!("handshake: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_with_its_reason() {
    let (service, _keys) = start("auth-matrix", "");
    let later = now() + 3600;
    let good = claims(Some("demo"), later);
    let cases = [
        (
            "expired",
            hmac(
                &claims(Some("demo"), now() - 120),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
            "expired",
        ),
        (
            "wrong signature",
            hmac(&good, Algorithm::HS256, b"another-secret-0123456789abcdef"),
            "signature",
        ),
        (
            "wrong algorithm",
            hmac(&good, Algorithm::HS384, SECRET.as_bytes()),
            "algorithm",
        ),
        (
            "RSA public key used as an HMAC secret",
            hmac(
                &good,
                Algorithm::HS256,
                &std::fs::read(fixture("rsa-public.pem")).unwrap(),
            ),
            "signature",
        ),
        (
            "no tenant claim",
            hmac(&claims(None, later), Algorithm::HS256, SECRET.as_bytes()),
            "no tenant",
        ),
        (
            "unknown tenant",
            hmac(
                &claims(Some("nobody"), later),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
            "unknown tenant",
        ),
        (
            "not a token",
            "eyJhbGciOi.broken.x".to_string(),
            "well-formed",
        ),
        (
            "unknown kid",
            pem(&good, Algorithm::RS256, Some("k9")),
            "algorithm",
        ),
    ];
    for (what, token, needle) in &cases {
        let (status, body) = handshake(&service.addr, token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            body.contains(needle),
            "{what}: reason {body:?} lacks {needle:?}"
        );
    }
    let refusals = service
        .metric("flightcast_handshake_refusals_total", &[])
        .await;
    assert_eq!(refusals, cases.len() as f64);
    assert_eq!(service.metric("flightcast_connections", &[]).await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_tokens_of_every_key_kind_connect_and_carry_their_claims() {
    let (service, _keys) = start("auth-good", "");
    let later = now() + 3600;
    let tokens = [
        (
            "hmac",
            hmac(
                &claims(Some("demo"), later),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "rsa pem",
            pem(&claims(Some("demo"), later), Algorithm::RS256, None),
        ),
        (
            "ec pem",
            pem(&claims(Some("demo"), later), Algorithm::ES256, None),
        ),
        (
            "jwks",
            pem(&claims(Some("demo"), later), Algorithm::RS256, Some("k1")),
        ),
    ];
    for (what, token) in &tokens {
        let mut client = Client::connect(&service.addr, token).await;
        assert_eq!(client.welcome["tenant"], "demo", "{what}");
        assert_eq!(client.welcome["subject"], "alice", "{what}");
        client.subscribe_from_start("all", "all", 4).await;
        client.until("subscribed", "all").await;
        assert_eq!(client.next_event().await["type"], "event", "{what}");
    }

    // The claims reach the filter: the partner filter admits only the token's airline.
    let partner = hmac(
        &claims(Some("partner"), later),
        Algorithm::HS256,
        SECRET.as_bytes(),
    );
    let mut client = Client::connect(&service.addr, &partner).await;
    client
        .send(json!({"op": "subscribe", "id": "baw", "topic": "airline:BAW"}))
        .await;
    let (rejected, before) = client.until("rejected", "baw").await;
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap()
            .contains("outside your airline AFR"),
        "{rejected}"
    );
    assert!(before.iter().all(|m| m["type"] != "event"));
    client.subscribe_from_start("own", "airline:AFR", 4).await;
    client.until("subscribed", "own").await;
    let event = client.next_event().await;
    assert_eq!(event["payload"]["airline_icao"], "AFR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_token_gets_a_notice_then_the_connection_closes() {
    let (service, _keys) = start("auth-expiry", "expiry_notice_s = 2");
    let token = hmac(
        &claims(Some("demo"), now() + 4),
        Algorithm::HS256,
        SECRET.as_bytes(),
    );
    let mut client = Client::connect(&service.addr, &token).await;
    let mut warned = false;
    loop {
        match client.try_next().await {
            Ok(message) if message["type"] == "expiring" => {
                assert!(message["in_ms"].as_u64().unwrap() <= 2000, "{message}");
                warned = true;
            }
            Ok(message) => panic!("unexpected {message}"),
            Err(support::Closed::Frame(code, reason)) => {
                assert_eq!((code, reason.as_str()), (Some(1008), "token expired"));
                break;
            }
            Err(closed) => panic!("{closed:?}"),
        }
    }
    assert!(warned, "no expiry notice before the close");

    // A fresh token sent in time keeps the connection open past the first one's expiry.
    let token = hmac(
        &claims(Some("demo"), now() + 3),
        Algorithm::HS256,
        SECRET.as_bytes(),
    );
    let mut client = Client::connect(&service.addr, &token).await;
    let fresh = hmac(
        &claims(Some("demo"), now() + 3600),
        Algorithm::HS256,
        SECRET.as_bytes(),
    );
    client.send(json!({"op": "auth", "token": fresh})).await;
    client.subscribe_from_start("all", "all", 4).await;
    client.until("subscribed", "all").await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    client.send(json!({"op": "unsubscribe", "id": "all"})).await;
    client.until("unsubscribed", "all").await;
}

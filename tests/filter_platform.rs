//! The filter platform through its admin API, against the real binary: authorization, versions,
//! validation, activation and rollback, shadow, dry run, audit, OpenAPI, WASI output.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::admin::{self, DEMO_ADMIN, OPERATOR, PARTNER_ADMIN};
use support::{config, Client, Service};

/// Two example tenants on the embedded broker, the bundled data replayed once, fast.
fn platform_config(extra: &str) -> String {
    config("", &format!("{extra}\n{}", admin::tokens()))
}

fn sha_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A request body: content type and bytes.
type Body<'a> = (&'a str, Vec<u8>);

#[tokio::test]
async fn authorization_matrix_each_role_against_each_endpoint() {
    let service = Service::start("platform-authz", &platform_config(""));
    let addr = service.admin.clone();
    let standard = admin::component("standard");
    let candidate = admin::component("swap-a");
    let sha = sha_of(&standard);
    let dry_run =
        serde_json::to_vec(&json!({"subscriptions": [{"topic": "all"}], "events": 10})).unwrap();
    let shadow = serde_json::to_vec(&json!({"version": sha})).unwrap();

    // (method, path under /v1/tenants/{t}, body) for every tenant-scoped endpoint.
    let endpoints: Vec<(&str, String, Option<Body>)> = vec![
        ("GET", String::new(), None),
        ("GET", "/versions".into(), None),
        (
            "POST",
            "/versions".into(),
            Some(("application/wasm", candidate.clone())),
        ),
        (
            "POST",
            "/validate".into(),
            Some(("application/wasm", candidate.clone())),
        ),
        ("POST", format!("/versions/{sha}/activate"), None),
        ("POST", "/rollback".into(), None),
        (
            "POST",
            format!("/versions/{sha}/dry-run"),
            Some(("application/json", dry_run)),
        ),
        ("PUT", "/shadow".into(), Some(("application/json", shadow))),
        ("GET", "/shadow".into(), None),
        ("DELETE", "/shadow".into(), None),
        ("DELETE", format!("/versions/{}", "0".repeat(64)), None),
    ];
    let partner_versions_before = admin::get(&addr, "/v1/tenants/partner/versions", OPERATOR).await;

    for (method, suffix, body) in &endpoints {
        let body = body.as_ref().map(|(t, b)| (*t, b.as_slice()));
        for tenant in ["demo", "partner"] {
            let path = format!("/v1/tenants/{tenant}{suffix}");
            let call = |token| admin::request(&addr, method, &path, token, body);
            let none = call(None).await;
            assert_eq!(
                none.status, 401,
                "{method} {path} without a token: {:?}",
                none.body
            );
            assert_eq!(none.body["error"], "unauthorized");
            let wrong = call(Some("not-a-token")).await;
            assert_eq!(wrong.status, 401, "{method} {path} with a bad token");
            let demo = call(Some(DEMO_ADMIN)).await;
            if tenant == "partner" {
                assert_eq!(
                    demo.status, 403,
                    "{method} {path} with demo's token: {:?}",
                    demo.body
                );
                assert_eq!(demo.body["error"], "forbidden");
            } else {
                assert!(
                    ![401, 403].contains(&demo.status),
                    "{method} {path} demo: {:?}",
                    demo
                );
            }
            let operator = call(Some(OPERATOR)).await;
            assert!(
                ![401, 403].contains(&operator.status),
                "{method} {path} operator: {:?}",
                operator
            );
        }
    }

    // Refused requests changed nothing: the partner's versions are as they were, and the
    // audit log names no demo-ci change on partner.
    let partner_versions_after =
        admin::get(&addr, "/v1/tenants/partner/versions", PARTNER_ADMIN).await;
    let shas = |a: &admin::Answer| -> Vec<String> {
        a.body
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["sha256"].as_str().unwrap().to_string())
            .collect()
    };
    let mut before = shas(&partner_versions_before);
    let mut after = shas(&partner_versions_after);
    // The operator's own upload of swap-a to partner is the one allowed change.
    after.retain(|s| *s != sha_of(&candidate));
    before.sort();
    after.sort();
    assert_eq!(before, after);

    // Listing tenants: a tenant token sees its own tenant only.
    let all = admin::get(&addr, "/v1/tenants", OPERATOR).await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    let own = admin::get(&addr, "/v1/tenants", DEMO_ADMIN).await;
    let own = own.body.as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["tenant"], "demo");
    assert_eq!(
        admin::request(&addr, "GET", "/v1/tenants", None, None)
            .await
            .status,
        401
    );

    // The audit log: operators read all of it, tenants their own part, not another's.
    let audit = admin::get(&addr, "/v1/audit", OPERATOR).await;
    let entries = audit.body.as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["tenant"] == "partner" && e["actor"] == "olivia-operator"));
    // Every refused change is audited as refused, with who asked and why: the six change
    // endpoints once each by demo's token on partner (403), twice each per tenant without
    // credentials (401).
    let on_partner = |actor: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["tenant"] == "partner" && e["actor"] == actor)
            .collect()
    };
    let by_demo = on_partner("demo-ci");
    assert_eq!(by_demo.len(), 6, "{by_demo:#?}");
    for entry in &by_demo {
        assert_eq!(entry["outcome"], "refused", "{entry}");
        assert!(
            entry["detail"].as_str().unwrap().ends_with("(403)"),
            "{entry}"
        );
    }
    let anonymous = on_partner("(unauthenticated)");
    assert_eq!(anonymous.len(), 12, "{anonymous:#?}");
    for entry in &anonymous {
        assert_eq!(
            (&entry["outcome"], &entry["role"]),
            (&json!("refused"), &json!("none"))
        );
        assert!(
            entry["detail"].as_str().unwrap().ends_with("(401)"),
            "{entry}"
        );
    }
    let actions: std::collections::BTreeSet<&str> = by_demo
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let expected = [
        "activate",
        "delete",
        "rollback",
        "shadow-start",
        "shadow-stop",
        "upload",
    ];
    assert_eq!(actions, expected.into_iter().collect());
    let demo_audit = admin::get(&addr, "/v1/audit", DEMO_ADMIN).await;
    assert!(demo_audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant"] == "demo"));
    assert_eq!(
        admin::get(&addr, "/v1/audit?tenant=partner", DEMO_ADMIN)
            .await
            .status,
        403
    );
    assert_eq!(
        admin::request(&addr, "GET", "/v1/audit", None, None)
            .await
            .status,
        401
    );

    // The OpenAPI document needs no token and lists the endpoints.
    let openapi = admin::request(&addr, "GET", "/openapi.json", None, None).await;
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(openapi.body["paths"]["/v1/tenants/{tenant}/versions/{version}/activate"].is_object());

    // Refusals the framework makes before a handler runs have the API's error shape too.
    let patch = admin::request(&addr, "PATCH", "/v1/tenants/demo", Some(OPERATOR), None).await;
    assert_eq!(patch.status, 405);
    assert_eq!(patch.body["error"], "method_not_allowed");
    let not_utf8 = admin::get(&addr, "/v1/tenants/%ff/versions", OPERATOR).await;
    assert_eq!(not_utf8.status, 400);
    assert_eq!(not_utf8.body["error"], "bad_request", "{:?}", not_utf8.body);
    let huge = format!(r#"{{"version": "{}"}}"#, "a".repeat(9 * 1024 * 1024));
    let json = Some(("application/json", huge.as_bytes()));
    let too_large = admin::request(
        &addr,
        "PUT",
        "/v1/tenants/demo/shadow",
        Some(OPERATOR),
        json,
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.body["error"], "too_large");
}

#[tokio::test]
async fn versions_validate_activate_roll_back_and_delete() {
    let extra = "[admin]\nmax_upload_bytes = 2000000\n";
    let service = Service::start("platform-versions", &platform_config(extra));
    let addr = service.admin.clone();
    let standard_sha = sha_of(&admin::component("standard"));

    // Validation names the reason, and a refused upload stores nothing.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "random bytes",
            b"definitely not wasm".to_vec(),
            "magic number",
        ),
        (
            "a core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module",
        ),
        (
            "another world",
            admin::component("wrong-world"),
            "does not fit the contract",
        ),
        (
            "a forbidden import",
            admin::component("forbidden-import"),
            "acme:net",
        ),
    ];
    for (what, bytes, reason) in &cases {
        let validation = admin::request(
            &addr,
            "POST",
            "/v1/tenants/demo/validate",
            Some(DEMO_ADMIN),
            Some(("application/wasm", bytes)),
        )
        .await;
        assert_eq!(validation.status, 200, "{what}: {:?}", validation.body);
        assert_eq!(validation.body["ok"], false, "{what}");
        let text = validation.body["reason"].as_str().unwrap();
        assert!(text.contains(reason), "{what}: {text}");
        let upload = admin::upload(&addr, "demo", DEMO_ADMIN, bytes).await;
        assert_eq!(upload.status, 422, "{what}: {:?}", upload.body);
        assert_eq!(upload.body["error"], "invalid_filter");
        assert!(upload.body["message"].as_str().unwrap().contains(reason));
    }
    // The size limit, on both sides: a component padded to exactly the limit passes, one byte
    // more is refused before it is read.
    let base = admin::component("swap-a");
    let header = admin::padded(&base, 0).len() - base.len();
    // Past 16 KiB the section's size takes three LEB128 bytes instead of one.
    let pad_to = |n: usize| admin::padded(&base, n - base.len() - header - 2);
    let at_limit = pad_to(2_000_000);
    assert_eq!(at_limit.len(), 2_000_000);
    let ok = admin::request(
        &addr,
        "POST",
        "/v1/tenants/demo/validate",
        Some(DEMO_ADMIN),
        Some(("application/wasm", &at_limit)),
    )
    .await;
    assert_eq!(ok.body["ok"], true, "{:?}", ok.body);
    let over = pad_to(2_000_001);
    let refused = admin::upload(&addr, "demo", DEMO_ADMIN, &over).await;
    assert_eq!(refused.status, 413, "{:?}", refused.body);
    let versions = admin::get(&addr, "/v1/tenants/demo/versions", DEMO_ADMIN).await;
    assert_eq!(
        versions.body.as_array().unwrap().len(),
        1,
        "only the configured version: {:?}",
        versions.body
    );

    // A client on the demo tenant sees each activation take effect without reconnecting.
    let mut client = Client::connect(&service.addr, "demo-key").await;
    client
        .send(json!({"op": "subscribe", "id": "all", "topic": "all"}))
        .await;
    client.until("subscribed", "all").await;

    let uploaded = admin::upload(&addr, "demo", DEMO_ADMIN, &base).await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let a = uploaded.body["sha256"].as_str().unwrap().to_string();
    assert_eq!(uploaded.body["uploader"], "demo-ci");
    assert_eq!(uploaded.body["validation"]["ok"], true);
    assert!(
        uploaded.body["validation"]["smoke"]["events"]
            .as_u64()
            .unwrap()
            > 100
    );
    // Uploading the same bytes again is the same version.
    let again = admin::upload(&addr, "demo", DEMO_ADMIN, &base).await;
    assert_eq!(again.body["sha256"], a.as_str());

    let activated = admin::post(
        &addr,
        &format!("/v1/tenants/demo/versions/{}/activate", &a[..12]),
        DEMO_ADMIN,
    )
    .await;
    assert_eq!(activated.status, 200, "{:?}", activated.body);
    assert_eq!(activated.body["active"], a.as_str());
    assert_eq!(activated.body["previous"], standard_sha.as_str());
    assert_eq!(activated.body["readmitted"], 1);
    let tenant = admin::get(&addr, "/v1/tenants/demo", DEMO_ADMIN).await;
    assert_eq!(tenant.body["active"]["sha256"], a.as_str());
    assert_eq!(tenant.body["rollback_to"], standard_sha.as_str());
    assert_eq!(tenant.body["health"], "healthy");
    assert_eq!(tenant.body["connections"], 1);
    assert_eq!(tenant.body["subscriptions"], 1);
    // Activating it again changes nothing, and says so.
    let again = admin::post(
        &addr,
        &format!("/v1/tenants/demo/versions/{a}/activate"),
        DEMO_ADMIN,
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["changed"], false);
    assert_eq!(again.body["previous"], Value::Null);
    assert_eq!(again.body["readmitted"], 0);
    let tenant = admin::get(&addr, "/v1/tenants/demo", DEMO_ADMIN).await;
    assert_eq!(tenant.body["rollback_to"], standard_sha.as_str());

    // The active version can't be deleted; an unknown one is 404; a short name is 400.
    let delete = |v: String| {
        let addr = addr.clone();
        async move {
            admin::request(
                &addr,
                "DELETE",
                &format!("/v1/tenants/demo/versions/{v}"),
                Some(DEMO_ADMIN),
                None,
            )
            .await
        }
    };
    assert_eq!(delete(a.clone()).await.status, 409);
    assert_eq!(delete("f".repeat(64)).await.status, 404);
    assert_eq!(delete("abc".into()).await.status, 400);

    let rolled = admin::post(&addr, "/v1/tenants/demo/rollback", DEMO_ADMIN).await;
    assert_eq!(rolled.status, 200, "{:?}", rolled.body);
    assert_eq!(rolled.body["active"], standard_sha.as_str());
    // Nothing earlier than the configured version: a second rollback is refused.
    let nothing = admin::post(&addr, "/v1/tenants/demo/rollback", DEMO_ADMIN).await;
    assert_eq!(nothing.status, 409, "{:?}", nothing.body);
    assert_eq!(delete(a.clone()).await.status, 204);
    let versions = admin::get(&addr, "/v1/tenants/demo/versions", DEMO_ADMIN).await;
    assert!(!versions
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["sha256"] == a.as_str()));

    // The client stayed connected throughout and still receives.
    client
        .send(json!({"op": "subscribe", "id": "probe", "topic": "flight:NOPE1"}))
        .await;
    client.until("subscribed", "probe").await;

    // Every change is in the audit log with who, what and which version.
    let audit = admin::get(&addr, "/v1/audit?tenant=demo", OPERATOR).await;
    let actions: Vec<(String, String)> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("upload", "refused"),
        ("upload", "ok"),
        ("activate", "ok"),
        ("activate", "unchanged"),
        ("rollback", "ok"),
        ("rollback", "refused"),
        ("delete", "refused"),
        ("delete", "ok"),
    ] {
        assert!(
            actions.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} missing from {actions:?}"
        );
    }
    let activation = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "activate")
        .unwrap();
    assert_eq!(activation["actor"], "demo-ci");
    assert_eq!(activation["version"], a.as_str());
    assert!(activation["at"].as_str().unwrap().starts_with("20"));
}

#[tokio::test]
async fn shadow_reports_differences_and_dry_run_answers_what_would_be_delivered() {
    // A slow, endless replay, so the shadow sees live traffic.
    let config =
        platform_config("").replace("speedup = 0.0\nloops = 1", "speedup = 200.0\nloops = 0");
    let service = Service::start("platform-shadow", &config);
    let addr = service.admin.clone();
    let mut client = Client::connect(&service.addr, "demo-key").await;
    client
        .send(json!({"op": "subscribe", "id": "all", "topic": "all"}))
        .await;
    client.until("subscribed", "all").await;

    let uploaded = admin::upload(&addr, "demo", OPERATOR, &admin::component("swap-b")).await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let b = uploaded.body["sha256"].as_str().unwrap().to_string();

    let started = admin::request(
        &addr,
        "PUT",
        "/v1/tenants/demo/shadow",
        Some(OPERATOR),
        Some((
            "application/json",
            json!({"version": b}).to_string().as_bytes(),
        )),
    )
    .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    // Wait (bounded) until the shadow has compared some events.
    let mut report = Value::Null;
    for _ in 0..200 {
        report = admin::get(&addr, "/v1/tenants/demo/shadow", OPERATOR)
            .await
            .body;
        if report["events"].as_u64().unwrap_or(0) > 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = report["events"].as_u64().unwrap();
    assert!(events > 200, "{report}");
    // swap-b sends the "all" subscription about half the events, with its own payload: every
    // compared event differs (missing or different payload).
    assert_eq!(report["differing_events"], events, "{report}");
    assert!(
        report["only_active"].as_u64().unwrap() > events / 4,
        "{report}"
    );
    assert!(
        report["payload_differs"].as_u64().unwrap() > events / 4,
        "{report}"
    );
    assert_eq!(report["only_shadow"], 0);
    assert!(!report["samples"].as_array().unwrap().is_empty());
    // Nothing from the shadow reached the client: every payload is a raw record.
    for _ in 0..50 {
        let event = client.next_event().await;
        assert!(
            event["payload"].get("v").is_none(),
            "shadow output delivered: {event}"
        );
    }
    // A shadowed version can't be deleted.
    let delete = admin::request(
        &addr,
        "DELETE",
        &format!("/v1/tenants/demo/versions/{b}"),
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(delete.status, 409);
    // One shadow at a time, and never the active version.
    let put_shadow = |version: String| {
        let addr = addr.clone();
        async move {
            let body = json!({ "version": version }).to_string();
            let json = Some(("application/json", body.as_bytes()));
            admin::request(
                &addr,
                "PUT",
                "/v1/tenants/demo/shadow",
                Some(OPERATOR),
                json,
            )
            .await
        }
    };
    let second = put_shadow(b.clone()).await;
    assert_eq!(second.status, 409, "{:?}", second.body);
    assert!(second.body["message"]
        .as_str()
        .unwrap()
        .contains("already shadows"));
    let stopped = admin::request(
        &addr,
        "DELETE",
        "/v1/tenants/demo/shadow",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(stopped.status, 200);
    assert!(stopped.body["events"].as_u64().unwrap() >= events);
    assert_eq!(
        admin::get(&addr, "/v1/tenants/demo/shadow", OPERATOR)
            .await
            .status,
        404
    );
    let active = sha_of(&admin::component("standard"));
    let of_active = put_shadow(active).await;
    assert_eq!(of_active.status, 409, "{:?}", of_active.body);
    assert!(of_active.body["message"]
        .as_str()
        .unwrap()
        .contains("is the active version"));

    // Dry run: swap-b over the recent events, against two subscriptions.
    let request = json!({"subscriptions": [
        {"topic": "all"},
        {"topic": "only-a"},
    ], "events": 400});
    let dry = admin::request(
        &addr,
        "POST",
        &format!("/v1/tenants/demo/versions/{b}/dry-run"),
        Some(OPERATOR),
        Some(("application/json", request.to_string().as_bytes())),
    )
    .await;
    assert_eq!(dry.status, 200, "{:?}", dry.body);
    let considered = dry.body["events"].as_u64().unwrap();
    // The latest 400, or all there are if fewer: never more than asked.
    assert!((100..=400).contains(&considered), "{:?}", dry.body);
    let all = &dry.body["subscriptions"][0];
    assert_eq!(all["admitted"], true);
    let delivered = all["delivered"].as_u64().unwrap();
    assert!(delivered > 0 && delivered < considered, "{all}");
    for sample in all["samples"].as_array().unwrap() {
        assert_eq!(sample["payload"]["v"], "b");
        let id = sample["payload"]["id"].as_str().unwrap();
        assert_eq!(
            id.bytes().map(u64::from).sum::<u64>() % 2,
            0,
            "swap-b only sends even ids"
        );
    }
    let refused = &dry.body["subscriptions"][1];
    assert_eq!(refused["admitted"], false);
    assert!(refused["reason"].as_str().unwrap().contains("version b"));
    // A malformed request names the problem.
    let bad = admin::request(
        &addr,
        "POST",
        &format!("/v1/tenants/demo/versions/{b}/dry-run"),
        Some(OPERATOR),
        Some(("application/json", b"{\"subscriptions\": 3}")),
    )
    .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert_eq!(bad.body["error"], "bad_request");
}

#[tokio::test]
async fn a_wasi_component_runs_with_its_output_in_the_log_rate_limited() {
    let extra = format!(
        "[tenants.wasi]\nfilter = \"{}\"\n",
        support::filter("wasi-stdio").display()
    );
    let config = platform_config(&extra).replace(
        "[[api_keys]]\nkey = \"demo-key\"",
        "[[api_keys]]\nkey = \"wasi-key\"\ntenant = \"wasi\"\nsubject = \"w\"\n\n[[api_keys]]\nkey = \"demo-key\"",
    );
    let service = Service::start("platform-wasi", &config);
    let mut client = Client::connect(&service.addr, "wasi-key").await;
    client.subscribe_from_start("all", "all", 4).await;
    client.until("subscribed", "all").await;
    let event = client.next_event().await;
    assert!(event["payload"]["event_id"].is_string(), "{event}");
    service.wait_all_routed("wasi").await;
    let log = std::fs::read_to_string(&service.log).unwrap();
    assert!(
        log.contains("source=\"stdout\"") || log.contains("source=stdout"),
        "no stdout line in the log"
    );
    assert!(
        log.contains("source=\"stderr\"") || log.contains("source=stderr"),
        "no stderr line in the log"
    );
    let dropped = service
        .metric(
            "flightcast_filter_log_lines_dropped_total",
            &[("tenant", "wasi")],
        )
        .await;
    assert!(
        dropped > 0.0,
        "a filter printing per batch must hit the rate limit"
    );
}

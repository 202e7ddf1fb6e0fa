//! `flightcast filter …`, the admin API's command line, run as a user runs it: the real binary
//! against a running service, checking exit codes, what it prints and what it changed.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use support::admin::{self, Contract, DEMO_ADMIN, OPERATOR};
use support::{config, filter, Service};

/// One run of `flightcast filter ARGS` against `admin`, with `token` when given.
fn run(admin: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flightcast"));
    command
        .arg("filter")
        .args(args)
        .env("FLIGHTCAST_ADMIN_URL", format!("http://{admin}"))
        .env_remove("FLIGHTCAST_ADMIN_TOKEN");
    if let Some(token) = token {
        command.env("FLIGHTCAST_ADMIN_TOKEN", token);
    }
    command.output().expect("running flightcast filter")
}

/// Stdout of a run that must succeed.
fn ok(admin: &str, token: &str, args: &[&str]) -> String {
    let output = run(admin, Some(token), args);
    assert!(
        output.status.success(),
        "flightcast filter {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Stderr of a run that must fail with exit code 1.
fn refused(admin: &str, token: Option<&str>, args: &[&str]) -> String {
    let output = run(admin, token, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "flightcast filter {args:?}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

fn json(admin: &str, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(admin, token, &all)).expect("--json prints JSON")
}

fn sha_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn path(name: &str) -> String {
    filter(name).display().to_string()
}

/// The service's own OpenAPI document, to check the answers the CLI prints against.
fn contract(service: &Service) -> Contract {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer = runtime.block_on(admin::request(
        &service.admin,
        "GET",
        "/openapi.json",
        None,
        None,
    ));
    assert_eq!(answer.status, 200);
    Contract::new(answer.body)
}

#[test]
fn a_tenant_team_manages_its_filter_from_the_command_line() {
    let service = Service::start("cli", &config("", &admin::tokens()));
    let addr = service.admin.as_str();
    let contract = contract(&service);
    let (a, b) = (path("swap-a"), path("swap-b"));
    let (sha_a, sha_b) = (sha_of(&filter("swap-a")), sha_of(&filter("swap-b")));

    // Validation: a good component passes with its smoke run, a bad one exits 1 and says why.
    let valid = ok(addr, DEMO_ADMIN, &["validate", "demo", &a]);
    assert!(valid.starts_with(&format!("ok: {sha_a}")), "{valid}");
    assert!(valid.contains("smoke run: 512 events"), "{valid}");
    let wrong_world = run(
        addr,
        Some(DEMO_ADMIN),
        &["validate", "demo", &path("wrong-world")],
    );
    assert_eq!(wrong_world.status.code(), Some(1));
    let text = String::from_utf8(wrong_world.stdout).unwrap();
    assert!(text.starts_with("invalid: "), "{text}");
    assert!(text.contains("contract"), "{text}");
    contract.check(
        "Validation",
        &json(addr, DEMO_ADMIN, &["validate", "demo", &a]),
    );
    let invalid = run(
        addr,
        Some(DEMO_ADMIN),
        &["validate", "demo", &path("wrong-world"), "--json"],
    );
    assert_eq!(invalid.status.code(), Some(1));
    let invalid: Value = serde_json::from_slice(&invalid.stdout).unwrap();
    assert_eq!(invalid["ok"], false);
    contract.check("Validation", &invalid);

    // Upload prints the sha256 alone; with --activate it also activates.
    let uploaded = ok(addr, DEMO_ADMIN, &["upload", "demo", &a, "--activate"]);
    assert_eq!(uploaded.trim(), sha_a);
    let uploaded_b = json(addr, DEMO_ADMIN, &["upload", "demo", &b]);
    assert_eq!(uploaded_b["sha256"], sha_b.as_str());
    contract.check("Uploaded", &uploaded_b);
    // The same bytes again name the same version.
    assert_eq!(ok(addr, DEMO_ADMIN, &["upload", "demo", &b]).trim(), sha_b);

    contract.check_all("Version", &json(addr, DEMO_ADMIN, &["list", "demo"]));
    let versions = ok(addr, DEMO_ADMIN, &["list", "demo"]);
    assert!(versions.starts_with("SHA256"), "{versions}");
    let line = |sha: &str| {
        versions
            .lines()
            .find(|l| l.starts_with(&sha[..12]))
            .unwrap()
    };
    assert!(line(&sha_a).ends_with("ACTIVE"), "{versions}");
    assert!(line(&sha_a).contains("demo-ci"), "{versions}");
    assert!(!line(&sha_b).ends_with("ACTIVE"), "{versions}");

    // Activation by a short prefix, then rollback, each checked through the API's JSON.
    let activated = ok(addr, DEMO_ADMIN, &["activate", "demo", &sha_b[..12]]);
    let expected = format!("demo: active {} (previous {})", &sha_b[..12], &sha_a[..12]);
    assert!(activated.starts_with(&expected), "{activated}");
    let again = ok(addr, DEMO_ADMIN, &["activate", "demo", &sha_b]);
    let expected = format!(
        "demo: {} is already active; nothing changed\n",
        &sha_b[..12]
    );
    assert_eq!(again, expected);
    let tenants = json(addr, DEMO_ADMIN, &["list"]);
    contract.check_all("Tenant", &tenants);
    // A tenant token sees its own tenant only.
    assert_eq!(tenants.as_array().unwrap().len(), 1, "{tenants}");
    assert_eq!(tenants[0]["tenant"], "demo");
    assert_eq!(tenants[0]["active"]["sha256"], sha_b.as_str());
    let rolled = json(addr, DEMO_ADMIN, &["rollback", "demo"]);
    contract.check("Activation", &rolled);
    // The check is strict: a field the document does not name is a violation.
    let mut renamed = rolled.clone();
    renamed["re_admitted"] = renamed["readmitted"].take();
    assert_eq!(contract.violations("Activation", &renamed).len(), 2);
    assert_eq!(rolled["active"], sha_a.as_str());
    assert_eq!(rolled["previous"], sha_b.as_str());
    let all = ok(addr, OPERATOR, &["list"]);
    let demo_row = all.lines().find(|l| l.starts_with("demo ")).unwrap();
    assert!(
        demo_row.contains(&sha_a[..12]) && demo_row.contains("healthy"),
        "{all}"
    );
    assert!(all.lines().any(|l| l.starts_with("partner ")), "{all}");

    // Dry run of the inactive version over recent events: b delivers a subset of everything
    // and refuses `only-a`.
    let dry = ok(
        addr,
        DEMO_ADMIN,
        &[
            "dry-run",
            "demo",
            &sha_b,
            "--subscribe",
            "everything",
            "--subscribe",
            "only-a",
            "--events",
            "200",
        ],
    );
    assert!(
        dry.starts_with(&format!("{} over 200 events", &sha_b[..12])),
        "{dry}"
    );
    assert!(dry.contains("everything: admitted"), "{dry}");
    assert!(dry.contains("only-a: rejected"), "{dry}");
    let dry = json(
        addr,
        DEMO_ADMIN,
        &[
            "dry-run",
            "demo",
            &sha_b,
            "--subscribe",
            "everything",
            "--events",
            "200",
        ],
    );
    contract.check("DryRun", &dry);
    let delivered = dry["subscriptions"][0]["delivered"].as_u64().unwrap();
    assert!(delivered > 0 && delivered < 200, "{dry}");

    // Shadow: start, report, stop.
    let started = ok(addr, DEMO_ADMIN, &["shadow", "demo", &sha_b]);
    assert!(
        started.starts_with(&format!("demo: shadow {}", &sha_b[..12])),
        "{started}"
    );
    let report = json(addr, DEMO_ADMIN, &["shadow", "demo", "--report"]);
    assert_eq!(report["version"], sha_b.as_str());
    contract.check("Shadow", &report);
    let stopped = ok(addr, DEMO_ADMIN, &["shadow", "demo", "--stop"]);
    assert!(
        stopped.starts_with("shadow stopped; final report:\n"),
        "{stopped}"
    );
    let after = refused(addr, Some(DEMO_ADMIN), &["shadow", "demo", "--report"]);
    assert!(after.contains("HTTP 404"), "{after}");

    // Delete: the active version is refused, the inactive one goes.
    let active = refused(addr, Some(DEMO_ADMIN), &["delete", "demo", &sha_a]);
    assert!(active.contains("HTTP 409"), "{active}");
    let deleted = ok(addr, DEMO_ADMIN, &["delete", "demo", &sha_b]);
    assert_eq!(deleted.trim(), format!("deleted {sha_b}"));
    let left = json(addr, DEMO_ADMIN, &["list", "demo"]);
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|v| v["sha256"] != sha_b.as_str()),
        "{left}"
    );

    // The audit log names who did each step.
    contract.check_all("AuditEntry", &json(addr, OPERATOR, &["audit"]));
    let audit = ok(addr, OPERATOR, &["audit", "--tenant", "demo"]);
    for action in [
        "upload",
        "activate",
        "rollback",
        "shadow-start",
        "shadow-stop",
        "delete",
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains("demo-ci") && l.contains(action)),
            "no {action} by demo-ci in:\n{audit}"
        );
    }
}

#[test]
fn refusals_and_mistakes_exit_1_with_a_clear_message_and_change_nothing() {
    let service = Service::start("cli-refusals", &config("", &admin::tokens()));
    let addr = service.admin.as_str();
    let a = path("swap-a");

    let no_token = refused(addr, None, &["upload", "partner", &a]);
    assert!(no_token.contains("HTTP 401"), "{no_token}");
    assert!(no_token.contains("hint: no token was given"), "{no_token}");
    let bad_token = refused(addr, Some("not-a-token"), &["list"]);
    assert!(
        bad_token.contains("HTTP 401") && !bad_token.contains("hint"),
        "{bad_token}"
    );
    let other_tenant = refused(addr, Some(DEMO_ADMIN), &["upload", "partner", &a]);
    assert!(other_tenant.contains("HTTP 403"), "{other_tenant}");
    let partner = json(addr, OPERATOR, &["list", "partner"]);
    let sha_a = sha_of(&filter("swap-a"));
    assert!(
        partner
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["sha256"] != sha_a.as_str()),
        "{partner}"
    );

    // An invalid component is not stored: the upload names the reason.
    let hostile = refused(
        addr,
        Some(OPERATOR),
        &["upload", "demo", &path("forbidden-import")],
    );
    assert!(hostile.contains("acme:net"), "{hostile}");
    // The API's error body is what the document describes, with the failed validation.
    let forbidden = std::fs::read(filter("forbidden-import")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer = runtime.block_on(admin::upload(addr, "demo", OPERATOR, &forbidden));
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body["validation"]["ok"], false);
    contract(&service).check("Error", &answer.body);
    let unknown = refused(
        addr,
        Some(OPERATOR),
        &["activate", "demo", "deadbeefdeadbeef"],
    );
    assert!(unknown.contains("HTTP 404"), "{unknown}");

    let missing = refused(
        addr,
        Some(OPERATOR),
        &["upload", "demo", "/nonexistent/f.wasm"],
    );
    assert!(
        missing.contains("could not read /nonexistent/f.wasm"),
        "{missing}"
    );

    // The admin URL: without a scheme it is http://; https, a dead port and the public
    // listener each get a message that says what is wrong.
    let with_url = |url: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_flightcast"))
            .args(["filter", "list", "--admin", url, "--token", OPERATOR])
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        (output.status.code(), stderr)
    };
    assert_eq!(with_url(addr).0, Some(0));
    let (code, text) = with_url(&format!("https://{addr}"));
    assert_eq!(code, Some(1));
    assert!(text.contains("speak plain HTTP; use http://"), "{text}");
    let (code, text) = with_url("http://127.0.0.1:1");
    assert_eq!(code, Some(1));
    let unreachable = "could not reach the admin API at http://127.0.0.1:1/v1/tenants";
    assert!(text.contains(unreachable), "{text}");
    let (code, text) = with_url(&format!("http://{}", service.addr));
    assert_eq!(code, Some(1));
    assert!(text.contains("is it the admin listener"), "{text}");

    // A dry run or validation that traps is not counted against the live filter.
    let trap = path("hostile-trap");
    let sha = ok(addr, OPERATOR, &["upload", "demo", &trap]);
    let dry = refused(
        addr,
        Some(OPERATOR),
        &["dry-run", "demo", sha.trim(), "--subscribe", "arm"],
    );
    assert!(dry.contains("HTTP 422"), "{dry}");
    // A limit's refusal reads as one line naming the limit, not a wasm backtrace.
    let bomb = ok(addr, OPERATOR, &["upload", "demo", &path("hostile-bomb")]);
    let args = ["dry-run", "demo", bomb.trim(), "--subscribe", "arm"];
    let dry = refused(addr, Some(OPERATOR), &args);
    assert!(dry.contains("growing memory"), "{dry}");
    assert_eq!(dry.lines().count(), 1, "{dry}");
    let demo = json(addr, OPERATOR, &["list"]);
    let demo = demo
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "demo")
        .unwrap();
    assert_eq!(
        (&demo["traps"], &demo["health"]),
        (&json!(0), &json!("healthy")),
        "{demo}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let labels = [("tenant", "demo"), ("outcome", "trap")];
    let traps = runtime.block_on(service.metric("flightcast_filter_calls_total", &labels));
    assert_eq!(traps, 0.0);

    // Every refusal above that asked for a change is in the audit log, with the reason.
    let audit = json(addr, OPERATOR, &["audit"]);
    let refusals: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .collect();
    let has = |actor: &str, action: &str, status: &str| {
        refusals.iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && e["detail"].as_str().unwrap().ends_with(status)
        })
    };
    assert!(has("(unauthenticated)", "upload", "(401)"), "{refusals:#?}");
    assert!(has("demo-ci", "upload", "(403)"), "{refusals:#?}");
    assert!(has("olivia-operator", "upload", "(422)"), "{refusals:#?}");
    assert!(has("olivia-operator", "activate", "(404)"), "{refusals:#?}");

    // A usage error is clap's: exit 2.
    let usage = run(addr, Some(OPERATOR), &["shadow", "demo"]);
    assert_eq!(usage.status.code(), Some(2));
}

//! The text shown for each answer.

use super::super::model::{Activation, AuditEntry, DryRun, Shadow, Tenant, Validation, Version};
use super::super::render::{self, shorten, size, table};

const SHA_A: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001";
const SHA_B: &str = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000002";

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn version_json(sha: &str, active: bool) -> serde_json::Value {
    serde_json::json!({
        "sha256": sha, "tenant": "acme", "size_bytes": 2048,
        "uploaded_at": "2026-12-01T10:00:00Z", "uploader": "alice", "active": active,
    })
}

#[test]
fn table_aligns_columns_and_trims_line_ends() {
    let rows = vec![
        vec!["a".into(), "1".into(), "".into()],
        vec!["long".into(), "22".into()],
    ];
    let text = table(&["NAME", "N", "X"], rows);
    assert_eq!(text, "NAME  N   X\na     1\nlong  22\n");
}

#[test]
fn control_characters_from_the_server_stay_on_one_line() {
    let text = table(&["A"], vec![vec!["x\ny\u{1b}[31m".into()]]);
    assert_eq!(text, "A\nx y [31m\n");
}

#[test]
fn tenants_show_short_shas_and_dashes_for_none() {
    let tenants: Vec<Tenant> = from_json(serde_json::json!([
        {
            "tenant": "acme", "active": version_json(SHA_A, true), "previous": null,
            "health": "healthy", "policy": "closed", "calls": 10, "traps": 1,
            "subscriptions": 3, "connections": 2, "shadow": SHA_B,
        },
        {
            "tenant": "partner", "active": null, "previous": null, "health": "quarantined",
            "policy": "open", "calls": 0, "traps": 0, "subscriptions": 0, "connections": 0,
            "shadow": null,
        },
    ]));
    let expected = "\
TENANT   ACTIVE        HEALTH       POLICY  CALLS  TRAPS  SUBS  CONNS  SHADOW
acme     aaaaaaaaaaaa  healthy      closed  10     1      3     2      bbbbbbbbbbbb
partner  -             quarantined  open    0      0      0     0      -
";
    assert_eq!(render::tenants(&tenants), expected);
}

#[test]
fn versions_mark_the_active_one() {
    let versions: Vec<Version> = from_json(serde_json::json!([
        version_json(SHA_B, false),
        version_json(SHA_A, true)
    ]));
    let expected = "\
SHA256        SIZE     UPLOADED              UPLOADER
bbbbbbbbbbbb  2.0 KiB  2026-12-01T10:00:00Z  alice
aaaaaaaaaaaa  2.0 KiB  2026-12-01T10:00:00Z  alice     ACTIVE
";
    assert_eq!(render::versions(&versions), expected);
}

#[test]
fn validation_says_ok_or_why_not() {
    let ok: Validation = from_json(serde_json::json!({
        "ok": true, "sha256": SHA_A, "size_bytes": 100, "reason": null, "imports": [],
        "world": "flightcast:filter/tenant-filter@1.0.0",
        "smoke": {"events": 100, "deliveries": 40, "admitted": 3, "rejected": 1},
    }));
    let text = render::validation(&ok);
    assert!(
        text.starts_with(&format!("ok: {SHA_A} (100 B)\n")),
        "{text}"
    );
    assert!(text.contains("40 deliveries, 3 subscriptions admitted, 1 rejected"));

    let invalid: Validation = from_json(serde_json::json!({
        "ok": false, "sha256": SHA_A, "size_bytes": 4, "reason": "not a component",
        "imports": [], "world": null, "smoke": null,
    }));
    assert_eq!(render::validation(&invalid), "invalid: not a component\n");
}

#[test]
fn activation_names_the_previous_version_or_none() {
    let a: Activation = from_json(serde_json::json!(
        {"tenant": "acme", "active": SHA_B, "previous": SHA_A, "changed": true, "readmitted": 3, "ended": 1}
    ));
    assert_eq!(
        render::activation(&a),
        "acme: active bbbbbbbbbbbb (previous aaaaaaaaaaaa); 3 subscriptions re-admitted, 1 ended\n"
    );
    let first: Activation = from_json(serde_json::json!(
        {"tenant": "acme", "active": SHA_A, "previous": null, "changed": true, "readmitted": 0, "ended": 0}
    ));
    assert_eq!(
        render::activation(&first),
        "acme: active aaaaaaaaaaaa (previous none); 0 subscriptions re-admitted, 0 ended\n"
    );
    let unchanged: Activation = from_json(serde_json::json!({
        "tenant": "acme", "active": SHA_A, "previous": null, "changed": false,
        "readmitted": 0, "ended": 0,
    }));
    assert_eq!(
        render::activation(&unchanged),
        "acme: aaaaaaaaaaaa is already active; nothing changed\n"
    );
}

#[test]
fn shadow_report_lists_counters_and_samples() {
    let shadow: Shadow = from_json(serde_json::json!({
        "tenant": "acme", "version": SHA_B, "since": "2026-12-01T10:00:00Z",
        "events": 500, "differing_events": 2, "only_active": 1, "only_shadow": 3,
        "payload_differs": 0, "refused_subscriptions": 0, "failures": 0,
        "samples": [{"partition": 1, "offset": 42, "event_id": "e1",
                     "active_to": ["s1 flight:AFR1"], "shadow_to": []}],
    }));
    let text = render::shadow(&shadow);
    assert!(text.starts_with("acme: shadow bbbbbbbbbbbb since 2026-12-01T10:00:00Z\n"));
    assert!(text.contains("  differing events       2\n"), "{text}");
    assert!(text.contains("  PARTITION  OFFSET  EVENT  ACTIVE TO       SHADOW TO\n"));
    assert!(
        text.contains("  1          42      e1     s1 flight:AFR1\n"),
        "{text}"
    );
}

#[test]
fn dry_run_shows_rejections_and_at_most_two_samples() {
    let sample = |offset: i64| {
        serde_json::json!({"partition": 0, "offset": offset, "event_id": format!("e{offset}"),
                           "payload": {"callsign": "AFR1"}})
    };
    let dry_run: DryRun = from_json(serde_json::json!({
        "version": SHA_A, "events": 1000,
        "subscriptions": [
            {"topic": "flight:AFR1", "admitted": true, "reason": null,
             "keys": ["flight:AFR1"], "delivered": 3,
             "samples": [sample(1), sample(2), sample(3)]},
            {"topic": "secret", "admitted": false, "reason": "unknown topic",
             "keys": [], "delivered": 0, "samples": []},
        ],
    }));
    let expected = "\
aaaaaaaaaaaa over 1000 events
flight:AFR1: admitted, keys flight:AFR1, 3 delivered
  0@1 e1: {\"callsign\":\"AFR1\"}
  0@2 e2: {\"callsign\":\"AFR1\"}
secret: rejected (unknown topic)
";
    assert_eq!(render::dry_run(&dry_run), expected);
}

#[test]
fn audit_rows_use_dashes_for_missing_fields() {
    let entries: Vec<AuditEntry> = from_json(serde_json::json!([
        {"at": "2026-12-01T10:00:00Z", "actor": "alice", "role": "operator",
         "tenant": "acme", "action": "upload", "version": SHA_A, "outcome": "ok",
         "detail": null},
    ]));
    let text = render::audit(&entries);
    assert!(text.ends_with("alice  operator  acme    upload  aaaaaaaaaaaa  ok       -\n"));
}

#[test]
fn sizes_use_binary_units() {
    assert_eq!(size(1023), "1023 B");
    assert_eq!(size(1536), "1.5 KiB");
    assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
}

#[test]
fn shorten_cuts_on_characters_not_bytes() {
    assert_eq!(shorten("ééééé", 5), "ééééé");
    assert_eq!(shorten("éééééé", 5), "éééé…");
}

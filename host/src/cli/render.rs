//! The admin API's answers as text for a terminal. Every function returns whole lines.

use std::fmt::Write;

use super::model::{Activation, AuditEntry, DryRun, Shadow, Tenant, Validation, Version};

/// How much of a sha256 tables show: enough to be unique in practice, and a valid prefix
/// (at least 8 hex digits) to pass back to the API.
const SHORT_SHA: usize = 12;

/// Sample payloads shown per dry-run subscription, and the characters shown of each.
const DRY_RUN_SAMPLES: usize = 2;
const PAYLOAD_CHARS: usize = 160;

/// `list`: one row per tenant.
pub fn tenants(tenants: &[Tenant]) -> String {
    let rows = tenants.iter().map(|t| {
        vec![
            t.tenant.clone(),
            t.active
                .as_ref()
                .map_or("-".into(), |v| short_sha(&v.sha256)),
            t.health.clone(),
            t.policy.clone(),
            t.calls.to_string(),
            t.traps.to_string(),
            t.subscriptions.to_string(),
            t.connections.to_string(),
            t.shadow.as_deref().map_or("-".into(), short_sha),
        ]
    });
    let headers = [
        "TENANT", "ACTIVE", "HEALTH", "POLICY", "CALLS", "TRAPS", "SUBS", "CONNS", "SHADOW",
    ];
    table(&headers, rows.collect())
}

/// `list TENANT`: one row per version, newest first as the server sends them.
pub fn versions(versions: &[Version]) -> String {
    let rows = versions.iter().map(|v| {
        vec![
            short_sha(&v.sha256),
            size(v.size_bytes),
            v.uploaded_at.clone(),
            v.uploader.clone(),
            if v.active {
                "ACTIVE".into()
            } else {
                String::new()
            },
        ]
    });
    table(
        &["SHA256", "SIZE", "UPLOADED", "UPLOADER", ""],
        rows.collect(),
    )
}

/// `validate`: `ok` with what was checked, or `invalid` with the reason.
pub fn validation(v: &Validation) -> String {
    if !v.ok {
        let reason = v.reason.as_deref().unwrap_or("no reason given");
        return format!("invalid: {}\n", clean(reason));
    }

    let mut out = format!("ok: {} ({})\n", v.sha256, size(v.size_bytes));
    if let Some(world) = &v.world {
        let _ = writeln!(out, "world: {}", clean(world));
    }
    if let Some(s) = &v.smoke {
        let _ = writeln!(
            out,
            "smoke run: {} events, {} deliveries, {} subscriptions admitted, {} rejected",
            s.events, s.deliveries, s.admitted, s.rejected
        );
    }
    out
}

/// `activate`, `rollback` and `upload --activate`.
pub fn activation(a: &Activation) -> String {
    if !a.changed {
        return format!(
            "{}: {} is already active; nothing changed\n",
            clean(&a.tenant),
            short_sha(&a.active)
        );
    }
    let previous = a.previous.as_deref().map_or("none".into(), short_sha);
    format!(
        "{}: active {} (previous {previous}); {} subscriptions re-admitted, {} ended\n",
        clean(&a.tenant),
        short_sha(&a.active),
        a.readmitted,
        a.ended
    )
}

/// `shadow`: the counters, then the sample events the two versions routed differently.
pub fn shadow(s: &Shadow) -> String {
    let mut out = format!(
        "{}: shadow {} since {}\n",
        clean(&s.tenant),
        short_sha(&s.version),
        clean(&s.since)
    );
    let counters = [
        ("events", s.events),
        ("differing events", s.differing_events),
        ("only active", s.only_active),
        ("only shadow", s.only_shadow),
        ("payload differs", s.payload_differs),
        ("refused subscriptions", s.refused_subscriptions),
        ("failures", s.failures),
    ];
    let rows = counters
        .iter()
        .map(|(name, n)| vec![format!("  {name}"), n.to_string()]);
    out.push_str(&table_body(rows.collect()));

    if !s.samples.is_empty() {
        let rows = s.samples.iter().map(|x| {
            vec![
                format!("  {}", x.partition),
                x.offset.to_string(),
                x.event_id.clone(),
                x.active_to.join(", "),
                x.shadow_to.join(", "),
            ]
        });
        let headers = ["  PARTITION", "OFFSET", "EVENT", "ACTIVE TO", "SHADOW TO"];
        out.push_str(&table(&headers, rows.collect()));
    }
    out
}

/// `dry-run`: per subscription, whether it was admitted, what it received, and a sample or two.
pub fn dry_run(d: &DryRun) -> String {
    let mut out = format!("{} over {} events\n", short_sha(&d.version), d.events);
    for sub in &d.subscriptions {
        if !sub.admitted {
            let reason = sub.reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(out, "{}: rejected ({})", clean(&sub.topic), clean(reason));
            continue;
        }

        let _ = writeln!(
            out,
            "{}: admitted, keys {}, {} delivered",
            clean(&sub.topic),
            clean(&sub.keys.join(" ")),
            sub.delivered
        );
        for sample in sub.samples.iter().take(DRY_RUN_SAMPLES) {
            // A payload is JSON; one that is a string is shown without its quotes.
            let payload = match &sample.payload {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(
                out,
                "  {}@{} {}: {}",
                sample.partition,
                sample.offset,
                clean(&sample.event_id),
                shorten(&clean(&payload), PAYLOAD_CHARS)
            );
        }
    }
    out
}

/// `audit`: one row per entry, oldest first as the server sends them.
pub fn audit(entries: &[AuditEntry]) -> String {
    let rows = entries.iter().map(|e| {
        vec![
            e.at.clone(),
            e.actor.clone(),
            e.role.clone(),
            e.tenant.clone(),
            e.action.clone(),
            e.version.as_deref().map_or("-".into(), short_sha),
            e.outcome.clone(),
            e.detail.clone().unwrap_or_else(|| "-".into()),
        ]
    });
    let headers = [
        "AT", "ACTOR", "ROLE", "TENANT", "ACTION", "VERSION", "OUTCOME", "DETAIL",
    ];
    table(&headers, rows.collect())
}

/// Left-aligned columns two spaces apart, under a header line.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let header = headers.iter().map(|h| h.to_string()).collect();
    let mut all = vec![header];
    all.extend(rows);
    table_body(all)
}

fn table_body(rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| clean(cell)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            let cells = rows.iter().filter_map(|row| row.get(i));
            cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The first characters of a sha256, or the whole of anything shorter.
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(SHORT_SHA).collect()
}

/// A size in bytes, KiB or MiB.
pub fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / KIB),
        _ => format!("{:.1} MiB", bytes as f64 / KIB / KIB),
    }
}

/// At most `max` characters of `text`, ending with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The server's text with control characters (newlines, terminal escapes) replaced by
/// spaces, so that one field stays on one line and cannot drive the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

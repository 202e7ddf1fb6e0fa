//! Tests of the command line: parsing here, rendering in its own file. tests/cli.rs runs the
//! binary against a real service.

mod render;

use clap::error::ErrorKind;
use clap::Parser;

use super::api::dry_run_request;
use super::{Cli, Command, FilterArgs, FilterCommand};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("flightcast").chain(args.iter().copied()))
}

fn filter(args: &[&str]) -> FilterArgs {
    let mut all = vec!["filter"];
    all.extend_from_slice(args);
    match parse(&all).unwrap().command {
        Some(Command::Filter(filter)) => filter,
        other => panic!("expected the filter command, got {other:?}"),
    }
}

#[test]
fn no_subcommand_runs_the_service_with_its_config_flag() {
    let cli = parse(&["--config", "a.toml"]).unwrap();
    assert!(cli.command.is_none());
    assert_eq!(cli.serve.config.unwrap().to_str(), Some("a.toml"));

    let cli = parse(&["-c", "b.toml"]).unwrap();
    assert_eq!(cli.serve.config.unwrap().to_str(), Some("b.toml"));
}

#[test]
fn serve_subcommand_takes_the_config_flag_too() {
    let cli = parse(&["serve", "--config", "a.toml"]).unwrap();
    match cli.command {
        Some(Command::Serve(args)) => assert_eq!(args.config.unwrap().to_str(), Some("a.toml")),
        other => panic!("expected serve, got {other:?}"),
    }
}

#[test]
fn service_flags_before_a_subcommand_are_refused() {
    let error = parse(&["--config", "a.toml", "filter", "list"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn admin_options_have_defaults_and_may_follow_the_subcommand() {
    // The defaults hold only when the environment does not set them.
    if std::env::var_os("FLIGHTCAST_ADMIN_URL").is_none() {
        assert_eq!(filter(&["list"]).admin_url, "http://127.0.0.1:8081");
    }
    let args = filter(&[
        "list",
        "acme",
        "--json",
        "--admin",
        "http://h:1",
        "--token",
        "t",
    ]);
    assert!(args.json);
    assert_eq!(args.admin_url, "http://h:1");
    assert_eq!(args.token.as_deref(), Some("t"));
    assert!(matches!(args.command, FilterCommand::List { tenant: Some(t) } if t == "acme"));
}

#[test]
fn upload_takes_a_file_and_an_activate_switch() {
    let args = filter(&["upload", "acme", "f.wasm", "--activate"]);
    let FilterCommand::Upload { activate, file, .. } = args.command else {
        panic!("expected upload");
    };
    assert!(activate);
    assert_eq!(file.to_str(), Some("f.wasm"));
}

#[test]
fn shadow_needs_exactly_one_of_version_report_stop() {
    assert!(matches!(
        filter(&["shadow", "acme", "0123abcd"]).command,
        FilterCommand::Shadow {
            version: Some(_),
            report: false,
            stop: false,
            ..
        }
    ));
    assert!(matches!(
        filter(&["shadow", "acme", "--report"]).command,
        FilterCommand::Shadow {
            version: None,
            report: true,
            ..
        }
    ));
    assert!(matches!(
        filter(&["shadow", "acme", "--stop"]).command,
        FilterCommand::Shadow { stop: true, .. }
    ));

    let missing = parse(&["filter", "shadow", "acme"]).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::MissingRequiredArgument);
    let both = parse(&["filter", "shadow", "acme", "0123abcd", "--stop"]).unwrap_err();
    assert_eq!(both.kind(), ErrorKind::ArgumentConflict);
    assert_eq!(both.exit_code(), 2);
}

#[test]
fn dry_run_needs_a_subscription() {
    let error = parse(&["filter", "dry-run", "acme", "0123abcd"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
}

#[test]
fn dry_run_claims_apply_to_every_subscription() {
    let args = filter(&[
        "dry-run",
        "acme",
        "0123abcd",
        "--subscribe",
        "flight:AFR1",
        "--subscribe",
        "airport:CDG",
        "--events",
        "50",
        "--claim",
        "airline=AFR",
        "--claim",
        "tier=a=b",
        "--role",
        "ops",
        "--subject",
        "alice",
    ]);
    let FilterCommand::DryRun(dry_run) = args.command else {
        panic!("expected dry-run");
    };
    let body = serde_json::to_value(dry_run_request(&dry_run)).unwrap();
    let claims = serde_json::json!({
        "subject": "alice",
        "roles": ["ops"],
        "attributes": {"airline": "AFR", "tier": "a=b"},
    });
    let expected = serde_json::json!({
        "subscriptions": [
            {"topic": "flight:AFR1", "claims": claims},
            {"topic": "airport:CDG", "claims": claims},
        ],
        "events": 50,
    });
    assert_eq!(body, expected);
}

#[test]
fn dry_run_without_claims_or_events_leaves_them_to_the_server() {
    let args = filter(&["dry-run", "acme", "0123abcd", "--subscribe", "flight:AFR1"]);
    let FilterCommand::DryRun(dry_run) = args.command else {
        panic!("expected dry-run");
    };
    let body = serde_json::to_value(dry_run_request(&dry_run)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"subscriptions": [{"topic": "flight:AFR1"}]})
    );
}

#[test]
fn malformed_claim_is_a_usage_error() {
    for claim in ["airline", "=AFR"] {
        let args = [
            "filter",
            "dry-run",
            "a",
            "0123abcd",
            "--subscribe",
            "t",
            "--claim",
            claim,
        ];
        let error = parse(&args).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation, "{claim}");
    }
}

#[test]
fn command_line_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

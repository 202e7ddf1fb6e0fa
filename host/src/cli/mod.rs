//! The command line: `flightcast [serve]` runs the service, `flightcast filter …` is a client
//! of the admin API (docs/admin-api.md) that manages the tenants' filters.
//!
//! The client is split so that most of it is pure: `api` builds requests, `model` holds the
//! API's shapes, `render` turns answers into text, `error` maps failed answers to messages.
//! `transport` is the only part that touches the network and `commands` ties them together.

mod api;
mod commands;
mod error;
mod model;
mod render;
mod transport;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};

pub use error::CliError;
pub use transport::Client;

/// Live flight events from Kafka to browser WebSockets through per-tenant WebAssembly filters.
///
/// With no subcommand it runs the service. With no configuration the service starts an
/// embedded Kafka broker, replays bundled real flight data into it, and serves a live page at
/// http://127.0.0.1:8080/.
#[derive(Debug, Parser)]
#[command(name = "flightcast", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the service (the default).
    Serve(ServeArgs),
    /// Manages the tenants' filters through the admin API.
    Filter(FilterArgs),
}

/// Flags of the service.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML). `FLIGHTCAST_*` environment variables override it.
    #[arg(long, short, env = "FLIGHTCAST_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `flightcast filter`: options shared by every subcommand, which may also follow it.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Base URL of the admin API (plain HTTP).
    #[arg(
        long = "admin",
        value_name = "URL",
        env = "FLIGHTCAST_ADMIN_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub admin_url: String,

    /// Bearer token, from `[[admin.tokens]]` in the service's configuration.
    #[arg(
        long,
        env = "FLIGHTCAST_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,

    /// Prints the server's JSON answers as they are (pretty-printed) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: FilterCommand,
}

#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Lists the tenants, or with TENANT that tenant's versions (newest first).
    List { tenant: Option<String> },
    /// Validates a component without storing it; exits with 1 when it is invalid.
    Validate {
        tenant: String,
        /// The component (.wasm).
        file: PathBuf,
    },
    /// Uploads a component and prints its sha256.
    Upload {
        tenant: String,
        /// The component (.wasm).
        file: PathBuf,
        /// Then makes it the active version.
        #[arg(long)]
        activate: bool,
    },
    /// Makes a version active on every instance.
    Activate {
        tenant: String,
        /// A sha256, or a unique prefix of at least 8 hex digits.
        version: String,
    },
    /// Activates the version that was active before the current one.
    Rollback { tenant: String },
    /// Deletes a version that is neither active nor shadowed.
    Delete {
        tenant: String,
        /// A sha256, or a unique prefix of at least 8 hex digits.
        version: String,
    },
    /// Starts a shadow (with VERSION), reports on it (--report) or stops it (--stop).
    #[command(
        group(ArgGroup::new("mode").required(true).args(["version", "report", "stop"])),
        override_usage = "flightcast filter shadow <TENANT> <VERSION | --report | --stop>"
    )]
    Shadow {
        tenant: String,
        /// Runs this version beside the active one on live traffic, delivering nothing.
        version: Option<String>,
        /// Shows how the shadow's decisions differ from the active version's so far.
        #[arg(long)]
        report: bool,
        /// Stops the shadow and shows the final report.
        #[arg(long)]
        stop: bool,
    },
    /// Shows what a version would have delivered to some subscriptions over recent events.
    DryRun(DryRunArgs),
    /// Shows the audit log, oldest first.
    Audit {
        /// Only this tenant's entries.
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// `flightcast filter dry-run`. The claims are those of one connection that asks for every
/// subscription given.
#[derive(Debug, Args)]
pub struct DryRunArgs {
    pub tenant: String,
    /// A sha256, or a unique prefix of at least 8 hex digits.
    pub version: String,
    /// A subscription's topic; repeat for several.
    #[arg(long = "subscribe", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// How many recent events to route (the server's default is 1000, its window the most).
    #[arg(long)]
    pub events: Option<u32>,
    /// A claim attribute as key=value; repeat for several (a repeated key keeps its last value).
    #[arg(long = "claim", value_name = "KEY=VALUE", value_parser = parse_claim)]
    pub claims: Vec<(String, String)>,
    /// A role granted to the connection; repeat for several.
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// Who is connected.
    #[arg(long)]
    pub subject: Option<String>,
}

fn parse_claim(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Runs `flightcast filter …`, printing answers to stdout and errors to stderr.
///
/// Exit codes: 0 on success, 1 when the server refused or could not be reached, or when
/// `validate` found the component invalid. (Usage errors exit with 2 before this runs.)
pub fn run(args: FilterArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();

    let result = api::base_url(&args.admin_url).and_then(|base| {
        let client = Client::new(&base, args.token.as_deref());
        commands::execute(&client, &args, &mut stdout, &mut stderr)
    });
    // A closed stdout (`| head`) is not worth reporting.
    let _ = stdout.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let _ = writeln!(stderr, "error: {error}");
            if error.is_unauthorized() && args.token.is_none() {
                let _ = writeln!(
                    stderr,
                    "hint: no token was given; use --token or FLIGHTCAST_ADMIN_TOKEN"
                );
            }
            if error.is_foreign_not_found() {
                let _ = writeln!(
                    stderr,
                    "hint: {} answered without the admin API's error body; is it the admin \
                     listener ([admin] listen, by default 127.0.0.1:8081)?",
                    args.admin_url
                );
            }
            ExitCode::from(1)
        }
    }
}

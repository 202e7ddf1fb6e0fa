//! The `flightcast` binary: parses flags and runs the service.

use std::path::PathBuf;

use clap::Parser;

/// Live flight events from Kafka to browser WebSockets through per-tenant WebAssembly filters.
///
/// With no configuration it starts an embedded Kafka broker, replays bundled real flight data
/// into it, and serves a live page at http://127.0.0.1:8080/.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML). `FLIGHTCAST_*` environment variables override it.
    #[arg(long, short, env = "FLIGHTCAST_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    flightcast::telemetry::init_logging();
    let config = flightcast::config::Config::load(cli.config.as_deref())?;
    flightcast::app::run(config, |addr, admin| {
        // The two lines on stdout: the admin API, then where to point a browser (the line
        // tests wait for).
        println!("flightcast admin API on http://{admin}/");
        println!("flightcast listening on http://{addr}/");
    })
    .await
}

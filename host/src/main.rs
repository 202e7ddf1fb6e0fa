//! The `flightcast` binary: parses flags, then runs the service or the admin client.

use std::process::ExitCode;

use clap::Parser;
use flightcast::cli::{Cli, Command, ServeArgs};

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        // A blocking client: no runtime, no logging set up.
        Some(Command::Filter(args)) => Ok(flightcast::cli::run(args)),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    flightcast::telemetry::init_logging();
    let config = flightcast::config::Config::load(args.config.as_deref())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(flightcast::app::run(config, |addr, admin| {
        // The two lines on stdout: the admin API, then where to point a browser (the line
        // tests wait for).
        println!("flightcast admin API on http://{admin}/");
        println!("flightcast listening on http://{addr}/");
    }))?;
    Ok(ExitCode::SUCCESS)
}

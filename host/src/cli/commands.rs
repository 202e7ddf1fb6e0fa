//! Each `flightcast filter` subcommand: the requests it sends and what it prints.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::api::{self, ApiRequest};
use super::error::{self, CliError};
use super::model::{Activation, AuditEntry, DryRun, Tenant, Validation, Version};
use super::render;
use super::transport::Client;
use super::{FilterArgs, FilterCommand};

/// Runs one subcommand: answers go to `out`, notes beside them to `err`. Returns the exit
/// code for an outcome that is not an error (1 for a component found invalid).
pub fn execute(
    client: &Client,
    args: &FilterArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, CliError> {
    let json = args.json;
    match &args.command {
        FilterCommand::List { tenant: None } => {
            let reply = call(client, api::list_tenants())?;
            show(out, json, &reply, |t: &Vec<Tenant>| render::tenants(t))?;
        }
        FilterCommand::List {
            tenant: Some(tenant),
        } => {
            let reply = call(client, api::list_versions(tenant))?;
            show(out, json, &reply, |v: &Vec<Version>| render::versions(v))?;
        }
        FilterCommand::Validate { tenant, file } => {
            let reply = call(client, api::validate(tenant, read(file)?))?;
            let validation: Validation = reply.decode()?;
            show(out, json, &reply, render::validation)?;
            return Ok(if validation.ok { 0 } else { 1 });
        }
        FilterCommand::Upload {
            tenant,
            file,
            activate,
        } => upload(client, json, tenant, file, *activate, out, err)?,
        FilterCommand::Activate { tenant, version } => {
            let reply = call(client, api::activate(tenant, version))?;
            show(out, json, &reply, render::activation)?;
        }
        FilterCommand::Rollback { tenant } => {
            let reply = call(client, api::rollback(tenant))?;
            show(out, json, &reply, render::activation)?;
        }
        FilterCommand::Delete { tenant, version } => {
            call(client, api::delete(tenant, version))?;
            if !json {
                writeln!(out, "deleted {version}")?;
            }
        }
        FilterCommand::Shadow {
            tenant,
            version,
            stop,
            ..
        } => {
            let request = match (version, stop) {
                (Some(version), _) => api::shadow_start(tenant, version),
                (None, true) => api::shadow_stop(tenant),
                (None, false) => api::shadow_report(tenant),
            };
            let reply = call(client, request)?;
            if *stop && !json {
                writeln!(out, "shadow stopped; final report:")?;
            }
            show(out, json, &reply, render::shadow)?;
        }
        FilterCommand::DryRun(dry_run) => {
            let body = api::dry_run_request(dry_run);
            let request = api::dry_run(&dry_run.tenant, &dry_run.version, &body);
            let reply = call(client, request)?;
            show(out, json, &reply, |d: &DryRun| render::dry_run(d))?;
        }
        FilterCommand::Audit { tenant } => {
            let reply = call(client, api::audit(tenant.as_deref()))?;
            show(out, json, &reply, |a: &Vec<AuditEntry>| render::audit(a))?;
        }
    }
    Ok(0)
}

/// `upload`: prints the new version's sha256 alone on stdout (for scripts to capture), then
/// with `--activate` activates it and notes the activation on stderr.
fn upload(
    client: &Client,
    json: bool,
    tenant: &str,
    file: &Path,
    activate: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let reply = call(client, api::upload(tenant, read(file)?))?;
    let version: Version = reply.decode()?;
    if json {
        out.write_all(reply.pretty()?.as_bytes())?;
    } else {
        writeln!(out, "{}", version.sha256)?;
    }
    // Written now, so that the sha256 is known even when the activation fails.
    out.flush()?;
    if !activate {
        return Ok(());
    }

    let reply = call(client, api::activate(tenant, &version.sha256))?;
    let activation: Activation = reply.decode()?;
    if json {
        out.write_all(reply.pretty()?.as_bytes())?;
    } else {
        err.write_all(render::activation(&activation).as_bytes())?;
    }
    Ok(())
}

/// A 2xx answer to a named operation.
struct Reply {
    /// Such as `GET /v1/tenants`, to say which answer was not as expected.
    operation: String,
    body: Vec<u8>,
}

impl Reply {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, CliError> {
        serde_json::from_slice(&self.body).map_err(|e| self.bad(e))
    }

    /// The answer's JSON, indented, keys in the server's order (transcoded, not parsed into a
    /// map that would sort them).
    fn pretty(&self) -> Result<String, CliError> {
        let mut text = Vec::with_capacity(self.body.len() * 2);
        let mut from = serde_json::Deserializer::from_slice(&self.body);
        let mut to = serde_json::Serializer::pretty(&mut text);
        serde_transcode::transcode(&mut from, &mut to).map_err(|e| self.bad(e))?;
        from.end().map_err(|e| self.bad(e))?;
        text.push(b'\n');
        String::from_utf8(text).map_err(|e| self.bad(e))
    }

    fn bad(&self, reason: impl ToString) -> CliError {
        CliError::BadAnswer {
            operation: self.operation.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Sends `request`; any status but 2xx becomes an error.
fn call(client: &Client, request: ApiRequest) -> Result<Reply, CliError> {
    let operation = request.to_string();
    let answer = client.send(request)?;
    if !(200..300).contains(&answer.status) {
        return Err(error::from_response(answer.status, &answer.body));
    }
    Ok(Reply {
        operation,
        body: answer.body,
    })
}

/// Prints an answer as JSON or as text.
fn show<T: DeserializeOwned>(
    out: &mut dyn Write,
    json: bool,
    reply: &Reply,
    render: impl Fn(&T) -> String,
) -> Result<(), CliError> {
    let text = if json {
        reply.pretty()?
    } else {
        render(&reply.decode()?)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

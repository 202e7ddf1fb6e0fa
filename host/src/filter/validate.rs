//! Validation of a candidate filter before it can be activated: size, component, contract,
//! imports, then a smoke run on sample events within the usual limits.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::engine::{FilterEngine, LoadedFilter};
use super::runtime::{FilterInstance, Purpose};
use super::{Admission, Claims, Event};

/// Events routed per call in the smoke run.
const SMOKE_BATCH: usize = 64;

/// The outcome of a validation, as the admin API reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validation {
    pub ok: bool,
    pub sha256: String,
    pub size_bytes: u64,
    /// Why it failed, in words a tenant team can act on.
    pub reason: Option<String>,
    pub imports: Vec<String>,
    /// The contract world it was checked against, when it got that far.
    pub world: Option<String>,
    pub smoke: Option<Smoke>,
}

/// What the smoke run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Smoke {
    pub events: u64,
    pub deliveries: u64,
    pub admitted: u64,
    pub rejected: u64,
}

/// Validates `bytes` as a filter for `tenant`; on success also returns the loaded filter.
pub fn validate(
    engine: &FilterEngine,
    tenant: &str,
    bytes: &[u8],
    max_bytes: usize,
    samples: &[Event],
) -> (Validation, Option<LoadedFilter>) {
    let mut validation = Validation {
        ok: false,
        sha256: crate::platform::store::sha256_hex(bytes),
        size_bytes: bytes.len() as u64,
        reason: None,
        imports: Vec::new(),
        world: None,
        smoke: None,
    };
    if bytes.len() > max_bytes {
        validation.reason = Some(format!(
            "the component is {} bytes, over the limit of {max_bytes}",
            bytes.len()
        ));
        return (validation, None);
    }
    let filter = match engine.load_bytes(bytes) {
        Ok(filter) => filter,
        Err(error) => {
            validation.reason = Some(error.to_string());
            validation.imports = error.imports().to_vec();
            return (validation, None);
        }
    };
    validation.imports = filter.imports.clone();
    validation.world = Some("flightcast:filter/tenant-filter@1.0.0".into());
    match smoke_run(engine, &filter, tenant, samples) {
        Ok(smoke) => {
            validation.smoke = Some(smoke);
            validation.ok = true;
            (validation, Some(filter))
        }
        Err(reason) => {
            validation.reason = Some(format!("smoke run: {reason}"));
            (validation, None)
        }
    }
}

/// Instantiates the filter, admits a few subscriptions drawn from the samples, and routes
/// every sample; any trap, error or broken contract fails it.
fn smoke_run(
    engine: &FilterEngine,
    filter: &LoadedFilter,
    tenant: &str,
    samples: &[Event],
) -> Result<Smoke, String> {
    let mut instance = FilterInstance::new(engine, filter, Arc::from(tenant), Purpose::Validation)
        .map_err(|e| format!("instantiating: {e}"))?;
    let mut smoke = Smoke::default();
    for (topic, claims) in sample_subscriptions(tenant, samples) {
        match instance.admit(&topic, &claims) {
            Ok(Admission::Accept(_)) => smoke.admitted += 1,
            Ok(Admission::Reject(_)) => smoke.rejected += 1,
            Err(e) => return Err(format!("admit({topic:?}): {e}")),
        }
    }
    for batch in samples.chunks(SMOKE_BATCH) {
        let routed = instance
            .route(batch)
            .map_err(|e| format!("route of {} sample events: {e}", batch.len()))?;
        smoke.events += batch.len() as u64;
        smoke.deliveries += routed.iter().map(|d| d.len() as u64).sum::<u64>();
    }
    Ok(smoke)
}

/// Subscriptions of the standard grammar for the first sample flight, asked for by a viewer
/// of that flight's airline.
fn sample_subscriptions(tenant: &str, samples: &[Event]) -> Vec<(String, Claims)> {
    let flight = samples
        .iter()
        .find(|e| e.callsign.is_some() && e.airline_icao.is_some());
    let Some(flight) = flight else {
        return Vec::new();
    };
    let airline = flight.airline_icao.clone().unwrap_or_default();
    let claims = Claims {
        tenant: tenant.into(),
        subject: "flightcast-validation".into(),
        roles: vec!["viewer".into()],
        attributes: vec![("airline".into(), airline.clone())],
    };
    let mut topics = vec![
        "all".to_string(),
        format!("flight:{}", flight.callsign.as_deref().unwrap_or_default()),
        format!("airline:{airline}"),
    ];
    if let Some(airport) = &flight.origin_iata {
        topics.push(format!("airport:{airport}"));
    }
    topics.push("box:48.0,1.5,49.5,3.5".into());
    topics.into_iter().map(|t| (t, claims.clone())).collect()
}

//! The shared wasmtime engine: configuration, the linker with the host's imports, the epoch
//! clock that bounds calls, and loading (with an on-disk cache of compiled components).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{TenantFilter, TenantFilterPre};
use super::runtime::State;
use crate::config::FilterLimits;

/// How often the epoch advances. A call's deadline is rounded up to whole ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// A component that could not be made into a runnable filter.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading filter {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("filter {path} is not a valid component: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("filter {path} does not fit the contract flightcast:filter@1.0.0: {reason}")]
    Link { path: PathBuf, reason: String },
}

/// A compiled component, linked against the host and ready to instantiate.
#[derive(Clone)]
pub struct LoadedFilter {
    /// Hex sha256 of the component bytes: the version's name.
    pub sha256: String,
    pub(crate) pre: TenantFilterPre<State>,
}

/// The engine shared by every tenant, with its limits.
#[derive(Clone)]
pub struct FilterEngine {
    pub(crate) engine: Engine,
    linker: Arc<Linker<State>>,
    pub(crate) limits: FilterLimits,
}

impl FilterEngine {
    /// Builds the engine and starts the epoch clock thread, which lives as long as the process.
    pub fn new(limits: FilterLimits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Every call gets a deadline in epoch ticks; a filter that loops is interrupted.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;

        let mut linker = Linker::<State>::new(&engine);
        TenantFilter::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        // Components built for wasm32-wasip2 import WASI; they get a context that denies
        // everything (no files, no network, no environment, empty stdin).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;

        let clock = engine.weak();
        std::thread::Builder::new()
            .name("filter-epoch".into())
            .spawn(move || {
                while let Some(engine) = clock.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            limits,
        })
    }

    /// Loads a component from disk, using the compiled cache when one is configured.
    pub fn load(&self, path: &Path) -> Result<LoadedFilter, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let component = self
            .compile(&bytes, &sha256)
            .map_err(|e| LoadError::Compile {
                path: path.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let link_error = |e: wasmtime::Error| LoadError::Link {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = TenantFilterPre::new(instance_pre).map_err(link_error)?;
        Ok(LoadedFilter { sha256, pre })
    }

    /// Compiles `bytes`, or reads the artefact an earlier run left in the cache directory.
    fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let Some(dir) = &self.limits.cache_dir else {
            return Component::new(&self.engine, bytes);
        };
        let cached = dir.join(format!("{sha256}.cwasm"));
        if cached.exists() {
            // SAFETY: the file was written by `serialize` below into a directory this service
            // owns; wasmtime checks that it was made by a compatible engine and fails if not.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => {
                    tracing::info!(sha256, "filter loaded from compiled cache");
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(sha256, %error, "compiled cache unusable, recompiling")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        tracing::info!(sha256, "filter compiled");
        // A cache that cannot be written costs a recompile at the next start, nothing more.
        if let Err(error) = store(dir, &cached, &component) {
            tracing::warn!(sha256, dir = %dir.display(), %error, "compiled filter not cached");
        }
        Ok(component)
    }
}

/// Writes a compiled component into the cache atomically (write, then rename).
fn store(dir: &Path, cached: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = cached.with_extension("tmp");
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, cached)?;
    Ok(())
}

//! The shared wasmtime engine: configuration, the linker with the host's imports, the epoch
//! clock that bounds calls, and loading (with an on-disk cache of compiled components).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{TenantFilter, TenantFilterPre};
use super::runtime::State;
use crate::config::FilterLimits;
use crate::telemetry::metrics;

/// How often the epoch advances. A call's deadline is rounded up to whole ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// A component that could not be made into a runnable filter. Each names the reason in
/// words a tenant team can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a WebAssembly component: {0}")]
    NotComponent(String),
    #[error("the component does not compile: {0}")]
    Compile(String),
    #[error("the component imports {import}, which the host does not provide (allowed: flightcast:filter/host and types at 1.x, and wasi:* interfaces, which are denied everything)")]
    ForbiddenImport {
        import: String,
        /// Everything the component imports.
        imports: Vec<String>,
    },
    #[error("the component does not fit the contract flightcast:filter@1.0.0: {reason}")]
    Link {
        reason: String,
        /// Everything the component imports.
        imports: Vec<String>,
    },
}

impl LoadError {
    /// What the component imports, when it got far enough to tell.
    pub fn imports(&self) -> &[String] {
        match self {
            LoadError::ForbiddenImport { imports, .. } | LoadError::Link { imports, .. } => imports,
            _ => &[],
        }
    }
}

/// A compiled component, linked against the host and ready to instantiate.
#[derive(Clone)]
pub struct LoadedFilter {
    /// Hex sha256 of the component bytes: the version's name.
    pub sha256: String,
    pub(crate) pre: TenantFilterPre<State>,
    /// What the component imports, by name.
    pub imports: Vec<String>,
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
        self.load_bytes(&bytes)
    }

    /// Checks, compiles (or takes from the cache) and links a component.
    pub fn load_bytes(&self, bytes: &[u8]) -> Result<LoadedFilter, LoadError> {
        check_preamble(bytes)?;
        let sha256 = crate::platform::store::sha256_hex(bytes);
        let component = self
            .compile(bytes, &sha256)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let imports = self.imports(&component);
        if let Some(forbidden) = imports.iter().find(|name| !import_allowed(name)) {
            if forbidden.starts_with("flightcast:filter/") {
                return Err(LoadError::Link {
                    reason: format!(
                        "it imports {forbidden}, another version of the contract; this host provides 1.x"
                    ),
                    imports,
                });
            }
            return Err(LoadError::ForbiddenImport {
                import: forbidden.clone(),
                imports,
            });
        }
        let link_error = |e: wasmtime::Error| LoadError::Link {
            reason: format!("{e:#}"),
            imports: imports.clone(),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = TenantFilterPre::new(instance_pre).map_err(link_error)?;
        Ok(LoadedFilter {
            sha256,
            pre,
            imports,
        })
    }

    /// The names of everything `component` imports.
    fn imports(&self, component: &Component) -> Vec<String> {
        component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Compiles `bytes`, or reads the artefact an earlier run left in the cache directory.
    fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let Some(dir) = &self.limits.cache_dir else {
            metrics()
                .filter_compiles
                .with_label_values(&["compiled"])
                .inc();
            return Component::new(&self.engine, bytes);
        };
        let cached = dir.join(format!("{sha256}.cwasm"));
        if cached.exists() {
            // SAFETY: the file was written by `serialize` below into a directory this service
            // owns; wasmtime checks that it was made by a compatible engine and fails if not.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => {
                    tracing::info!(sha256, "filter loaded from compiled cache");
                    metrics()
                        .filter_compiles
                        .with_label_values(&["cache"])
                        .inc();
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(sha256, %error, "compiled cache unusable, recompiling")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        tracing::info!(sha256, "filter compiled");
        metrics()
            .filter_compiles
            .with_label_values(&["compiled"])
            .inc();
        // A cache that cannot be written costs a recompile at the next start, nothing more.
        if let Err(error) = store(dir, &cached, &component) {
            tracing::warn!(sha256, dir = %dir.display(), %error, "compiled filter not cached");
        }
        Ok(component)
    }
}

/// Every component starts with the wasm magic and the component layer; a core module has
/// layer 0 and is refused with a hint instead of a compiler error.
fn check_preamble(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    match bytes.get(..8) {
        Some(head) if head.starts_with(MAGIC) && head[6..8] == [1, 0] => Ok(()),
        Some(head) if head.starts_with(MAGIC) => Err(LoadError::NotComponent(
            "it is a core WebAssembly module; build a component (wasm32-wasip2, or wasm-tools component new)".into(),
        )),
        _ => Err(LoadError::NotComponent(format!(
            "it does not start with the WebAssembly magic number ({} bytes)",
            bytes.len()
        ))),
    }
}

/// Whether the host provides an import of this name: the contract's own interfaces (any 1.x)
/// and WASI, which is linked to a context that denies everything.
fn import_allowed(name: &str) -> bool {
    let contract = ["flightcast:filter/host@1.", "flightcast:filter/types@1."];
    contract.iter().any(|prefix| name.starts_with(prefix)) || name.starts_with("wasi:")
}

/// Writes a compiled component into the cache atomically (write, then rename).
fn store(dir: &Path, cached: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = cached.with_extension("tmp");
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, cached)?;
    Ok(())
}

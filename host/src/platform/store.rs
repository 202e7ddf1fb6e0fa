//! The version store on disk: components named by their sha256, per-tenant version metadata,
//! each tenant's activation record, and the audit log.
//!
//! ```text
//! <store_dir>/components/<sha256>.wasm     immutable component bytes
//! <store_dir>/versions/<tenant>/<sha256>.json   who uploaded it for that tenant, and when
//! <store_dir>/tenants/<tenant>.json        the active version and the ones before it
//! <store_dir>/audit.jsonl                  one line per change
//! ```
//!
//! Every file is written whole and renamed into place, so a crash leaves the old file or the
//! new one, never half of either.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One uploaded version of a tenant's filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    pub sha256: String,
    pub tenant: String,
    pub size_bytes: u64,
    /// RFC 3339, UTC.
    pub uploaded_at: String,
    pub uploader: String,
}

/// What is active for a tenant, as the control topic last said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Names this change, so the instance that made it can tell when it has been applied.
    pub id: String,
    pub active: Option<String>,
    /// Versions active before, oldest first: rollback activates the last one.
    pub history: Vec<String>,
    pub actor: String,
    pub action: String,
    pub at: String,
    /// The version the configuration file named when this record was made: a configuration
    /// that names another one activates it at start-up.
    #[serde(default)]
    pub config_version: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub role: String,
    pub tenant: String,
    pub action: String,
    pub version: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no version {0} for this tenant")]
    NotFound(String),
    #[error("version prefix {0} matches more than one version")]
    Ambiguous(String),
    #[error(
        "a version is named by its sha256 (64 hex digits) or a prefix of at least 8, not {0:?}"
    )]
    BadName(String),
    #[error("version store: {0}")]
    Io(#[from] std::io::Error),
    #[error("version store: corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// The store, shared by the admin API and the control-topic reader.
pub struct VersionStore {
    dir: PathBuf,
    audit: Mutex<()>,
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl VersionStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        for sub in ["components", "versions", "tenants"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            audit: Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the bytes of `sha256` live (whether or not they are there).
    pub fn component_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("components").join(format!("{sha256}.wasm"))
    }

    pub fn has_component(&self, sha256: &str) -> bool {
        self.component_path(sha256).is_file()
    }

    pub fn component(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        std::fs::read(self.component_path(sha256)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(sha256.into()),
            _ => StoreError::Io(e),
        })
    }

    /// Stores `bytes` (if new) and records `meta` for its tenant. Storing the same version
    /// twice keeps the first metadata, which is returned.
    pub fn put(&self, bytes: &[u8], meta: VersionMeta) -> Result<VersionMeta, StoreError> {
        debug_assert_eq!(sha256_hex(bytes), meta.sha256);
        if !self.has_component(&meta.sha256) {
            write_atomic(&self.component_path(&meta.sha256), bytes)?;
        }
        if let Some(existing) = self.get(&meta.tenant, &meta.sha256)? {
            return Ok(existing);
        }
        let path = self.meta_path(&meta.tenant, &meta.sha256);
        std::fs::create_dir_all(path.parent().expect("meta path has a parent"))?;
        write_atomic(
            &path,
            &serde_json::to_vec_pretty(&meta).expect("meta serializes"),
        )?;
        Ok(meta)
    }

    pub fn get(&self, tenant: &str, sha256: &str) -> Result<Option<VersionMeta>, StoreError> {
        read_json(&self.meta_path(tenant, sha256))
    }

    /// The version of `tenant` whose name starts with `name` (at least 8 hex digits).
    pub fn resolve(&self, tenant: &str, name: &str) -> Result<VersionMeta, StoreError> {
        let name = name.to_ascii_lowercase();
        if name.len() < 8 || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadName(name));
        }
        let mut found = self
            .list(tenant)?
            .into_iter()
            .filter(|v| v.sha256.starts_with(&name));
        match (found.next(), found.next()) {
            (Some(v), None) => Ok(v),
            (Some(_), Some(_)) => Err(StoreError::Ambiguous(name)),
            (None, _) => Err(StoreError::NotFound(name)),
        }
    }

    /// Every version of `tenant`, newest upload first.
    pub fn list(&self, tenant: &str) -> Result<Vec<VersionMeta>, StoreError> {
        let dir = self.dir.join("versions").join(tenant);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                versions.extend(read_json::<VersionMeta>(&path)?);
            }
        }
        versions.sort_by(|a, b| b.uploaded_at.cmp(&a.uploaded_at));
        Ok(versions)
    }

    /// Forgets `sha256` for `tenant`; the bytes go too once no tenant refers to them.
    pub fn delete(&self, tenant: &str, sha256: &str) -> Result<(), StoreError> {
        remove_if_present(&self.meta_path(tenant, sha256))?;
        let versions = self.dir.join("versions");
        for entry in std::fs::read_dir(&versions)? {
            if entry?.path().join(format!("{sha256}.json")).exists() {
                return Ok(());
            }
        }
        remove_if_present(&self.component_path(sha256))
    }

    pub fn tenant_record(&self, tenant: &str) -> Result<Option<TenantRecord>, StoreError> {
        read_json(&self.tenant_path(tenant))
    }

    pub fn set_tenant_record(&self, tenant: &str, record: &TenantRecord) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(record).expect("record serializes");
        write_atomic(&self.tenant_path(tenant), &json)
    }

    /// Appends an entry to the audit log, and to the service log.
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        tracing::info!(
            actor = %entry.actor, role = %entry.role, tenant = %entry.tenant,
            action = %entry.action, version = ?entry.version, outcome = %entry.outcome,
            detail = ?entry.detail, "audit"
        );
        let mut line = serde_json::to_vec(entry).expect("audit entry serializes");
        line.push(b'\n');
        let _guard = self.audit.lock().expect("audit lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("audit.jsonl"))?;
        file.write_all(&line)?;
        file.sync_data()?;
        Ok(())
    }

    /// The audit log, oldest first, optionally only one tenant's entries.
    pub fn audit_entries(&self, tenant: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let path = self.dir.join("audit.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut entries = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry: AuditEntry =
                serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if tenant.is_none_or(|t| t == entry.tenant) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    fn meta_path(&self, tenant: &str, sha256: &str) -> PathBuf {
        self.dir
            .join("versions")
            .join(tenant)
            .join(format!("{sha256}.json"))
    }

    fn tenant_path(&self, tenant: &str) -> PathBuf {
        self.dir.join("tenants").join(format!("{tenant}.json"))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tenant: &str, bytes: &[u8], at: &str) -> VersionMeta {
        VersionMeta {
            sha256: sha256_hex(bytes),
            tenant: tenant.into(),
            size_bytes: bytes.len() as u64,
            uploaded_at: at.into(),
            uploader: "tester".into(),
        }
    }

    #[test]
    fn versions_are_content_addressed_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::open(dir.path()).unwrap();
        let first = store
            .put(b"one", meta("a", b"one", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .put(b"two", meta("a", b"two", "2026-01-02T00:00:00Z"))
            .unwrap();
        // The same bytes again keep their first upload's metadata.
        let again = store
            .put(b"one", meta("a", b"one", "2026-01-03T00:00:00Z"))
            .unwrap();
        assert_eq!(again, first);
        let listed: Vec<_> = store
            .list("a")
            .unwrap()
            .into_iter()
            .map(|v| v.size_bytes)
            .collect();
        assert_eq!(listed, vec![3, 3]);
        assert_eq!(store.list("a").unwrap()[0].sha256, sha256_hex(b"two"));
        assert_eq!(store.component(&first.sha256).unwrap(), b"one");
        assert!(store.list("b").unwrap().is_empty());
    }

    #[test]
    fn versions_resolve_by_unique_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::open(dir.path()).unwrap();
        let v = store.put(b"one", meta("a", b"one", "t")).unwrap();
        assert_eq!(store.resolve("a", &v.sha256[..8]).unwrap(), v);
        assert_eq!(store.resolve("a", &v.sha256.to_uppercase()).unwrap(), v);
        assert!(matches!(
            store.resolve("a", "abc"),
            Err(StoreError::BadName(_))
        ));
        assert!(matches!(
            store.resolve("a", "../../etc/passwd"),
            Err(StoreError::BadName(_))
        ));
        assert!(matches!(
            store.resolve("b", &v.sha256),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn bytes_stay_while_another_tenant_uses_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::open(dir.path()).unwrap();
        let v = store.put(b"shared", meta("a", b"shared", "t")).unwrap();
        store.put(b"shared", meta("b", b"shared", "t")).unwrap();
        store.delete("a", &v.sha256).unwrap();
        assert!(store.has_component(&v.sha256));
        assert!(store.get("a", &v.sha256).unwrap().is_none());
        store.delete("b", &v.sha256).unwrap();
        assert!(!store.has_component(&v.sha256));
    }

    #[test]
    fn audit_entries_filter_by_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::open(dir.path()).unwrap();
        for tenant in ["a", "b", "a"] {
            let entry = AuditEntry {
                at: now_rfc3339(),
                actor: "alice".into(),
                role: "operator".into(),
                tenant: tenant.into(),
                action: "activate".into(),
                version: None,
                outcome: "ok".into(),
                detail: None,
            };
            store.audit(&entry).unwrap();
        }
        assert_eq!(store.audit_entries(None).unwrap().len(), 3);
        assert_eq!(store.audit_entries(Some("a")).unwrap().len(), 2);
    }
}

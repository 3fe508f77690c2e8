//! Templates loaded from TOML files; each content version gets an id derived from its bytes.

use crate::clock::Clock;
use crate::records::TemplateVersionRecord;
use crate::store::Store;
use anyhow::{bail, Context};
use domain::ids::{encode_base32_128, TemplateId, TemplateVersionId};
use domain::template::Template;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A parsed template together with the version id of its content.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateVersion {
    pub version_id: TemplateVersionId,
    pub template: Template,
    pub content: String,
    pub source: Option<PathBuf>,
}

/// The version id of a template's content: `itmplv_` + base32 of the first 128 bits of its SHA-256.
pub fn version_id_of(content: &str) -> TemplateVersionId {
    let digest = Sha256::digest(content.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let suffix = encode_base32_128(u128::from_be_bytes(first));
    TemplateVersionId::parse(&format!("{}{}", TemplateVersionId::PREFIX, suffix))
        .unwrap_or_else(|_| unreachable!("base32 suffixes are valid id suffixes"))
}

/// Parses and validates one template's TOML.
pub fn parse_template(content: &str) -> anyhow::Result<TemplateVersion> {
    let template: Template =
        toml::from_str(content).context("the template is not valid TOML for a template")?;
    template
        .validate()
        .context("the template's rules are not met")?;
    Ok(TemplateVersion {
        version_id: version_id_of(content),
        template,
        content: content.to_owned(),
        source: None,
    })
}

/// Reads and validates one template file.
pub fn load_template_file(path: &Path) -> anyhow::Result<TemplateVersion> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut version = parse_template(&content).with_context(|| format!("in {}", path.display()))?;
    version.source = Some(path.to_owned());
    Ok(version)
}

/// The templates a server serves: the current version of each template, plus every version any
/// inquiry pinned (read back from the store when the file has changed since).
#[derive(Debug, Clone, Default)]
pub struct TemplateRegistry {
    current: Arc<RwLock<BTreeMap<TemplateId, Arc<TemplateVersion>>>>,
    versions: Arc<RwLock<BTreeMap<TemplateVersionId, Arc<TemplateVersion>>>>,
}

impl TemplateRegistry {
    /// Loads every `*.toml` in `dir`. Any invalid file or duplicate id is an error that names it.
    pub fn load_dir(dir: &Path) -> anyhow::Result<TemplateRegistry> {
        let registry = TemplateRegistry::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading the templates folder {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let version = load_template_file(&path)?;
            if registry.current(&version.template.id).is_some() {
                bail!(
                    "template id {} is defined twice (again in {})",
                    version.template.id,
                    path.display()
                );
            }
            registry.insert(version);
        }
        Ok(registry)
    }

    /// Adds (or replaces) the current version of a template.
    pub fn insert(&self, version: TemplateVersion) {
        let version = Arc::new(version);
        write(&self.versions).insert(version.version_id.clone(), version.clone());
        write(&self.current).insert(version.template.id.clone(), version);
    }

    /// The current version of a template.
    pub fn current(&self, id: &TemplateId) -> Option<Arc<TemplateVersion>> {
        read(&self.current).get(id).cloned()
    }

    /// Every current template, by id.
    pub fn all(&self) -> Vec<Arc<TemplateVersion>> {
        read(&self.current).values().cloned().collect()
    }

    /// Saves every current version to the store, so inquiries can pin them.
    pub async fn persist(&self, store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<()> {
        for version in self.all() {
            store
                .save_template_version(&TemplateVersionRecord {
                    id: version.version_id.clone(),
                    template_id: version.template.id.clone(),
                    content: version.content.clone(),
                    created_at: clock.now(),
                })
                .await
                .context("saving a template version")?;
        }
        Ok(())
    }

    /// A pinned version, from memory or else from the store.
    pub async fn version(
        &self,
        store: &dyn Store,
        id: &TemplateVersionId,
    ) -> anyhow::Result<Arc<TemplateVersion>> {
        if let Some(version) = read(&self.versions).get(id).cloned() {
            return Ok(version);
        }
        let record = store
            .template_version(id)
            .await
            .context("reading a template version")?
            .with_context(|| format!("template version {id} is not stored"))?;
        let version = Arc::new(parse_template(&record.content)?);
        write(&self.versions).insert(id.clone(), version.clone());
        Ok(version)
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_follow_content() {
        let a = version_id_of("id = \"itmpl_a\"");
        assert_eq!(a, version_id_of("id = \"itmpl_a\""));
        assert_ne!(a, version_id_of("id = \"itmpl_a\" "));
        assert!(a.as_str().starts_with("itmplv_"));
    }

    #[test]
    fn shipped_templates_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        let registry = TemplateRegistry::load_dir(&dir).unwrap();
        assert!(registry
            .current(&TemplateId::parse("itmpl_basic_kyc").unwrap())
            .is_some());
    }

    #[test]
    fn invalid_templates_are_refused_with_a_reason() {
        let error = parse_template("id = \"itmpl_x\"\nname = \"x\"\nexpires-after-hours = 0\n")
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("expires-after-hours"),
            "{error:#}"
        );
        let error = parse_template("id = \"inq_x\"\nname = \"x\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("template"), "{error:#}");
    }
}

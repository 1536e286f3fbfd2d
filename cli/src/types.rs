//! Artifact types of the local data directory (issue 28): `hitl types add DIR` stores a type
//! folder's four files under `<data dir>/types/<name>/<version>/`, and records the version
//! new workflows of that name start with in `<data dir>/types/<name>/current`. Every process
//! opening the data directory reads all stored versions, so a workflow is judged by the
//! exact version it started with whatever was added since.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hitl_domain::types::{valid_name, ArtifactType, TypeRegistry, FILES};

/// The folder types are stored in.
pub fn types_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("types")
}

/// The four files of a type folder, read (a missing file is named).
fn read_files(dir: &Path) -> Result<[String; 4]> {
    let mut texts: [String; 4] = Default::default();
    for (text, file) in texts.iter_mut().zip(FILES) {
        let path = dir.join(file);
        *text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (a type folder holds {})",
                path.display(),
                FILES.join(", ")
            )
        })?;
    }
    Ok(texts)
}

/// The type a folder defines; its name is the folder's name.
pub fn read_folder(dir: &Path) -> Result<ArtifactType> {
    let name = dir
        .canonicalize()
        .with_context(|| format!("reading type folder {}", dir.display()))?
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .unwrap_or_default();
    if !valid_name(&name) {
        bail!("type folder {}: its name {name:?} is the type's name and must be 1..=64 characters of a-z, 0-9 and '-'", dir.display());
    }
    let texts = read_files(dir)?;
    Ok(ArtifactType::from_files(
        &name,
        texts.each_ref().map(String::as_str),
    )?)
}

/// The built-in types and every version stored in `data_dir` (none without one); each
/// name's current version is the one last added.
pub fn load(data_dir: Option<&Path>) -> Result<TypeRegistry> {
    let mut registry = TypeRegistry::builtin();
    let Some(root) = data_dir.map(types_dir) else {
        return Ok(registry);
    };
    let Ok(names) = std::fs::read_dir(&root) else {
        return Ok(registry);
    };
    let mut names: Vec<PathBuf> = names.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for dir in names.into_iter().filter(|p| p.is_dir()) {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let current = std::fs::read_to_string(dir.join("current")).unwrap_or_default();
        let mut versions: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        versions.sort();
        for version_dir in versions {
            let texts = read_files(&version_dir)?;
            let t = ArtifactType::from_files(&name, texts.each_ref().map(String::as_str))
                .with_context(|| format!("stored type {}", version_dir.display()))?;
            let stored_as = version_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if t.version != stored_as {
                bail!(
                    "stored type {} was changed after it was added (its files hash to {}); add the folder again instead of editing the data directory",
                    version_dir.display(),
                    t.version
                );
            }
            if t.version == current.trim() {
                registry.add(t);
            } else {
                registry.keep(t);
            }
        }
    }
    Ok(registry)
}

/// Stores the type of folder `dir` in `data_dir` and makes it its name's current version.
/// Adding the same files again changes nothing; other files add another version.
pub fn add(data_dir: &Path, dir: &Path) -> Result<ArtifactType> {
    let artifact_type = read_folder(dir)?;
    let texts = read_files(dir)?;
    let name_dir = types_dir(data_dir).join(&artifact_type.name);
    let target = name_dir.join(&artifact_type.version);
    hitl_api::files::create_owner_only_dir(&target)
        .with_context(|| format!("creating {}", target.display()))?;
    for (text, file) in texts.iter().zip(FILES) {
        std::fs::write(target.join(file), text)
            .with_context(|| format!("writing {}", target.join(file).display()))?;
    }
    std::fs::write(name_dir.join("current"), &artifact_type.version)
        .with_context(|| format!("writing {}", name_dir.join("current").display()))?;
    Ok(artifact_type)
}

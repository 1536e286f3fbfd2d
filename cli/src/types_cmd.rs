//! `hitl types list | show NAME | validate DIR | add DIR`: the artifact types this data
//! directory knows (built-in and added), and adding a type folder (docs/TYPES.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use hitl_cli::format::table;
use hitl_cli::types as stored;
use hitl_domain::types::ArtifactType;

/// `hitl types`.
#[derive(Debug, Args)]
pub struct TypesArgs {
    #[command(subcommand)]
    pub command: TypesCommand,
}

/// What `hitl types` does.
#[derive(Debug, Subcommand)]
pub enum TypesCommand {
    /// List every type with its current version and how many versions are kept.
    List,
    /// Show one type's files (its current version, or --version).
    Show {
        /// The type's name.
        name: String,
        /// An exact version (content hash).
        #[arg(long)]
        version: Option<String>,
    },
    /// Check a type folder (artifact.schema.json, subject.schema.json, instructions.md,
    /// hints.json) without adding it; prints its name and version.
    Validate {
        /// The folder; its name is the type's name.
        dir: PathBuf,
    },
    /// Add a type folder to the data directory: its version becomes the one new workflows of
    /// that name start with; workflows in flight keep theirs.
    Add {
        /// The folder; its name is the type's name.
        dir: PathBuf,
    },
}

fn described(t: &ArtifactType) -> serde_json::Value {
    json!({
        "name": t.name,
        "version": t.version,
        "artifact_schema": t.artifact_schema,
        "subject_schema": t.subject_schema,
        "instructions": t.instructions,
        "hints": t.hints,
    })
}

/// Runs `hitl types …` over `data_dir`.
pub fn run(args: TypesArgs, data_dir: &Path, as_json: bool) -> Result<ExitCode> {
    match args.command {
        TypesCommand::List => {
            let registry = stored::load(Some(data_dir))?;
            let mut rows = Vec::new();
            for name in registry.names() {
                let current = registry.current(&name)?;
                let builtin = hitl_domain::types::builtin(&name)
                    .is_some_and(|b| b.version == current.version);
                rows.push(json!({
                    "name": name,
                    "version": current.version,
                    "versions": registry.versions(&name).len(),
                    "source": if builtin { "built-in" } else { "data directory" },
                }));
            }
            if as_json {
                println!("{}", json!(rows));
            } else {
                let body: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        ["name", "version", "versions", "source"]
                            .iter()
                            .map(|k| match &r[*k] {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .collect();
                println!(
                    "{}",
                    table(&["NAME", "VERSION", "VERSIONS", "SOURCE"], &body)
                );
            }
        }
        TypesCommand::Show { name, version } => {
            let registry = stored::load(Some(data_dir))?;
            let t = match version {
                Some(version) => registry.get(&hitl_domain::types::TypeRef { name, version }),
                None => registry.current(&name),
            }
            .map_err(|e| anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&described(&t))?);
        }
        TypesCommand::Validate { dir } => {
            let t = stored::read_folder(&dir)?;
            if as_json {
                println!(
                    "{}",
                    json!({"name": t.name, "version": t.version, "valid": true})
                );
            } else {
                println!("type {} is valid (version {})", t.name, t.version);
            }
        }
        TypesCommand::Add { dir } => {
            let t = stored::add(data_dir, &dir)?;
            if as_json {
                println!("{}", json!({"name": t.name, "version": t.version}));
            } else {
                println!(
                    "added type {} version {}: new workflows of this type start with it",
                    t.name, t.version
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

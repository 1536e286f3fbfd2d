//! Artifact types read from an S3 prefix at cold start (issue 28): a deployment adds or changes
//! a type by uploading its four files, without rebuilding the functions. Read once per
//! execution environment and kept for its life, beside the types built into the binary.
//!
//! Layout under the prefix (`HITL_TYPES_S3_URI=s3://bucket/prefix/`):
//! - `<name>/artifact.schema.json`, `subject.schema.json`, `instructions.md`, `hints.json`:
//!   the current version of type `<name>`;
//! - `<name>/versions/<label>/…` (the same four files): older versions kept, so workflows
//!   started under them are judged by them to the end (docs/TYPES.md, "Versions").

use std::collections::BTreeMap;

use hitl_domain::error::HandlerError;
use hitl_domain::types::{valid_name, ArtifactType, TypeRegistry};

/// The four files of a type folder, in the order [`ArtifactType::from_files`] takes them.
const FILES: [&str; 4] = [
    "artifact.schema.json",
    "subject.schema.json",
    "instructions.md",
    "hints.json",
];
/// A type file larger than this is refused (a schema is a few kilobytes).
const MAX_FILE_BYTES: usize = 256 * 1024;
/// At most this many objects under the prefix (a listing of a wrong, busy prefix stops here).
const MAX_OBJECTS: usize = 2_000;

/// Where the types are: a bucket and a key prefix (empty, or ending in `/`).
#[derive(Debug, Clone)]
pub struct S3Types {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// One folder's files as read: (type name, version label or `None` for current) -> file -> text.
type Folders = BTreeMap<(String, Option<String>), BTreeMap<String, String>>;

impl S3Types {
    /// Reads `uri` (`s3://bucket/prefix/` or `s3://bucket`); a malformed one is a
    /// configuration error naming the variable's value.
    pub fn new(s3: aws_sdk_s3::Client, uri: &str) -> Result<Self, HandlerError> {
        let bad = || {
            HandlerError::Config(format!(
                "{}={uri:?} is not an S3 location like s3://bucket/prefix/",
                crate::config::TYPES_S3_URI
            ))
        };
        let rest = uri.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.contains(|c: char| c.is_whitespace()) {
            return Err(bad());
        }
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        Ok(Self {
            s3,
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// `s3://bucket/prefix/`.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Every type under the prefix, checked like `hitl types add` checks a folder: current
    /// versions first-class, `versions/<label>/` kept. A folder missing a file, a file that
    /// does not parse, a schema that is not JSON Schema or a name taken by a built-in type
    /// fails the whole load, naming the object: a function must not start with a partial set.
    pub async fn load(&self) -> Result<Vec<(ArtifactType, bool)>, HandlerError> {
        let mut folders: Folders = BTreeMap::new();
        let mut token: Option<String> = None;
        let mut seen = 0usize;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.failed("listing", e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                seen += 1;
                if seen > MAX_OBJECTS {
                    return Err(HandlerError::Config(format!(
                        "{} holds more than {MAX_OBJECTS} objects: is {} the types prefix?",
                        self.location(),
                        crate::config::TYPES_S3_URI
                    )));
                }
                let Some((folder, file)) = self.place(key)? else {
                    continue;
                };
                let text = self.read(key).await?;
                folders.entry(folder).or_default().insert(file, text);
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let mut out = Vec::new();
        for ((name, label), files) in folders {
            let folder = match &label {
                None => format!("{}{name}/", self.location()),
                Some(l) => format!("{}{name}/versions/{l}/", self.location()),
            };
            let missing: Vec<&str> = FILES
                .iter()
                .copied()
                .filter(|f| !files.contains_key(*f))
                .collect();
            if !missing.is_empty() {
                return Err(HandlerError::Config(format!(
                    "type folder {folder} lacks {}",
                    missing.join(", ")
                )));
            }
            if hitl_domain::types::builtin(&name).is_some() {
                return Err(HandlerError::Config(format!(
                    "type folder {folder}: {name} is a built-in type; give yours another name"
                )));
            }
            let texts = FILES.map(|f| files.get(f).map_or("", String::as_str));
            let artifact_type = ArtifactType::from_files(&name, texts)
                .map_err(|e| HandlerError::Config(format!("type folder {folder}: {e}")))?;
            out.push((artifact_type, label.is_none()));
        }
        Ok(out)
    }

    /// The folder and file of `key`, or `None` for an object that is not a type file (a
    /// README beside the folders). A type file in a folder whose name is not a type name is
    /// an error.
    #[allow(clippy::type_complexity)]
    fn place(&self, key: &str) -> Result<Option<((String, Option<String>), String)>, HandlerError> {
        let Some(rest) = key.strip_prefix(&self.prefix) else {
            return Ok(None);
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (name, label, file) = match parts.as_slice() {
            [name, file] => (*name, None, *file),
            [name, "versions", label, file] if !label.is_empty() => {
                (*name, Some((*label).to_owned()), *file)
            }
            _ => return Ok(None),
        };
        if !FILES.contains(&file) {
            return Ok(None);
        }
        if !valid_name(name) {
            return Err(HandlerError::Config(format!(
                "s3://{}/{key}: {name:?} is not a type name (1..=64 characters of a-z, 0-9 and '-')",
                self.bucket
            )));
        }
        Ok(Some(((name.to_owned(), label), file.to_owned())))
    }

    async fn read(&self, key: &str) -> Result<String, HandlerError> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.failed(key, e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| HandlerError::Config(format!("reading s3://{}/{key}: {e}", self.bucket)))?
            .into_bytes();
        if bytes.len() > MAX_FILE_BYTES {
            return Err(HandlerError::Config(format!(
                "s3://{}/{key} is {} bytes; a type file may have at most {MAX_FILE_BYTES}",
                self.bucket,
                bytes.len()
            )));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            HandlerError::Config(format!("s3://{}/{key} is not UTF-8 text", self.bucket))
        })
    }

    fn failed(&self, what: &str, err: impl std::error::Error) -> HandlerError {
        HandlerError::Config(format!(
            "reading the artifact types at {} ({what}): {}",
            self.location(),
            aws_sdk_s3::error::DisplayErrorContext(err)
        ))
    }

    /// The built-in types plus every type under the prefix ([`load`](Self::load)).
    pub async fn registry(&self) -> Result<TypeRegistry, HandlerError> {
        let mut registry = TypeRegistry::builtin();
        let (current, kept): (Vec<_>, Vec<_>) = self
            .load()
            .await?
            .into_iter()
            .partition(|(_, current)| *current);
        // Kept versions first, so that the current one of each name is the one made current.
        for (artifact_type, _) in kept {
            registry.keep(artifact_type);
        }
        for (artifact_type, _) in current {
            registry.add(artifact_type);
        }
        Ok(registry)
    }
}

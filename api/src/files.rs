//! Files only their owner may read (mode 0600 in folders of mode 0700 on Unix): the reviewers
//! file here, and the CLI's exports and notification log. One implementation, so each of them
//! gets the same guarantees: written atomically (temporary file, fsync, rename), and never
//! world-readable, not even for a moment.

use std::io::Write;
use std::path::Path;

/// Creates `dir` and its parents (0700) unless it exists.
pub fn create_owner_only_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Replaces `path` with `bytes` atomically, owner-only: a temporary file created 0600 (a
/// leftover one is tightened before writing), synced, then renamed over `path`.
pub fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Appends `line` and a newline to `path`, creating it owner-only (0600) if needed.
pub fn append_owner_only(path: &Path, line: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{line}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_written_whole_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        create_owner_only_dir(&nested).unwrap();
        let path = nested.join("x.json");
        // A leftover temporary file with a wide mode must not keep it.
        std::fs::write(path.with_extension("json.tmp"), b"old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                path.with_extension("json.tmp"),
                std::fs::Permissions::from_mode(0o644),
            )
            .unwrap();
        }
        write_owner_only(&path, b"{\"k\":1}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"k\":1}");
        assert!(!path.with_extension("json.tmp").exists());
        let log = nested.join("log.jsonl");
        append_owner_only(&log, "one").unwrap();
        append_owner_only(&log, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        #[cfg(unix)]
        {
            assert_eq!(mode(&nested), 0o700);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&log), 0o600);
        }
    }
}

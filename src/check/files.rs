//! `check --files`: build artifacts classified without a root (libc flavor, glibc floor,
//! architecture), for the policy's own checks.

use serde::Serialize;

use super::libc::LibcInfo;
use super::libc::classify;
use super::probe::classify_all;
use crate::elf::{self, Kind};
use crate::name::ByteStr;
use crate::rootfs::RootFs;

/// One artifact of `check --files`.
#[derive(Clone, Debug, Serialize)]
pub struct Artifact {
    /// The path as given (a file, or a file found under a given directory).
    pub path: ByteStr,
    /// Machine.
    pub machine: elf::Machine,
    /// ELF class.
    pub class: elf::Class,
    /// Kind.
    pub kind: Kind,
    /// libc flavor and glibc floor.
    pub libc: LibcInfo,
}

/// Why `check --files` cannot judge what it was given.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A path given does not exist or cannot be looked at.
    #[error("{path}: {source} (give existing files or directories)")]
    NotThere {
        /// The path as given.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A directory given (or the directory of a file given) cannot be opened.
    #[error(transparent)]
    Root(#[from] crate::rootfs::RootError),
}

/// Classifies build artifacts (`check --files`): every ELF file given or found under a given
/// directory. Returns the artifacts and the per-path errors.
pub fn analyze_files(
    paths: &[std::path::PathBuf],
    limits: &elf::Limits,
) -> Result<(Vec<Artifact>, Vec<crate::error::PathError>), FilesError> {
    use std::os::unix::ffi::OsStrExt;
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| FilesError::NotThere {
            path: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            let report = crate::scan::scan(
                p,
                &crate::scan::ScanOptions {
                    limits: *limits,
                    ..Default::default()
                },
                &crate::progress::Progress::hidden(),
            )?;
            let infos = classify_all(&report.objects);
            let base = p.as_os_str().as_bytes();
            let base = if base.ends_with(b"/") {
                &base[..base.len() - 1]
            } else {
                base
            };
            for (o, info) in report.objects.into_iter().zip(infos) {
                let shown = ByteStr::from([base, o.path.as_bytes()].concat());
                artifacts.push(Artifact {
                    path: shown.clone(),
                    machine: o.facts.machine,
                    class: o.facts.class,
                    kind: o.facts.kind,
                    libc: info,
                });
            }
            for mut e in report.errors {
                e.path = ByteStr::from([base, e.path.as_bytes()].concat());
                errors.push(e);
            }
        } else {
            let parent = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = p
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default();
            let rootfs = RootFs::open(parent)?;
            let in_root = [b"/", &name[..]].concat();
            let shown = ByteStr::from(p.as_os_str().as_bytes());
            let file = match rootfs.open_file(&in_root) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(crate::error::PathError::new(shown, e));
                    continue;
                }
            };
            use std::os::fd::AsFd;
            let len = u64::try_from(file.stat.st_size).unwrap_or(0);
            match elf::parse_file(file.fd.as_fd(), len, limits) {
                Ok(Some(facts)) => {
                    let info = classify(&facts);
                    artifacts.push(Artifact {
                        path: shown.clone(),
                        machine: facts.machine,
                        class: facts.class,
                        kind: facts.kind,
                        libc: info,
                    });
                }
                Ok(None) => errors.push(crate::error::PathError::new(
                    shown,
                    crate::error::FileError::new(
                        crate::error::ErrorCode::NotElf,
                        "not an ELF file (no ELF magic)",
                    ),
                )),
                Err(e) => errors.push(crate::error::PathError::new(shown, e)),
            }
        }
    }
    Ok((artifacts, errors))
}

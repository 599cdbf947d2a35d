/*!
The parallel walk of a root.

Directories are read with `getdents` on descriptors the [`RootFs`] opened beneath the root (never by a
host path), and the type of each entry comes from the directory entry itself (`lstat` semantics; an
`lstat` is made only when the filesystem does not fill in the type). Then:

- directories are walked in parallel (rayon's work-stealing: each thread goes depth-first, which keeps
  the number of pending directories small), but never across into another filesystem (`st_dev`, and
  `RESOLVE_NO_XDEV` on the open);
- symlinks are recorded with their targets and never followed;
- FIFOs, sockets and devices are counted and never opened;
- regular files are opened `O_NONBLOCK | O_NOFOLLOW`, checked with `fstat` on the handle, and handed to
  the worker closure with the open descriptor, on the thread that listed them.

Errors (a directory we cannot open, a file that vanished) are records like any other, and the walk goes
on. Results come back sorted by path, so output does not depend on thread timing.
*/

use std::sync::Mutex;

use rustix::fs::{AtFlags, Dir, FileType};

use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;
use crate::rootfs::{DirHandle, OpenFile, RootFs};

/// Walk settings.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Deepest directory level walked below the root (`--max-depth`).
    pub max_depth: usize,
    /// Paths not walked (`--exclude`): a directory matched is not entered, any other entry matched
    /// is not opened. Each is recorded as [`Node::Excluded`].
    pub exclude: Option<Exclude>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_depth: 256,
            exclude: None,
        }
    }
}

/// The `--exclude` patterns, matched against absolute in-root paths (`/var/lib/docker`): `*`, `?`
/// and `[...]` stay within one path component, `**` spans any number of them, and a pattern that
/// does not start with `/` matches at any depth (`node_modules` is `**/node_modules`). Paths are
/// matched as bytes, so names that are not UTF-8 can be excluded too.
#[derive(Clone, Debug)]
pub struct Exclude {
    set: std::sync::Arc<globset::GlobSet>,
    patterns: Vec<String>,
}

impl Exclude {
    /// Compiles `patterns`; an invalid one is refused with what is wrong with it.
    pub fn new(patterns: &[String]) -> Result<Exclude, ExcludeError> {
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            let anchored = if p.starts_with('/') {
                p.clone()
            } else {
                format!("**/{p}")
            };
            let glob = globset::GlobBuilder::new(&anchored)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| ExcludeError {
                    pattern: p.clone(),
                    reason: e.kind().to_string(),
                })?;
            b.add(glob);
        }
        let set = b.build().map_err(|e| ExcludeError {
            pattern: patterns.join(" "),
            reason: e.kind().to_string(),
        })?;
        Ok(Exclude {
            set: std::sync::Arc::new(set),
            patterns: patterns.to_vec(),
        })
    }

    /// Whether the in-root path `path` is excluded.
    pub fn matches(&self, path: &[u8]) -> bool {
        self.set
            .is_match_candidate(&globset::Candidate::from_bytes(path))
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// An `--exclude` pattern that is not a valid glob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--exclude {pattern}: not a valid pattern ({reason}); patterns use *, ?, [...] and **")]
pub struct ExcludeError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

/// What kind of special file (never opened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// A named pipe.
    Fifo,
    /// A UNIX socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// One walked entry.
#[derive(Debug)]
pub enum Node<T> {
    /// A regular file, with what the worker made of it.
    File(T),
    /// A directory.
    Dir,
    /// A directory on another filesystem (a mount point inside the root): not descended into.
    OtherFs,
    /// An entry of any type that `--exclude` names: not opened, not entered.
    Excluded,
    /// A symbolic link and its target (not followed).
    Symlink(ByteStr),
    /// A FIFO, socket or device.
    Special(Special),
    /// The entry could not be handled.
    Error(FileError),
}

/// A path inside the root and what was found there.
#[derive(Debug)]
pub struct Record<T> {
    /// Absolute path inside the root.
    pub path: ByteStr,
    /// What it is.
    pub node: Node<T>,
}

struct Ctx<'a, T, F> {
    root: &'a RootFs,
    opts: WalkOptions,
    on_file: &'a F,
    out: Mutex<Vec<Record<T>>>,
}

/// Walks `root` in the current rayon pool, calling `on_file(path, file)` for every regular file.
pub fn walk<T, F>(root: &RootFs, opts: WalkOptions, on_file: &F) -> Vec<Record<T>>
where
    T: Send,
    F: Fn(&[u8], OpenFile) -> T + Sync,
{
    let ctx = Ctx {
        root,
        opts,
        on_file,
        out: Mutex::new(Vec::new()),
    };
    rayon::scope(|s| walk_dir(s, &ctx, b"/".to_vec(), 0));
    let mut out = ctx.out.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out
}

fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn walk_dir<'s, T, F>(s: &rayon::Scope<'s>, ctx: &'s Ctx<'s, T, F>, path: Vec<u8>, depth: usize)
where
    T: Send,
    F: Fn(&[u8], OpenFile) -> T + Sync,
{
    let mut records = Vec::new();
    let finish = |records: Vec<Record<T>>| {
        let mut out = ctx.out.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(records);
    };
    let dirfd = match ctx.root.open_dir(&path) {
        Ok(DirHandle::Open(fd)) => fd,
        Ok(DirHandle::OtherFilesystem) => {
            records.push(Record {
                path: path.into(),
                node: Node::OtherFs,
            });
            return finish(records);
        }
        Err(e) => {
            records.push(Record {
                path: path.into(),
                node: Node::Error(e),
            });
            return finish(records);
        }
    };
    if depth > 0 {
        records.push(Record {
            path: path.clone().into(),
            node: Node::Dir,
        });
    }

    let mut dir = match Dir::new(dirfd) {
        Ok(d) => d,
        Err(e) => {
            records.push(Record {
                path: path.into(),
                node: Node::Error(FileError::io("read directory", &e.into())),
            });
            return finish(records);
        }
    };
    let mut files = Vec::new();
    while let Some(ent) = dir.read() {
        let ent = match ent {
            Ok(ent) => ent,
            Err(e) => {
                let err = FileError::io("read directory", &e.into());
                records.push(Record {
                    path: path.clone().into(),
                    node: Node::Error(err),
                });
                break;
            }
        };
        let name = ent.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let mut ft = ent.file_type();
        if ft == FileType::Unknown {
            // Some filesystems leave d_type empty; ask, still without following a symlink.
            let Ok(fd) = dir.fd() else { continue };
            ft = match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => FileType::from_raw_mode(st.st_mode),
                Err(e) => {
                    let err = FileError::io("lstat", &e.into());
                    records.push(Record {
                        path: child_path(&path, name).into(),
                        node: Node::Error(err),
                    });
                    continue;
                }
            };
        }
        let child = child_path(&path, name);
        if ctx.opts.exclude.as_ref().is_some_and(|x| x.matches(&child)) {
            records.push(Record {
                path: child.into(),
                node: Node::Excluded,
            });
            continue;
        }
        match ft {
            FileType::Directory => {
                if depth + 1 > ctx.opts.max_depth {
                    let err = FileError::new(
                        ErrorCode::LimitExceeded,
                        format!(
                            "deeper than {} levels below the root; not walked (raise --max-depth)",
                            ctx.opts.max_depth
                        ),
                    );
                    records.push(Record {
                        path: child.into(),
                        node: Node::Error(err),
                    });
                } else {
                    // Walked (and recorded) by its own task, possibly on another thread.
                    s.spawn(move |s| walk_dir(s, ctx, child, depth + 1));
                }
            }
            FileType::RegularFile => files.push((child, name.len())),
            FileType::Symlink => {
                let node = match dir
                    .fd()
                    .map_err(FileError::from)
                    .and_then(|fd| ctx.root.read_link_at(fd, name))
                {
                    Ok(target) => Node::Symlink(target),
                    Err(e) => Node::Error(e),
                };
                records.push(Record {
                    path: child.into(),
                    node,
                });
            }
            FileType::Fifo => records.push(Record {
                path: child.into(),
                node: Node::Special(Special::Fifo),
            }),
            FileType::Socket => records.push(Record {
                path: child.into(),
                node: Node::Special(Special::Socket),
            }),
            FileType::CharacterDevice => records.push(Record {
                path: child.into(),
                node: Node::Special(Special::CharDevice),
            }),
            FileType::BlockDevice => records.push(Record {
                path: child.into(),
                node: Node::Special(Special::BlockDevice),
            }),
            FileType::Unknown => {
                let err = FileError::new(ErrorCode::IoError, "unknown file type; skipped");
                records.push(Record {
                    path: child.into(),
                    node: Node::Error(err),
                });
            }
        }
    }

    // Files are handled after the subdirectories were handed out, so other threads have work while
    // this one parses.
    if let Ok(fd) = dir.fd() {
        for (child, name_len) in files {
            let name = &child[child.len() - name_len..];
            let node = match ctx.root.open_file_at(fd, name) {
                Ok(file) => Node::File((ctx.on_file)(&child, file)),
                Err(e) => Node::Error(e),
            };
            records.push(Record {
                path: child.into(),
                node,
            });
        }
    }
    finish(records);
}

#[cfg(test)]
mod tests {
    use super::Exclude;

    fn ex(p: &[&str]) -> Exclude {
        Exclude::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("valid")
    }

    /// `--exclude`'s rules: anchored at the root with a leading `/`, at any depth without one;
    /// `*` within a component, `**` across; bytes that are not UTF-8 match too.
    #[test]
    fn exclude_patterns() {
        let x = ex(&[
            "/var/lib/docker",
            "/home/*/.cache",
            "node_modules",
            "/srv/**/tmp",
        ]);
        assert!(x.matches(b"/var/lib/docker"));
        assert!(!x.matches(b"/var/lib/dockerd"));
        assert!(!x.matches(b"/opt/var/lib/docker"));
        assert!(x.matches(b"/home/ann/.cache"));
        assert!(
            !x.matches(b"/home/ann/x/.cache"),
            "* stays within a component"
        );
        assert!(x.matches(b"/node_modules"));
        assert!(x.matches(b"/opt/app/node_modules"));
        assert!(x.matches(b"/srv/tmp") && x.matches(b"/srv/a/b/tmp"));
        let bytes = ex(&["/opt/caf?"]);
        assert!(bytes.matches(b"/opt/caf\xe9"));
        let e = Exclude::new(&["/a/[b".to_string()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--exclude /a/[b: not a valid pattern"),
            "{e}"
        );
    }
}

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

Errors (a directory we cannot open, a file that vanished) are entries like any other, and the walk goes
on. Each directory comes back as one [`Listing`] (names in one buffer, not a path per file), handed to
the caller as soon as it is done, so a caller can keep only what it needs of the millions of entries a
root may have; ordering is the caller's business (the scan sorts what it keeps).
*/

use rustix::fs::{AtFlags, Dir, FileType};

use crate::error::{ErrorCode, FileError};
use crate::name::{ByteStr, child_of, split_path};
use crate::rootfs::{DirHandle, ListedFile, RootFs};

/// Walk settings.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Deepest directory level walked below the root (`--max-depth`).
    pub max_depth: usize,
    /// Paths not walked (`--exclude`): a directory matched is not entered, any other entry matched
    /// is not opened. Each is recorded as [`Node::Excluded`].
    pub exclude: Option<Exclude>,
    /// Regular files the caller already knows are not ELF, which are listed as [`Node::Plain`]
    /// without being opened: the files of an unpacked image whose data elfdeps itself wrote (or
    /// left sparse) and saw the first bytes of.
    pub known_plain: Option<std::sync::Arc<KnownPlain>>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_depth: 256,
            exclude: None,
            known_plain: None,
        }
    }
}

/// Regular files known not to be ELF, by directory (absolute in-root paths, `/` for the root) and
/// name. Only the name of an entry the directory lists as a regular file is looked up here: a
/// directory, symlink or special file of the same name is walked as such.
#[derive(Debug, Default)]
pub struct KnownPlain {
    dirs: std::collections::HashMap<Vec<u8>, std::collections::HashSet<Vec<u8>>>,
}

impl KnownPlain {
    /// Adds the file at the absolute in-root `path` (`/usr/share/x`); a path without a name (`/`)
    /// is ignored.
    pub fn insert(&mut self, path: &[u8]) {
        let Some((dir, name)) = split_path(path) else {
            return;
        };
        self.dirs
            .entry(dir.to_vec())
            .or_default()
            .insert(name.to_vec());
    }

    /// The files of directory `dir`.
    fn in_dir(&self, dir: &[u8]) -> Option<&std::collections::HashSet<Vec<u8>>> {
        self.dirs.get(dir)
    }

    /// How many files.
    pub fn len(&self) -> usize {
        self.dirs.values().map(|d| d.len()).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
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

/// One entry of a walked directory.
#[derive(Debug)]
pub enum Node<T> {
    /// A regular file, with what the worker made of it.
    File(T),
    /// A regular file [`WalkOptions::known_plain`] names: not opened, no worker called.
    Plain,
    /// A directory: walked by its own task, which hands over its own [`Listing`].
    Dir,
    /// An entry of any type that `--exclude` names: not opened, not entered.
    Excluded,
    /// A symbolic link and its target (not followed).
    Symlink(ByteStr),
    /// A FIFO, socket or device.
    Special(Special),
    /// The entry could not be handled.
    Error(FileError),
}

/// Whether a directory handed to its own task was walked.
#[derive(Debug)]
pub enum DirStatus {
    /// Listed (its entries are in the listing).
    Walked,
    /// On another filesystem (a mount point inside the root): not descended into.
    OtherFs,
    /// It could not be opened or listed.
    Error(FileError),
}

/// One walked directory: its path, whether it was walked, and its entries (in the order the
/// filesystem listed them). Names live in one buffer per directory, so a directory of 10,000
/// files costs two allocations, not 10,000 paths.
#[derive(Debug)]
pub struct Listing<T> {
    /// The directory's absolute path inside the root (`/` for the root).
    pub path: ByteStr,
    /// Whether it was walked; a directory listed only partly (a read error midway) is
    /// [`DirStatus::Walked`] with the entries read so far and the error as `error`.
    pub status: DirStatus,
    /// An error that stopped the listing midway (the entries before it are kept).
    pub error: Option<FileError>,
    names: Vec<u8>,
    entries: Vec<(std::ops::Range<usize>, Node<T>)>,
}

impl<T> Listing<T> {
    fn new(path: Vec<u8>) -> Self {
        Listing {
            path: path.into(),
            status: DirStatus::Walked,
            error: None,
            names: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn push(&mut self, name: &[u8], node: Node<T>) {
        let start = self.names.len();
        self.names.extend_from_slice(name);
        self.entries.push((start..self.names.len(), node));
    }

    /// The entries by name, consumed.
    pub fn into_entries(self) -> (ByteStr, DirStatus, Option<FileError>, Entries<T>) {
        let Listing {
            path,
            status,
            error,
            names,
            entries,
        } = self;
        (
            path,
            status,
            error,
            Entries {
                names,
                entries: entries.into_iter(),
            },
        )
    }
}

/// A listing's entries, each with its name, by value.
pub struct Entries<T> {
    names: Vec<u8>,
    entries: std::vec::IntoIter<(std::ops::Range<usize>, Node<T>)>,
}

impl<T> Entries<T> {
    /// The next entry: its name (borrowed from the listing) and what it is.
    #[allow(clippy::should_implement_trait)] // the name borrows from `self`: not an Iterator
    pub fn next(&mut self) -> Option<(&[u8], Node<T>)> {
        let (range, node) = self.entries.next()?;
        Some((self.names.get(range).unwrap_or_default(), node))
    }
}

struct Ctx<'a, F, D> {
    root: &'a RootFs,
    opts: WalkOptions,
    on_file: &'a F,
    on_dir: &'a D,
}

/// Walks `root` in the current rayon pool. `on_file(dir, name, file)` is called for every regular
/// file with its open descriptor (not yet checked with `fstat`: [`ListedFile::check`]), on the
/// thread that listed it; `on_dir(listing)` once for every
/// directory when its entries are listed and its files handled (its subdirectories come in their
/// own listings, in no particular order).
pub fn walk<T, F, D>(root: &RootFs, opts: WalkOptions, on_file: &F, on_dir: &D)
where
    T: Send,
    F: Fn(&[u8], &[u8], ListedFile) -> T + Sync,
    D: Fn(Listing<T>) + Sync,
{
    let ctx = Ctx {
        root,
        opts,
        on_file,
        on_dir,
    };
    rayon::scope(|s| walk_dir(s, &ctx, b"/".to_vec(), 0));
}

fn walk_dir<'s, T, F, D>(s: &rayon::Scope<'s>, ctx: &'s Ctx<'s, F, D>, path: Vec<u8>, depth: usize)
where
    T: Send,
    F: Fn(&[u8], &[u8], ListedFile) -> T + Sync,
    D: Fn(Listing<T>) + Sync,
{
    let mut listing = Listing::new(path);
    let dirfd = match ctx.root.open_dir(listing.path.as_bytes()) {
        Ok(DirHandle::Open(fd)) => fd,
        Ok(DirHandle::OtherFilesystem) => {
            listing.status = DirStatus::OtherFs;
            return (ctx.on_dir)(listing);
        }
        Err(e) => {
            listing.status = DirStatus::Error(e);
            return (ctx.on_dir)(listing);
        }
    };
    let mut dir = match Dir::new(dirfd) {
        Ok(d) => d,
        Err(e) => {
            listing.status = DirStatus::Error(FileError::io("read directory", &e.into()));
            return (ctx.on_dir)(listing);
        }
    };
    // Regular files: (range of the name in `listing.names`), handled after the subdirectories
    // were handed out, so other threads have work while this one parses.
    let mut files: Vec<std::ops::Range<usize>> = Vec::new();
    while let Some(ent) = dir.read() {
        let ent = match ent {
            Ok(ent) => ent,
            Err(e) => {
                listing.error = Some(FileError::io("read directory", &e.into()));
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
                    listing.push(name, Node::Error(FileError::io("lstat", &e.into())));
                    continue;
                }
            };
        }
        if let Some(x) = ctx.opts.exclude.as_ref()
            && x.matches(&child_of(listing.path.as_bytes(), name))
        {
            listing.push(name, Node::Excluded);
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
                    listing.push(name, Node::Error(err));
                } else {
                    listing.push(name, Node::Dir);
                    // Walked (and listed) by its own task, possibly on another thread.
                    let child = child_of(listing.path.as_bytes(), name);
                    s.spawn(move |s| walk_dir(s, ctx, child, depth + 1));
                }
            }
            FileType::RegularFile => {
                let start = listing.names.len();
                listing.names.extend_from_slice(name);
                files.push(start..listing.names.len());
            }
            FileType::Symlink => {
                let node = match dir
                    .fd()
                    .map_err(FileError::from)
                    .and_then(|fd| ctx.root.read_link_at(fd, name))
                {
                    Ok(target) => Node::Symlink(target),
                    Err(e) => Node::Error(e),
                };
                listing.push(name, node);
            }
            FileType::Fifo => listing.push(name, Node::Special(Special::Fifo)),
            FileType::Socket => listing.push(name, Node::Special(Special::Socket)),
            FileType::CharacterDevice => listing.push(name, Node::Special(Special::CharDevice)),
            FileType::BlockDevice => listing.push(name, Node::Special(Special::BlockDevice)),
            FileType::Unknown => {
                let err = FileError::new(ErrorCode::IoError, "unknown file type; skipped");
                listing.push(name, Node::Error(err));
            }
        }
    }

    if let Ok(fd) = dir.fd() {
        let known =
            (ctx.opts.known_plain.as_deref()).and_then(|k| k.in_dir(listing.path.as_bytes()));
        for range in files {
            let name = &listing.names[range.clone()];
            if known.is_some_and(|k| k.contains(name)) {
                listing.entries.push((range, Node::Plain));
                continue;
            }
            let node = match ctx.root.open_listed_at(fd, name) {
                Ok(file) => Node::File((ctx.on_file)(listing.path.as_bytes(), name, file)),
                Err(e) => Node::Error(e),
            };
            listing.entries.push((range, node));
        }
    }
    (ctx.on_dir)(listing);
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

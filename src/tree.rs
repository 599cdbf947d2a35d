/*!
An in-memory snapshot of the walked tree: every path and what it is.

Resolution asks "what is at /lib64/ld-linux-x86-64.so.2 once symlinks are followed?" thousands of times
per root. Answering from the snapshot costs a hash lookup instead of system calls, and answers from the
same moment as the facts: a library that appears after the walk is not half-seen.
*/

use rustix::fs::FileType;
use rustix::io::Errno;

use crate::error::FileError;
use crate::name::ByteStr;
use crate::rootfs::resolve_in_root;

/// What a walked path is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A regular file (ELF or not).
    File,
    /// A directory.
    Dir,
    /// A symlink with its (unresolved) target.
    Symlink(ByteStr),
    /// A FIFO, socket or device: never opened, so never a usable library.
    Special,
    /// Not walked: a mount point inside the root, or a path `--exclude` names. What lies there
    /// is unknown.
    OtherFs,
    /// Listed, but it could not be opened or read.
    Unreadable,
}

/// Resolving paths inside a root as after `chroot(ROOT)`, whatever holds the root: the walked
/// [`Tree`], or a filesystem view of the resolver (`FsView`, which a lazy view answers without a
/// walk). What the package database readers need to key listed files by their canonical paths.
pub trait PathLookup: Sync {
    /// Resolves `path` inside the root (the last symlink followed only when `follow_last`).
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError>;

    /// Whether the directory at canonical `dir` has an entry `name` (of any type).
    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool;
}

impl PathLookup for Tree {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.resolve(path, follow_last)
    }

    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.get(&child_of(dir, name)).is_some()
    }
}

/// The path of `name` in directory `dir` (`/` has no trailing slash added).
pub fn child_of(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir == b"/" {
        [b"/", name].concat()
    } else {
        [dir, b"/", name].concat()
    }
}

/// The walked tree: paths sorted by bytes, looked up by binary search. (The walk already sorts its
/// records, so building this moves paths instead of hashing and cloning 100k+ of them.)
#[derive(Debug, Default)]
pub struct Tree {
    entries: Vec<(ByteStr, Entry)>,
}

impl Tree {
    /// A tree from entries sorted by path (the root `/` itself is implied).
    pub fn from_sorted(entries: Vec<(ByteStr, Entry)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0));
        Tree { entries }
    }

    /// What is at `path` (not following a final symlink).
    pub fn get(&self, path: &[u8]) -> Option<&Entry> {
        if path == b"/" {
            return Some(&Entry::Dir);
        }
        self.entries
            .binary_search_by(|(p, _)| p.as_bytes().cmp(path))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Every entry, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&ByteStr, &Entry)> {
        self.entries.iter().map(|(p, e)| (p, e))
    }

    /// The names of the entries directly inside directory `dir` (a canonical path), in byte order.
    /// Costs a binary search per child that has children of its own, not a pass over everything
    /// below `dir` (include globs list directories of a root, which is untrusted).
    pub fn children<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let prefix: Vec<u8> = if dir == b"/" {
            b"/".to_vec()
        } else {
            [dir, b"/"].concat()
        };
        let mut at = self
            .entries
            .partition_point(|(p, _)| p.as_bytes() < prefix.as_slice());
        std::iter::from_fn(move || {
            loop {
                let (path, _) = self.entries.get(at)?;
                let rest = path.as_bytes().strip_prefix(prefix.as_slice())?;
                let Some(slash) = rest.iter().position(|&b| b == b'/') else {
                    at += 1;
                    return Some(rest);
                };
                // Below the child `rest[..slash]`: its descendants are the paths from `dir/x/` up
                // to `dir/x0` ('0' is the byte after '/'), one contiguous run to jump over.
                let end = [&prefix[..], &rest[..slash], b"0"].concat();
                at = self
                    .entries
                    .partition_point(|(p, _)| p.as_bytes() < end.as_slice());
            }
        })
    }

    /// Number of paths (the root not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing but the root was walked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `path` (symlinks followed inside the root) is a directory.
    pub fn is_dir(&self, path: &[u8]) -> bool {
        self.resolve(path, true)
            .is_ok_and(|c| matches!(self.get(c.as_bytes()), Some(Entry::Dir)))
    }

    /// Resolves `path` inside the root as after `chroot(ROOT)` (see [`resolve_in_root`]).
    pub fn resolve(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        resolve_in_root(
            path,
            follow_last,
            |p| match self.get(p) {
                Some(Entry::File) => Ok(FileType::RegularFile),
                Some(Entry::Dir) => Ok(FileType::Directory),
                Some(Entry::Symlink(_)) => Ok(FileType::Symlink),
                Some(Entry::Special) => Ok(FileType::Fifo),
                Some(Entry::OtherFs) => Err(Errno::XDEV),
                Some(Entry::Unreadable) => Err(Errno::ACCESS),
                None => Err(Errno::NOENT),
            },
            |p| match self.get(p) {
                Some(Entry::Symlink(t)) => Ok(t.as_bytes().to_vec()),
                _ => Err(Errno::INVAL),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_recorded_symlinks() {
        let mut entries = vec![
            (
                ByteStr::from("/lib"),
                Entry::Symlink(ByteStr::from("usr/lib")),
            ),
            (
                ByteStr::from("/lib64"),
                Entry::Symlink(ByteStr::from("usr/lib64")),
            ),
            (ByteStr::from("/usr"), Entry::Dir),
            (ByteStr::from("/usr/lib"), Entry::Dir),
            (ByteStr::from("/usr/lib/ld.so"), Entry::File),
            (ByteStr::from("/usr/lib64"), Entry::Dir),
            (
                ByteStr::from("/usr/lib64/ld"),
                Entry::Symlink(ByteStr::from("/lib/ld.so")),
            ),
            (ByteStr::from("/proc"), Entry::OtherFs),
        ];
        entries.sort();
        let t = Tree::from_sorted(entries);
        assert_eq!(
            t.resolve(b"/lib64/ld", true).unwrap(),
            ByteStr::from("/usr/lib/ld.so")
        );
        assert_eq!(
            t.resolve(b"/lib64/ld", false).unwrap(),
            ByteStr::from("/usr/lib64/ld")
        );
        assert!(t.resolve(b"/lib/missing.so", true).is_err());
        assert!(t.resolve(b"/proc/self/exe", true).is_err());
        assert_eq!(t.get(b"/"), Some(&Entry::Dir));
    }

    /// Children are the direct entries only, in byte order, with the siblings that sort between
    /// a directory and its own entries (`x.conf` between `x` and `x/a`) kept.
    #[test]
    fn children_jump_over_subtrees() {
        let mut entries: Vec<(ByteStr, Entry)> = [
            "/d",
            "/d/x",
            "/d/x/a",
            "/d/x/b",
            "/d/x/b/c",
            "/d/x.conf",
            "/d/x0",
            "/d/y",
            "/d!",
            "/e",
        ]
        .into_iter()
        .map(|p| (ByteStr::from(p), Entry::Dir))
        .collect();
        entries.sort();
        let t = Tree::from_sorted(entries);
        let kids: Vec<&[u8]> = t.children(b"/d").collect();
        assert_eq!(kids, [&b"x"[..], b"x.conf", b"x0", b"y"]);
        let top: Vec<&[u8]> = t.children(b"/").collect();
        assert_eq!(top, [&b"d"[..], b"d!", b"e"]);
        assert_eq!(t.children(b"/d/x/b/c").count(), 0);
    }
}

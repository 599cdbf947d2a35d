/*!
The filesystem a resolution runs against: a [`FsView`].

The loader models never touch the disk or the walked tree directly: they ask a view what lies at a
path, what a directory holds, the bytes of a small file, and the ELF facts of an object. Each kind of
root is then one small type:

- [`Snapshot`]: the walked tree and the objects parsed by the scan (what `scan` resolves against);
- [`MemView`]: paths, files and facts held in memory (tests, and roots assembled by a program);
- [`super::LazyView`]: no walk; each path looked up in the root when first asked (what a question
  about one program needs);
- later: an overlay (files laid over a base), a filtered view (only some packages' files).

Paths given to the lookups are canonical (no symlink among their parents; [`FsView::resolve`]
makes them so); the view never follows a path out of its root.
*/

use std::collections::{BTreeMap, HashMap};

use rustix::fs::FileType;
use rustix::io::Errno;

use crate::elf::{ElfFacts, Limits};
use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;
use crate::rootfs::{RootFs, resolve_in_root};
use crate::scan::Object;
use crate::tree::{Entry, PathLookup, Tree};

/// An object of a view: an index into the view's own objects.
pub type ObjectId = usize;

/// What a path is (a final symlink not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file (ELF or not).
    File,
    /// A directory.
    Dir,
    /// A symbolic link ([`FsView::read_link`] says where to).
    Symlink,
    /// A FIFO, socket or device: never opened.
    Special,
    /// A mount point of another filesystem, not entered: what lies below is unknown.
    OtherFs,
    /// Listed, but it cannot be opened or read.
    Unreadable,
}

impl FileKind {
    fn of(entry: &Entry) -> FileKind {
        match entry {
            Entry::File => FileKind::File,
            Entry::Dir => FileKind::Dir,
            Entry::Symlink(_) => FileKind::Symlink,
            Entry::Special => FileKind::Special,
            Entry::OtherFs => FileKind::OtherFs,
            Entry::Unreadable => FileKind::Unreadable,
        }
    }
}

/// A root as the resolver sees it. Implementations must be cheap to query (lookups run thousands
/// of times per session) and safe to share between the threads that run sessions.
pub trait FsView: Sync {
    /// What is at canonical `path`, not following a final symlink (`None`: nothing).
    fn kind(&self, path: &[u8]) -> Option<FileKind>;

    /// The target of the symlink at canonical `path`, as recorded (not resolved).
    fn read_link(&self, path: &[u8]) -> Option<ByteStr>;

    /// `(st_dev, st_ino)` of the file at canonical `path`, when the view knows it: two paths with
    /// the same identity are one file.
    fn identity(&self, path: &[u8]) -> Option<(u64, u64)>;

    /// The names directly inside the directory at canonical `dir`, in byte order.
    fn children(&self, dir: &[u8]) -> Vec<ByteStr>;

    /// The whole regular file at canonical `path`, refused (`limit-exceeded`) when larger than
    /// `max` bytes.
    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError>;

    /// At most the first `max` bytes of the regular file at canonical `path`.
    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError>;

    /// The ELF facts of the regular file at canonical `path` (`Ok(None)`: not ELF), read with the
    /// ELF reader, which reads only the ranges it needs and stays within `limits`. A lazy view
    /// answers [`FsView::object`] with this; the snapshot has the facts from the scan already.
    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError>;

    /// The ELF object at canonical `path`, when that file is one the view has facts for.
    fn object(&self, path: &[u8]) -> Option<ObjectId>;

    /// Facts of object `id`.
    fn facts(&self, id: ObjectId) -> &ElfFacts;

    /// Canonical path of object `id`.
    fn object_path(&self, id: ObjectId) -> &ByteStr;

    /// Resolves `path` inside the root as after `chroot(ROOT)`: symlinks followed inside the
    /// root (the last one only when `follow_last`), `..` never above `/`.
    fn resolve(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        resolve_in_root(
            path,
            follow_last,
            |p| match self.kind(p) {
                Some(FileKind::File) => Ok(FileType::RegularFile),
                Some(FileKind::Dir) => Ok(FileType::Directory),
                Some(FileKind::Symlink) => Ok(FileType::Symlink),
                Some(FileKind::Special) => Ok(FileType::Fifo),
                Some(FileKind::OtherFs) => Err(Errno::XDEV),
                Some(FileKind::Unreadable) => Err(Errno::ACCESS),
                None => Err(Errno::NOENT),
            },
            |p| {
                self.read_link(p)
                    .map(|t| t.as_bytes().to_vec())
                    .ok_or(Errno::INVAL)
            },
        )
    }

    /// Whether `path` (symlinks followed inside the root) is a directory.
    fn is_dir(&self, path: &[u8]) -> bool {
        self.resolve(path, true)
            .is_ok_and(|c| self.kind(c.as_bytes()) == Some(FileKind::Dir))
    }
}

/// The ELF facts of the regular file at canonical `path` of `rootfs` (`Ok(None)`: not ELF), read
/// with the ranged reader within `limits`: what the views on disk answer [`FsView::read_elf`] with.
pub(crate) fn read_elf_in(
    rootfs: &RootFs,
    path: &[u8],
    limits: &Limits,
) -> Result<Option<ElfFacts>, FileError> {
    let file = rootfs.open_file(path)?;
    let len = u64::try_from(file.stat.st_size).unwrap_or(0);
    crate::elf::parse_file(std::os::fd::AsFd::as_fd(&file.fd), len, limits)
}

/// The walked tree and the scan's objects, with file bytes read through the confined root.
/// Answers from the moment of the walk: a library that appears later is not half-seen.
pub struct Snapshot<'a> {
    rootfs: &'a RootFs,
    tree: &'a Tree,
    objects: &'a [Object],
    by_path: HashMap<&'a [u8], ObjectId>,
}

impl<'a> Snapshot<'a> {
    /// The view of a scan: `objects` are the ELF objects found in `tree`, sorted by path (their
    /// ids are their indices).
    pub fn new(rootfs: &'a RootFs, tree: &'a Tree, objects: &'a [Object]) -> Snapshot<'a> {
        let by_path = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.path.as_bytes(), i))
            .collect();
        Snapshot {
            rootfs,
            tree,
            objects,
            by_path,
        }
    }
}

impl FsView for Snapshot<'_> {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        self.tree.get(path).map(FileKind::of)
    }

    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        match self.tree.get(path) {
            Some(Entry::Symlink(t)) => Some(t.clone()),
            _ => None,
        }
    }

    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        self.by_path.get(path).map(|&i| self.objects[i].inode)
    }

    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        self.tree.children(dir)
    }

    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        self.rootfs.read_file(path, max)
    }

    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        self.rootfs.read_prefix(path, max)
    }

    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
        read_elf_in(self.rootfs, path, limits)
    }

    fn object(&self, path: &[u8]) -> Option<ObjectId> {
        self.by_path.get(path).copied()
    }

    fn facts(&self, id: ObjectId) -> &ElfFacts {
        &self.objects[id].facts
    }

    fn object_path(&self, id: ObjectId) -> &ByteStr {
        &self.objects[id].path
    }

    // The tree's own resolution, which borrows the recorded targets instead of copying them.
    fn resolve(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.tree.resolve(path, follow_last)
    }
}

impl PathLookup for Snapshot<'_> {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.tree.resolve(path, follow_last)
    }

    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.tree.has_entry(dir, name)
    }
}

impl PathLookup for MemView {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        FsView::resolve(self, path, follow_last)
    }

    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.kind(&crate::tree::child_of(dir, name)).is_some()
    }
}

/// One path of a [`MemView`].
#[derive(Clone, Debug)]
enum MemEntry {
    File(Vec<u8>),
    Elf(ObjectId),
    Dir,
    Symlink(ByteStr),
    Special,
}

/// A root held in memory: directories, symlinks, files with their bytes, and ELF objects given by
/// their facts. Parent directories are created as paths are added.
#[derive(Clone, Debug, Default)]
pub struct MemView {
    entries: BTreeMap<ByteStr, MemEntry>,
    objects: Vec<(ByteStr, ElfFacts)>,
}

impl MemView {
    /// An empty root.
    pub fn new() -> MemView {
        MemView::default()
    }

    fn put(&mut self, path: &[u8], entry: MemEntry) -> &mut MemView {
        for (i, &b) in path.iter().enumerate().skip(1) {
            if b == b'/' {
                self.entries
                    .entry(ByteStr::from(&path[..i]))
                    .or_insert(MemEntry::Dir);
            }
        }
        self.entries.insert(ByteStr::from(path), entry);
        self
    }

    /// Adds directory `path` (absolute).
    pub fn dir(&mut self, path: impl AsRef<[u8]>) -> &mut MemView {
        self.put(path.as_ref(), MemEntry::Dir)
    }

    /// Adds a symlink at `path` pointing to `target`.
    pub fn symlink(&mut self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &mut MemView {
        self.put(
            path.as_ref(),
            MemEntry::Symlink(ByteStr::from(target.as_ref())),
        )
    }

    /// Adds a regular file at `path` holding `bytes` (not ELF).
    pub fn file(&mut self, path: impl AsRef<[u8]>, bytes: &[u8]) -> &mut MemView {
        self.put(path.as_ref(), MemEntry::File(bytes.to_vec()))
    }

    /// Adds a FIFO, socket or device at `path`.
    pub fn special(&mut self, path: impl AsRef<[u8]>) -> &mut MemView {
        self.put(path.as_ref(), MemEntry::Special)
    }

    /// Adds an ELF object at `path` with `facts`; returns its id.
    pub fn elf(&mut self, path: impl AsRef<[u8]>, facts: ElfFacts) -> ObjectId {
        let id = self.objects.len();
        self.objects.push((ByteStr::from(path.as_ref()), facts));
        self.put(path.as_ref(), MemEntry::Elf(id));
        id
    }

    /// The ids of every object, in the order they were added.
    pub fn ids(&self) -> std::ops::Range<ObjectId> {
        0..self.objects.len()
    }

    fn bytes(&self, path: &[u8]) -> Result<&[u8], FileError> {
        match self.entries.get(&ByteStr::from(path)) {
            Some(MemEntry::File(b)) => Ok(b),
            // The facts stand for the file; its bytes are not kept.
            Some(MemEntry::Elf(_)) => Ok(&[]),
            Some(_) => Err(FileError::new(
                ErrorCode::NotRegular,
                format!("{} is not a regular file", ByteStr::from(path)),
            )),
            None => Err(FileError::new(
                ErrorCode::Vanished,
                format!("{} does not exist", ByteStr::from(path)),
            )),
        }
    }
}

impl FsView for MemView {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        if path == b"/" {
            return Some(FileKind::Dir);
        }
        self.entries.get(&ByteStr::from(path)).map(|e| match e {
            MemEntry::File(_) | MemEntry::Elf(_) => FileKind::File,
            MemEntry::Dir => FileKind::Dir,
            MemEntry::Symlink(_) => FileKind::Symlink,
            MemEntry::Special => FileKind::Special,
        })
    }

    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        match self.entries.get(&ByteStr::from(path)) {
            Some(MemEntry::Symlink(t)) => Some(t.clone()),
            _ => None,
        }
    }

    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        self.object(path).map(|id| (0, id as u64))
    }

    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        let prefix = if dir == b"/" {
            b"/".to_vec()
        } else {
            [dir, b"/"].concat()
        };
        self.entries
            .keys()
            .filter_map(|p| {
                let rest = p.as_bytes().strip_prefix(prefix.as_slice())?;
                (!rest.is_empty() && !rest.contains(&b'/')).then(|| ByteStr::from(rest))
            })
            .collect()
    }

    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        let b = self.bytes(path)?;
        if b.len() as u64 > max {
            return Err(FileError::new(
                ErrorCode::LimitExceeded,
                format!("{} bytes, more than the {max} read", b.len()),
            ));
        }
        Ok(b.to_vec())
    }

    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        let b = self.bytes(path)?;
        Ok(b[..b.len().min(usize::try_from(max).unwrap_or(usize::MAX))].to_vec())
    }

    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
        match self.object(path) {
            Some(id) => Ok(Some(self.facts(id).clone())),
            None => crate::elf::parse_bytes(self.bytes(path)?, limits),
        }
    }

    fn object(&self, path: &[u8]) -> Option<ObjectId> {
        match self.entries.get(&ByteStr::from(path)) {
            Some(MemEntry::Elf(id)) => Some(*id),
            _ => None,
        }
    }

    fn facts(&self, id: ObjectId) -> &ElfFacts {
        &self.objects[id].1
    }

    fn object_path(&self, id: ObjectId) -> &ByteStr {
        &self.objects[id].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-memory view answers like a walked root: parents implied, symlinks resolved inside
    /// it, children in byte order, bounded reads, facts for its objects only.
    #[test]
    fn an_in_memory_root_answers_like_a_walked_one() {
        let mut v = MemView::new();
        v.symlink("/lib", "usr/lib")
            .file("/usr/lib/b.conf", b"12345")
            .file("/usr/lib/a.txt", b"not ELF")
            .special("/usr/lib/fifo");
        let id = v.elf("/usr/lib/libx.so", libx_facts());
        assert_eq!(v.kind(b"/usr"), Some(FileKind::Dir));
        assert_eq!(
            v.resolve(b"/lib/libx.so", true).unwrap(),
            ByteStr::from("/usr/lib/libx.so")
        );
        assert_eq!(v.object(b"/usr/lib/libx.so"), Some(id));
        assert_eq!(v.object(b"/usr/lib/a.txt"), None);
        let kids: Vec<String> = v
            .children(b"/usr/lib")
            .iter()
            .map(ByteStr::escaped)
            .collect();
        assert_eq!(kids, ["a.txt", "b.conf", "fifo", "libx.so"]);
        assert_eq!(v.read(b"/usr/lib/b.conf", 5).unwrap(), b"12345");
        assert_eq!(
            v.read(b"/usr/lib/b.conf", 4).unwrap_err().code,
            ErrorCode::LimitExceeded
        );
        assert_eq!(v.read_prefix(b"/usr/lib/b.conf", 2).unwrap(), b"12");
        assert_eq!(
            v.read(b"/usr/lib/fifo", 9).unwrap_err().code,
            ErrorCode::NotRegular
        );
        assert!(matches!(
            v.read_elf(b"/usr/lib/a.txt", &Limits::default()),
            Ok(None)
        ));
        assert!(matches!(
            v.read_elf(b"/usr/lib/libx.so", &Limits::default()),
            Ok(Some(_))
        ));
        assert!(!v.is_dir(b"/lib/b.conf"));
        assert!(v.is_dir(b"/lib"));
    }

    fn libx_facts() -> ElfFacts {
        crate::resolve::testing_facts(crate::elf::Kind::SharedLibrary, None, Some("libx.so"), &[])
    }
}

/*!
A [`FsView`] that walks nothing: every question is answered by a confined lookup in the root when it
is first asked, and remembered.

What one program needs from a root is a few dozen lookups (its interpreter, the loader's
configuration and cache, the directories its search visits, the candidates it tries), not the
hundreds of thousands of entries of a walk. The answers are the ones the walked [`super::Snapshot`]
gives for the same paths (tests/lazy_view.rs compares the resolution of every ELF object of the test
roots through both):

- a path's kind comes from `fstatat(AT_SYMLINK_NOFOLLOW)` in its parent directory, itself opened
  beneath the root without following any symlink (`openat2` with `RESOLVE_BENEATH |
  RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV`, as the walk does), so a lookup never leaves the root even
  while the root changes;
- a directory is a mount point ([`FileKind::OtherFs`]) when the walk would not enter it;
- a regular file is opened as the walk opens it (`O_NONBLOCK | O_NOFOLLOW`, then `fstat`); one
  that cannot be opened is [`FileKind::Unreadable`]. Its ELF facts are read, with the ranged reader,
  only when it is asked for as an object (a candidate that is not ELF costs one read of its
  header; a path looked up only to resolve it, such as a package's listed file, costs no read);
- FIFOs, sockets and devices are never opened.

Each answer is kept for the life of the view, so a path is looked up once however many sessions ask,
and an object's facts keep their id. The view holds only what was asked: its memory grows with the
closure, not with the root.
*/

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::Mutex;

use rustix::fs::{AtFlags, Dir, FileType};

use super::view::{FileKind, FsView, ObjectId, read_elf_in};
use crate::elf::{ElfFacts, Limits};
use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;
use crate::rootfs::{DirHandle, RootFs};
use crate::tree::PathLookup;
use crate::walk::Exclude;

/// What a path turned out to be when first asked.
#[derive(Clone, Debug)]
enum Probe {
    /// Nothing there (or a parent is not a directory).
    Absent,
    /// A regular file, with its `(st_dev, st_ino)`.
    File((u64, u64)),
    Dir,
    OtherFs,
    Symlink(ByteStr),
    Special,
    Unreadable,
}

/// A root looked at only where asked. See the module documentation.
pub struct LazyView<'a> {
    rootfs: &'a RootFs,
    limits: Limits,
    exclude: Option<Exclude>,
    probes: Mutex<HashMap<Vec<u8>, Probe>>,
    /// The object of each regular file asked for as one (`None`: not ELF, or unreadable facts).
    parsed: Mutex<HashMap<Vec<u8>, Option<ObjectId>>>,
    listings: Mutex<HashMap<Vec<u8>, Vec<ByteStr>>>,
    /// Append-only, so `facts` can hand out references while other threads add objects.
    objects: boxcar::Vec<(ByteStr, ElfFacts)>,
}

impl<'a> LazyView<'a> {
    /// A view of `rootfs`; ELF files are read within `limits` (as the scan would read them).
    pub fn new(rootfs: &'a RootFs, limits: Limits) -> LazyView<'a> {
        LazyView {
            rootfs,
            limits,
            exclude: None,
            probes: Mutex::new(HashMap::new()),
            parsed: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            objects: boxcar::Vec::new(),
        }
    }

    /// Paths `exclude` names are not looked at, as the walk does not enter them (they answer as a
    /// mount point does).
    pub fn excluding(mut self, exclude: Option<Exclude>) -> LazyView<'a> {
        self.exclude = exclude;
        self
    }

    /// How many paths were looked up (what the view cost).
    pub fn lookups(&self) -> usize {
        self.probes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The object at `path` (symlinks followed inside the root), when it is an ELF object.
    pub fn object_at(&self, path: &[u8]) -> Result<ObjectId, FileError> {
        let canonical = self.resolve(path, true)?;
        match self.probe(canonical.as_bytes()) {
            Probe::File(_) => {
                if let Some(id) = self.object(canonical.as_bytes()) {
                    return Ok(id);
                }
                // Say why: not ELF, or an ELF file whose facts cannot be read.
                match self.read_elf(canonical.as_bytes(), &self.limits) {
                    Ok(_) => Err(FileError::new(ErrorCode::NotElf, "not an ELF file")),
                    Err(e) => Err(e),
                }
            }
            _ => Err(FileError::new(
                ErrorCode::NotRegular,
                "not a regular file, so not an ELF object",
            )),
        }
    }

    fn probe(&self, path: &[u8]) -> Probe {
        if let Some(p) = self
            .probes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return p.clone();
        }
        // Looked up without the lock: two threads may probe the same path at once; the first
        // answer stored wins, so every caller sees one id per object.
        let fresh = self.look(path);
        let mut probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
        probes.entry(path.to_vec()).or_insert(fresh).clone()
    }

    fn look(&self, path: &[u8]) -> Probe {
        if path == b"/" {
            return Probe::Dir;
        }
        let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
            return Probe::Absent;
        };
        let (parent, name) = (&path[..slash.max(1)], &path[slash + 1..]);
        if name.is_empty() || name == b"." || name == b".." {
            return Probe::Absent;
        }
        if self.exclude.as_ref().is_some_and(|x| x.matches(path)) {
            return Probe::OtherFs;
        }
        let dir = match self.rootfs.open_dir(parent) {
            Ok(DirHandle::Open(fd)) => fd,
            // Below a mount point, or a parent that is not a directory: nothing the walk saw.
            Ok(DirHandle::OtherFilesystem) | Err(_) => return Probe::Absent,
        };
        let st = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(_) => return Probe::Absent,
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => match self.rootfs.open_dir(path) {
                Ok(DirHandle::Open(_)) => Probe::Dir,
                Ok(DirHandle::OtherFilesystem) => Probe::OtherFs,
                Err(_) => Probe::Unreadable,
            },
            FileType::Symlink => match self.rootfs.read_link_at(dir.as_fd(), name) {
                Ok(t) => Probe::Symlink(t),
                Err(_) => Probe::Unreadable,
            },
            // Opened (and closed) as the walk opens it, so what it cannot open is unreadable here
            // too.
            FileType::RegularFile => match self.rootfs.open_file_at(dir.as_fd(), name) {
                Ok(file) => Probe::File((file.stat.st_dev, file.stat.st_ino)),
                Err(_) => Probe::Unreadable,
            },
            FileType::Fifo
            | FileType::Socket
            | FileType::CharacterDevice
            | FileType::BlockDevice => Probe::Special,
            FileType::Unknown => Probe::Unreadable,
        }
    }

    /// Reads the facts of the regular file at canonical `path` (once).
    fn parse(&self, path: &[u8]) -> Option<ObjectId> {
        if let Some(&id) = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return id;
        }
        let parsed = crate::scan::guarded(|| {
            read_elf_in(self.rootfs, path, &self.limits).map(|f| f.map(Box::new))
        });
        let mut map = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        // Parsed without the lock: the first answer stored wins, so an object has one id.
        if let Some(&id) = map.get(path) {
            return id;
        }
        let id = match parsed {
            Ok(Some(facts)) => Some(self.objects.push((ByteStr::from(path), *facts))),
            _ => None,
        };
        map.insert(path.to_vec(), id);
        id
    }

    /// `f` of the sorted names in the directory at canonical `dir` (listed once).
    fn with_listing<R>(&self, dir: &[u8], f: impl FnOnce(&[ByteStr]) -> R) -> R {
        if let Some(l) = self
            .listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(dir)
        {
            return f(l);
        }
        let names = if matches!(self.probe(dir), Probe::Dir) {
            self.list(dir)
        } else {
            Vec::new()
        };
        let mut listings = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        f(listings.entry(dir.to_vec()).or_insert(names))
    }

    fn list(&self, dir: &[u8]) -> Vec<ByteStr> {
        let fd = match self.rootfs.open_dir(dir) {
            Ok(DirHandle::Open(fd)) => fd,
            _ => return Vec::new(),
        };
        let Ok(mut d) = Dir::new(fd) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        while let Some(Ok(ent)) = d.read() {
            let name = ent.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(ByteStr::from(name));
            }
        }
        names.sort_unstable();
        names
    }
}

impl FsView for LazyView<'_> {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        match self.probe(path) {
            Probe::Absent => None,
            Probe::File(..) => Some(FileKind::File),
            Probe::Dir => Some(FileKind::Dir),
            Probe::OtherFs => Some(FileKind::OtherFs),
            Probe::Symlink(_) => Some(FileKind::Symlink),
            Probe::Special => Some(FileKind::Special),
            Probe::Unreadable => Some(FileKind::Unreadable),
        }
    }

    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        match self.probe(path) {
            Probe::Symlink(t) => Some(t),
            _ => None,
        }
    }

    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        // As the snapshot: known for the objects.
        match self.probe(path) {
            Probe::File(inode) if self.object(path).is_some() => Some(inode),
            _ => None,
        }
    }

    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        self.with_listing(dir, <[ByteStr]>::to_vec)
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
        match self.probe(path) {
            Probe::File(_) => self.parse(path),
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

impl PathLookup for LazyView<'_> {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        FsView::resolve(self, path, follow_last)
    }

    // From the directory's listing (read once), not a lookup of each name: a package database
    // asks this for every file it lists.
    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.with_listing(dir, |names| {
            names.binary_search_by(|n| n.as_bytes().cmp(name)).is_ok()
        })
    }
}

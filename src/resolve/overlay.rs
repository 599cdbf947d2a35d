/*!
A [`FsView`] of host files laid over a base view, as a Dockerfile `COPY SRC DEST` lays them over
the image below: the question "would these binaries run on that base?" without copying the base.

- The base is any view (a [`super::LazyView`] of a directory or an unpacked image), asked only
  about the paths a loader asks about: nothing of the base is walked or copied.
- SRC (a host file or directory) is read once when the overlay is built: its tree is listed with
  `lstat`, never following a symlink (a symlink inside SRC is copied as a symlink, its target kept
  as written, and resolved later inside the combined root), FIFOs, sockets and devices are never
  opened, and the listing is bounded ([`MAX_ADDED_ENTRIES`], [`MAX_ADDED_DEPTH`]). File bytes are
  read only when asked, through a descriptor opened `O_NOFOLLOW | O_NONBLOCK` and checked to be a
  regular file, within the caller's bounds.
- DEST is an absolute path in the root, resolved through the combined root's symlinks as after
  `chroot` (Docker resolves it in the image's root the same way); directories it names that do
  not exist are created. A file SRC lands at DEST, or at `DEST/NAME` when DEST ends with `/` or
  is a directory; a directory SRC's contents land in DEST.
- What SRC puts at a path replaces what the base has there (a file or symlink over a file or a
  symlink: a symlink inside DEST is replaced, not written through); a directory of SRC merges with
  the base's directory. As BuildKit's copy (tonistiigi/fsutil), a directory of SRC over a
  non-directory, or a file over a directory, is refused. DEST itself is resolved through every
  symlink, its last component's included: a file copied to a symlink lands at its target.

Objects of the base keep their ids; added objects get ids from [`ADDED_ID_BASE`] up, so the two
never collide. An added file's identity is its own (a copy is a new inode: glibc's loader does not
take it for the base file it was copied from).
*/

use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{FileType, Mode, OFlags};

use super::view::{FileKind, FsView, ObjectId};
use crate::elf::{ElfFacts, Limits};
use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;
use crate::tree::PathLookup;

/// The first id of an added object (base views number theirs from 0, far below).
pub const ADDED_ID_BASE: ObjectId = 1 << 40;

/// Most entries the SRC trees of one overlay may hold together.
pub const MAX_ADDED_ENTRIES: usize = 1_000_000;

/// Deepest directory nesting listed inside one SRC.
pub const MAX_ADDED_DEPTH: usize = 256;

/// One `--add SRC:DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddSpec {
    /// The host file or directory.
    pub src: PathBuf,
    /// The absolute path in the root.
    pub dest: ByteStr,
}

impl AddSpec {
    /// Parses `SRC:DEST`, split at the last `:/` (a host path may hold `:`; DEST is absolute).
    pub fn parse(s: &str) -> Result<AddSpec, String> {
        let Some(at) = s.rfind(":/") else {
            return Err(format!(
                "--add {s}: expected SRC:DEST, DEST an absolute path in the root (e.g. \
                 --add target/release/app:/usr/local/bin/)"
            ));
        };
        let (src, dest) = (&s[..at], &s[at + 1..]);
        if src.is_empty() {
            return Err(format!(
                "--add {s}: SRC is empty; give the host file or directory before the `:`"
            ));
        }
        Ok(AddSpec {
            src: PathBuf::from(src),
            dest: ByteStr::from(dest),
        })
    }
}

/// What SRC put at a path.
#[derive(Clone, Debug)]
enum Added {
    /// A directory; `merges`: the base has a directory here, whose entries stay.
    Dir {
        merges: bool,
    },
    /// A regular file, read from the host path; `index` numbers it for its identity.
    File {
        host: PathBuf,
        index: u64,
    },
    Symlink(ByteStr),
    /// A FIFO, socket or device: never opened.
    Special,
}

/// Host files laid over `base`. See the module documentation.
pub struct OverlayView<'b> {
    base: &'b dyn FsView,
    added: BTreeMap<Vec<u8>, Added>,
    limits: Limits,
    parsed: Mutex<HashMap<Vec<u8>, Option<ObjectId>>>,
    objects: boxcar::Vec<(ByteStr, ElfFacts)>,
}

/// Why an overlay cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayError(pub String);

impl std::fmt::Display for OverlayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'b> OverlayView<'b> {
    /// `base` with each of `adds` laid over it in order (a later one over an earlier one, as
    /// successive `COPY` lines); added ELF files are read within `limits`.
    pub fn new(
        base: &'b dyn FsView,
        adds: &[AddSpec],
        limits: Limits,
    ) -> Result<OverlayView<'b>, OverlayError> {
        let mut view = OverlayView {
            base,
            added: BTreeMap::new(),
            limits,
            parsed: Mutex::new(HashMap::new()),
            objects: boxcar::Vec::new(),
        };
        let mut budget = MAX_ADDED_ENTRIES;
        for a in adds {
            view.add(a, &mut budget)?;
        }
        Ok(view)
    }

    /// The canonical paths of the regular files SRC put in the root, in byte order (what `check
    /// --add` judges).
    pub fn added_files(&self) -> Vec<ByteStr> {
        self.added
            .iter()
            .filter(|(_, a)| matches!(a, Added::File { .. }))
            .map(|(p, _)| ByteStr::from(p.as_slice()))
            .collect()
    }

    /// The paths where SRC replaced something of the base that was not a directory (a file, a
    /// symlink): what base programs may have loaded and now load the added file instead.
    pub fn shadowed(&self) -> Vec<ByteStr> {
        self.added
            .iter()
            .filter(|(p, a)| {
                !matches!(a, Added::Dir { merges: true })
                    && self.base.kind(p).is_some_and(|k| k != FileKind::Dir)
            })
            .map(|(p, _)| ByteStr::from(p.as_slice()))
            .collect()
    }

    /// The canonical paths of every non-directory entry SRC put in the root.
    pub fn added_entries(&self) -> Vec<ByteStr> {
        self.added
            .iter()
            .filter(|(_, a)| !matches!(a, Added::Dir { .. }))
            .map(|(p, _)| ByteStr::from(p.as_slice()))
            .collect()
    }

    /// Whether object `id` is one SRC added.
    pub fn is_added(id: ObjectId) -> bool {
        id >= ADDED_ID_BASE
    }

    fn add(&mut self, a: &AddSpec, budget: &mut usize) -> Result<(), OverlayError> {
        let shown = a.src.display();
        let dest = a.dest.as_bytes();
        if !dest.starts_with(b"/") {
            return Err(OverlayError(format!(
                "--add {shown}:{}: DEST must be an absolute path in the root",
                a.dest.display_escaped()
            )));
        }
        // SRC itself, named by the user, is followed when it is a symlink (as COPY follows the
        // source it names); what lies inside a directory SRC never is.
        let cannot = |e: std::io::Error| {
            OverlayError(format!(
                "--add {shown}: cannot read {shown} on this machine: {e}; give an existing file \
                 or directory"
            ))
        };
        let src = std::fs::canonicalize(&a.src).map_err(cannot)?;
        let meta = std::fs::symlink_metadata(&src).map_err(cannot)?;
        let into_dir = dest.ends_with(b"/");
        let target = self.place(dest).map_err(|e| {
            OverlayError(format!(
                "--add {shown}:{}: DEST cannot be used in the root: {}",
                a.dest.display_escaped(),
                e.message
            ))
        })?;
        if meta.is_dir() {
            self.mkdirs(&target);
            self.copy_tree(&src, &target, 0, budget)
        } else {
            // A file: into DEST when DEST is (or is written as) a directory.
            let name = a.src.file_name().map(OsStrExt::as_bytes).unwrap_or(b"");
            let at = if into_dir || self.kind(&target) == Some(FileKind::Dir) {
                self.mkdirs(&target);
                crate::tree::child_of(&target, name)
            } else {
                let parent = super::env::dirname(&target).to_vec();
                self.mkdirs(&parent);
                target
            };
            self.put_entry(&src, at, &meta, budget)
        }
    }

    /// DEST's canonical path in the combined root: its existing directories resolved through
    /// symlinks as after chroot; what does not exist is kept as written (it will be created).
    fn place(&self, dest: &[u8]) -> Result<Vec<u8>, FileError> {
        let mut cur = b"/".to_vec();
        let comps: Vec<&[u8]> = dest
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        for (i, c) in comps.iter().enumerate() {
            if *c == b".." {
                let parent = super::env::dirname(&cur).to_vec();
                cur = if parent.is_empty() {
                    b"/".to_vec()
                } else {
                    parent
                };
                continue;
            }
            let next = crate::tree::child_of(&cur, c);
            match self.kind(&next) {
                Some(FileKind::Symlink) => {
                    let last = i + 1 == comps.len();
                    match self.resolve(&next, true) {
                        Ok(r) => cur = r.as_bytes().to_vec(),
                        // A dangling final symlink: the copy writes where it points.
                        Err(_) if last => cur = self.resolve(&next, false)?.as_bytes().to_vec(),
                        Err(e) => return Err(e),
                    }
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    /// Makes `path` and its parents directories of the combined root.
    fn mkdirs(&mut self, path: &[u8]) {
        let mut prefixes = vec![path.to_vec()];
        let mut p = path;
        while p != b"/" && !p.is_empty() {
            p = super::env::dirname(p);
            if p.is_empty() {
                break;
            }
            prefixes.push(p.to_vec());
        }
        for p in prefixes.into_iter().rev() {
            if p == b"/" || self.kind(&p) == Some(FileKind::Dir) {
                continue;
            }
            let merges = self.base.kind(&p) == Some(FileKind::Dir) && self.base_visible(&p);
            self.added.insert(p, Added::Dir { merges });
        }
    }

    fn copy_tree(
        &mut self,
        dir: &Path,
        at: &[u8],
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), OverlayError> {
        if depth > MAX_ADDED_DEPTH {
            return Err(OverlayError(format!(
                "--add: {} nests directories deeper than {MAX_ADDED_DEPTH}; elfdeps stops there",
                dir.display()
            )));
        }
        let rd = std::fs::read_dir(dir).map_err(|e| {
            OverlayError(format!(
                "--add: cannot list {} on this machine: {e}",
                dir.display()
            ))
        })?;
        let mut entries: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| {
                OverlayError(format!(
                    "--add: cannot list {} on this machine: {e}",
                    dir.display()
                ))
            })?;
            entries.push((e.file_name().as_bytes().to_vec(), e.path()));
        }
        entries.sort();
        for (name, host) in entries {
            let meta = std::fs::symlink_metadata(&host).map_err(|e| {
                OverlayError(format!(
                    "--add: cannot read {} on this machine: {e}",
                    host.display()
                ))
            })?;
            let path = crate::tree::child_of(at, &name);
            if meta.is_dir() {
                if let Some(k) = self.kind(&path).filter(|k| *k != FileKind::Dir) {
                    return Err(onto_non_dir(&host, &path, k));
                }
                if !matches!(self.added.get(&path), Some(Added::Dir { .. })) {
                    let merges =
                        self.base.kind(&path) == Some(FileKind::Dir) && self.base_visible(&path);
                    self.take(budget)?;
                    self.added.insert(path.clone(), Added::Dir { merges });
                }
                self.copy_tree(&host, &path, depth + 1, budget)?;
            } else {
                self.put_entry(&host, path, &meta, budget)?;
            }
        }
        Ok(())
    }

    fn take(&self, budget: &mut usize) -> Result<(), OverlayError> {
        *budget = budget.checked_sub(1).ok_or_else(|| {
            OverlayError(format!(
                "--add: the sources hold more than {MAX_ADDED_ENTRIES} entries; elfdeps stops there"
            ))
        })?;
        Ok(())
    }

    /// Puts the host entry `host` (not a directory) at canonical `path`.
    fn put_entry(
        &mut self,
        host: &Path,
        path: Vec<u8>,
        meta: &std::fs::Metadata,
        budget: &mut usize,
    ) -> Result<(), OverlayError> {
        self.take(budget)?;
        let ft = meta.file_type();
        let entry = if ft.is_symlink() {
            let t = std::fs::read_link(host).map_err(|e| {
                OverlayError(format!(
                    "--add: cannot read the symbolic link {} on this machine: {e}",
                    host.display()
                ))
            })?;
            Added::Symlink(ByteStr::from(t.as_os_str().as_bytes()))
        } else if ft.is_file() {
            Added::File {
                host: host.to_path_buf(),
                index: *budget as u64,
            }
        } else {
            Added::Special
        };
        // A directory is never replaced by a file (BuildKit's copy refuses it: "cannot replace
        // to directory with file").
        if self.kind(&path) == Some(FileKind::Dir) {
            return Err(OverlayError(format!(
                "--add: {} would replace the directory {} of the root; COPY refuses to replace a \
                 directory with a file: give a DEST inside it",
                host.display(),
                ByteStr::from(path.as_slice()).display_escaped()
            )));
        }
        self.added.insert(path, entry);
        Ok(())
    }

    /// Whether the base's entry at `path` is seen through the overlay: no added entry above it
    /// replaces a parent.
    fn base_visible(&self, path: &[u8]) -> bool {
        let mut p = path;
        loop {
            p = super::env::dirname(p);
            if p.is_empty() || p == b"/" {
                return true;
            }
            match self.added.get(p) {
                Some(Added::Dir { merges: true }) => return true,
                Some(_) => return false,
                None => {}
            }
        }
    }

    /// The added entry at `path`, or `None` when the base answers (`Some(None)`: nothing there).
    fn own(&self, path: &[u8]) -> Option<Option<&Added>> {
        if let Some(a) = self.added.get(path) {
            return Some(Some(a));
        }
        (!self.base_visible(path)).then_some(None)
    }

    fn host_of(&self, path: &[u8]) -> Option<&Path> {
        match self.added.get(path) {
            Some(Added::File { host, .. }) => Some(host),
            _ => None,
        }
    }

    fn parse(&self, path: &[u8]) -> Option<ObjectId> {
        if let Some(&id) = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return id;
        }
        let parsed =
            crate::scan::guarded(|| self.read_elf(path, &self.limits).map(|f| f.map(Box::new)));
        let mut map = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = map.get(path) {
            return id;
        }
        let id = match parsed {
            Ok(Some(facts)) => {
                Some(ADDED_ID_BASE + self.objects.push((ByteStr::from(path), *facts)))
            }
            _ => None,
        };
        map.insert(path.to_vec(), id);
        id
    }
}

/// A directory of SRC landing on what is not a directory: BuildKit's copy refuses it ("cannot
/// copy to non-directory"), and so does the overlay, rather than guess.
fn onto_non_dir(host: &Path, path: &[u8], kind: FileKind) -> OverlayError {
    let what = match kind {
        FileKind::Symlink => "a symbolic link",
        FileKind::File => "a file",
        _ => "not a directory",
    };
    OverlayError(format!(
        "--add: the directory {} would land on {}, which is {what} in the root; COPY refuses to \
         copy a directory onto it: give DEST as the path it resolves to",
        host.display(),
        ByteStr::from(path).display_escaped()
    ))
}

/// Opens the host file SRC put in the root: never following a symlink, never blocking on a FIFO
/// or device (what was a regular file when listed must still be one).
fn open_host(host: &Path) -> Result<crate::rootfs::OpenFile, FileError> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY;
    let fd = rustix::fs::open(host, flags | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| FileError::io("open", &e.into()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| FileError::io("fstat", &e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(FileError::new(
            ErrorCode::NotRegular,
            format!(
                "{} is no longer a regular file on this machine; not read",
                host.display()
            ),
        ));
    }
    Ok(crate::rootfs::OpenFile { fd, stat })
}

fn read_host(host: &Path, max: u64, whole: bool) -> Result<Vec<u8>, FileError> {
    let file = open_host(host)?;
    let len = u64::try_from(file.stat.st_size).unwrap_or(0);
    if whole && len > max {
        return Err(FileError::new(
            ErrorCode::LimitExceeded,
            format!("{len} bytes, more than the {max} read"),
        ));
    }
    let len = len.min(max);
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(&file.fd, &mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => continue,
            Err(e) => return Err(FileError::io("read", &e.into())),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

fn not_regular(path: &[u8]) -> FileError {
    FileError::new(
        ErrorCode::NotRegular,
        format!("{} is not a regular file", ByteStr::from(path)),
    )
}

impl FsView for OverlayView<'_> {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        if path == b"/" {
            return Some(FileKind::Dir);
        }
        match self.own(path) {
            Some(Some(Added::Dir { .. })) => Some(FileKind::Dir),
            Some(Some(Added::File { .. })) => Some(FileKind::File),
            Some(Some(Added::Symlink(_))) => Some(FileKind::Symlink),
            Some(Some(Added::Special)) => Some(FileKind::Special),
            Some(None) => None,
            None => self.base.kind(path),
        }
    }

    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        match self.own(path) {
            Some(Some(Added::Symlink(t))) => Some(t.clone()),
            Some(_) => None,
            None => self.base.read_link(path),
        }
    }

    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        match self.own(path) {
            // A copy is a file of its own.
            Some(Some(Added::File { index, .. })) => Some((u64::MAX, *index)),
            Some(_) => None,
            None => self.base.identity(path),
        }
    }

    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        let mut out = match self.own(dir) {
            Some(Some(Added::Dir { merges: true })) | None => self.base.children(dir),
            _ => Vec::new(),
        };
        let mut prefix = dir.to_vec();
        if dir != b"/" {
            prefix.push(b'/');
        }
        for (k, _) in self
            .added
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            let rest = &k[prefix.len()..];
            if !rest.is_empty() && !rest.contains(&b'/') {
                out.push(ByteStr::from(rest));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        match self.own(path) {
            Some(Some(Added::File { host, .. })) => read_host(host, max, true),
            Some(_) => Err(not_regular(path)),
            None => self.base.read(path, max),
        }
    }

    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        match self.own(path) {
            Some(Some(Added::File { host, .. })) => read_host(host, max, false),
            Some(_) => Err(not_regular(path)),
            None => self.base.read_prefix(path, max),
        }
    }

    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
        match self.own(path) {
            Some(Some(Added::File { .. })) => {
                let host = self.host_of(path).ok_or_else(|| not_regular(path))?;
                let file = open_host(host)?;
                let len = u64::try_from(file.stat.st_size).unwrap_or(0);
                crate::elf::parse_file(std::os::fd::AsFd::as_fd(&file.fd), len, limits)
            }
            Some(_) => Err(not_regular(path)),
            None => self.base.read_elf(path, limits),
        }
    }

    fn object(&self, path: &[u8]) -> Option<ObjectId> {
        match self.own(path) {
            Some(Some(Added::File { .. })) => self.parse(path),
            Some(_) => None,
            None => self.base.object(path),
        }
    }

    fn facts(&self, id: ObjectId) -> &ElfFacts {
        if id >= ADDED_ID_BASE {
            &self.objects[id - ADDED_ID_BASE].1
        } else {
            self.base.facts(id)
        }
    }

    fn object_path(&self, id: ObjectId) -> &ByteStr {
        if id >= ADDED_ID_BASE {
            &self.objects[id - ADDED_ID_BASE].0
        } else {
            self.base.object_path(id)
        }
    }
}

impl PathLookup for OverlayView<'_> {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        FsView::resolve(self, path, follow_last)
    }

    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.kind(&crate::tree::child_of(dir, name)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::MemView;

    fn host_tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("app/bin")).unwrap();
        std::fs::create_dir_all(d.path().join("app/lib")).unwrap();
        std::fs::create_dir_all(d.path().join("app/opt")).unwrap();
        std::fs::write(d.path().join("app/bin/prog"), b"#!/bin/sh\n").unwrap();
        std::fs::write(d.path().join("app/lib/libx.so.1"), b"not elf").unwrap();
        std::os::unix::fs::symlink("libx.so.1", d.path().join("app/lib/libx.so")).unwrap();
        // Never followed on the host.
        std::os::unix::fs::symlink("/etc/shadow", d.path().join("app/lib/escape")).unwrap();
        d
    }

    fn base() -> MemView {
        let mut v = MemView::new();
        v.symlink("/lib", "usr/lib")
            .file("/usr/lib/libold.so", b"old")
            .file("/usr/lib/libx.so.1", b"base x")
            .symlink("/opt", "srv")
            .dir("/srv/keep")
            .file("/srv/keep/f", b"f");
        v
    }

    /// SRC laid over the base as COPY does: DEST resolved through the base's symlinks, a
    /// directory's contents merged into DEST, a file replacing the base's, symlinks copied as
    /// symlinks, the base's other entries still there.
    #[test]
    fn sources_land_as_a_copy_would() {
        let host = host_tree();
        let b = base();
        let spec = |s: &str| AddSpec::parse(s).unwrap();
        let src = format!("{}/app/lib:/lib", host.path().display());
        let file = format!("{}/app/bin/prog:/opt/app/", host.path().display());
        let v = OverlayView::new(&b, &[spec(&src), spec(&file)], Limits::default()).unwrap();
        assert_eq!(v.read(b"/usr/lib/libx.so.1", 99).unwrap(), b"not elf");
        assert_eq!(v.read(b"/usr/lib/libold.so", 99).unwrap(), b"old");
        assert_eq!(
            v.read_link(b"/usr/lib/escape").unwrap(),
            ByteStr::from("/etc/shadow")
        );
        assert_eq!(
            v.resolve(b"/lib/libx.so", true).unwrap(),
            ByteStr::from("/usr/lib/libx.so.1")
        );
        assert_eq!(v.kind(b"/srv/app/prog"), Some(FileKind::File));
        assert_eq!(v.kind(b"/srv/keep/f"), Some(FileKind::File));
        let kids: Vec<String> = v
            .children(b"/usr/lib")
            .iter()
            .map(|n| n.escaped())
            .collect();
        assert_eq!(kids, ["escape", "libold.so", "libx.so", "libx.so.1"]);
        assert_eq!(v.shadowed(), vec![ByteStr::from("/usr/lib/libx.so.1")]);
        assert_eq!(
            v.added_files(),
            vec![
                ByteStr::from("/srv/app/prog"),
                ByteStr::from("/usr/lib/libx.so.1")
            ]
        );
    }

    /// A file SRC onto a path that is not a directory replaces it; onto one that does not exist,
    /// is written at DEST with its parents created.
    #[test]
    fn a_file_lands_at_dest_or_in_it() {
        let host = host_tree();
        let b = base();
        let p = format!("{}/app/bin/prog:/new/dir/tool", host.path().display());
        let v = OverlayView::new(&b, &[AddSpec::parse(&p).unwrap()], Limits::default()).unwrap();
        assert_eq!(v.kind(b"/new"), Some(FileKind::Dir));
        assert_eq!(v.kind(b"/new/dir/tool"), Some(FileKind::File));
        assert_eq!(v.children(b"/new/dir"), vec![ByteStr::from("tool")]);
    }

    /// As BuildKit's copy: a directory of SRC onto a symlink of the base, or a file onto a
    /// directory, is refused rather than guessed.
    #[test]
    fn a_directory_onto_a_symlink_is_refused() {
        let host = host_tree();
        let b = base();
        let p = format!("{}/app:/", host.path().display());
        let e = OverlayView::new(&b, &[AddSpec::parse(&p).unwrap()], Limits::default());
        assert!(e.is_err_and(|e| e.0.contains("symbolic link")));
        let p = format!("{}/app/bin/prog:/srv/keep", host.path().display());
        // A file onto a directory lands in it.
        let v = OverlayView::new(&b, &[AddSpec::parse(&p).unwrap()], Limits::default()).unwrap();
        assert_eq!(v.kind(b"/srv/keep/prog"), Some(FileKind::File));
    }

    #[test]
    fn specs_split_at_the_last_colon_slash() {
        let a = AddSpec::parse("a:b/c:d:/usr/bin/").unwrap();
        assert_eq!(a.src, PathBuf::from("a:b/c:d"));
        assert_eq!(a.dest, ByteStr::from("/usr/bin/"));
        assert!(AddSpec::parse("nodest").is_err());
        assert!(AddSpec::parse(":/x").is_err());
    }

    /// SRC named as a symlink is followed (COPY follows the source it names), and the file keeps
    /// the name it was given by.
    #[test]
    fn a_src_symlink_is_followed() {
        let host = host_tree();
        let b = base();
        let p = format!("{}/app/lib/libx.so:/usr/lib/", host.path().display());
        let v = OverlayView::new(&b, &[AddSpec::parse(&p).unwrap()], Limits::default()).unwrap();
        assert_eq!(v.kind(b"/usr/lib/libx.so"), Some(FileKind::File));
        assert_eq!(v.read(b"/usr/lib/libx.so", 99).unwrap(), b"not elf");
    }

    /// A FIFO inside SRC is listed, never opened (a read would block).
    #[test]
    fn fifos_in_sources_are_never_opened() {
        let host = host_tree();
        let fifo = host.path().join("app/lib/pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let b = base();
        let p = format!("{}/app/lib:/usr/lib", host.path().display());
        let v = OverlayView::new(&b, &[AddSpec::parse(&p).unwrap()], Limits::default()).unwrap();
        assert_eq!(v.kind(b"/usr/lib/pipe"), Some(FileKind::Special));
        assert!(v.read(b"/usr/lib/pipe", 10).is_err());
        assert_eq!(v.object(b"/usr/lib/pipe"), None);
    }
}

/*!
Root access: the only module that touches the filesystem.

Every path handled by elfdeps is a path *inside* ROOT, written as an absolute byte string (`/usr/lib/x`).
This layer turns those into file descriptors without ever leaving the root:

- Opening goes through `openat2(2)` relative to a descriptor of ROOT with `RESOLVE_BENEATH |
  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel itself refuses any `..` above ROOT and any
  symlink on the way, so a directory swapped for a symlink while we scan fails instead of escaping.
  Kernels older than 5.6 lack `openat2`; there we fall back to `openat` with `O_NOFOLLOW`, which protects
  the last component only (documented limitation).
- Files are opened `O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY` and must be regular according to
  `fstat` on the opened handle, so a FIFO or device never blocks or feeds us endless bytes, even when it
  replaced a regular file after the directory was listed.
- Symlinks are resolved here, component by component, as the kernel would after `chroot(ROOT)`:
  absolute targets restart at ROOT, `..` at ROOT stays at ROOT, and more than [`MAX_SYMLINKS`] hops is
  a loop (`ELOOP`, the kernel's limit). The host's `realpath` is never used.
*/

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;

/// The kernel's limit on symlinks followed in one path resolution (MAXSYMLINKS).
pub const MAX_SYMLINKS: usize = 40;

/// Flags for opening a file we may read: never block, never follow a final symlink, never become our
/// controlling terminal.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Why ROOT itself cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use {} as a root: {message}", root.display())]
pub struct RootError {
    /// The root as given.
    pub root: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// A regular file opened inside the root, with the `fstat` of the opened handle.
#[derive(Debug)]
pub struct OpenFile {
    /// The descriptor (read-only, non-blocking).
    pub fd: OwnedFd,
    /// `fstat` of `fd`.
    pub stat: Stat,
}

/// A file the walk listed as regular, opened (non-blocking, not following a symlink) but not yet
/// checked with `fstat`.
#[derive(Debug)]
pub struct ListedFile {
    fd: OwnedFd,
}

impl ListedFile {
    /// The descriptor, for reads before the check (non-blocking: a FIFO or device swapped in
    /// since the listing answers at once, and `pread` refuses pipes).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `fstat` of the handle: a regular file, or the `not-regular` error of a file replaced
    /// during the scan.
    pub fn check(self) -> Result<OpenFile, FileError> {
        check_regular(self.fd, Listed::AsRegular)
    }
}

/// The result of opening a directory of the root.
#[derive(Debug)]
pub enum DirHandle {
    /// Opened.
    Open(OwnedFd),
    /// On another filesystem (a mount point inside the root): not opened, not walked.
    OtherFilesystem,
}

/// A root filesystem: a directory descriptor that every access is relative to.
#[derive(Debug)]
pub struct RootFs {
    path: PathBuf,
    fd: OwnedFd,
    dev: u64,
    has_openat2: bool,
}

impl RootFs {
    /// Opens `path` as a root. It must be a directory.
    pub fn open(path: &Path) -> Result<RootFs, RootError> {
        let err = |message: String| RootError {
            root: path.to_path_buf(),
            message,
        };
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::NOTDIR => {
                err("not a directory (give the directory of an unpacked root filesystem)".into())
            }
            Errno::NOENT => err("no such directory".into()),
            e => err(format!("{e}")),
        })?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| err(format!("fstat: {e}")))?;
        // Probe openat2 once: ENOSYS means an old kernel (or a seccomp filter that hides it).
        let has_openat2 = !matches!(
            rustix::fs::openat2(&fd, ".", DIR_FLAGS, Mode::empty(), ResolveFlags::BENEATH),
            Err(Errno::NOSYS)
        );
        Ok(RootFs {
            path: path.to_path_buf(),
            fd,
            dev: stat.st_dev,
            has_openat2,
        })
    }

    /// The root as given on the command line.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a directory by its in-root path, which must contain no symlinks (a walked path).
    /// A directory on another filesystem than the root's (a mount point) is not opened.
    pub fn open_dir(&self, path: &[u8]) -> Result<DirHandle, FileError> {
        let fd = match self.open_beneath(path, DIR_FLAGS) {
            Ok(fd) => fd,
            // RESOLVE_NO_XDEV refused to cross a mount point.
            Err(Errno::XDEV) => return Ok(DirHandle::OtherFilesystem),
            Err(e) => return Err(FileError::io("open directory", &e.into())),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| FileError::io("fstat", &e.into()))?;
        if st.st_dev != self.dev {
            return Ok(DirHandle::OtherFilesystem);
        }
        Ok(DirHandle::Open(fd))
    }

    /// Opens a regular file by its canonical in-root path (no symlinks in it).
    pub fn open_file(&self, path: &[u8]) -> Result<OpenFile, FileError> {
        let fd = self
            .open_beneath(path, FILE_FLAGS)
            .map_err(|e| FileError::io("open", &e.into()))?;
        check_regular(fd, Listed::No)
    }

    /// Reads at most the first `max` bytes of a regular file by canonical in-root path.
    pub fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        let file = self.open_file(path)?;
        let len = u64::try_from(file.stat.st_size).unwrap_or(0).min(max);
        pread_all(&file, len)
    }

    /// Reads a whole regular file by canonical in-root path, refusing files larger than `max` bytes.
    pub fn read_file(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        let file = self.open_file(path)?;
        let len = u64::try_from(file.stat.st_size).unwrap_or(0);
        if len > max {
            return Err(FileError::new(
                ErrorCode::LimitExceeded,
                format!("{len} bytes, more than the {max} read for a configuration file"),
            ));
        }
        pread_all(&file, len)
    }

    /// Opens the regular file `name` in the directory `dir` (a walked directory).
    pub fn open_file_at(&self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<OpenFile, FileError> {
        let fd = rustix::fs::openat(dir, name, FILE_FLAGS, Mode::empty()).map_err(|e| match e {
            // The walk listed a regular file; O_NOFOLLOW refuses what is a symlink now.
            Errno::LOOP => FileError::new(
                ErrorCode::NotRegular,
                "a symbolic link once opened (it was replaced during the scan; symlinks are \
                 never followed); skipped",
            ),
            e => FileError::io("open", &e.into()),
        })?;
        check_regular(fd, Listed::AsRegular)
    }

    /// Opens `name` in the walked directory `dir`, which the walk listed as a regular file,
    /// without the `fstat` that [`RootFs::open_file_at`] makes: the caller reads a few bytes
    /// first (the open is non-blocking, so a FIFO or device put there since cannot block it) and
    /// checks the handle only when they matter ([`ListedFile::check`]).
    pub fn open_listed_at(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
    ) -> Result<ListedFile, FileError> {
        rustix::fs::openat(dir, name, FILE_FLAGS, Mode::empty())
            .map(|fd| ListedFile { fd })
            .map_err(|e| match e {
                Errno::LOOP => FileError::new(
                    ErrorCode::NotRegular,
                    "a symbolic link once opened (it was replaced during the scan; symlinks are \
                     never followed); skipped",
                ),
                e => FileError::io("open", &e.into()),
            })
    }

    /// Reads the target of the symlink `name` in the directory `dir`.
    pub fn read_link_at(&self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<ByteStr, FileError> {
        rustix::fs::readlinkat(dir, name, Vec::new())
            .map(|t| ByteStr::from(t.into_bytes()))
            .map_err(|e| match e {
                // Listed as a symlink, but no longer one.
                Errno::INVAL => FileError::new(
                    ErrorCode::NotRegular,
                    "no longer a symbolic link when read (it was replaced during the scan); \
                     skipped",
                ),
                e => FileError::io("readlink", &e.into()),
            })
    }

    /// Another handle on the same root (the descriptor duplicated).
    pub fn try_clone(&self) -> Result<RootFs, FileError> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.fd, 0)
            .map_err(|e| FileError::io("duplicate the root descriptor", &e.into()))?;
        Ok(RootFs {
            path: self.path.clone(),
            fd,
            dev: self.dev,
            has_openat2: self.has_openat2,
        })
    }

    /// Whether the canonical in-root `path` (no symlinks in it) is a regular file now: its
    /// directory opened beneath the root, then the name looked at without following it.
    pub fn is_regular_file(&self, path: &[u8]) -> bool {
        let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
            return false;
        };
        let (dir, name) = (&path[..slash], &path[slash + 1..]);
        let dir = if dir.is_empty() { &b"/"[..] } else { dir };
        let Ok(fd) = self.open_beneath(dir, DIR_FLAGS) else {
            return false;
        };
        rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
    }

    /// The names in the canonical in-root directory `dir` (no symlinks in its path), as listed now.
    pub fn list_dir(&self, dir: &[u8]) -> Result<Vec<ByteStr>, FileError> {
        let fd = self
            .open_beneath(dir, DIR_FLAGS)
            .map_err(|e| FileError::io("open directory", &e.into()))?;
        let mut d =
            rustix::fs::Dir::new(fd).map_err(|e| FileError::io("read directory", &e.into()))?;
        let mut names = Vec::new();
        while let Some(ent) = d.read() {
            let ent = ent.map_err(|e| FileError::io("read directory", &e.into()))?;
            let name = ent.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(ByteStr::from(name));
            }
        }
        Ok(names)
    }

    /// `lstat` of an in-root path whose directories contain no symlinks.
    fn lstat(&self, path: &[u8]) -> Result<Stat, Errno> {
        rustix::fs::statat(&self.fd, relative(path), AtFlags::SYMLINK_NOFOLLOW)
    }

    fn open_beneath(&self, path: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let rel = relative(path);
        if self.has_openat2 {
            let resolve = ResolveFlags::BENEATH
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_MAGICLINKS
                | ResolveFlags::NO_XDEV;
            loop {
                match rustix::fs::openat2(&self.fd, rel, flags, Mode::empty(), resolve) {
                    // openat2 returns EAGAIN when a concurrent rename could have raced the lookup.
                    Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
                    r => return r,
                }
            }
        } else {
            rustix::fs::openat(&self.fd, rel, flags, Mode::empty())
        }
    }

    /// Resolves `path` (absolute or relative to `/`) inside the root, following every symlink as the
    /// kernel would after `chroot(ROOT)`, and returns the canonical in-root path.
    ///
    /// With `follow_last == false` a symlink in the last component is returned as is (like `lstat`).
    pub fn resolve(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.resolve_with(
            path,
            follow_last,
            |p| self.lstat(p),
            |p| rustix::fs::readlinkat(&self.fd, relative(p), Vec::new()).map(|t| t.into_bytes()),
        )
    }

    /// The resolution algorithm, over injected `lstat` and `readlink` (so it is testable on its own and
    /// reusable over an in-memory snapshot of the tree).
    pub fn resolve_with(
        &self,
        path: &[u8],
        follow_last: bool,
        lstat: impl Fn(&[u8]) -> Result<Stat, Errno>,
        readlink: impl Fn(&[u8]) -> Result<Vec<u8>, Errno>,
    ) -> Result<ByteStr, FileError> {
        resolve_in_root(
            path,
            follow_last,
            |p| lstat(p).map(|st| FileType::from_raw_mode(st.st_mode)),
            readlink,
        )
    }

    /// Borrow the root descriptor.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Chroot-style resolution of `path` over an abstract filesystem given by `file_type` (lstat) and
/// `readlink`, both taking canonical in-root paths.
pub fn resolve_in_root(
    path: &[u8],
    follow_last: bool,
    file_type: impl Fn(&[u8]) -> Result<FileType, Errno>,
    readlink: impl Fn(&[u8]) -> Result<Vec<u8>, Errno>,
) -> Result<ByteStr, FileError> {
    // Components still to walk, in reverse order (so a symlink target is spliced in by pushing).
    let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
    // The canonical path so far, as components; never pops below the root.
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut hops = 0usize;
    while let Some(comp) = pending.pop() {
        if comp == b".." {
            done.pop();
            continue;
        }
        done.push(comp);
        let cur = join(&done);
        let ft = match file_type(&cur) {
            Ok(ft) => ft,
            // A missing component is the ordinary answer of a lookup, not a change under the scan.
            Err(Errno::NOENT) => {
                return Err(FileError::new(
                    ErrorCode::Vanished,
                    format!("{} does not exist", ByteStr::from(&cur[..])),
                ));
            }
            Err(Errno::NOTDIR) => {
                let parent = &done[..done.len() - 1];
                return Err(FileError::new(
                    ErrorCode::NotADirectory,
                    format!("{} is not a directory", ByteStr::from(&join(parent)[..])),
                ));
            }
            Err(e) => return Err(FileError::io("resolve", &e.into()).with_path_hint(&cur)),
        };
        let is_last = pending.is_empty();
        if ft == FileType::Symlink && (!is_last || follow_last) {
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(FileError::new(
                    ErrorCode::SymlinkLoop,
                    format!("more than {MAX_SYMLINKS} symbolic links while resolving (a loop?)"),
                ));
            }
            let target = readlink(&cur).map_err(|e| FileError::io("readlink", &e.into()))?;
            done.pop();
            if target.first() == Some(&b'/') {
                // An absolute target restarts at the root, never at the host's `/`.
                done.clear();
            }
            pending.extend(components(&target).rev().map(<[u8]>::to_vec));
        } else if !is_last && ft != FileType::Directory {
            return Err(FileError::new(
                ErrorCode::NotADirectory,
                format!("{} is not a directory", ByteStr::from(cur)),
            ));
        }
    }
    Ok(ByteStr::from(join(&done)))
}

impl FileError {
    fn with_path_hint(mut self, at: &[u8]) -> Self {
        self.message = format!("{} (at {})", self.message, ByteStr::from(at));
        self
    }
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    if comps.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::with_capacity(comps.iter().map(|c| c.len() + 1).sum());
    for c in comps {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    out
}

/// The path relative to the root descriptor: leading slashes dropped, `.` for the root itself.
fn relative(path: &[u8]) -> &std::ffi::OsStr {
    let trimmed = match path.iter().position(|&b| b != b'/') {
        Some(i) => &path[i..],
        None => b".",
    };
    std::ffi::OsStr::from_bytes(trimmed)
}

/// The first `len` bytes of an open file, by pread (never a mapping). A file that shrank meanwhile
/// is what it is now: the result is shorter.
fn pread_all(file: &OpenFile, len: u64) -> Result<Vec<u8>, FileError> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(&file.fd, &mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) | Err(Errno::AGAIN) => continue,
            Err(e) => return Err(FileError::io("read", &e.into())),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// What the caller knew of a file before opening it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listed {
    /// The walk listed it as a regular file: anything else now was put there during the scan.
    AsRegular,
    /// Opened by name (a configuration file, an image's index.json): it may always have been a
    /// FIFO or a directory.
    No,
}

fn check_regular(fd: OwnedFd, listed: Listed) -> Result<OpenFile, FileError> {
    let stat = rustix::fs::fstat(&fd).map_err(|e| FileError::io("fstat", &e.into()))?;
    let ft = FileType::from_raw_mode(stat.st_mode);
    if ft != FileType::RegularFile {
        let message = match listed {
            Listed::AsRegular => {
                "not a regular file once opened (it was replaced during the scan); skipped".into()
            }
            Listed::No => format!("{}, not a regular file: not read", file_type_name(ft)),
        };
        return Err(FileError::new(ErrorCode::NotRegular, message));
    }
    Ok(OpenFile { fd, stat })
}

/// A file type as messages name it.
fn file_type_name(ft: FileType) -> &'static str {
    match ft {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "a file of unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory tree: path -> Some(target) for symlinks, None for directories; files are "f".
    fn fake(entries: &[(&str, &str)]) -> HashMap<Vec<u8>, (FileType, Vec<u8>)> {
        let mut m = HashMap::new();
        m.insert(b"/".to_vec(), (FileType::Directory, vec![]));
        for (p, t) in entries {
            let v = match *t {
                "dir" => (FileType::Directory, vec![]),
                "file" => (FileType::RegularFile, vec![]),
                target => (FileType::Symlink, target.as_bytes().to_vec()),
            };
            m.insert(p.as_bytes().to_vec(), v);
        }
        m
    }

    fn res(tree: &HashMap<Vec<u8>, (FileType, Vec<u8>)>, p: &str) -> Result<String, ErrorCode> {
        resolve_in_root(
            p.as_bytes(),
            true,
            |q| tree.get(q).map(|e| e.0).ok_or(Errno::NOENT),
            |q| Ok(tree[q].1.clone()),
        )
        .map(|b| b.escaped())
        .map_err(|e| e.code)
    }

    #[test]
    fn dotdot_stops_at_root_and_absolute_restarts_at_root() {
        let t = fake(&[
            ("/etc", "dir"),
            ("/t", "dir"),
            ("/t/sub", "dir"),
            ("/t/sub/esc", "../../../../../../etc"),
            ("/x", "/../../.."),
            ("/usr", "dir"),
            ("/usr/lib", "dir"),
            ("/usr/lib/ld.so", "file"),
            ("/lib64", "usr/lib"),
            ("/usr/lib64", "dir"),
            ("/usr/lib64/ld", "/lib64/ld.so"),
        ]);
        assert_eq!(res(&t, "/t/sub/esc").unwrap(), "/etc");
        assert_eq!(res(&t, "/x").unwrap(), "/");
        assert_eq!(res(&t, "/x/etc").unwrap(), "/etc");
        assert_eq!(res(&t, "/usr/lib64/ld").unwrap(), "/usr/lib/ld.so");
        assert_eq!(
            res(&t, "/../../usr/./lib//ld.so").unwrap(),
            "/usr/lib/ld.so"
        );
    }

    #[test]
    fn loops_and_long_chains_are_eloop() {
        // c0 -> c1 -> ... -> cN -> file: N+1 hops. 40 hops resolve, 41 do not (the kernel's limit).
        fn chain(hops: usize) -> HashMap<Vec<u8>, (FileType, Vec<u8>)> {
            let owned: Vec<(String, String)> = (0..hops)
                .map(|i| (format!("/c{i}"), format!("c{}", i + 1)))
                .chain([(format!("/c{hops}"), "file".to_string())])
                .collect();
            let refs: Vec<(&str, &str)> = owned
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            fake(&refs)
        }
        assert_eq!(res(&chain(40), "/c0").unwrap(), "/c40");
        assert_eq!(res(&chain(41), "/c0"), Err(ErrorCode::SymlinkLoop));
        let t = fake(&[("/a", "b"), ("/b", "a")]);
        assert_eq!(res(&t, "/a"), Err(ErrorCode::SymlinkLoop));
    }

    #[test]
    fn file_as_directory_is_an_error() {
        let t = fake(&[("/f", "file")]);
        assert_eq!(res(&t, "/f/x"), Err(ErrorCode::NotADirectory));
        assert_eq!(res(&t, "/nope"), Err(ErrorCode::Vanished));
    }
}

//! Applying one layer (a tar stream) onto the merged tree in a private directory, as the OCI image
//! spec says, without ever leaving that directory.
//!
//! Every name is normalised first (`./` and leading `/` dropped; a `..` component rejects the
//! image: tar slip). Every parent directory is opened from the root descriptor with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so a symlink laid down by an earlier entry (or layer) can
//! never redirect a later write: the write is refused. Entries are then created relative to that
//! parent descriptor with `O_EXCL | O_NOFOLLOW`, after removing whatever the name held (a file
//! replaced by a directory and the reverse). Device nodes and FIFOs are not created (counted);
//! nothing from the image is ever opened for reading except through the scan's own confined access.
//!
//! Hard links are made only to a regular file or symlink already in the tree, found without
//! following symlinks or creating directories; others are skipped with a note. Tar headers that
//! the tar crate and GNU tar would read as different members (PAX records they parse differently,
//! a global `size`/`path`, data after a directory or link entry) refuse the layer; names follow
//! GNU tar (a PAX `path` over a GNU long name).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::ImageError;

/// What the layers' application tells about each path (`/usr/bin/x`) of the merged tree.
pub type Origins = BTreeMap<Vec<u8>, Origin>;

/// What the application of the layers did last at one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The index of the layer that last wrote it.
    pub layer: usize,
    /// A regular file whose data has at least four bytes and does not start with the ELF magic,
    /// as its layer's tar entry said: what the scan's own first read of it would find (written
    /// with its data, or without it as a sparse file of zeros), so the scan of the tree need not
    /// open it ([`crate::walk::WalkOptions::known_plain`]). False for anything else, hard links
    /// included (the scan reads those).
    pub plain: bool,
}

impl Origin {
    /// Written by `layer`, not known to be a plain file.
    fn by(layer: usize) -> Origin {
        Origin {
            layer,
            plain: false,
        }
    }
}

/// Counters and notes of the application of all layers.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ApplyStats {
    /// Entries applied.
    pub entries: u64,
    /// Whiteouts applied (`.wh.NAME` and opaque markers).
    pub whiteouts: u64,
    /// Device nodes and FIFOs not created.
    pub special_skipped: u64,
    /// Entries skipped with a reason (hard link to a missing target, ...), at most a few kept.
    pub notes: Vec<String>,
    /// Bytes of file data written.
    pub bytes: u64,
}

const MAX_NOTES: usize = 20;

fn note(stats: &mut ApplyStats, n: String) {
    if stats.notes.len() < MAX_NOTES {
        stats.notes.push(n);
    }
}

/// Files whose bytes elfdeps reads besides ELF files: loader and package configuration.
fn needs_content(path: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"/etc/",
        b"/var/lib/dpkg/",
        b"/lib/apk/",
        b"/usr/lib/apk/",
        b"/var/lib/rpm/",
        b"/usr/lib/sysimage/rpm/",
        b"/usr/share/doc/",
    ];
    // The JVM's configuration lives beside its libraries.
    PREFIXES.iter().any(|p| path.starts_with(p)) || path.ends_with(b"/jvm.cfg")
}

/// A reader that fails once more than `left` bytes came through (decompression bombs), counting
/// against the layer's and the image's caps.
pub struct Capped<R> {
    inner: R,
    left_layer: u64,
    left_image: u64,
    /// Bytes read so far.
    pub read: u64,
    /// The cap that was passed.
    pub hit: Option<Cap>,
}

/// A cap on decompressed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Cap {
    /// `--max-layer-size`.
    #[error("the layer decompresses to more than its cap (raise --max-layer-size to allow it)")]
    Layer,
    /// `--max-image-size`.
    #[error("the image decompresses to more than its cap (raise --max-image-size to allow it)")]
    Image,
}

impl Cap {
    /// What a passed cap says, the same for every kind of image.
    pub fn message(self) -> String {
        self.to_string()
    }
}

impl<R: Read> Capped<R> {
    /// Caps `inner` at `layer` bytes and `image` bytes.
    pub fn new(inner: R, layer: u64, image: u64) -> Self {
        Capped {
            inner,
            left_layer: layer,
            left_image: image,
            read: 0,
            hit: None,
        }
    }
}

impl<R: Read> Capped<R> {
    /// Counts `n64` more bytes through, or fails with the cap they pass.
    fn count(&mut self, n64: u64) -> io::Result<()> {
        let passed = if n64 > self.left_layer {
            Some(Cap::Layer)
        } else if n64 > self.left_image {
            Some(Cap::Image)
        } else {
            None
        };
        if let Some(cap) = passed {
            self.hit = Some(cap);
            return Err(io::Error::other(cap));
        }
        self.left_layer -= n64;
        self.left_image -= n64;
        self.read += n64;
        Ok(())
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n as u64)?;
        Ok(n)
    }
}

impl<R: Skip> Skip for Capped<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = self.inner.skip(n)?;
        self.count(k)?;
        Ok(k)
    }
}

/// A layer's stream, which the tar reader can make pass over the data of an entry it does not
/// read (most files' data is not written: see [`apply`]) without copying it out.
pub trait Skip: Read {
    /// Passes over up to `n` bytes: the number passed, fewer only where the stream ends.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        skip_by_reading(self, n)
    }
}

/// Passes over up to `n` bytes of `r` by reading them (what a reader with no buffer of its own
/// can do).
pub fn skip_by_reading<R: Read + ?Sized>(r: &mut R, n: u64) -> io::Result<u64> {
    let mut buf = [0u8; 32 << 10];
    let mut done = 0u64;
    while done < n {
        let want = usize::try_from(n - done).map_or(buf.len(), |w| w.min(buf.len()));
        match r.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(k) => done += k as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl<T: Skip + ?Sized> Skip for &mut T {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        (**self).skip(n)
    }
}

impl Skip for &[u8] {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = usize::try_from(n).map_or(self.len(), |n| n.min(self.len()));
        *self = &self[k..];
        Ok(k as u64)
    }
}

/// The normalised components of a tar name, or why it is refused.
pub fn normalise(name: &[u8]) -> Result<Vec<&[u8]>, LayerError> {
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => continue,
            b".." => {
                return Err(LayerError::TarSlip(
                    String::from_utf8_lossy(name).into_owned(),
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    for c in parts {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    if p.is_empty() {
        p.push(b'/');
    }
    p
}

/// The path of `parts` as text, for messages.
fn shown(parts: &[&[u8]]) -> String {
    text(&join(parts))
}

/// A path as text, for messages.
fn text(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn errno_text(e: Errno) -> String {
    io::Error::from(e).to_string()
}

/// Why an entry of a layer cannot be applied: the layer (or the image) is refused. Paths are the
/// entry's, shown as text.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// A name with a `..` component.
    #[error("entry `{0}` climbs out of the image root with `..` (tar slip)")]
    TarSlip(String),
    /// A hard link whose target has a `..` component (`shown`: the link and its target).
    #[error(
        "{0}: the target climbs out of the image root with `..` (tar slip); the image is refused"
    )]
    LinkSlip(String),
    /// A whiteout marker that names nothing it could remove.
    #[error("malformed whiteout `{0}`")]
    MalformedWhiteout(String),
    /// The private directory the layers are applied in cannot be opened.
    #[error("cannot open the image root: {errno}", errno = errno_text(*.0))]
    OpenRoot(Errno),
    /// A missing parent directory cannot be made.
    #[error("cannot create directory {0}: {errno}", errno = errno_text(*.1))]
    CreateDir(String, Errno),
    /// A directory on the way cannot be opened.
    #[error("cannot open {0}: {errno}", errno = errno_text(*.1))]
    Open(String, Errno),
    /// A directory on the way to an entry is a symlink.
    #[error("{0} is a symlink: an entry below it would be written through the link (refused)")]
    SymlinkParent(String),
    /// A directory on the way to a hard link's target is a symlink.
    #[error("{0} is a symlink (never followed)")]
    SymlinkNotFollowed(String),
    /// The directory that replaces a file cannot be made.
    #[error("cannot create directory: {errno}", errno = errno_text(*.0))]
    ReplaceWithDir(Errno),
    /// The directory that replaced a file cannot be opened.
    #[error("cannot open a directory: {errno}", errno = errno_text(*.0))]
    OpenReplacement(Errno),
    /// A directory being removed cannot be opened.
    #[error("cannot open a directory to remove it: {errno}", errno = errno_text(*.0))]
    OpenToRemove(Errno),
    /// An emptied directory cannot be removed.
    #[error("cannot remove a directory: {errno}", errno = errno_text(*.0))]
    RemoveDir(Errno),
    /// An entry cannot be removed.
    #[error("cannot remove an entry: {errno}", errno = errno_text(*.0))]
    Remove(Errno),
    /// A directory being emptied cannot be listed.
    #[error("cannot read a directory: {errno}", errno = errno_text(*.0))]
    ReadDir(Errno),
    /// `stat` of an existing name failed.
    #[error("stat {0}: {errno}", errno = errno_text(*.1))]
    Stat(String, Errno),
    /// A directory entry cannot be made.
    #[error("mkdir {0}: {errno}", errno = errno_text(*.1))]
    Mkdir(String, Errno),
    /// A regular file cannot be created.
    #[error("create {0}: {errno}", errno = errno_text(*.1))]
    Create(String, Errno),
    /// A file's data cannot be written.
    #[error("writing {0}: {1}")]
    Write(String, io::Error),
    /// The stream ends inside a file's data (`read` of `size` bytes).
    #[error(
        "{path}: the layer ends inside its data ({read} of {size} bytes): the layer is \
         truncated, or the entry's size claims more than it holds"
    )]
    DataEnds {
        /// The file.
        path: String,
        /// Bytes there were.
        read: u64,
        /// Bytes the entry claims.
        size: u64,
    },
    /// A symlink cannot be made.
    #[error("symlink {0}: {errno}", errno = errno_text(*.1))]
    Symlink(String, Errno),
    /// A hard link cannot be made (`shown`: the link and its target).
    #[error("{0}: {errno}", errno = errno_text(*.1))]
    Link(String, Errno),
    /// An entry's PAX extended header cannot be read.
    #[error(
        "{0}: its PAX extended header cannot be read (truncated or damaged): the layer is refused"
    )]
    PaxUnreadable(String),
    /// A PAX record the tar crate and GNU tar would read differently.
    #[error(
        "{0}: malformed PAX extended header record (a wrong length, a truncated record or a \
         newline in a value): tar readers disagree on this entry; the layer is refused"
    )]
    PaxMalformed(String),
    /// A global PAX header that sets `path`, `linkpath` or `size`.
    #[error(
        "{entry}: a global PAX header sets `{key}` for every later entry (GNU tar applies it, the \
         tar crate does not): the layer is refused"
    )]
    PaxGlobal {
        /// The entry.
        entry: String,
        /// The record's key.
        key: String,
    },
    /// Two different values for one PAX key.
    #[error(
        "{entry}: two different PAX `{key}` records (GNU tar takes the last, the tar crate the \
         first): the layer is refused"
    )]
    PaxTwice {
        /// The entry.
        entry: String,
        /// The records' key.
        key: String,
    },
    /// A PAX `size` that is not a number.
    #[error(
        "{entry}: PAX size `{value}` is not a number (the tar crate would fall back to the \
         header's size): the layer is refused"
    )]
    PaxSize {
        /// The entry.
        entry: String,
        /// The value.
        value: String,
    },
    /// Data after an entry that has none (tar readers disagree on where the next entry starts).
    #[error(
        "{entry}: a {kind} entry with {size} bytes of data (GNU tar skips no data after it, the \
         tar crate skips those bytes): tar readers disagree on where the next entry starts; the \
         layer is refused"
    )]
    DataAfter {
        /// The entry.
        entry: String,
        /// Its type, as [`kind_name`] says it.
        kind: String,
        /// The bytes of data it claims.
        size: u64,
    },
}

/// openat2's arguments for directories.
struct How {
    oflag: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
}

/// Opens (creating missing ones) the directories `parts` below `root`, never through a symlink.
fn open_parent(
    root: BorrowedFd<'_>,
    parts: &[&[u8]],
    origins: &mut Origins,
    layer: usize,
) -> Result<OwnedFd, LayerError> {
    let mut fd = rustix::fs::openat(
        root,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(LayerError::OpenRoot)?;
    for i in 0..parts.len() {
        fd = open_child(fd.as_fd(), parts, i, origins, layer)?;
    }
    Ok(fd)
}

/// Opens the directory `parts[i]` in `fd` (the directory `parts[..i]`), creating it when missing
/// and replacing a file of that name, never through a symlink.
fn open_child(
    fd: BorrowedFd<'_>,
    parts: &[&[u8]],
    i: usize,
    origins: &mut Origins,
    layer: usize,
) -> Result<OwnedFd, LayerError> {
    let c = parts[i];
    let how = How {
        oflag: OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        mode: Mode::empty(),
        resolve: ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    };
    match rustix::fs::openat2(fd, c, how.oflag, how.mode, how.resolve) {
        Ok(f) => Ok(f),
        Err(Errno::NOENT) => {
            rustix::fs::mkdirat(fd, c, Mode::from_raw_mode(0o755))
                .map_err(|e| LayerError::CreateDir(shown(&parts[..=i]), e))?;
            origins
                .entry(join(&parts[..=i]))
                .or_insert(Origin::by(layer));
            rustix::fs::openat2(fd, c, how.oflag, how.mode, how.resolve)
                .map_err(|e| LayerError::Open(shown(&parts[..=i]), e))
        }
        Err(Errno::LOOP) | Err(Errno::XDEV) => Err(LayerError::SymlinkParent(shown(&parts[..=i]))),
        Err(Errno::NOTDIR)
            if rustix::fs::statat(fd, c, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
            }) =>
        {
            Err(LayerError::SymlinkParent(shown(&parts[..=i])))
        }
        Err(Errno::NOTDIR) => {
            // A file where a directory is needed: the upper layer's directory replaces it.
            remove_at(fd, c)?;
            rustix::fs::mkdirat(fd, c, Mode::from_raw_mode(0o755))
                .map_err(LayerError::ReplaceWithDir)?;
            origins.insert(join(&parts[..=i]), Origin::by(layer));
            rustix::fs::openat2(fd, c, how.oflag, how.mode, how.resolve)
                .map_err(LayerError::OpenReplacement)
        }
        Err(e) => Err(LayerError::Open(shown(&parts[..=i]), e)),
    }
}

/// The directories of the last entry's parent, each open: the next entry's parent shares most of
/// them (a tar lists a directory's entries and its subdirectories' depth first), so only the
/// components past the shared ones are opened, not the whole path from the root every time the
/// parent changes. A descriptor names its directory for as long as that directory is not removed:
/// [`DirChain::clear`] after anything that may have removed one (a whiteout, a replaced directory).
#[derive(Default)]
struct DirChain {
    names: Vec<Vec<u8>>,
    fds: Vec<OwnedFd>,
}

impl DirChain {
    /// The directory `parts` below `root`, opened as [`open_parent`] opens it.
    fn open<'a>(
        &'a mut self,
        root: BorrowedFd<'a>,
        parts: &[&[u8]],
        origins: &mut Origins,
        layer: usize,
    ) -> Result<BorrowedFd<'a>, LayerError> {
        let shared = self
            .names
            .iter()
            .zip(parts)
            .take_while(|(a, b)| a.as_slice() == **b)
            .count();
        self.names.truncate(shared);
        self.fds.truncate(shared);
        for i in shared..parts.len() {
            let next = {
                let at = self.fds.last().map_or(root, |f| f.as_fd());
                open_child(at, parts, i, origins, layer)
            };
            match next {
                Ok(fd) => {
                    self.names.push(parts[i].to_vec());
                    self.fds.push(fd);
                }
                Err(e) => {
                    self.clear();
                    return Err(e);
                }
            }
        }
        Ok(self.fds.last().map_or(root, |f| f.as_fd()))
    }

    /// Forgets every descriptor.
    fn clear(&mut self) {
        self.names.clear();
        self.fds.clear();
    }
}

/// Opens the existing directories `parts` below `root`, never through a symlink and creating
/// nothing: `None` when one of them does not exist or is not a directory.
fn open_existing(root: BorrowedFd<'_>, parts: &[&[u8]]) -> Result<Option<OwnedFd>, LayerError> {
    let mut fd = rustix::fs::openat(
        root,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(LayerError::OpenRoot)?;
    for (i, c) in parts.iter().enumerate() {
        match rustix::fs::openat2(
            &fd,
            *c,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(next) => fd = next,
            Err(Errno::LOOP) | Err(Errno::XDEV) => {
                return Err(LayerError::SymlinkNotFollowed(shown(&parts[..=i])));
            }
            Err(Errno::NOTDIR)
                if rustix::fs::statat(&fd, *c, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
                }) =>
            {
                return Err(LayerError::SymlinkNotFollowed(shown(&parts[..=i])));
            }
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(LayerError::Open(shown(&parts[..=i]), e)),
        }
    }
    Ok(Some(fd))
}

/// Removes `name` in `dir`, whatever it is (a directory with everything below it). True when a
/// directory went away (cached directory descriptors may then be stale).
fn remove_at(dir: impl AsFd, name: &[u8]) -> Result<bool, LayerError> {
    let dir = dir.as_fd();
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(false),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {
            let how = (
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            );
            let sub = rustix::fs::openat2(dir, name, how.0, Mode::empty(), how.1)
                .map_err(LayerError::OpenToRemove)?;
            empty_dir(&sub)?;
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(LayerError::RemoveDir)?;
            Ok(true)
        }
        Err(e) => Err(LayerError::Remove(e)),
    }
}

/// Removes everything inside the directory `dir`.
fn empty_dir(dir: &OwnedFd) -> Result<(), LayerError> {
    let mut names = Vec::new();
    let dup = rustix::fs::openat(
        dir,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(LayerError::ReadDir)?;
    let it = rustix::fs::Dir::read_from(&dup).map_err(LayerError::ReadDir)?;
    for ent in it {
        let ent = ent.map_err(LayerError::ReadDir)?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_at(dir, &n)?;
    }
    Ok(())
}

/// Drops `path` and everything below it from `origins`.
fn forget(origins: &mut Origins, path: &[u8]) {
    origins.remove(path);
    let mut prefix = path.to_vec();
    prefix.push(b'/');
    let below: Vec<Vec<u8>> = origins
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in below {
        origins.remove(&k);
    }
}

/// What a whiteout marker asks for, or `None` for an ordinary name.
enum Whiteout<'a> {
    Opaque,
    Remove(&'a [u8]),
}

fn whiteout(name: &[u8]) -> Result<Option<Whiteout<'_>>, LayerError> {
    if name == b".wh..wh..opq" {
        return Ok(Some(Whiteout::Opaque));
    }
    let Some(rest) = name.strip_prefix(b".wh.") else {
        return Ok(None);
    };
    if rest.is_empty() || rest == b"." || rest == b".." || rest.starts_with(b".wh.") {
        return Err(LayerError::MalformedWhiteout(
            String::from_utf8_lossy(name).into_owned(),
        ));
    }
    Ok(Some(Whiteout::Remove(rest)))
}

/// Applies the opaque marker of directory `dir_path` at layer `layer`: everything lower layers put
/// below it goes, except what this layer itself wrote there (whatever its position in the layer).
fn apply_opaque(
    root: BorrowedFd<'_>,
    parts: &[&[u8]],
    origins: &mut Origins,
    layer: usize,
) -> Result<(), LayerError> {
    let dir_path = join(parts);
    let mut prefix = dir_path.clone();
    if prefix != b"/" {
        prefix.push(b'/');
    }
    let below: Vec<(Vec<u8>, usize)> = origins
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v.layer))
        .collect();
    // A lower entry stays only when this layer wrote something at or below it.
    let keep = |p: &[u8]| {
        let mut pp = p.to_vec();
        pp.push(b'/');
        below
            .iter()
            .any(|(k, l)| *l == layer && (k == p || k.starts_with(&pp)))
    };
    // Direct children of the directory decide: remove the lower ones this layer did not touch;
    // recurse into the ones it did.
    let children: Vec<Vec<u8>> = below
        .iter()
        .map(|(k, _)| {
            k[prefix.len()..]
                .split(|&b| b == b'/')
                .next()
                .unwrap_or_default()
                .to_vec()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let dir = open_parent(root, parts, origins, layer)?;
    for c in children {
        let child_path = [&prefix[..], &c[..]].concat();
        if keep(&child_path) {
            if origins.get(&child_path).is_some_and(|o| o.layer != layer) {
                let mut sub: Vec<&[u8]> = parts.to_vec();
                sub.push(&c);
                apply_opaque(root, &sub, origins, layer)?;
            }
        } else {
            remove_at(&dir, &c)?;
            forget(origins, &child_path);
        }
    }
    Ok(())
}

/// An entry's name and link name as GNU tar reads them, or why the entry is refused because tar
/// readers would disagree on it (CVE-2026-33055 class: a reader that sees different members from
/// the same bytes than the tools that build and run the image could be shown a different tree).
///
/// The tar crate frames entries by the first valid PAX `size` record and the ustar size otherwise;
/// GNU tar by the last `size` record, by a global header's `size`, and never by the size of a
/// directory, link or device entry. Every such disagreement is refused. For the names, a PAX
/// `path`/`linkpath` wins over a GNU long name (`././@LongLink`), as in GNU tar, while the tar
/// crate prefers the long name: they are taken from the PAX records here.
fn names<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(Vec<u8>, Option<Vec<u8>>), LayerError> {
    let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let kind = entry.header().entry_type();
    let global = kind == tar::EntryType::XGlobalHeader;
    let mut path: Option<Vec<u8>> = None;
    let mut link: Option<Vec<u8>> = None;
    let mut size: Option<Vec<u8>> = None;
    let records = entry
        .pax_extensions()
        .map_err(|_| LayerError::PaxUnreadable(shown.clone()))?;
    if let Some(records) = records {
        for r in records {
            // The tar crate splits records at newlines and drops a bad one (and, for `size`, all
            // after it) while GNU tar reads records by their length: refuse rather than guess.
            let r = r.map_err(|_| LayerError::PaxMalformed(shown.clone()))?;
            let slot = match r.key_bytes() {
                b"path" => &mut path,
                b"linkpath" => &mut link,
                b"size" => &mut size,
                _ => continue,
            };
            let key = || String::from_utf8_lossy(r.key_bytes()).into_owned();
            if global {
                return Err(LayerError::PaxGlobal {
                    entry: shown,
                    key: key(),
                });
            }
            if slot.as_deref().is_some_and(|v| v != r.value_bytes()) {
                return Err(LayerError::PaxTwice {
                    entry: shown,
                    key: key(),
                });
            }
            *slot = Some(r.value_bytes().to_vec());
        }
    }
    if let Some(v) = &size
        && std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_none()
    {
        return Err(LayerError::PaxSize {
            entry: shown,
            value: String::from_utf8_lossy(v).into_owned(),
        });
    }
    use tar::EntryType as T;
    if matches!(
        kind,
        T::Directory | T::Symlink | T::Link | T::Char | T::Block | T::Fifo
    ) && entry.size() != 0
    {
        return Err(LayerError::DataAfter {
            entry: shown,
            kind: kind_name(kind),
            size: entry.size(),
        });
    }
    let path = path.unwrap_or_else(|| entry.path_bytes().into_owned());
    let link = link.or_else(|| entry.link_name_bytes().map(|l| l.into_owned()));
    Ok((path, link))
}

/// A tar entry type as messages name it.
fn kind_name(kind: tar::EntryType) -> String {
    use tar::EntryType as T;
    match kind {
        T::Regular | T::Continuous => "regular file".into(),
        T::Directory => "directory".into(),
        T::Symlink => "symbolic link".into(),
        T::Link => "hard link".into(),
        T::Char => "character device".into(),
        T::Block => "block device".into(),
        T::Fifo => "FIFO".into(),
        T::GNUSparse => "sparse file".into(),
        other => {
            let b = other.as_byte();
            if b.is_ascii_graphic() {
                format!("tar entry type `{}`", b as char)
            } else {
                format!("tar entry type {b}")
            }
        }
    }
}

/// Applies the tar stream `reader` as layer number `layer`.
pub fn apply<R: Skip>(
    root: BorrowedFd<'_>,
    reader: R,
    layer: usize,
    origins: &mut Origins,
    stats: &mut ApplyStats,
) -> Result<(), ImageError> {
    let err = |e: LayerError| ImageError::Layer(layer, e.to_string());
    // Whether the stream had ended when the tar reader failed tells a truncated layer from a
    // damaged one (the reader's own text quotes raw header bytes).
    let ended = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut archive = tar::Archive::new(WatchEnd {
        inner: reader,
        ended: ended.clone(),
        at: 0,
    });
    let mut count = 0u64;
    let broken = |count: u64| {
        let after = match count {
            1 => "1 entry".to_string(),
            n => format!("{n} entries"),
        };
        ImageError::Layer(
            layer,
            if ended.get() {
                format!("the layer is truncated: it ends inside a tar entry (after {after})")
            } else {
                // Extension headers (PAX, GNU long names) are read with the entry they describe:
                // they are the other reason an entry cannot be read.
                let which = if count == 0 {
                    "its first entry".to_string()
                } else {
                    format!("the entry after {after}")
                };
                format!(
                    "the layer's content is not a valid tar archive: {which} cannot be read (a \
                 damaged header, or extension headers, PAX or GNU long names, that describe no \
                 entry or one entry twice)"
                )
            },
        )
    };
    // "Seeking" past an entry's data is passing over it in the stream (see `WatchEnd`).
    let entries = archive.entries_with_seek().map_err(|_| broken(0))?;
    let mut opaque_dirs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut chain = DirChain::default();
    for entry in entries {
        let mut entry = entry.map_err(|_| broken(count))?;
        count += 1;
        let (raw, link_name) = names(&mut entry).map_err(err)?;
        let parts = normalise(&raw).map_err(err)?;
        let Some((name, parent)) = parts.split_last() else {
            continue; // the root itself
        };
        let path = join(&parts);
        match whiteout(name).map_err(err)? {
            Some(Whiteout::Opaque) => {
                // Applied after the layer's entries: it hides lower layers only.
                opaque_dirs.push(parent.iter().map(|c| c.to_vec()).collect());
                stats.whiteouts += 1;
                continue;
            }
            Some(Whiteout::Remove(target)) => {
                // It may remove a directory the chain holds.
                chain.clear();
                let dir = open_parent(root, parent, origins, layer).map_err(err)?;
                remove_at(&dir, target).map_err(err)?;
                let mut t: Vec<&[u8]> = parent.to_vec();
                t.push(target);
                forget(origins, &join(&t));
                stats.whiteouts += 1;
                continue;
            }
            None => {}
        }
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let dir = chain.open(root, parent, origins, layer).map_err(err)?;
        let mut keep_dir = true;
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                match rustix::fs::mkdirat(dir, *name, Mode::from_raw_mode(mode | 0o700)) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => {
                        let st = rustix::fs::statat(dir, *name, AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| err(LayerError::Stat(text(&path), e)))?;
                        if rustix::fs::FileType::from_raw_mode(st.st_mode)
                            != rustix::fs::FileType::Directory
                        {
                            keep_dir &= !remove_at(dir, name).map_err(err)?;
                            forget(origins, &path);
                            rustix::fs::mkdirat(dir, *name, Mode::from_raw_mode(mode | 0o700))
                                .map_err(|e| err(LayerError::Mkdir(text(&path), e)))?;
                        }
                    }
                    Err(e) => return Err(err(LayerError::Mkdir(text(&path), e))),
                }
                origins.insert(path, Origin::by(layer));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                let create = || {
                    rustix::fs::openat(
                        dir,
                        *name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(mode | 0o600),
                    )
                };
                let fd = match create() {
                    Ok(fd) => Ok(fd),
                    Err(Errno::EXIST) => {
                        // Replaced (a file, a directory, a link): remove, then create afresh.
                        keep_dir &= !remove_at(dir, name).map_err(err)?;
                        forget(origins, &path);
                        create()
                    }
                    Err(e) => Err(e),
                }
                .map_err(|e| err(LayerError::Create(text(&path), e)))?;
                let mut file = std::fs::File::from(fd);
                // The entry's size as the stream frames it (a PAX `size` overrides the header's).
                let size = entry.size();
                // Only ELF files, scripts (whose `#!` line names the program an entrypoint
                // runs) and the configuration elfdeps reads need their bytes; any other file gets
                // its size (sparse) and no data, which keeps unpacking close to the cost of
                // decompression.
                let mut head = [0u8; 4];
                let mut got = 0;
                while got < head.len() {
                    match entry.read(&mut head[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(_) => return Err(broken(count)),
                    }
                }
                let write = |e: io::Error| err(LayerError::Write(text(&path), e));
                if head[..got] == *b"\x7fELF"
                    || head[..got].starts_with(b"#!")
                    || needs_content(&path)
                {
                    let n =
                        copy_data(&mut entry, &mut file, &head[..got], &mut buf).map_err(write)?;
                    // The data ends early when the stream does (a size claiming more than the
                    // layer holds): the tar crate then gives a short read, not an error.
                    if n != size {
                        return Err(err(LayerError::DataEnds {
                            path: text(&path),
                            read: n,
                            size,
                        }));
                    }
                    stats.bytes += n;
                } else {
                    file.set_len(size).map_err(write)?;
                }
                // Its first four bytes are the head (written) or zeros (sparse): not ELF either
                // way. A shorter file is left to the scan, which checks those.
                let plain = got == head.len() && !crate::elf::is_elf_magic(&head);
                origins.insert(path, Origin { layer, plain });
            }
            T::Symlink => {
                let target = link_name.unwrap_or_default();
                keep_dir &= !remove_at(dir, name).map_err(err)?;
                forget(origins, &path);
                rustix::fs::symlinkat(target.as_slice(), dir, *name)
                    .map_err(|e| err(LayerError::Symlink(text(&path), e)))?;
                origins.insert(path, Origin::by(layer));
            }
            T::Link => {
                let target = link_name.unwrap_or_default();
                let shown = format!(
                    "hard link {} to `{}`",
                    String::from_utf8_lossy(&path),
                    String::from_utf8_lossy(&target)
                );
                // A link name is a path of the image, like an entry's name: `..` is a tar slip.
                let tparts =
                    normalise(&target).map_err(|_| err(LayerError::LinkSlip(shown.clone())))?;
                // Entries the tree cannot take are skipped with a note (GNU tar reports them and
                // goes on, too); the rest of the layer is applied.
                let skip = |stats: &mut ApplyStats, why: &str| {
                    note(
                        stats,
                        format!(
                            "layer {}: {shown}: {why}: skipped (a hard link must name a file or \
                             symlink written before it, in this layer or a lower one)",
                            layer + 1
                        ),
                    )
                };
                let Some((tname, tparent)) = tparts.split_last() else {
                    skip(stats, "the target is the image root");
                    continue;
                };
                // The target's parents are opened without symlinks and without creating anything:
                // a link to a path that is not in the tree must not leave directories behind.
                let tdir = match open_existing(root, tparent) {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        skip(stats, "the target is not in the tree (yet)");
                        continue;
                    }
                    Err(e) => {
                        skip(stats, &e.to_string());
                        continue;
                    }
                };
                // Only a regular file or a symlink can be linked: link(2) refuses directories
                // (claircore#744), and a link to a symlink is a second name of the symlink itself
                // (linkat without AT_SYMLINK_FOLLOW never follows it), as GNU tar and umoci make.
                let tst = match rustix::fs::statat(&tdir, *tname, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st)
                        if matches!(
                            rustix::fs::FileType::from_raw_mode(st.st_mode),
                            rustix::fs::FileType::RegularFile | rustix::fs::FileType::Symlink
                        ) =>
                    {
                        st
                    }
                    Ok(_) => {
                        skip(stats, "the target is a directory or a special file");
                        continue;
                    }
                    Err(_) => {
                        skip(stats, "the target is not in the tree (yet)");
                        continue;
                    }
                };
                // The name already is that file (a link to itself, `./x` to `x`, a repeated
                // link): nothing to do. Removing the name first would destroy the only copy and
                // leave nothing to link to.
                let same = rustix::fs::statat(dir, *name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| st.st_dev == tst.st_dev && st.st_ino == tst.st_ino);
                if !same {
                    keep_dir &= !remove_at(dir, name).map_err(err)?;
                    forget(origins, &path);
                    rustix::fs::linkat(&tdir, *tname, dir, *name, AtFlags::empty())
                        .map_err(|e| err(LayerError::Link(shown.clone(), e)))?;
                }
                origins.insert(path, Origin::by(layer));
            }
            T::Char | T::Block | T::Fifo => {
                stats.special_skipped += 1;
                continue;
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            other => {
                note(
                    stats,
                    format!(
                        "{}: {} not supported: skipped",
                        String::from_utf8_lossy(&path),
                        kind_name(other)
                    ),
                );
                continue;
            }
        }
        stats.entries += 1;
        if !keep_dir {
            chain.clear();
        }
    }
    for dir in opaque_dirs {
        let parts: Vec<&[u8]> = dir.iter().map(|c| c.as_slice()).collect();
        apply_opaque(root, &parts, origins, layer).map_err(err)?;
    }
    Ok(())
}

/// Bytes per write of a file's data: few, large writes (`io::copy` writes 8 KiB at a time, a
/// hundred thousand system calls for a layer of shared libraries).
const COPY_CHUNK: usize = 256 << 10;

/// Copies `head` (the data's first bytes, already read) and the rest of `r` into `file` through
/// `buf`; the bytes copied.
fn copy_data(
    r: &mut impl Read,
    file: &mut impl Write,
    head: &[u8],
    buf: &mut [u8],
) -> io::Result<u64> {
    buf[..head.len()].copy_from_slice(head);
    let mut filled = head.len();
    let mut total = 0u64;
    loop {
        let k = match r.read(&mut buf[filled..]) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += k;
        if filled == buf.len() || (k == 0 && filled > 0) {
            file.write_all(&buf[..filled])?;
            total += filled as u64;
            filled = 0;
        }
        if k == 0 {
            return Ok(total);
        }
    }
}

/// A reader that notes when its stream has ended, and moves forward only: its `Seek` takes only
/// `SeekFrom::Current` with a forward offset, which the tar reader uses to pass over an entry's
/// data, and passes over that many bytes.
struct WatchEnd<R> {
    inner: R,
    ended: std::rc::Rc<std::cell::Cell<bool>>,
    /// Bytes read or passed over so far.
    at: u64,
}

impl<R: Read> Read for WatchEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.set(true);
        }
        self.at += n as u64;
        Ok(n)
    }
}

impl<R: Skip> io::Seek for WatchEnd<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let io::SeekFrom::Current(by) = pos else {
            return Err(io::Error::other("a layer's stream only moves forward"));
        };
        let want = u64::try_from(by)
            .map_err(|_| io::Error::other("a layer's stream only moves forward"))?;
        let got = self.inner.skip(want)?;
        self.at += got;
        if got < want {
            // As the tar reader's own skipping by reads says: the stream ended inside an entry.
            self.ended.set(true);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ends inside an entry's data",
            ));
        }
        Ok(self.at)
    }
}

/// Reads what is left of `r` (so a digest over the whole stream can be checked).
pub fn drain<R: Read>(mut r: R) -> io::Result<u64> {
    io::copy(&mut r, &mut io::sink())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_slips_refused() {
        assert_eq!(
            normalise(b"./usr/bin/x").unwrap(),
            vec![&b"usr"[..], b"bin", b"x"]
        );
        assert_eq!(
            normalise(b"/etc//passwd").unwrap(),
            vec![&b"etc"[..], b"passwd"]
        );
        assert_eq!(
            normalise(b"../etc/passwd").unwrap_err().to_string(),
            "entry `../etc/passwd` climbs out of the image root with `..` (tar slip)"
        );
        assert!(normalise(b"usr/../../x").is_err());
        assert!(normalise(b"./").unwrap().is_empty());
    }

    #[test]
    fn whiteout_markers() {
        assert!(matches!(
            whiteout(b".wh..wh..opq"),
            Ok(Some(Whiteout::Opaque))
        ));
        assert!(matches!(
            whiteout(b".wh.passwd"),
            Ok(Some(Whiteout::Remove(b"passwd")))
        ));
        assert_eq!(
            whiteout(b".wh.").err().map(|e| e.to_string()).as_deref(),
            Some("malformed whiteout `.wh.`")
        );
        assert!(whiteout(b".wh..").is_err());
        assert!(whiteout(b".wh...").is_err());
        assert!(matches!(whiteout(b"passwd"), Ok(None)));
    }

    /// The messages are the ones the layer errors had as strings.
    #[test]
    fn messages() {
        let cases = [
            (
                LayerError::CreateDir("/usr/x".into(), Errno::ACCESS),
                "cannot create directory /usr/x: Permission denied (os error 13)",
            ),
            (
                LayerError::SymlinkParent("/lib".into()),
                "/lib is a symlink: an entry below it would be written through the link (refused)",
            ),
            (
                LayerError::PaxTwice {
                    entry: "a".into(),
                    key: "path".into(),
                },
                "a: two different PAX `path` records (GNU tar takes the last, the tar crate the \
                 first): the layer is refused",
            ),
            (
                LayerError::DataAfter {
                    entry: "d".into(),
                    kind: kind_name(tar::EntryType::Directory),
                    size: 5,
                },
                "d: a directory entry with 5 bytes of data (GNU tar skips no data after it, the \
                 tar crate skips those bytes): tar readers disagree on where the next entry \
                 starts; the layer is refused",
            ),
            (
                LayerError::DataEnds {
                    path: "/x".into(),
                    read: 1,
                    size: 9,
                },
                "/x: the layer ends inside its data (1 of 9 bytes): the layer is truncated, or \
                 the entry's size claims more than it holds",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
        assert_eq!(
            Cap::Image.message(),
            "the image decompresses to more than its cap (raise --max-image-size to allow it)"
        );
    }
}

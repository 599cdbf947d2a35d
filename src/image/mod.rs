/*!
Container images as roots: `oci:DIR[:TAG]` (an OCI image layout), `docker-archive:FILE` (`docker
save` output), `oci-archive:FILE[:TAG]`, named as skopeo names them; a plain path is detected (a
directory with `oci-layout`, or a tar file of either kind). A plain path to any other tar file, or
to a gzip-, zstd- or xz-compressed one, is a root filesystem tarball (`docker export`, Alpine's
minirootfs), applied as a single layer (see [`ImageRef::RootTarball`]); a compressed one that
turns out to hold an image archive (`docker save | gzip`) is read as that archive.

The layers are applied in order into a private temporary directory ([`layer`]), which then is the
root the scan walks; every object is attributed to the layer that last wrote it. With a core to
spare, a compressed layer is decompressed while the one below it is applied, its output held in a
file until its turn (`image/pipe.rs`).

Blobs are found only by a validated `sha256:<64 hex>` digest (`blobs/sha256/<hex>`), never by a path
taken from a manifest, and every blob's digest is checked against its content as it streams. In a
docker-archive, whose `manifest.json` names files, each file is hashed and the layers are taken by
the config's `diff_ids` (the digests of the uncompressed layers), the config by the digest its name
claims and its content confirms. Decompressed bytes are capped per layer and per image.
*/

#[cfg(feature = "registry")]
mod auth;
#[cfg(feature = "registry")]
mod cache;
pub mod layer;
mod pipe;
#[cfg(feature = "registry")]
mod registry;
mod tarball;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ErrorCode;
use crate::rootfs::RootFs;
use pipe::{PipeRx, PipeTx, pipe, pump};

/// Why an image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The reference or the image's metadata.
    #[error("{0}")]
    Image(String),
    /// Applying layer N (0-based).
    #[error("layer {number}: {1}", number = .0 + 1)]
    Layer(usize, String),
}

fn bad(m: impl Into<String>) -> ImageError {
    ImageError::Image(m.into())
}

/// An image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// An OCI image layout directory.
    OciDir(PathBuf, Option<String>),
    /// A `docker save` tarball.
    DockerArchive(PathBuf),
    /// An OCI image layout in a tar file.
    OciArchive(PathBuf, Option<String>),
    /// A tar file of a whole root filesystem, plain or compressed with gzip, zstd or xz (found by
    /// its magic bytes, not its name). It is applied as one layer with the layer rules (no escape,
    /// no devices, the caps), whiteouts included: `docker export` writes the merged tree and so
    /// never has any, and a `.wh.` name in a hand-made tarball is taken as a layer's would be
    /// rather than kept as a file, so that one tar file means the same as a root or as a layer. A
    /// compressed one whose top holds `manifest.json` or `oci-layout` is an image archive that was
    /// compressed whole, and is read as one.
    RootTarball(PathBuf),
    /// An image in a registry, `docker://HOST[:PORT]/REPO(:TAG|@DIGEST)` (the text after
    /// `docker://`), pulled into a private OCI layout and read from there.
    Registry(String),
}

impl ImageRef {
    /// The reference without its tag (`oci:DIR`), to which `:TAG` names one image.
    pub fn untagged(&self) -> String {
        match self {
            ImageRef::OciDir(p, _) => format!("oci:{}", p.display()),
            ImageRef::DockerArchive(p) => format!("docker-archive:{}", p.display()),
            ImageRef::OciArchive(p, _) => format!("oci-archive:{}", p.display()),
            ImageRef::RootTarball(p) => p.display().to_string(),
            ImageRef::Registry(r) => format!("docker://{r}"),
        }
    }

    /// The reference as skopeo writes it.
    pub fn display(&self) -> String {
        match self {
            ImageRef::OciDir(p, t) => format!(
                "oci:{}{}",
                p.display(),
                t.as_ref().map(|t| format!(":{t}")).unwrap_or_default()
            ),
            ImageRef::DockerArchive(p) => format!("docker-archive:{}", p.display()),
            ImageRef::OciArchive(p, t) => format!(
                "oci-archive:{}{}",
                p.display(),
                t.as_ref().map(|t| format!(":{t}")).unwrap_or_default()
            ),
            // A tarball is named by its path alone, as it was given.
            ImageRef::RootTarball(p) => p.display().to_string(),
            ImageRef::Registry(r) => format!("docker://{r}"),
        }
    }
}

fn split_tag(rest: &str) -> (PathBuf, Option<String>) {
    // DIR:TAG; a path can contain ':' itself, so the tag is taken only when the part before it
    // exists.
    if let Some((p, t)) = rest.rsplit_once(':')
        && !t.contains('/')
        && Path::new(p).exists()
    {
        return (PathBuf::from(p), Some(t.to_string()));
    }
    (PathBuf::from(rest), None)
}

/// What `ROOT` names: an image, or `None` for a plain directory root.
pub fn parse_root(root: &Path) -> Result<Option<ImageRef>, ImageError> {
    let s = root.to_string_lossy();
    if let Some(rest) = s.strip_prefix("docker://") {
        return Ok(Some(ImageRef::Registry(rest.to_string())));
    }
    if let Some(rest) = s.strip_prefix("oci:") {
        let (p, t) = split_tag(rest);
        return Ok(Some(ImageRef::OciDir(p, t)));
    }
    if let Some(rest) = s.strip_prefix("docker-archive:") {
        return Ok(Some(ImageRef::DockerArchive(PathBuf::from(rest))));
    }
    if let Some(rest) = s.strip_prefix("oci-archive:") {
        let (p, t) = split_tag(rest);
        return Ok(Some(ImageRef::OciArchive(p, t)));
    }
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if meta.is_dir() {
        return Ok(root
            .join("oci-layout")
            .is_file()
            .then(|| ImageRef::OciDir(root.to_path_buf(), None)));
    }
    if !meta.is_dir() && !meta.is_file() {
        return Err(bad(format!(
            "{} is a FIFO, socket or device, not a directory or an image tarball (not opened): \
             {ACCEPTED}",
            root.display()
        )));
    }
    if meta.is_file() {
        // A compressed file can only be told apart (root or image archive) by decompressing it
        // whole, which `unpack` does once anyway: it decides there.
        match sniff(&read_head(root)?) {
            FileKind::Compressed(kind) if TARBALL_CODECS.contains(&kind) => {
                return Ok(Some(ImageRef::RootTarball(root.to_path_buf())));
            }
            FileKind::Compressed(kind) => {
                return Err(bad(format!(
                    "{} is a {kind}-compressed file: elfdeps reads tarballs compressed with gzip, \
                     zstd or xz, or uncompressed; decompress it first (e.g. `{kind} -dk {}`) \
                     and give the tar file",
                    root.display(),
                    root.display()
                )));
            }
            _ => {}
        }
        // A tar: an OCI layout has `oci-layout` at its top, a docker save has `manifest.json`,
        // a root filesystem neither.
        let index = index_tar(root)?;
        let oci = index.contains_key(&b"oci-layout"[..]);
        let docker = index.contains_key(&b"manifest.json"[..]);
        return Ok(Some(match (oci, docker) {
            (true, _) => ImageRef::OciArchive(root.to_path_buf(), None),
            (false, true) => ImageRef::DockerArchive(root.to_path_buf()),
            _ => ImageRef::RootTarball(root.to_path_buf()),
        }));
    }
    Ok(None)
}

/// A `--platform` value that is not `OS/ARCH[/VARIANT]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--platform {0}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8")]
pub struct PlatformError(pub String);

/// `os/arch[/variant]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// e.g. linux.
    pub os: String,
    /// e.g. amd64.
    pub arch: String,
    /// e.g. v8.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(PlatformError(s.to_string())),
        }
    }

    fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            a => a,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }

    fn show(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.arch),
            None => format!("{}/{}", self.os, self.arch),
        }
    }
}

/// How to reach registries and what to present to them.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// `--tls-verify` (default true): HTTPS with verified certificates only. False allows plain
    /// HTTP (when HTTPS does not answer) or unverified TLS.
    pub tls_verify: bool,
    /// `--cert-dir`: the `*.crt` files of this directory are trusted CAs.
    pub cert_dir: Option<PathBuf>,
    /// `--creds USER:PASS`.
    pub creds: Option<(String, String)>,
    /// `--authfile`: the only auth file read (default: `$REGISTRY_AUTH_FILE`, else the
    /// containers and docker files).
    pub authfile: Option<PathBuf>,
    /// `--connect-timeout`.
    pub connect_timeout: std::time::Duration,
    /// `--read-timeout`.
    pub read_timeout: std::time::Duration,
    /// `--blob-cache DIR`: blobs kept by digest in DIR and taken from there when present.
    pub blob_cache: Option<PathBuf>,
    /// Draw a download progress bar on stderr (the binary decides: a terminal, no `-q`).
    pub progress: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            tls_verify: true,
            cert_dir: None,
            creds: None,
            authfile: None,
            connect_timeout: std::time::Duration::from_secs(30),
            read_timeout: std::time::Duration::from_secs(30),
            blob_cache: None,
            progress: false,
        }
    }
}

/// Limits and choices.
#[derive(Clone, Debug)]
pub struct ImageOptions {
    /// `--platform`.
    pub platform: Option<Platform>,
    /// `--max-layer-size`: decompressed bytes per layer.
    pub max_layer: u64,
    /// `--max-image-size`: decompressed bytes per image.
    pub max_image: u64,
    /// How `docker://` images are pulled.
    pub registry: RegistryOptions,
    /// Decompress the next layer while one is applied (worth it with two cores or more).
    pub ahead: bool,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            platform: None,
            max_layer: 4 << 30,
            max_image: 8 << 30,
            registry: RegistryOptions::default(),
            ahead: two_cores(None),
        }
    }
}

/// Whether `jobs` threads (`--jobs`; `None`: one per core) leave a core to decompress a layer
/// ahead of its turn.
pub fn two_cores(jobs: Option<usize>) -> bool {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())) >= 2
}

/// The image a report is about.
#[derive(Clone, Debug, Serialize)]
pub struct ImageInfo {
    /// The reference as given.
    pub reference: String,
    /// The manifest's digest (null for a docker-archive, which has none, and a root tarball).
    pub manifest: Option<String>,
    /// The config's digest (empty for a root tarball, which has none).
    pub config: String,
    /// The layers' digests, bottom first; for a root tarball, the one layer is the tarball, named
    /// by the sha256 of the file as stored (compressed or not).
    pub layers: Vec<String>,
    /// What applying them did.
    pub applied: layer::ApplyStats,
    /// How a container of it starts (the config's `Entrypoint`, `Cmd`, `Env`), when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunConfig>,
}

/// An unpacked image: the merged tree in a private directory, removed on drop, and on Ctrl-C by
/// the binary's handler (`install_interrupt_cleanup`) or a caller's own, with [`remove_unpacked`].
pub struct Unpacked {
    dir: Option<tempfile::TempDir>,
    /// The merged tree.
    pub root: PathBuf,
    /// About the image.
    pub info: ImageInfo,
    /// Which layer (index into `info.layers`) last wrote each path (`/usr/bin/x`).
    pub origins: layer::Origins,
    /// Threads that remove the tree on drop (`None`: one per core).
    jobs: Option<usize>,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            forget_cleanup(d.path());
            if self.jobs != Some(1)
                && let Ok(pool) = rayon::ThreadPoolBuilder::new()
                    .num_threads(self.jobs.unwrap_or(0))
                    .build()
            {
                pool.install(|| unlink_files(d.path()));
            }
            let _ = d.close();
        }
    }
}

/// Removes every file and symlink below `dir` (a tree elfdeps unpacked), one directory per task
/// on the current rayon pool, then the emptied directories, deepest first, leaving `dir` itself
/// (and whatever failed here) to the serial removal that follows. Removing a tree of tens of
/// thousands of files and hundreds of MB of data one file at a time was a tenth of an image
/// scan's wall time; unlinks in different directories run in parallel (benches/image.sh: 0.20 s
/// -> 0.13-0.15 s on two idle cores, no better when the cores are busy elsewhere), and the serial
/// removal no longer lists every directory again (25 ms of a bookworm image's 2.3k). Nothing is
/// reached through a symlink: directories are opened with `NOFOLLOW`, and each emptied one is
/// removed from its parent opened beneath `dir` without symlinks. Directories are recorded by
/// path only up to [`RMDIR_PATH`] bytes each and [`RMDIR_BUDGET`] bytes in all (a layer can nest
/// directories without end): the others, and their parents, are left to the serial removal.
fn unlink_files(dir: &Path) {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
    /// The directories found below the top, with their depth, as paths relative to it, and the
    /// bytes of those paths.
    type Found = Mutex<(Vec<(usize, Vec<u8>)>, usize)>;
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    fn unlink_in<'s>(
        s: &rayon::Scope<'s>,
        dir: std::os::fd::OwnedFd,
        at: Option<(usize, Vec<u8>)>,
        found: &'s Found,
        flags: OFlags,
    ) {
        let Ok(mut it) = rustix::fs::Dir::read_from(&dir) else {
            return;
        };
        while let Some(Ok(ent)) = it.read() {
            let name = ent.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            let is_dir = match ent.file_type() {
                FileType::Directory => true,
                FileType::Unknown => {
                    rustix::fs::unlinkat(&dir, name, AtFlags::empty())
                        == Err(rustix::io::Errno::ISDIR)
                }
                _ => {
                    let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
                    false
                }
            };
            if is_dir && let Ok(sub) = rustix::fs::openat(&dir, name, flags, Mode::empty()) {
                let below = at
                    .as_ref()
                    .map(|(depth, path)| (depth + 1, crate::name::child_of(path, name.to_bytes())))
                    .filter(|(_, path)| path.len() <= RMDIR_PATH);
                if let Some(b) = &below
                    && let Ok(mut f) = found.lock()
                    && f.1 + b.1.len() <= RMDIR_BUDGET
                {
                    f.1 += b.1.len();
                    f.0.push(b.clone());
                }
                s.spawn(move |s| unlink_in(s, sub, below, found, flags));
            }
        }
    }
    let found = Found::default();
    let (Ok(top), Ok(walk)) = (
        rustix::fs::open(dir, flags, Mode::empty()),
        rustix::fs::open(dir, flags, Mode::empty()),
    ) else {
        return;
    };
    rayon::scope(|s| unlink_in(s, walk, Some((0, b"/".to_vec())), &found, flags));
    let (mut dirs, _) = found.into_inner().unwrap_or_else(|e| e.into_inner());
    dirs.sort_unstable_by_key(|d| std::cmp::Reverse(d.0));
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    for (_, path) in dirs {
        let Some((parent, name)) = crate::name::split_path(&path) else {
            continue;
        };
        let parent = parent.strip_prefix(b"/").unwrap_or(parent);
        let parent = if parent.is_empty() { &b"."[..] } else { parent };
        if let Ok(p) = rustix::fs::openat2(&top, parent, flags, Mode::empty(), resolve) {
            let _ = rustix::fs::unlinkat(&p, name, AtFlags::REMOVEDIR);
        }
    }
}

/// The longest directory path [`unlink_files`] records (and carries to the directory's task).
const RMDIR_PATH: usize = 4096;
/// The bytes of directory paths it records in all.
const RMDIR_BUDGET: usize = 16 << 20;

impl Unpacked {
    /// Removes the tree with at most `jobs` threads when dropped (`--jobs`; `None`: one per core).
    pub fn set_jobs(&mut self, jobs: Option<usize>) {
        self.jobs = jobs;
    }
}

/// A private temporary directory, removed on drop and on [`remove_unpacked`].
struct Private(Option<tempfile::TempDir>);

impl Private {
    fn new(prefix: &str) -> Result<Private, ImageError> {
        Self::new_in(prefix, &unpack_base())
    }

    /// One under `base`.
    fn new_in(prefix: &str, base: &Path) -> Result<Private, ImageError> {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(base)
            .map_err(|e| {
                bad(format!(
                    "cannot create a temporary directory: {e} (set TMPDIR to a writable place)"
                ))
            })?;
        if let Ok(mut v) = CLEANUP.lock() {
            v.push(tmp.path().to_path_buf());
        }
        Ok(Private(Some(tmp)))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().map_or(Path::new(""), |t| t.path())
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            forget_cleanup(d.path());
            let _ = d.close();
        }
    }
}

impl Unpacked {
    /// An empty tree in a new private directory, for the image `reference` names.
    fn empty(reference: String) -> Result<Unpacked, ImageError> {
        let mut private = Private::new("elfdeps-image-")?;
        let root = private.path().join("rootfs");
        std::fs::create_dir(&root)
            .map_err(|e| bad(format!("cannot create {}: {e}", root.display())))?;
        Ok(Unpacked {
            dir: private.0.take(),
            root,
            info: ImageInfo {
                reference,
                manifest: None,
                config: String::new(),
                layers: Vec::new(),
                applied: Default::default(),
                run: None,
            },
            origins: Default::default(),
            jobs: None,
        })
    }

    /// The regular files the layers wrote that are known not to be ELF ([`layer::Origin::plain`]),
    /// for the walk of the tree ([`crate::walk::WalkOptions::known_plain`]).
    pub fn known_plain(&self) -> crate::walk::KnownPlain {
        let mut k = crate::walk::KnownPlain::default();
        for (path, o) in &self.origins {
            if o.plain {
                k.insert(path);
            }
        }
        k
    }

    /// The digest of the layer that last wrote `path`.
    pub fn layer_of(&self, path: &[u8]) -> Option<&str> {
        self.origins
            .get(path)
            .and_then(|o| self.info.layers.get(o.layer))
            .map(String::as_str)
    }
}

// Temporary directories to remove if the process is interrupted.
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn forget_cleanup(p: &Path) {
    if let Ok(mut v) = CLEANUP.lock() {
        v.retain(|x| x != p);
    }
}

/// Removes every image still unpacked, for a process about to exit on a signal (drop does not run
/// then). `install_interrupt_cleanup` calls it; a library user with its own signal handling can.
pub fn remove_unpacked() {
    let dirs: Vec<PathBuf> = CLEANUP.lock().map(|v| v.clone()).unwrap_or_default();
    for d in dirs {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Installs the Ctrl-C / SIGTERM handler that removes unpacked images, then exits 130. Call once,
/// from the binary (the `cli` feature: ctrlc is the binary's dependency, not the library's).
#[cfg(feature = "cli")]
pub fn install_interrupt_cleanup() {
    let _ = ctrlc::set_handler(|| {
        remove_unpacked();
        eprintln!("elfdeps: interrupted; removed the unpacked image");
        std::process::exit(130);
    });
}

/// A `sha256:<64 lowercase hex>` digest, validated; returns the hex.
pub fn digest_hex(d: &str) -> Result<&str, ImageError> {
    let hex = d
        .strip_prefix("sha256:")
        .ok_or_else(|| bad(format!("digest `{d}`: only sha256 digests are supported")))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad(format!(
            "digest `{d}` is not sha256: followed by 64 lower-case hex digits"
        )));
    }
    Ok(hex)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes what goes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    /// Off when another reader already hashes the same bytes.
    on: bool,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.on {
            self.hash.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Passing over bytes that are hashed is reading them; otherwise the inner reader passes over them.
impl<R: layer::Skip> layer::Skip for Hashing<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        if self.on {
            layer::skip_by_reading(self, n)
        } else {
            self.inner.skip(n)
        }
    }
}

/// One layer to apply: where its blob is and what it must hash to.
struct Layer {
    path: Vec<u8>,
    media: String,
    blob_digest: Option<String>,
    diff_id: Option<String>,
    shown: String,
}

/// The reading side of a layer: the blob as stored into `tx`, and its digest (hex; empty when
/// not `hash`ed). `Ok(None)` when the other side stopped listening (its error is the one to show).
fn read_blob(
    blobs: &Blobs,
    l: &Layer,
    i: usize,
    hash: bool,
    mut tx: PipeTx,
) -> Result<Option<String>, ImageError> {
    let mut blob_hash = Hashing {
        inner: blobs.open_path(&l.path)?,
        hash: Sha256::new(),
        on: hash,
    };
    match pump(&mut blob_hash, &mut tx) {
        Ok(true) if hash => Ok(Some(hex(&blob_hash.hash.finalize()))),
        Ok(true) => Ok(Some(String::new())),
        Ok(false) => Ok(None),
        Err(e) => Err(ImageError::Layer(i, format!("reading the blob: {e}"))),
    }
}

/// Why decompressing a layer failed.
enum Inflate {
    /// The compressed data is not valid (`kind` names the compression), after `read` bytes out.
    Damaged { kind: &'static str, read: u64 },
    /// Anything else (a cap, the reading side's error), already worded.
    Other(ImageError),
}

/// The decompressing side: the blob's chunks from `rx`, decompressed within the caps, into `tx`.
/// Returns the decompressed size, or `None` when the applying side stopped listening.
fn inflate(
    mut raw: PipeRx,
    l: &Layer,
    i: usize,
    max_layer: u64,
    mut tx: PipeTx,
) -> Result<Option<u64>, Inflate> {
    let read = {
        let (dec, kind) = decompress(Box::new(&mut raw), &l.media)
            .map_err(|e| Inflate::Other(ImageError::Layer(i, e.to_string())))?;
        let mut capped = layer::Capped::new(dec, max_layer, u64::MAX);
        match pump(&mut capped, &mut tx) {
            Ok(true) => capped.read,
            Ok(false) => return Ok(None),
            // The decoder's own text ("invalid gzip header", "incomplete deflate stream") is not
            // for users; a passed cap says which. (A read error of the blob is the reading
            // side's to report.)
            Err(_) => {
                return Err(match capped.hit {
                    Some(cap) => Inflate::Other(ImageError::Layer(i, cap.message())),
                    None => Inflate::Damaged {
                        kind,
                        read: capped.read,
                    },
                });
            }
        }
    };
    drop(tx);
    // Bytes after the compressed stream still count for the blob's digest: let the reader finish.
    layer::drain(&mut raw)
        .map_err(|e| Inflate::Other(ImageError::Layer(i, format!("reading the blob: {e}"))))?;
    Ok(Some(read))
}

/// Where blobs come from.
enum Blobs {
    /// `blobs/sha256/<hex>` of a layout directory, opened through a confined root.
    Dir(RootFs),
    /// Entries of a tar file: path → (offset, size).
    Tar(PathBuf, HashMap<Vec<u8>, (u64, u64)>),
}

impl Blobs {
    fn open_path(&self, path: &[u8]) -> Result<Box<dyn Read + '_>, ImageError> {
        match self {
            Blobs::Dir(fs) => {
                let abs = [b"/", path].concat();
                let name = String::from_utf8_lossy(path);
                let f = fs.open_file(&abs).map_err(|e| {
                    bad(match e.code {
                        ErrorCode::Vanished if path == b"index.json" => {
                            if fs.open_file(b"/oci-layout").is_ok() {
                                "the layout has no index.json: an OCI image layout has one next \
                                 to oci-layout; this one is incomplete (copy or build it again, \
                                 e.g. with skopeo copy or umoci)"
                                    .to_string()
                            } else {
                                "this directory is not an OCI image layout (it has neither \
                                 oci-layout nor index.json)"
                                    .to_string()
                            }
                        }
                        ErrorCode::Vanished => format!(
                            "the layout has no {name}, which its index or a manifest names: the \
                             layout is incomplete (copy or build it again)"
                        ),
                        ErrorCode::NotRegular => format!("{name} in the layout is {}", e.message),
                        _ => format!("{name} in the layout: {}", e.message),
                    })
                })?;
                // The descriptor is non-blocking only for FIFOs, which open_file refuses.
                Ok(Box::new(BufReader::new(File::from(f.fd))))
            }
            Blobs::Tar(file, index) => {
                let &(off, size) = index.get(path).ok_or_else(|| {
                    bad(format!(
                        "the archive has no {}",
                        String::from_utf8_lossy(path)
                    ))
                })?;
                let mut f = open_archive(file)?;
                f.seek(SeekFrom::Start(off))
                    .map_err(|e| bad(format!("{}: {e}", file.display())))?;
                Ok(Box::new(BufReader::new(f.take(size))))
            }
        }
    }

    fn read_small(&self, path: &[u8], max: u64) -> Result<Vec<u8>, ImageError> {
        let mut v = Vec::new();
        self.open_path(path)?
            .take(max + 1)
            .read_to_end(&mut v)
            .map_err(|e| bad(format!("reading {}: {e}", String::from_utf8_lossy(path))))?;
        if v.len() as u64 > max {
            return Err(bad(format!(
                "{} is larger than {max} bytes",
                String::from_utf8_lossy(path)
            )));
        }
        Ok(v)
    }

    /// A blob by digest, read whole (small JSON), its digest checked.
    fn json_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let h = digest_hex(digest)?;
        let bytes = self.read_small(format!("blobs/sha256/{h}").as_bytes(), 16 << 20)?;
        let got = hex(&Sha256::digest(&bytes));
        if got != h {
            return Err(bad(format!(
                "blob {digest} does not match its digest (content hashes to sha256:{got}): corrupt or tampered image"
            )));
        }
        Ok(bytes)
    }
}

fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

/// What the accepted forms of ROOT are, for messages about a file that is none of them.
const ACCEPTED: &str = "ROOT must be the directory of a root filesystem, a tarball of one (tar, \
                        plain or compressed with gzip, zstd or xz), an OCI image layout \
                        directory, or an image tarball (docker save; skopeo copy to \
                        docker-archive: or oci-archive:)";

/// The compressions a tarball given as ROOT may have (names as [`COMPRESSED`] gives them).
const TARBALL_CODECS: &[&str] = &["gzip", "zstd", "xz"];

/// What a file is, from its first bytes, as far as choosing a message needs.
#[derive(Debug, PartialEq, Eq)]
enum FileKind {
    Empty,
    /// A compressed stream, by its magic number.
    Compressed(&'static str),
    Elf,
    /// The first block is a tar header (its checksum holds) or the end-of-archive block.
    Tar,
    Other,
}

/// Compressed formats by magic number.
const COMPRESSED: &[(&[u8], &str)] = &[
    (&[0x1f, 0x8b], "gzip"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
    (b"BZh", "bzip2"),
    (&[0x04, 0x22, 0x4d, 0x18], "lz4"),
    (&[0x5d, 0, 0], "lzma"),
];

fn sniff(head: &[u8]) -> FileKind {
    if head.is_empty() {
        return FileKind::Empty;
    }
    if let Some((_, name)) = COMPRESSED.iter().find(|(m, _)| head.starts_with(m)) {
        return FileKind::Compressed(name);
    }
    if head.starts_with(b"\x7fELF") {
        return FileKind::Elf;
    }
    if head.len() >= 512 && is_tar_header(&head[..512]) {
        return FileKind::Tar;
    }
    FileKind::Other
}

/// Whether a 512-byte block is a tar header (its checksum, octal in bytes 148..156, is the sum
/// of the block's bytes with that field counted as spaces; old tars sum signed bytes) or the
/// zero block that ends an archive (an empty tar).
fn is_tar_header(block: &[u8]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let field = &block[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    let Some(want) = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| u32::from_str_radix(d, 8).ok())
    else {
        return false;
    };
    let spaces = 8 * u32::from(b' ');
    let unsigned: u32 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|&b| u32::from(b))
        .sum::<u32>()
        + spaces;
    let signed: i64 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|&b| i64::from(b as i8))
        .sum::<i64>()
        + i64::from(spaces);
    want == unsigned || i64::from(want) == signed
}

/// Opens an image tarball for reading: never blocking on a FIFO (opened non-blocking, then
/// required to be a regular file), which `docker-archive:FIFO` would otherwise do forever.
fn open_archive(path: &Path) -> Result<File, ImageError> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let shown = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking_flags())
        .open(path)
        .map_err(|e| bad(format!("cannot open {shown}: {e}")))?;
    let ft = f
        .metadata()
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?
        .file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory (an OCI layout directory is named oci:DIR)"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Err(bad(format!(
            "{shown} is {what}, not an image tarball: not read"
        )));
    }
    Ok(f)
}

/// `O_NONBLOCK | O_NOCTTY`: opening a FIFO or a terminal must neither wait nor adopt it.
fn nonblocking_flags() -> i32 {
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}

/// The first 512 bytes of the file at `path` (fewer when it is shorter), opened as
/// [`open_archive`] opens it.
fn read_head(path: &Path) -> Result<Vec<u8>, ImageError> {
    let mut head = Vec::with_capacity(512);
    open_archive(path)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    Ok(head)
}

/// The regular members of the tar file at `path`: name (without `./`) → (offset, size). A file
/// that is not an uncompressed tar, or one that breaks off, is described in our words (the tar
/// reader's own text quotes raw header bytes).
fn index_tar(path: &Path) -> Result<HashMap<Vec<u8>, (u64, u64)>, ImageError> {
    let shown = path.display();
    let mut f = open_archive(path)?;
    let len = f
        .metadata()
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?
        .len();
    let mut head = Vec::with_capacity(512);
    (&mut f)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
    match sniff(&head) {
        FileKind::Tar => {}
        FileKind::Empty => return Err(bad(format!("{shown} is an empty file: {ACCEPTED}"))),
        FileKind::Compressed(kind) => {
            return Err(bad(format!(
                "{shown} is a {kind}-compressed file: docker-archive: and oci-archive: name \
                 uncompressed tar files; give the path alone (elfdeps then decompresses an image \
                 or root filesystem tarball compressed with gzip, zstd or xz), or decompress it \
                 first (e.g. `{kind} -dk {shown}`)"
            )));
        }
        FileKind::Elf => {
            return Err(bad(format!(
                "{shown} is an ELF file, not a root: {ACCEPTED}; to judge build artifacts, run \
                 `elfdeps check --files {shown}`"
            )));
        }
        FileKind::Other => {
            return Err(bad(format!(
                "{shown} is a file, not a directory or a tar archive: {ACCEPTED}"
            )));
        }
    }
    f.seek(SeekFrom::Start(0))
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
    let mut a = tar::Archive::new(BufReader::new(f));
    let mut m = HashMap::new();
    // Where the entry after the last good one starts, and how many there were: what a message
    // about a broken archive can say.
    let mut next = 0u64;
    let mut count = 0u64;
    let broken = |next: u64, count: u64| {
        if next.saturating_add(512) > len {
            bad(format!(
                "{shown} is a tar archive that ends early: truncated after {} ({len} \
                 bytes); copy or save it again",
                entries(count)
            ))
        } else {
            bad(format!(
                "{shown} is a tar archive with a damaged entry header at byte {next} (after \
                 {}): it cannot be read; copy or save it again",
                entries(count)
            ))
        }
    };
    for e in a.entries().map_err(|_| broken(0, 0))? {
        let e = e.map_err(|_| broken(next, count))?;
        count += 1;
        next = e
            .raw_file_position()
            .saturating_add(e.size().div_ceil(512).saturating_mul(512));
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path_bytes();
        let p = p.strip_prefix(b"./").unwrap_or(&p).to_vec();
        m.insert(p, (e.raw_file_position(), e.size()));
    }
    // The tar reader stops quietly at the end of the file; a member whose data the file does
    // not hold is a truncation too.
    if next > len {
        return Err(broken(next, count.saturating_sub(1)));
    }
    Ok(m)
}

/// What an image index must look like, for messages.
const INDEX_SHAPE: &str = "an OCI image index (an object whose `manifests` is an array of \
                           descriptors, each with a `digest` string)";
/// What a manifest must look like.
const MANIFEST_SHAPE: &str = "an OCI image manifest (an object with a `config` descriptor and a \
                              `layers` array of descriptors)";
/// What a config must look like (the part elfdeps reads).
const CONFIG_SHAPE: &str = "an image config (an object whose `rootfs.diff_ids` is an array of \
                            digest strings)";

/// Parses the JSON document `what` (as messages name it), which must be `shape`. The message
/// says which of malformed, cut short or of another form it is, and where; serde's own text
/// (Rust type names, `invalid type: sequence`) is not for users.
fn json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    shape: &str,
) -> Result<T, ImageError> {
    use serde_json::error::Category;
    serde_json::from_slice(bytes).map_err(|e| {
        // A value of the wrong form can be met before a syntax error later on: whether the
        // document is JSON at all is asked separately.
        let e = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(syntax) => syntax,
            Ok(_) => e,
        };
        let at = format!("line {}, column {}", e.line(), e.column());
        bad(match e.classify() {
            Category::Eof => {
                format!("{what} ends in the middle of its JSON ({at}): it is truncated")
            }
            Category::Syntax | Category::Io => format!("{what} is not valid JSON ({at})"),
            Category::Data => {
                format!("{what} is JSON, but not {shape}; the value at {at} does not fit")
            }
        })
    })
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    platform: Option<PlatformJson>,
}

#[derive(Clone, Deserialize)]
struct PlatformJson {
    os: String,
    architecture: String,
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Config {
    rootfs: RootfsJson,
    /// How a container of the image starts (optional in the spec).
    #[serde(default)]
    config: Option<RunConfig>,
    // Required by the image spec; optional here so that an image without them can still be
    // scanned when --platform does not ask.
    os: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
}

impl Config {
    /// With --platform: the image must be for that platform, as its config says (a layout's
    /// index need not say it), or --platform would be silently ignored.
    fn check_platform(&self, want: &Platform) -> Result<(), ImageError> {
        let (Some(os), Some(arch)) = (&self.os, &self.architecture) else {
            return Err(bad(format!(
                "--platform {}: the image does not say its platform (its config has no os or \
                 architecture), so --platform cannot choose it: drop --platform",
                want.show()
            )));
        };
        let has = Platform {
            os: os.clone(),
            arch: arch.clone(),
            variant: self.variant.clone(),
        };
        let variant_differs = matches!((&want.variant, &has.variant), (Some(w), Some(h)) if w != h);
        if *os != want.os || *arch != want.arch || variant_differs {
            return Err(bad(format!(
                "--platform {}: the only image that reference names is for {} (its config \
                 says so): drop --platform, or give an image index that has a {} image",
                want.show(),
                has.show(),
                want.show()
            )));
        }
        Ok(())
    }
}

/// The part of an image config's `config` elfdeps reads: what a container starts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RunConfig {
    /// `Entrypoint`.
    #[serde(rename = "Entrypoint", default, deserialize_with = "null_as_empty")]
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    #[serde(rename = "Cmd", default, deserialize_with = "null_as_empty")]
    pub cmd: Vec<String>,
    /// `Env` (`NAME=VALUE`).
    #[serde(rename = "Env", default, deserialize_with = "null_as_empty")]
    pub env: Vec<String>,
    /// `WorkingDir` (empty: `/`).
    #[serde(
        rename = "WorkingDir",
        default,
        deserialize_with = "null_as_empty_string",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
}

fn null_as_empty_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Docker writes `null` for an unset list.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl RunConfig {
    /// The program a container starts: the first word of `Entrypoint`, else of `Cmd`.
    pub fn program(&self) -> Option<&str> {
        self.entrypoint
            .first()
            .or_else(|| self.cmd.first())
            .map(String::as_str)
    }

    /// The loader environment a container's entrypoint starts with: `LD_LIBRARY_PATH` and
    /// `LD_PRELOAD` from `Env` (the last of each, as the runtime passes it), `WorkingDir` (a
    /// relative one, which runtimes refuse, taken from `/`).
    pub fn loader_env(&self) -> crate::resolve::runenv::LoaderEnv {
        let mut env = crate::resolve::runenv::LoaderEnv::default();
        for e in &self.env {
            if let Some((name, value)) = e.split_once('=') {
                env.set(name, value.as_bytes());
            }
        }
        if !env.is_unset() {
            env.sources.push("the image config's Env".into());
        }
        let wd = self.working_dir.trim_end_matches('/');
        if !wd.is_empty() {
            env.workdir = if wd.starts_with('/') {
                wd.into()
            } else {
                format!("/{wd}").as_str().into()
            };
        }
        env
    }

    /// `PATH` from `Env`, else the runtime's default.
    pub fn path(&self) -> &str {
        self.env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    }
}

#[derive(Deserialize)]
struct RootfsJson {
    diff_ids: Vec<String>,
}

fn is_index(d: &Descriptor) -> bool {
    d.media_type.contains("image.index") || d.media_type.contains("manifest.list")
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One image of an index, flattened: its descriptor, platform, and the tag it is reached by.
struct Candidate {
    desc: Descriptor,
    platform: Option<PlatformJson>,
    tag: Option<String>,
}

impl Candidate {
    fn shown(&self) -> String {
        let platform = self.platform.as_ref().map(|p| {
            format!(
                "{}/{}{}",
                p.os,
                p.architecture,
                p.variant
                    .as_ref()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            )
        });
        match (&self.tag, platform) {
            (Some(t), Some(p)) => format!("`{t}` ({p})"),
            (Some(t), None) => format!("`{t}`"),
            (None, Some(p)) => format!("untagged {} ({p})", self.desc.digest),
            (None, None) => format!("untagged {}", self.desc.digest),
        }
    }
}

/// Picks the manifest from an index: by tag, then by platform. `base` is the reference without
/// its tag (`oci:DIR`), for the hint of how to name one image.
fn pick(
    blobs: &Blobs,
    index: &Index,
    base: &str,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> Result<(String, Manifest), ImageError> {
    let mut candidates: Vec<&Descriptor> = index.manifests.iter().collect();
    if let Some(t) = tag {
        candidates.retain(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(t));
        if candidates.is_empty() {
            let tags: Vec<&str> = index
                .manifests
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                .collect();
            return Err(bad(format!(
                "no image tagged `{t}` (tags: {})",
                if tags.is_empty() {
                    "none".into()
                } else {
                    tags.join(", ")
                }
            )));
        }
    }
    // Nested indexes (multi-platform images) are flattened one level; their images are reached
    // by the outer descriptor's tag.
    let mut flat: Vec<Candidate> = Vec::new();
    for d in candidates {
        let tag = d.annotations.get(REF_NAME).cloned();
        if is_index(d) {
            let inner: Index = json(
                &blobs.json_blob(&d.digest)?,
                &format!("the index {}", d.digest),
                INDEX_SHAPE,
            )?;
            for m in inner.manifests {
                flat.push(Candidate {
                    platform: m.platform.clone(),
                    desc: m,
                    tag: tag.clone(),
                });
            }
        } else {
            flat.push(Candidate {
                desc: Descriptor {
                    media_type: d.media_type.clone(),
                    digest: d.digest.clone(),
                    annotations: d.annotations.clone(),
                    platform: None,
                },
                platform: d.platform.clone(),
                tag,
            });
        }
    }
    let matches = |p: &Option<PlatformJson>, want: &Platform| {
        p.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.arch
                && (want.variant.is_none() || p.variant == want.variant)
        })
    };
    let chosen = if flat.len() == 1 && platform.is_none() {
        &flat[0]
    } else {
        let want = platform.cloned().unwrap_or_else(Platform::host);
        let hits: Vec<&Candidate> = flat
            .iter()
            .filter(|c| matches(&c.platform, &want))
            .collect();
        match hits.as_slice() {
            [one] => *one,
            // The only image, whose descriptor does not say its platform: its config is
            // checked against --platform once read.
            [] if flat.len() == 1 && flat[0].platform.is_none() => &flat[0],
            [] if flat.len() == 1 => {
                return Err(bad(format!(
                    "--platform {}: the only image that reference names is {}: drop \
                     --platform, or give an image index that has a {} image",
                    want.show(),
                    flat[0].shown(),
                    want.show()
                )));
            }
            _ => {
                return Err(bad(ambiguous(
                    &flat,
                    hits.len(),
                    &want,
                    platform.is_some(),
                    base,
                )));
            }
        }
    };
    let m: Manifest = json(
        &blobs.json_blob(&chosen.desc.digest)?,
        &format!("the manifest {}", chosen.desc.digest),
        MANIFEST_SHAPE,
    )?;
    Ok((chosen.desc.digest.clone(), m))
}

/// Why no single image of `flat` could be chosen, with its images by tag and platform and how to
/// name one.
fn ambiguous(flat: &[Candidate], hits: usize, want: &Platform, asked: bool, base: &str) -> String {
    let n = flat.len();
    let with_platform = flat.iter().any(|c| c.platform.is_some());
    let tags_tell = flat.iter().any(|c| c.tag.is_some());
    let whose = if asked {
        String::new()
    } else {
        " (the host's; --platform chooses another)".to_string()
    };
    let what = if !with_platform {
        format!("the layout holds {n} images and none says its platform")
    } else if hits == 0 {
        format!(
            "none of the layout's {n} images is for {}{whose}",
            want.show()
        )
    } else {
        format!(
            "{hits} of the layout's {n} images are for {}{whose}",
            want.show()
        )
    };
    let how = match (tags_tell, with_platform && hits == 0) {
        (true, true) => format!("choose one by its tag ({base}:TAG) or with --platform"),
        (true, false) => format!("choose one by its tag ({base}:TAG)"),
        (false, true) => "choose one with --platform".to_string(),
        (false, false) => {
            "they have no tags or platforms that tell them apart, so elfdeps cannot choose; \
             copy the one you mean into a layout of its own (skopeo copy)"
                .to_string()
        }
    };
    let list: Vec<String> = flat.iter().map(Candidate::shown).collect();
    format!("{what}: {how}; images: {}", list.join(", "))
}

/// Why a layer's decompression cannot start.
#[derive(Debug, thiserror::Error)]
enum DecompressError {
    /// Its first bytes cannot be read.
    #[error("reading the blob: {0}")]
    Read(io::Error),
    /// Its zstd frame header is bad.
    #[error(
        "its zstd data is damaged: the frame header is not valid (or asks for more memory than a \
         decoder gives it)"
    )]
    ZstdHeader,
}

/// Compression of a layer, from its media type or its first bytes: the decompressed stream and
/// the compression's name.
fn decompress<'a>(
    mut r: Box<dyn BufRead + 'a>,
    media: &str,
) -> Result<(Box<dyn Read + 'a>, &'static str), DecompressError> {
    let head = r.fill_buf().map_err(DecompressError::Read)?;
    // The `bufread` decoder takes its input from `r`'s own buffer (a layer's chunks as they
    // come), where the `read` one would copy it into a buffer of its own first.
    match Compression::of(media, head) {
        Some(Compression::Gzip) => Ok((Box::new(flate2::bufread::MultiGzDecoder::new(r)), "gzip")),
        Some(Compression::Zstd) => {
            let d = ruzstd::decoding::StreamingDecoder::new(r)
                .map_err(|_| DecompressError::ZstdHeader)?;
            Ok((Box::new(d), "zstd"))
        }
        None => Ok((Box::new(r), "uncompressed")),
    }
}

/// How a layer is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    /// By the layer's media type, else by its first bytes (`None`: not compressed).
    fn of(media: &str, head: &[u8]) -> Option<Compression> {
        if media.ends_with("+gzip") || media.ends_with(".gzip") || head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if media.ends_with("+zstd") || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }
}

/// Why a layer's compressed data could not be decompressed: a blob that is not the one its digest
/// names is corrupt or tampered (hashed again here, on this error path only); one that is was
/// published broken.
fn damaged(blobs: &Blobs, l: &Layer, i: usize, kind: &str, read: u64) -> ImageError {
    let what = format!(
        "its {kind} data is damaged or cut short (it stops decompressing after {read} bytes)"
    );
    let Some(d) = &l.blob_digest else {
        return ImageError::Layer(i, format!("{what}; save or copy the image again"));
    };
    let rehash = blobs.open_path(&l.path).and_then(|r| {
        let mut h = Hashing {
            inner: r,
            hash: Sha256::new(),
            on: true,
        };
        layer::drain(&mut h)
            .map(|_| format!("sha256:{}", hex(&h.hash.finalize())))
            .map_err(|e| bad(format!("reading the blob: {e}")))
    });
    match rehash {
        Ok(got) if got != *d => ImageError::Layer(
            i,
            format!("blob {d} hashes to {got}: corrupt or tampered image"),
        ),
        Ok(_) => ImageError::Layer(
            i,
            format!(
                "{what}, and the blob is the one its digest names: the image was made with \
                 a broken layer"
            ),
        ),
        Err(e) => e,
    }
}

/// Where images are unpacked: `$TMPDIR` when set; otherwise `/dev/shm` when it is a writable
/// directory (memory-backed: creating tens of thousands of files there is an order of magnitude
/// faster than on a journaling disk, and only ELF files and configuration get their bytes, so the
/// memory used is about the size of the image's ELF files); otherwise the system temp directory.
fn unpack_base() -> PathBuf {
    if let Some(t) = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()) {
        return PathBuf::from(t);
    }
    let shm = Path::new("/dev/shm");
    let writable = rustix::fs::access(shm, rustix::fs::Access::WRITE_OK).is_ok();
    if writable && shm.is_dir() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// Pulls `docker://TEXT` into a private OCI layout (under the system temp directory, not
/// `/dev/shm`: compressed layers are not worth memory), which is removed when dropped; the pull
/// chose the platform, so the layout has one image.
#[cfg(feature = "registry")]
fn pull_layout(text: &str, opts: &ImageOptions) -> Result<Private, ImageError> {
    let layout = Private::new_in("elfdeps-pull-", &std::env::temp_dir())?;
    registry::pull(text, opts, layout.path())?;
    Ok(layout)
}

/// Without the `registry` feature a `docker://` reference is refused, naming the feature.
#[cfg(not(feature = "registry"))]
fn pulled(text: &str, _opts: &ImageOptions) -> Result<Unpacked, ImageError> {
    Err(bad(format!(
        "docker://{text}: this elfdeps was built without the `registry` feature, so it cannot \
         pull from a registry; rebuild with it (cargo install --features registry), or pull the \
         image first (skopeo copy docker://{text} oci:DIR) and give oci:DIR"
    )))
}

/// Empties a `--blob-cache` directory.
#[cfg(feature = "registry")]
pub fn clear_blob_cache(dir: &Path) -> Result<(), ImageError> {
    cache::clear(dir).map_err(|e| {
        bad(format!(
            "cannot clear the blob cache {}: {e}",
            dir.display()
        ))
    })
}

/// Unpacks `image` into a private temporary directory.
pub fn unpack(image: &ImageRef, opts: &ImageOptions) -> Result<Unpacked, ImageError> {
    unpack_onto(image, opts, None, &|_| Ok(0)).map(|(u, _)| u)
}

/// The layers' diff_ids of `image`, bottom first (its layers are read to find them in a
/// docker-archive, applied nowhere).
pub fn diff_ids(image: &ImageRef, opts: &ImageOptions) -> Result<Vec<String>, ImageError> {
    unpack_onto(image, opts, None, &|ids| Ok(ids.len())).map(|(_, ids)| ids)
}

/// Applies the layers of `image` from the one `first(diff_ids)` names on (its diff_ids, bottom
/// first) over `onto` (an unpacked image: what `crane rebase` does, an application's layers over
/// another base) or, without it, into a new private directory; hands back the result and every
/// diff_id of `image`. A root tarball has no layers to choose from: it is unpacked whole.
pub fn unpack_onto(
    image: &ImageRef,
    opts: &ImageOptions,
    onto: Option<Unpacked>,
    first: &dyn Fn(&[String]) -> Result<usize, ImageError>,
) -> Result<(Unpacked, Vec<String>), ImageError> {
    let (blobs, tag, reference) = match image {
        ImageRef::OciDir(dir, tag) => {
            let shown = dir.display();
            match std::fs::metadata(dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(bad(format!("{shown} does not exist")));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(bad(format!(
                        "{shown} is not a directory: an OCI image layout is a directory (for a \
                         layout in a tar file, write oci-archive:{shown})"
                    )));
                }
                _ => {}
            }
            let fs = RootFs::open(dir).map_err(|e| bad(format!("{shown}: {}", e.message)))?;
            (Blobs::Dir(fs), tag.clone(), image.display())
        }
        ImageRef::OciArchive(file, tag) => (
            Blobs::Tar(file.clone(), index_tar(file)?),
            tag.clone(),
            image.display(),
        ),
        ImageRef::DockerArchive(file) => (
            Blobs::Tar(file.clone(), index_tar(file)?),
            None,
            image.display(),
        ),
        ImageRef::RootTarball(file) if onto.is_none() => {
            return tarball::unpack(file, opts).map(|u| (u, Vec::new()));
        }
        ImageRef::RootTarball(_) => {
            return Err(bad(format!(
                "{} is a root tarball, not an image: it has no layers to lay over another base",
                image.display()
            )));
        }
        // A registry image is pulled into an OCI layout first, then read as one.
        ImageRef::Registry(text) => {
            #[cfg(feature = "registry")]
            {
                let layout = pull_layout(text, opts)?;
                let dir = layout.path().to_path_buf();
                let (mut u, ids) = unpack_onto(&ImageRef::OciDir(dir, None), opts, onto, first)?;
                u.info.reference = format!("docker://{text}");
                drop(layout);
                return Ok((u, ids));
            }
            #[cfg(not(feature = "registry"))]
            {
                let _ = (&onto, first);
                return pulled(text, opts).map(|u| (u, Vec::new()));
            }
        }
    };
    let mut out = match onto {
        Some(u) => u,
        None => Unpacked::empty(reference)?,
    };
    // Layers applied over another image are numbered after its own.
    let offset = out.info.layers.len();
    let root = out.root.clone();
    let root_dir = File::open(&root).map_err(|e| bad(format!("{}: {e}", root.display())))?;

    // The layers, as (blob path, media type, digest to check, check of the uncompressed stream).
    let layers: Vec<Layer> = match image {
        ImageRef::DockerArchive(_) => {
            let Blobs::Tar(_, index) = &blobs else {
                return Err(bad("internal: a docker-archive without its tar index"));
            };
            let manifest: serde_json::Value = json(
                &blobs.read_small(b"manifest.json", 16 << 20)?,
                "manifest.json",
                "a docker-archive manifest",
            )?;
            let entry = manifest
                .as_array()
                .filter(|a| a.len() == 1)
                .and_then(|a| a.first())
                .ok_or_else(|| bad("manifest.json must describe exactly one image"))?;
            let config_name = entry["Config"]
                .as_str()
                .ok_or_else(|| bad("manifest.json has no Config"))?;
            // The config is trusted only when its content hashes to the digest its name claims.
            let claimed = config_name
                .trim_start_matches("blobs/sha256/")
                .trim_end_matches(".json")
                .to_string();
            let config_bytes = blobs.read_small(config_name.as_bytes(), 16 << 20)?;
            let got = hex(&Sha256::digest(&config_bytes));
            if got != claimed {
                return Err(bad(format!(
                    "config {config_name} hashes to sha256:{got}, not to the digest its name claims"
                )));
            }
            out.info.config = format!("sha256:{got}");
            let config: Config = json(
                &config_bytes,
                &format!("the config {config_name}"),
                CONFIG_SHAPE,
            )?;
            if let Some(want) = &opts.platform {
                config.check_platform(want)?;
            }
            out.info.run = config.config.clone();
            let declared = entry["Layers"].as_array().map_or(0, |a| a.len());
            if declared != config.rootfs.diff_ids.len() {
                return Err(bad(format!(
                    "manifest.json lists {declared} layers but the config has {} diff_ids",
                    config.rootfs.diff_ids.len()
                )));
            }
            // Find each diff_id among the archive's files by hashing them (uncompressed). A file
            // cut off by a cap has no digest: remember which cap, to name it if a layer is then
            // not found.
            let mut by_hash: HashMap<String, Vec<u8>> = HashMap::new();
            let mut capped: HashMap<Vec<u8>, layer::Cap> = HashMap::new();
            let mut names: Vec<&Vec<u8>> = index.keys().collect();
            names.sort();
            for name in names {
                if name.as_slice() == b"manifest.json"
                    || name.ends_with(b".json")
                    || name.as_slice() == b"repositories"
                {
                    continue;
                }
                let r = blobs.open_path(name)?;
                // A file that does not decompress is not a layer; if the config wanted it, the
                // layer is reported missing below.
                let Ok((r, _)) = decompress(Box::new(BufReader::new(r)), "") else {
                    continue;
                };
                let mut h = Hashing {
                    inner: layer::Capped::new(r, opts.max_layer, opts.max_image),
                    hash: Sha256::new(),
                    on: true,
                };
                match layer::drain(&mut h) {
                    Ok(_) => {
                        by_hash.insert(format!("sha256:{}", hex(&h.hash.finalize())), name.clone());
                    }
                    Err(_) => {
                        if let Some(cap) = h.inner.hit {
                            capped.insert(name.clone(), cap);
                        }
                    }
                }
            }
            // The file manifest.json names for each layer: not trusted for content (the diff_id
            // is), only to say which cap kept a layer from being found.
            let listed: Vec<Vec<u8>> = entry["Layers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            let n = v.as_str().unwrap_or_default().as_bytes();
                            n.strip_prefix(b"./").unwrap_or(n).to_vec()
                        })
                        .collect()
                })
                .unwrap_or_default();
            config
                .rootfs
                .diff_ids
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    digest_hex(d)?;
                    let path = match by_hash.get(d) {
                        Some(p) => p.clone(),
                        None => {
                            let cap = listed
                                .get(i)
                                .and_then(|n| capped.get(n))
                                .or_else(|| capped.values().next());
                            return Err(match cap {
                                Some(cap) => ImageError::Layer(i, cap.message()),
                                None => ImageError::Layer(
                                    i,
                                    format!(
                                        "no file of the archive has its content (diff_id {d}): \
                                         the archive is incomplete or a layer file is damaged; \
                                         save or copy it again"
                                    ),
                                ),
                            });
                        }
                    };
                    Ok(Layer {
                        path,
                        media: String::new(),
                        blob_digest: None,
                        diff_id: Some(d.clone()),
                        shown: d.clone(),
                    })
                })
                .collect::<Result<_, ImageError>>()?
        }
        _ => {
            let index: Index = json(
                &blobs.read_small(b"index.json", 16 << 20)?,
                "index.json",
                INDEX_SHAPE,
            )?;
            let (mdigest, manifest) = pick(
                &blobs,
                &index,
                &image.untagged(),
                tag.as_deref(),
                opts.platform.as_ref(),
            )?;
            out.info.manifest = Some(mdigest);
            let config: Config = json(
                &blobs.json_blob(&manifest.config.digest)?,
                &format!("the config {}", manifest.config.digest),
                CONFIG_SHAPE,
            )?;
            out.info.config = manifest.config.digest.clone();
            if let Some(want) = &opts.platform {
                config.check_platform(want)?;
            }
            out.info.run = config.config.clone();
            if config.rootfs.diff_ids.len() != manifest.layers.len() {
                return Err(bad(format!(
                    "the manifest has {} layers but the config has {} diff_ids",
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                )));
            }
            manifest
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(l, diff)| {
                    let h = digest_hex(&l.digest)?;
                    Ok(Layer {
                        path: format!("blobs/sha256/{h}").into_bytes(),
                        media: l.media_type.clone(),
                        blob_digest: Some(l.digest.clone()),
                        diff_id: Some(diff.clone()),
                        shown: l.digest.clone(),
                    })
                })
                .collect::<Result<_, ImageError>>()?
        }
    };

    let ids: Vec<String> = layers
        .iter()
        .map(|l| l.diff_id.clone().unwrap_or_default())
        .collect();
    let from = first(&ids)?;
    // What is left of `--max-image-size`, counted where the layers are applied, in order.
    let mut image_left = opts.max_image;
    // Where a layer decompressed ahead of its turn waits (beside the tree, not in it).
    let hold_dir = root.parent().unwrap_or(&root).to_path_buf();
    // A quarter of the space left there at most: held bytes must not take the room the tree
    // needs (a container's /dev/shm is often 64 MiB).
    let hold_cap = rustix::fs::statvfs(&hold_dir).map_or(0, |v| {
        HOLD_CAP.min(v.f_bavail.saturating_mul(v.f_frsize) / 4)
    });
    // Which layers are compressed (decompressed on a thread of their own, and worth starting
    // early).
    // (Layers the base already has are not applied, nor looked at.)
    let packed: Vec<bool> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| i >= from && compressed(&blobs, l))
        .collect();
    std::thread::scope(|s| {
        let mut next: Option<Stage<'_>> = None;
        for (i, (l, &packed_l)) in layers.iter().zip(&packed).enumerate().skip(from) {
            let slot = offset + i - from;
            let stage = match next.take() {
                Some(stage) => stage,
                None => start_layer(s, &blobs, l, i, opts.max_layer, packed_l, None),
            };
            // The next layer is read and decompressed while this one is applied, its output
            // held in a file until its turn (see `pipe`): the layers are applied in order,
            // one thread, while decompression, the larger cost, uses the other cores.
            if opts.ahead
                && let Some(up) = layers.get(i + 1)
                && packed.get(i + 1) == Some(&true)
            {
                let hold = Some((hold_dir.as_path(), hold_cap));
                next = Some(start_layer(
                    s,
                    &blobs,
                    up,
                    i + 1,
                    opts.max_layer,
                    true,
                    hold,
                ));
            }
            // On a failure, `next` is dropped with the closure: its threads stop.
            let read = apply_stage(
                &blobs,
                l,
                i,
                slot,
                stage,
                image_left,
                root_dir.as_fd(),
                &mut out,
            )?;
            image_left = image_left.saturating_sub(read);
        }
        Ok::<(), ImageError>(())
    })?;
    Ok((out, ids))
}

/// Whether layer `l` is compressed, by the rule [`decompress`] follows (its media type, else its
/// first bytes). A blob that cannot be read counts as compressed: the decompressing path reports
/// why.
fn compressed(blobs: &Blobs, l: &Layer) -> bool {
    if Compression::of(&l.media, b"").is_some() {
        return true;
    }
    let mut head = Vec::with_capacity(4);
    match blobs.open_path(&l.path) {
        Ok(r) => match r.take(4).read_to_end(&mut head) {
            Ok(_) => Compression::of(&l.media, &head).is_some(),
            Err(_) => true,
        },
        Err(_) => true,
    }
}

/// Decompressed bytes of a layer held, unread, while the layers below it are applied (in the
/// temporary directory, memory on a tmpfs): enough for a layer decompressed on a second core
/// while a first layer of several hundred MB is applied; past it, that layer's decompression
/// waits for its turn.
const HOLD_CAP: u64 = 256 << 20;

/// The threads producing one layer's decompressed stream, and the stream.
struct Stage<'scope> {
    reader: std::thread::ScopedJoinHandle<'scope, Result<Option<String>, ImageError>>,
    /// `None`: the layer is not compressed, and `rx` is the blob as read.
    inflater: Option<std::thread::ScopedJoinHandle<'scope, Result<Option<u64>, Inflate>>>,
    rx: PipeRx,
    /// The cap on the layer's bytes, counted where it is applied (`u64::MAX`: the decompressing
    /// side counts it).
    layer_cap: u64,
}

/// Starts reading and decompressing layer `i`. Two threads, so reading the blob (from a cold
/// disk, say), decompressing it and applying it overlap: one reads and hashes the blob, one
/// decompresses it, and the caller hashes what comes out (the diff_id) and applies it. Chunks pass
/// through small bounded channels, so memory stays a few MiB whatever the layer's size; dropping
/// the stage's receiver stops both threads. An uncompressed layer (not `packed`) needs only the
/// first. With `hold` (a directory and a cap), a layer whose turn has not come: its decompressed
/// stream waits in a file there, up to the cap.
fn start_layer<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    blobs: &'env Blobs,
    l: &'env Layer,
    i: usize,
    max_layer: u64,
    packed: bool,
    hold: Option<(&Path, u64)>,
) -> Stage<'scope> {
    let pipe_out = || match hold {
        Some((dir, cap)) => pipe::held_pipe(dir, cap),
        None => pipe::to_apply(),
    };
    if !packed {
        // Nothing to decompress: the applying side reads the blob's chunks, and the blob's
        // digest is the layer's diff_id (one sha256 of the bytes, not two, and no copy through
        // a thread that would only pass them on).
        let (tx, rx) = pipe_out();
        let reader = s.spawn(move || read_blob(blobs, l, i, true, tx));
        return Stage {
            reader,
            inflater: None,
            rx,
            layer_cap: max_layer,
        };
    }
    let (raw_tx, raw_rx) = pipe();
    let (tx, rx) = pipe_out();
    // A docker-archive's compressed layer has no blob digest to check, only its diff_id.
    let hash = l.blob_digest.is_some();
    let reader = s.spawn(move || read_blob(blobs, l, i, hash, raw_tx));
    let inflater = s.spawn(move || inflate(raw_rx, l, i, max_layer, tx));
    Stage {
        reader,
        inflater: Some(inflater),
        rx,
        layer_cap: u64::MAX,
    }
}

/// Applies layer `i` (number `slot` in `out`) from its started `stage`, within `image_left`
/// decompressed bytes, then checks its digests; the decompressed bytes.
#[allow(clippy::too_many_arguments)]
fn apply_stage(
    blobs: &Blobs,
    l: &Layer,
    i: usize,
    slot: usize,
    stage: Stage<'_>,
    image_left: u64,
    root_dir: std::os::fd::BorrowedFd<'_>,
    out: &mut Unpacked,
) -> Result<u64, ImageError> {
    let Stage {
        reader,
        inflater,
        rx,
        layer_cap,
    } = stage;
    // An uncompressed layer's blob digest is its diff_id: hashing it once is enough.
    // A layer with a blob digest (OCI) is pinned by it: the digest is checked below,
    // and decompression is deterministic, so hashing the decompressed bytes again for
    // the config's diff_id would add a second sha256 of every byte (a quarter of the
    // work) and no protection. A docker-archive layer has only its diff_id.
    let pinned = l.blob_digest.is_some();
    let packed = inflater.is_some();
    // The decompressing side caps a compressed layer; the image's cap is counted here, in layer
    // order.
    let mut diff_hash = Hashing {
        inner: layer::Capped::new(rx, layer_cap, image_left),
        hash: Sha256::new(),
        on: !pinned && packed,
    };
    let applied = layer::apply(
        root_dir,
        &mut diff_hash,
        slot,
        &mut out.origins,
        &mut out.info.applied,
    )
    // Whatever the tar reader left (padding) still counts for the digests.
    .and_then(|()| layer::drain(&mut diff_hash).map_err(|e| ImageError::Layer(i, e.to_string())))
    // Only an unpinned layer has a diff_id to check (see `pinned`); an uncompressed one's is
    // its blob's digest, known once the reader is joined.
    .map(|_| {
        (!pinned && packed).then(|| format!("sha256:{}", hex(&diff_hash.hash.clone().finalize())))
    });
    let (read, hit) = (diff_hash.inner.read, diff_hash.inner.hit);
    // Dropping the receiver stops a producer still sending (the apply failed).
    drop(diff_hash);
    let panicked = |what: &str| ImageError::Layer(i, format!("{what} panicked"));
    let inflated = match inflater {
        Some(t) => t
            .join()
            .unwrap_or_else(|_| Err(Inflate::Other(panicked("decompression")))),
        None => Ok(Some(read)),
    };
    let blob = reader
        .join()
        .unwrap_or_else(|_| Err(panicked("reading the blob")));
    // The earliest stage's failure explains the later ones: the producer's own failure
    // (unreadable blob, corrupt stream, a cap) explains an apply that failed on the stream it cut
    // short; otherwise the apply's error stands. The image's cap, counted here on the bytes in
    // order, was passed before any failure the decompressing side met further on.
    let produced = match (blob, inflated, hit) {
        (Err(e), _, _) => return Err(e),
        (_, _, Some(cap)) => return Err(ImageError::Layer(i, cap.message())),
        (_, Err(Inflate::Other(e)), None) => return Err(e),
        (_, Err(Inflate::Damaged { kind, read }), None) => {
            return Err(damaged(blobs, l, i, kind, read));
        }
        (Ok(Some(blob_digest)), Ok(Some(_)), None) => Some(blob_digest),
        _ => None,
    };
    let diff_check = applied?;
    let Some(blob_digest) = produced else {
        return Err(ImageError::Layer(i, "the layer stream ended early".into()));
    };
    let diff_check = match diff_check {
        None if !pinned && !packed => Some(format!("sha256:{blob_digest}")),
        d => d,
    };
    if let Some(d) = &l.blob_digest {
        let got = format!("sha256:{blob_digest}");
        if &got != d {
            return Err(ImageError::Layer(
                i,
                format!("blob {d} hashes to {got}: corrupt or tampered image"),
            ));
        }
    }
    if let (Some(d), Some(diff_check)) = (&l.diff_id, &diff_check)
        && diff_check != d
    {
        return Err(ImageError::Layer(
            i,
            format!("uncompressed content hashes to {diff_check}, not to the config's diff_id {d}"),
        ));
    }
    out.info.layers.push(l.shown.clone());
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_or_say_why_not() {
        assert_eq!(
            Platform::parse("linux/arm64/v8"),
            Ok(Platform {
                os: "linux".into(),
                arch: "arm64".into(),
                variant: Some("v8".into()),
            })
        );
        assert_eq!(
            Platform::parse("amd64").unwrap_err().to_string(),
            "--platform amd64: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8"
        );
        assert_eq!(
            ImageError::Layer(0, "x".into()).to_string(),
            "layer 1: x",
            "layers are numbered from 1"
        );
    }

    /// A one-layer `docker save` tarball holding `/etc/hostname`, built here.
    fn docker_archive(dir: &Path) -> PathBuf {
        fn add(t: &mut tar::Builder<File>, name: &str, data: &[u8]) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, data).expect("tar entry");
        }
        let layer_path = dir.join("layer.tar");
        let mut layer = tar::Builder::new(File::create(&layer_path).expect("layer"));
        add(&mut layer, "etc/hostname", b"box\n");
        layer.into_inner().expect("layer written");
        let layer = std::fs::read(&layer_path).expect("layer");
        let diff_id = hex(&Sha256::digest(&layer));
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#
        );
        let config_name = format!("{}.json", hex(&Sha256::digest(config.as_bytes())));
        let manifest = format!(
            r#"[{{"Config":"{config_name}","RepoTags":["t:1"],"Layers":["l/layer.tar"]}}]"#
        );
        let path = dir.join("image.tar");
        let mut t = tar::Builder::new(File::create(&path).expect("image"));
        add(&mut t, "manifest.json", manifest.as_bytes());
        add(&mut t, &config_name, config.as_bytes());
        add(&mut t, "l/layer.tar", &layer);
        t.into_inner().expect("image written");
        path
    }

    /// Without the `registry` feature, a `docker://` ROOT is refused in words that name it.
    #[cfg(not(feature = "registry"))]
    #[test]
    fn docker_refs_name_the_feature_when_it_is_off() {
        let r = parse_root(Path::new("docker://localhost:5000/app:v1"))
            .expect("parsed")
            .expect("an image");
        assert_eq!(r, ImageRef::Registry("localhost:5000/app:v1".into()));
        let e = unpack(&r, &ImageOptions::default()).err().expect("refused");
        assert!(
            e.to_string().contains("without the `registry` feature"),
            "{e}"
        );
    }

    /// What the library promises without the binary's Ctrl-C handler (and so without ctrlc): the
    /// private directory goes on drop, and `remove_unpacked` removes it for a caller's own handler.
    #[test]
    fn unlinking_empties_the_tree_and_leaves_deep_nests_to_the_serial_removal() {
        use rustix::fs::{Mode, OFlags};
        let t = tempfile::tempdir().expect("tempdir");
        let top = t.path().join("tree");
        std::fs::create_dir_all(top.join("a/b/c")).expect("mkdir");
        std::fs::create_dir_all(top.join("d/e")).expect("mkdir");
        std::fs::write(top.join("a/b/c/f"), b"x").expect("write");
        std::fs::write(top.join("a/g"), b"x").expect("write");
        std::os::unix::fs::symlink("a", top.join("s")).expect("symlink");
        unlink_files(&top);
        let left: Vec<_> = std::fs::read_dir(&top).expect("read").collect();
        assert!(left.is_empty(), "{left:?}");
        // Deeper than a recorded path may be: emptied of files, its directories are left to
        // the serial removal, which takes them.
        let mut fd = rustix::fs::open(&top, OFlags::DIRECTORY, Mode::empty()).expect("open");
        for _ in 0..1500 {
            rustix::fs::mkdirat(&fd, "dd", Mode::from_raw_mode(0o755)).expect("mkdir");
            fd = rustix::fs::openat(&fd, "dd", OFlags::DIRECTORY, Mode::empty()).expect("open");
        }
        let file = rustix::fs::openat(
            &fd,
            "f",
            OFlags::CREATE | OFlags::WRONLY,
            Mode::from_raw_mode(0o644),
        )
        .expect("create");
        drop((file, fd));
        unlink_files(&top);
        assert!(top.join("dd").is_dir(), "the deep nest is left");
        std::fs::remove_dir_all(&top).expect("the serial removal");
        assert!(!top.exists());
    }

    #[test]
    fn the_unpack_directory_goes_on_drop_and_on_remove_unpacked() {
        let d = tempfile::tempdir().expect("tempdir");
        let image = ImageRef::DockerArchive(docker_archive(d.path()));
        let u = unpack(&image, &ImageOptions::default()).expect("unpacked");
        assert_eq!(
            std::fs::read(u.root.join("etc/hostname")).expect("layer applied"),
            b"box\n"
        );
        let private = u
            .root
            .parent()
            .expect("the private directory")
            .to_path_buf();
        assert!(private.is_dir());
        drop(u);
        assert!(!private.exists(), "{} left behind", private.display());

        let u = unpack(&image, &ImageOptions::default()).expect("unpacked");
        let private = u
            .root
            .parent()
            .expect("the private directory")
            .to_path_buf();
        remove_unpacked();
        assert!(!private.exists(), "{} left behind", private.display());
        drop(u);
    }
}

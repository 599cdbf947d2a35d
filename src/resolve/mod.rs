/*!
Resolution: for every ELF object, what the real dynamic loader would load if that object were the
program being started (for a shared library: what `ldd lib.so` loads), inside the root.

Each object gets one loader *session* (loader-spec R0.1): a breadth-first load list, the loader chain
(who loaded whom, for RPATH inheritance), and an outcome. Two models, chosen per object:

- glibc ([`glibc`]): RPATH chain (only while the requester has no RUNPATH), the requester's RUNPATH,
  `/etc/ld.so.cache`, the default directories built into that ld.so; `$ORIGIN`/`$LIB`/`$PLATFORM`;
  wrong class or machine skipped with the search going on; one object per soname and per file;
  `/etc/ld.so.preload`; symbol versions checked.
- musl ([`musl`]): the reserved names musl satisfies itself, one path list per object (RUNPATH, else
  RPATH) inherited along the chain, `$ORIGIN` only, the path file; first file that opens wins; no
  symbol versions.

Candidates are looked up in the walked [`Tree`] (no system calls), so a session costs hash and binary
searches; sessions run in parallel.
*/

pub mod cpu;
pub mod derived;
pub mod env;
pub mod glibc;
pub mod glob;
pub mod lazy;
pub mod ldcache;
pub mod musl;
pub mod overlay;
pub mod runenv;
pub mod view;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::elf::{ElfFacts, Kind};
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::scan::Object;
use crate::tree::Tree;
use env::{Family, GlibcConfig, GlibcLoader, MuslLoader, is_musl_interp, standard_interps};
pub use lazy::LazyView;
pub use overlay::{AddSpec, OverlayView};
pub use view::{FileKind, FsView, MemView, ObjectId, Snapshot};

/// Resolution settings.
#[derive(Clone, Debug, Default)]
pub struct ResolveOptions {
    /// The target CPU (`--cpu`): `$PLATFORM`, the glibc-hwcaps levels, glibc 2.36's legacy
    /// capability subdirectories and the ld.so.cache entries it accepts. Default: a baseline CPU,
    /// on which a library found only in such a subdirectory is reported missing.
    pub cpu: cpu::CpuProfile,
    /// glibc-hwcaps subdirectories the target CPU supports, best first (`--hwcaps`): when given,
    /// they replace those of `cpu` (and nothing else of it).
    pub hwcaps: Option<Vec<ByteStr>>,
    /// Keep in [`Resolution::edges`] only the needs that failed (and the object's own): what the
    /// checks read. A whole-root scan then does not hold every need of every session (a
    /// hundred thousand on a Debian root); `tree` and `why` need them all.
    pub failed_edges_only: bool,
    /// The loader environment the programs start with (`--env`, an image's `Env` and
    /// `WorkingDir`): `LD_LIBRARY_PATH` and `LD_PRELOAD`, applied to every session.
    pub env: runenv::LoaderEnv,
}

/// Outcome of an object's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Everything needed was found with every required version.
    Ok,
    /// Nothing to load: statically linked, or not a loadable object (relocatable, core, debug-info).
    Static,
    /// PT_INTERP does not exist in the root (or no loader in the root handles this object).
    InterpMissing,
    /// A needed library is missing or unusable, or a required version is not defined.
    Error,
}

/// How a need was satisfied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// DT_RPATH of an object on the loader chain (`rpath_of` says which).
    Rpath,
    /// DT_RUNPATH of the requesting object.
    Runpath,
    /// `/etc/ld.so.cache`.
    #[serde(rename = "ld.so.cache")]
    LdCache,
    /// The root has no ld.so.cache: its ld.so.conf directories, as ldconfig would cache them.
    #[serde(rename = "ld.so.conf")]
    LdSoConf,
    /// The loader's built-in default directories.
    DefaultDir,
    /// musl's path file (`/etc/ld-musl-ARCH.path`).
    PathFile,
    /// musl's built-in system path (no path file).
    MuslDefault,
    /// A name musl satisfies with its own libc, without looking at the filesystem.
    Reserved,
    /// An object already loaded under that name (soname, requested name or path).
    AlreadyLoaded,
    /// A NEEDED (or preload) containing a slash, opened as a path.
    Path,
    /// `/etc/ld.so.preload` or `LD_PRELOAD`.
    Preload,
    /// The `LD_LIBRARY_PATH` of the loader environment (`--env`, an image's `Env`).
    LdLibraryPath,
}

/// A candidate passed over while searching, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The candidate path.
    pub path: ByteStr,
    /// Why it was not used.
    pub reason: String,
}

/// One direct need of the object (as the main program of its session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dep {
    /// The DT_NEEDED name.
    pub name: ByteStr,
    /// The path it was opened under (null when not found).
    pub path: Option<ByteStr>,
    /// Its canonical path inside the root.
    pub found: Option<ByteStr>,
    /// How it was found.
    pub via: Option<Via>,
    /// For `rpath`: whose DT_RPATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpath_of: Option<ByteStr>,
    /// The glibc-hwcaps subdirectory it came from, when it did (depends on the CPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hwcaps: Option<ByteStr>,
    /// Candidates skipped on the way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Why it failed, when it did (serialized as its message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<NeedError>,
}

impl Dep {
    /// The need `name`, not looked for yet.
    pub fn new(name: ByteStr) -> Dep {
        Dep {
            name,
            path: None,
            found: None,
            via: None,
            rpath_of: None,
            hwcaps: None,
            skipped: Vec::new(),
            error: None,
        }
    }
}

/// Why a need was not loaded, as the loader model decided it. Callers act on the variant (glibc
/// gives up on the whole session for anything but [`NeedError::NotFound`]; `check` reports a
/// `NotFound` as missing and quotes anything else); `Display` is the message reports show, and
/// JSON's `error` is that message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NeedError {
    /// No file the loader could use: the search goes on with the other needs.
    NotFound(NotFound),
    /// A file the loader cannot load ends the search for this need (glibc then gives up on the
    /// whole session, musl on this need alone): the message names the file and says why.
    Unloadable(String),
    /// glibc: a NEEDED path with a dynamic string token that has no value here.
    UnexpandableToken,
    /// A bound on resolution work stopped the session ([`Bound::message`]).
    Bound(Bound),
}

/// How a need was not found, for the loader's own wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotFound {
    /// glibc searched every place for the name.
    Glibc,
    /// glibc: the path a NEEDED with a slash names does not exist, or is an object of another
    /// class or machine.
    GlibcPath,
    /// glibc: opening the path a NEEDED with a slash names failed with this errno.
    GlibcPathOpen(ByteStr, OpenErrno),
    /// musl: no directory holds the name (or the path does not exist).
    Musl,
}

impl NeedError {
    /// Whether the need was simply not found (and nothing stopped the search).
    pub fn is_not_found(&self) -> bool {
        matches!(self, NeedError::NotFound(_))
    }
}

impl std::fmt::Display for NeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NeedError::NotFound(NotFound::Glibc) => {
                f.write_str("not found: cannot open shared object file: No such file or directory")
            }
            NeedError::NotFound(NotFound::GlibcPath) => {
                f.write_str("not found: cannot open shared object file")
            }
            NeedError::NotFound(NotFound::GlibcPathOpen(path, e)) => write!(
                f,
                "not found: cannot open shared object file: {path}: {}",
                e.text()
            ),
            NeedError::NotFound(NotFound::Musl) => {
                f.write_str("Error loading shared library: No such file or directory")
            }
            NeedError::Unloadable(why) => f.write_str(why),
            NeedError::UnexpandableToken => f.write_str("cannot expand a dynamic string token"),
            NeedError::Bound(b) => f.write_str(&b.message()),
        }
    }
}

impl Serialize for NeedError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A required symbol version not defined by the library that satisfied the need.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VersionError {
    /// The library (path as opened) that lacks the version.
    pub library: ByteStr,
    /// The version, e.g. `GLIBC_2.38`.
    pub version: ByteStr,
    /// The object (path as opened) requiring it.
    pub required_by: ByteStr,
}

/// The loader of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoaderRef {
    /// glibc or musl (serialized `glibc`, `musl`).
    pub family: Family,
    /// The loader file (canonical).
    pub path: ByteStr,
}

/// What resolution adds to an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Outcome.
    pub status: Status,
    /// The loader used.
    pub loader: Option<LoaderRef>,
    /// Canonical paths of every object loaded, in load order, without the object itself and the loader.
    pub closure: Vec<ByteStr>,
    /// Needed names that were not found (anywhere in the session).
    pub missing: Vec<ByteStr>,
    /// Required versions not defined by their providers.
    pub version_errors: Vec<VersionError>,
    /// Why glibc's loader gives up on this object altogether, when it does (`error while loading
    /// shared libraries`): a candidate it cannot load stops the search (a text file, a bad OSABI),
    /// or it refuses the object itself. musl never gives up this way: it reports each need that
    /// fails (`missing`, with the error in `deps`) and goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<String>,
    /// The object's own needs: where each was found and how.
    pub deps: Vec<Dep>,
    /// Things the user should know about this result (conditions, warnings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The bound on resolution work that stopped this session, when one did: the result is then
    /// unfinished (what was loaded before it stopped; `missing` and `version_errors` empty, as
    /// unknown), `status` is `error`, and the scan reports a `limit-exceeded` error for the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Bound>,
    /// Every need of every object in the session, in load order: who needed what, and how it went
    /// (for `tree` and `why`; the object's own needs are `deps`).
    #[serde(skip)]
    pub edges: Vec<SessionEdge>,
}

/// One need inside a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEdge {
    /// Canonical path of the object that has the need.
    pub from: ByteStr,
    /// How the need went.
    pub dep: Dep,
}

impl Resolution {
    /// Marks a session of an object whose own interpreter is missing.
    fn interp_missing(mut self, note: Option<String>) -> Self {
        if let Some(note) = note {
            self.status = Status::InterpMissing;
            self.notes.insert(0, note);
        }
        self
    }

    fn without_loader(status: Status, note: Option<String>) -> Self {
        Resolution {
            status,
            loader: None,
            closure: Vec::new(),
            missing: Vec::new(),
            version_errors: Vec::new(),
            fatal: None,
            deps: Vec::new(),
            notes: note.into_iter().collect(),
            limit: None,
            edges: Vec::new(),
        }
    }
}

/// Most steps (candidate paths looked up, needs followed) one object's session may take. The
/// largest session of the Debian test root takes 1,016, of a Debian 12 development machine's `/`
/// 1,295; a hostile root (libraries each needing hundreds of others through RUNPATHs of
/// thousands of entries) could take billions.
pub const MAX_SESSION_STEPS: u64 = 1_000_000;

/// Most steps all the sessions of one scan may take together (the Debian test root takes 64,615,
/// a Debian 12 development machine's `/`, 5,459 objects, 174,935).
pub const MAX_SCAN_STEPS: u64 = 50_000_000;

/// A bound on resolution work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// [`MAX_SESSION_STEPS`], for this object.
    Object,
    /// [`MAX_SCAN_STEPS`], for the whole scan: this object came after it was spent.
    Scan,
}

impl Bound {
    /// What stopped, where, and what to do.
    pub fn message(self) -> String {
        match self {
            Bound::Object => format!(
                "elfdeps stopped resolving this object after {MAX_SESSION_STEPS} steps (candidate \
                 paths looked up and needs followed), its bound for one object: no real program's \
                 loading comes near it, so the root is hostile or broken here; look at the \
                 NEEDED, RPATH and RUNPATH lists of what it loads (elfdeps scan ROOT --no-resolve \
                 -f json); the libraries listed are the ones found before it stopped"
            ),
            Bound::Scan => format!(
                "elfdeps did not resolve this object: the scan had spent its bound of \
                 {MAX_SCAN_STEPS} resolution steps (candidate paths looked up and needs followed) \
                 on other objects; no real root comes near it, so the root is hostile or broken; \
                 the objects with a limit-exceeded error for their own bound are the ones to look \
                 at"
            ),
        }
    }
}

/// The work of the session running on this thread (a session runs on one thread from start to
/// end), so the loader models charge it without carrying a counter through every call.
#[derive(Clone, Copy)]
struct Work {
    steps: u64,
    /// Steps not yet added to the scan's total (added in batches, to keep the atomic cold).
    unflushed: u64,
    hit: Option<Bound>,
}

const IDLE: Work = Work {
    steps: 0,
    unflushed: 0,
    hit: None,
};

/// Steps are added to the scan's total in batches of this many.
const FLUSH: u64 = 1024;

thread_local! {
    static WORK: Cell<Work> = const { Cell::new(IDLE) };
}

/// Charges `n` steps to the current session. `Err` once a bound is passed (and from then on):
/// the session must stop as if the loader gave up; [`resolve_all`] then reports the bound.
pub(crate) fn charge(ctx: &Ctx<'_>, n: u64) -> Result<(), Bound> {
    WORK.with(|w| {
        let mut work = w.get();
        if let Some(b) = work.hit {
            return Err(b);
        }
        work.steps += n;
        work.unflushed += n;
        if work.steps > MAX_SESSION_STEPS {
            work.hit = Some(Bound::Object);
        } else if work.unflushed >= FLUSH {
            let total =
                ctx.scan_steps.fetch_add(work.unflushed, Ordering::Relaxed) + work.unflushed;
            work.unflushed = 0;
            if total > MAX_SCAN_STEPS {
                work.hit = Some(Bound::Scan);
            }
        }
        w.set(work);
        work.hit.map_or(Ok(()), Err)
    })
}

/// Runs one session with a fresh work counter, and turns a bound it hit into an unfinished result.
fn bounded(ctx: &Ctx<'_>, session: impl FnOnce() -> Resolution) -> Resolution {
    let spent = ctx.scan_steps.load(Ordering::Relaxed) > MAX_SCAN_STEPS;
    WORK.with(|w| {
        w.set(Work {
            hit: spent.then_some(Bound::Scan),
            ..IDLE
        })
    });
    let mut r = session();
    let work = WORK.with(|w| w.replace(IDLE));
    ctx.scan_steps.fetch_add(work.unflushed, Ordering::Relaxed);
    if let Some(b) = work.hit {
        r.status = Status::Error;
        r.limit = Some(b);
        // What the stop itself caused is not a finding about the root: the loader's verdict on
        // the rest is unknown.
        r.fatal = None;
        r.missing.clear();
        r.version_errors.clear();
        r.notes.push(b.message());
    }
    r
}

/// Everything sessions share: the view of the root, its loaders, the settings.
pub struct Ctx<'a> {
    /// The root the sessions run against.
    pub view: &'a dyn FsView,
    /// Root-wide glibc configuration.
    pub glibc: GlibcConfig,
    /// glibc loaders by canonical path.
    pub glibc_loaders: HashMap<ByteStr, GlibcLoader>,
    /// musl loaders by PT_INTERP string.
    pub musl_loaders: HashMap<ByteStr, MuslLoader>,
    /// Settings.
    pub opts: ResolveOptions,
    /// Resolution steps all sessions have taken (against [`MAX_SCAN_STEPS`]).
    pub scan_steps: AtomicU64,
    /// `opts.env`'s lists as each loader splits them, split once for every session (an image's
    /// `Env` is the image author's: its length must not cost once per need).
    pub env_lists: EnvLists,
}

/// The loader environment's lists, split the way each loader splits them.
#[derive(Default)]
pub struct EnvLists {
    /// glibc's `LD_LIBRARY_PATH` elements.
    pub glibc_library_path: Vec<ByteStr>,
    /// musl's `LD_LIBRARY_PATH`, directories made absolute, `:`-joined.
    pub musl_library_path: Vec<u8>,
}

impl EnvLists {
    fn of(env: &runenv::LoaderEnv) -> EnvLists {
        EnvLists {
            glibc_library_path: env.glibc_library_path(),
            musl_library_path: env.musl_library_path(),
        }
    }
}

/// The errnos of a candidate's `open` that are not "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenErrno {
    /// ELOOP.
    Loop,
    /// ENOTDIR.
    NotDir,
}

impl OpenErrno {
    /// What the loaders' messages say.
    pub fn text(self) -> &'static str {
        match self {
            OpenErrno::Loop => "too many levels of symbolic links (ELOOP)",
            OpenErrno::NotDir => "a path component is not a directory (ENOTDIR)",
        }
    }
}

/// What lies at a candidate path, once symlinks are followed inside the root.
#[derive(Clone, Debug)]
pub enum Candidate {
    /// Nothing (ENOENT, ENOTDIR, a loop, a mount point we did not walk).
    Absent,
    /// A file we could not open (EACCES): loaders skip it.
    Unreadable,
    /// An ELF object of the scan.
    Object(usize),
    /// A regular file that is not a (valid) ELF object.
    NotElf(ByteStr),
    /// A directory, FIFO, socket or device, with what it is (for messages).
    NotFile(ByteStr, &'static str),
    /// `open` would fail with ELOOP (more symbolic links than the kernel follows) or ENOTDIR (a
    /// component, reached through a symlink, is a file), with that errno's text. Unlike ENOENT
    /// these are errors glibc does not search past (it ends that search list); musl stops the
    /// lookup on ELOOP and goes on after ENOTDIR.
    OpenError(OpenErrno),
}

impl<'a> Ctx<'a> {
    /// Looks up `path` (symlinks followed inside the root).
    pub fn candidate(&self, path: &[u8]) -> Candidate {
        let canonical = match self.view.resolve(path, true) {
            Ok(c) => c,
            Err(e) if e.code == crate::error::ErrorCode::SymlinkLoop => {
                return Candidate::OpenError(OpenErrno::Loop);
            }
            Err(e) if e.code == crate::error::ErrorCode::NotADirectory => {
                return Candidate::OpenError(OpenErrno::NotDir);
            }
            Err(_) => return Candidate::Absent,
        };
        match self.view.kind(canonical.as_bytes()) {
            Some(FileKind::File) => match self.view.object(canonical.as_bytes()) {
                Some(i) => Candidate::Object(i),
                None => Candidate::NotElf(canonical),
            },
            Some(FileKind::Dir) => Candidate::NotFile(
                canonical,
                "a directory: the loader fails on it (cannot read file data)",
            ),
            // The walk never opens these; a loader would block opening a FIFO.
            Some(FileKind::Special) => Candidate::NotFile(
                canonical,
                "a FIFO, socket or device, not a regular file: the loader fails on it, or blocks \
                 opening a FIFO",
            ),
            Some(FileKind::Unreadable) => Candidate::Unreadable,
            Some(FileKind::Symlink) | Some(FileKind::OtherFs) | None => Candidate::Absent,
        }
    }

    /// Facts of object `i`.
    pub fn facts(&self, i: ObjectId) -> &'a ElfFacts {
        self.view.facts(i)
    }

    /// Canonical path of object `i`.
    pub fn path(&self, i: ObjectId) -> &'a ByteStr {
        self.view.object_path(i)
    }
}

/// Which loader handles object `i`, and how. `interp_missing` is set when the object's own
/// PT_INTERP does not exist in the root: it cannot start at all, and the session is what the root's
/// loader would do with it (what `ldd` shows), reported under status `interp-missing`.
enum Plan {
    Glibc(ByteStr, Option<String>),
    Musl(ByteStr, Option<String>),
    None(Status, Option<String>),
}

impl Plan {
    fn with_interp_missing(self, note: String) -> Plan {
        match self {
            Plan::Glibc(l, _) => Plan::Glibc(l, Some(note)),
            Plan::Musl(l, _) => Plan::Musl(l, Some(note)),
            Plan::None(_, other) => Plan::None(
                Status::InterpMissing,
                Some(match other {
                    Some(o) => format!("{note}; {o}"),
                    None => note,
                }),
            ),
        }
    }
}

fn plan(ctx: &Ctx<'_>, i: ObjectId) -> Plan {
    let f = ctx.facts(i);
    match f.kind {
        Kind::Static
        | Kind::StaticPie
        | Kind::Relocatable
        | Kind::Core
        | Kind::DebugInfo
        | Kind::Other => {
            return Plan::None(Status::Static, None);
        }
        Kind::Executable | Kind::Pie | Kind::SharedLibrary => {}
    }
    if !f.has_dynamic {
        return Plan::None(Status::Static, None);
    }
    if let Some(interp) = &f.interp {
        let missing = match ctx.view.resolve(interp.as_bytes(), true) {
            Ok(canonical) if ctx.view.kind(canonical.as_bytes()) == Some(FileKind::File) => {
                return match family_of_loader(ctx, interp.as_bytes(), &canonical) {
                    Family::Musl => Plan::Musl(interp.clone(), None),
                    Family::Glibc => Plan::Glibc(canonical, None),
                };
            }
            Ok(_) => format!("interpreter {interp} is not a regular file in the root"),
            Err(e) => format!(
                "interpreter {interp} cannot be opened inside the root: {}",
                e.message
            ),
        };
        let note = format!(
            "{missing}: the program cannot start here; the libraries listed are what the root's \
             loader would load for it (what ldd shows)"
        );
        return root_loader_plan(ctx, f).with_interp_missing(note);
    }
    root_loader_plan(ctx, f)
}

/// The root's loader for an object's machine and class, preferring the libc it was linked against,
/// as `ldd` (glibc) or `ld-musl --list` would be run on it.
fn root_loader_plan(ctx: &Ctx<'_>, f: &ElfFacts) -> Plan {
    let (glibc_names, musl_name) = standard_interps(f.machine, f.class);
    let glibc = glibc_names.iter().find_map(|n| {
        let c = ctx.view.resolve(n.as_bytes(), true).ok()?;
        match ctx.view.object(c.as_bytes()) {
            Some(li)
                if ctx.facts(li).class == f.class
                    && family_of_loader(ctx, n.as_bytes(), &c) == Family::Glibc =>
            {
                Some(c)
            }
            _ => None,
        }
    });
    let musl = musl_name.and_then(|n| {
        let c = ctx.view.resolve(n.as_bytes(), true).ok()?;
        (ctx.view.kind(c.as_bytes()) == Some(FileKind::File)).then(|| ByteStr::from(n))
    });
    let wants_musl = f
        .needed
        .iter()
        .any(|n| n.as_bytes() == b"libc.so" || n.as_bytes().starts_with(b"libc.musl-"));
    match (glibc, musl) {
        (Some(_), Some(m)) if wants_musl => Plan::Musl(m, None),
        (Some(g), _) => Plan::Glibc(g, None),
        (None, Some(m)) => Plan::Musl(m, None),
        (None, None) => Plan::None(
            Status::InterpMissing,
            Some(format!(
                "no dynamic loader for {} {} objects in the root",
                f.machine,
                f.class.as_str()
            )),
        ),
    }
}

/// Whether the loader file at `canonical` (named `interp`) is musl: by name, or by content (musl's
/// loader has no DT_SONAME; glibc's has its own name; gcompat's loader is a musl-linked file).
fn family_of_loader(ctx: &Ctx<'_>, interp: &[u8], canonical: &ByteStr) -> Family {
    if is_musl_interp(interp) || is_musl_interp(canonical.as_bytes()) {
        return Family::Musl;
    }
    match ctx.view.object(canonical.as_bytes()) {
        Some(i) if ctx.facts(i).soname.is_none() => Family::Musl,
        _ => Family::Glibc,
    }
}

/// A resolved root: the inventory's objects and walked tree with every object's resolution
/// (index-aligned with the objects), what the graph, the package sets and the checks read.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    /// Every object, sorted by path (its id is its index).
    pub objects: &'a [Object],
    /// The walked tree.
    pub tree: &'a Tree,
    /// The resolution of each object.
    pub resolutions: &'a [Resolution],
}

impl<'a> Resolved<'a> {
    /// Each object with its id and resolution.
    pub fn iter(&self) -> impl Iterator<Item = (ObjectId, &'a Object, &'a Resolution)> + use<'a> {
        self.objects
            .iter()
            .zip(self.resolutions)
            .enumerate()
            .map(|(i, (o, r))| (i, o, r))
    }

    /// The object at canonical `path`.
    pub fn object_at(&self, path: &[u8]) -> Option<ObjectId> {
        self.objects
            .binary_search_by(|o| o.path.as_bytes().cmp(path))
            .ok()
    }
}

/// The `limit-exceeded` error of each object whose session a bound on resolution work stopped:
/// every report must say that the result is unfinished.
pub fn limit_errors(
    objects: &[Object],
    resolutions: &[Resolution],
) -> Vec<crate::error::PathError> {
    use crate::error::{ErrorCode, FileError, PathError};
    objects
        .iter()
        .zip(resolutions)
        .filter_map(|(o, r)| {
            let bound = r.limit?;
            Some(PathError::new(
                o.path.clone(),
                FileError::new(ErrorCode::LimitExceeded, bound.message()),
            ))
        })
        .collect()
}

/// Resolves every object of a scan (the result is index-aligned with `objects`), against the
/// walked snapshot; with glibc's configuration as it was read (see [`resolve_with_config`]).
pub fn resolve_all(
    rootfs: &RootFs,
    tree: &Tree,
    objects: &[Object],
    opts: &ResolveOptions,
) -> (Vec<Resolution>, Option<GlibcConfig>) {
    let view = Snapshot::new(rootfs, tree, objects);
    let ids: Vec<ObjectId> = (0..objects.len()).collect();
    resolve_with_config(&view, &ids, opts)
}

/// Resolves objects `ids` of `view`, each as the main program of its own loader session, in
/// parallel. The result is index-aligned with `ids`.
pub fn resolve(view: &dyn FsView, ids: &[ObjectId], opts: &ResolveOptions) -> Vec<Resolution> {
    resolve_with_config(view, ids, opts).0
}

/// The loaders' configuration (glibc's ld.so.conf and cache, each loader's built-in paths, musl's
/// path files) as resolutions of one root read it, kept for later resolutions of the same root:
/// questions asked one object at a time (what `dlopen` of a name by an object loads) then read
/// the configuration once, not once per question. Only for views of one root whose
/// configuration files do not differ (a view that changes only facts, or hides no configuration).
#[derive(Default)]
pub struct LoaderCache {
    inner: std::sync::Mutex<LoaderCacheInner>,
}

#[derive(Default)]
struct LoaderCacheInner {
    glibc: Option<GlibcConfig>,
    glibc_loaders: HashMap<ByteStr, GlibcLoader>,
    musl_loaders: HashMap<ByteStr, MuslLoader>,
}

/// [`resolve`], reusing (and filling) `cache`.
pub fn resolve_cached(
    view: &dyn FsView,
    ids: &[ObjectId],
    opts: &ResolveOptions,
    cache: &LoaderCache,
) -> Vec<Resolution> {
    resolve_inner(view, ids, opts, Some(cache)).0
}

/// [`resolve`], also handing back glibc's configuration (ld.so.conf and ld.so.cache) when a
/// session needed it, so later stages (the checks) use what resolution read instead of reading
/// it again.
pub fn resolve_with_config(
    view: &dyn FsView,
    ids: &[ObjectId],
    opts: &ResolveOptions,
) -> (Vec<Resolution>, Option<GlibcConfig>) {
    resolve_inner(view, ids, opts, None)
}

fn resolve_inner(
    view: &dyn FsView,
    ids: &[ObjectId],
    opts: &ResolveOptions,
    cache: Option<&LoaderCache>,
) -> (Vec<Resolution>, Option<GlibcConfig>) {
    let mut ctx = Ctx {
        view,
        glibc: GlibcConfig::default(),
        glibc_loaders: HashMap::new(),
        musl_loaders: HashMap::new(),
        opts: opts.clone(),
        scan_steps: AtomicU64::new(0),
        env_lists: EnvLists::of(&opts.env),
    };
    let mut cached_glibc = None;
    if let Some(c) = cache {
        let inner = c.inner.lock().unwrap_or_else(|p| p.into_inner());
        ctx.glibc_loaders = inner.glibc_loaders.clone();
        ctx.musl_loaders = inner.musl_loaders.clone();
        cached_glibc = inner.glibc.clone();
    }
    let plans: Vec<(ObjectId, Plan)> = ids.iter().map(|&i| (i, plan(&ctx, i))).collect();
    // Load each loader's configuration once, before the parallel sessions.
    let mut any_glibc = false;
    for (i, p) in &plans {
        match p {
            Plan::Glibc(path, _) => {
                any_glibc = true;
                if !ctx.glibc_loaders.contains_key(path) {
                    let facts = view.object(path.as_bytes()).map(|li| view.facts(li));
                    let l = GlibcLoader::load(view, path, facts, view.facts(*i), &ctx.opts);
                    ctx.glibc_loaders.insert(path.clone(), l);
                }
            }
            Plan::Musl(interp, _) => {
                if !ctx.musl_loaders.contains_key(interp) {
                    let canonical = view
                        .resolve(interp.as_bytes(), true)
                        .unwrap_or_else(|_| interp.clone());
                    let l = MuslLoader::load(view, interp.as_bytes(), &canonical);
                    ctx.musl_loaders.insert(interp.clone(), l);
                }
            }
            Plan::None(..) => {}
        }
    }
    if any_glibc {
        ctx.glibc = cached_glibc.unwrap_or_else(|| GlibcConfig::load(view));
    }
    if let Some(c) = cache {
        let mut inner = c.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.glibc_loaders.clone_from(&ctx.glibc_loaders);
        inner.musl_loaders.clone_from(&ctx.musl_loaders);
        if any_glibc && inner.glibc.is_none() {
            inner.glibc = Some(ctx.glibc.clone());
        }
    }
    let shared = &ctx;
    let sessions = plans
        .into_par_iter()
        .map_init(glibc::Memo::default, |memo, (i, p)| match p {
            Plan::Glibc(loader, im) => bounded(shared, || {
                glibc::session(shared, memo, i, &shared.glibc_loaders[&loader])
            })
            .interp_missing(im),
            Plan::Musl(interp, im) => bounded(shared, || {
                musl::session(shared, i, &shared.musl_loaders[&interp])
            })
            .interp_missing(im),
            Plan::None(status, note) => Resolution::without_loader(status, note),
        })
        .collect();
    (sessions, any_glibc.then(|| std::mem::take(&mut ctx.glibc)))
}

/// (Tests) Facts of a dynamically linked x86-64 object, as the ELF reader would give them.
#[cfg(test)]
pub(crate) fn testing_facts(
    kind: Kind,
    interp: Option<&str>,
    soname: Option<&str>,
    needed: &[&str],
) -> ElfFacts {
    ElfFacts {
        class: crate::elf::Class::Elf64,
        endian: crate::elf::Endian::Little,
        machine: crate::elf::Machine::X86_64,
        e_machine: 62,
        e_flags: 0,
        osabi: "SYSV".into(),
        ei_osabi: 0,
        e_type: crate::elf::ElfType::Dyn,
        kind,
        interp: interp.map(ByteStr::from),
        needed: needed.iter().map(|n| ByteStr::from(*n)).collect(),
        soname: soname.map(ByteStr::from),
        rpath: None,
        runpath: None,
        flags: None,
        flags_1: None,
        version_needs: Vec::new(),
        version_defs: Vec::new(),
        dlopen: Vec::new(),
        note_warnings: Vec::new(),
        has_dynamic: true,
        has_load: true,
        libc_markers: None,
    }
}

#[cfg(test)]
mod tests {
    use super::testing_facts as facts;
    use super::*;

    fn empty_ctx(view: &MemView) -> Ctx<'_> {
        Ctx {
            view,
            glibc: GlibcConfig::default(),
            glibc_loaders: HashMap::new(),
            musl_loaders: HashMap::new(),
            opts: ResolveOptions::default(),
            scan_steps: AtomicU64::new(0),
            env_lists: EnvLists::default(),
        }
    }

    fn session_of(ctx: &Ctx<'_>, steps: u64) -> Resolution {
        bounded(ctx, || {
            for _ in 0..steps {
                if charge(ctx, 1).is_err() {
                    break;
                }
            }
            let mut r = Resolution::without_loader(Status::Ok, None);
            r.missing.push(ByteStr::from("libx.so.1"));
            r
        })
    }

    #[test]
    fn the_object_bound_stops_a_session() {
        let view = MemView::new();
        let ctx = empty_ctx(&view);
        let r = session_of(&ctx, MAX_SESSION_STEPS);
        assert_eq!((r.status, r.limit), (Status::Ok, None));
        let r = session_of(&ctx, MAX_SESSION_STEPS + 1);
        assert_eq!((r.status, r.limit), (Status::Error, Some(Bound::Object)));
        assert!(r.missing.is_empty(), "unknown once stopped");
        assert!(r.notes.iter().any(|n| n.contains("for one object")));
    }

    /// Sessions of up to the per-object bound each, until the scan's total passes its bound:
    /// from then on every session stops at once, and says it was the scan's bound.
    #[test]
    fn the_scan_bound_stops_later_sessions() {
        let view = MemView::new();
        let ctx = empty_ctx(&view);
        let per = MAX_SESSION_STEPS;
        let full = MAX_SCAN_STEPS / per;
        for _ in 0..full {
            assert_eq!(session_of(&ctx, per).limit, None);
        }
        let r = session_of(&ctx, per);
        assert_eq!(r.limit, Some(Bound::Scan));
        let r = session_of(&ctx, 1);
        assert_eq!((r.status, r.limit), (Status::Error, Some(Bound::Scan)));
        assert!(r.notes.iter().any(|n| n.contains("spent its bound")));
    }

    /// A need's failure is decided by its variant; its text (and JSON) is the loaders' wording,
    /// as it was when the outcome was that text.
    #[test]
    fn need_errors_keep_their_messages() {
        let not_found = [
            (
                NotFound::Glibc,
                "not found: cannot open shared object file: No such file or directory",
            ),
            (
                NotFound::GlibcPath,
                "not found: cannot open shared object file",
            ),
            (
                NotFound::GlibcPathOpen(ByteStr::from("/opt/x/libx.so"), OpenErrno::Loop),
                "not found: cannot open shared object file: /opt/x/libx.so: too many levels of \
                 symbolic links (ELOOP)",
            ),
            (
                NotFound::Musl,
                "Error loading shared library: No such file or directory",
            ),
        ];
        for (n, text) in not_found {
            let e = NeedError::NotFound(n);
            assert!(e.is_not_found());
            assert_eq!(e.to_string(), text);
            assert_eq!(serde_json::to_value(&e).unwrap(), text);
        }
        let others = [
            (
                NeedError::Unloadable("/lib/libx.so: invalid ELF header".into()),
                "/lib/libx.so: invalid ELF header".to_string(),
            ),
            (
                NeedError::UnexpandableToken,
                "cannot expand a dynamic string token".to_string(),
            ),
            (NeedError::Bound(Bound::Object), Bound::Object.message()),
        ];
        for (e, text) in others {
            assert!(!e.is_not_found());
            assert_eq!(e.to_string(), text);
        }
    }

    /// On ARM the ld.so.cache entries a loader takes depend on the float ABI it was built for,
    /// which its e_flags record: the armel loader takes the soft-float library, the armhf one
    /// the hard-float library, from one cache that lists both (a multiarch root).
    #[test]
    fn the_loaders_float_abi_picks_its_cache_entries() {
        let (hard, soft) = (0x0500_0400, 0x0500_0200);
        let arm = |f: ElfFacts, e_flags: u32| ElfFacts {
            class: crate::elf::Class::Elf32,
            machine: crate::elf::Machine::Arm,
            e_machine: 40,
            e_flags,
            ..f
        };
        let mut v = MemView::new();
        let lib = |soname: &str| facts(Kind::SharedLibrary, None, Some(soname), &[]);
        v.elf("/lib/ld-linux.so.3", arm(lib("ld-linux.so.3"), soft));
        v.elf(
            "/lib/ld-linux-armhf.so.3",
            arm(lib("ld-linux-armhf.so.3"), hard),
        );
        let sf = v.elf(
            "/usr/lib/arm-linux-gnueabi/libx.so.1",
            arm(lib("libx.so.1"), soft),
        );
        let hf = v.elf(
            "/usr/lib/arm-linux-gnueabihf/libx.so.1",
            arm(lib("libx.so.1"), hard),
        );
        let cache = ldcache::synthetic::build_new(
            &[
                (
                    0x0903,
                    "libx.so.1",
                    "/usr/lib/arm-linux-gnueabihf/libx.so.1",
                    0,
                ),
                (
                    0x0b03,
                    "libx.so.1",
                    "/usr/lib/arm-linux-gnueabi/libx.so.1",
                    0,
                ),
            ],
            &[],
        );
        v.file("/etc/ld.so.cache", &cache);
        let prog = |interp: &str, e_flags| {
            arm(
                facts(Kind::Pie, Some(interp), None, &["libx.so.1"]),
                e_flags,
            )
        };
        let armel = v.elf("/usr/bin/armel", prog("/lib/ld-linux.so.3", soft));
        let armhf = v.elf("/usr/bin/armhf", prog("/lib/ld-linux-armhf.so.3", hard));
        let r = resolve(&v, &[armel, armhf], &ResolveOptions::default());
        for (r, want) in r.iter().zip([sf, hf]) {
            assert_eq!(r.status, Status::Ok, "{r:?}");
            assert_eq!(r.deps[0].via, Some(Via::LdCache), "{r:?}");
            assert_eq!(r.deps[0].found.as_ref(), Some(v.object_path(want)));
        }
    }

    /// A hostile loader environment (an image's `Env` is its author's): `..` elements stay in
    /// the root, and a list of a million elements ends in the session's bound, not in a hang.
    #[test]
    fn a_hostile_loader_environment_stays_in_the_root_and_bounded() {
        let ld = "/lib64/ld-linux-x86-64.so.2";
        let mut v = MemView::new();
        v.elf(
            ld,
            facts(Kind::SharedLibrary, None, Some("ld-linux-x86-64.so.2"), &[]),
        );
        let libz = v.elf(
            "/opt/z/libz.so.1",
            facts(Kind::SharedLibrary, None, Some("libz.so.1"), &[]),
        );
        let prog = v.elf(
            "/usr/bin/prog",
            facts(Kind::Pie, Some(ld), None, &["libz.so.1"]),
        );
        // As for the kernel, `/srv/..` needs /srv.
        v.dir("/srv");
        let mut opts = ResolveOptions::default();
        opts.env.workdir = "/srv".into();
        opts.env.set("LD_LIBRARY_PATH", b"../../../../../opt/z");
        let r = resolve(&v, &[prog], &opts);
        assert_eq!(r[0].status, Status::Ok, "{:?}", r[0]);
        assert_eq!(r[0].deps[0].via, Some(Via::LdLibraryPath));
        assert_eq!(r[0].closure, [v.object_path(libz).clone()]);
        let huge = vec![&b"/x"[..]; 1_100_000].join(&b':');
        opts.env.set("LD_LIBRARY_PATH", &huge);
        let r = resolve(&v, &[prog], &opts);
        assert_eq!(r[0].limit, Some(Bound::Object), "{:?}", r[0].notes);
    }

    /// A glibc root and a musl root held in memory, no file on disk: the sessions follow the
    /// same rules as on a walked root (loader by PT_INTERP through a symlink, ld.so.conf
    /// directories without a cache, the default directories (upstream x86-64: /lib64, /usr/lib64, as the loader image holds none), musl's path file, a need found
    /// nowhere).
    #[test]
    fn resolves_against_an_in_memory_view() {
        let ld = "/lib64/ld-linux-x86-64.so.2";
        let mut v = MemView::new();
        v.symlink("/lib64", "usr/lib64");
        let ldso = v.elf(
            "/usr/lib64/ld-linux-x86-64.so.2",
            facts(Kind::SharedLibrary, None, Some("ld-linux-x86-64.so.2"), &[]),
        );
        let libc = v.elf(
            "/usr/lib64/libc.so.6",
            facts(
                Kind::SharedLibrary,
                None,
                Some("libc.so.6"),
                &["ld-linux-x86-64.so.2"],
            ),
        );
        let libz = v.elf(
            "/opt/z/libz.so.1",
            facts(Kind::SharedLibrary, None, Some("libz.so.1"), &["libc.so.6"]),
        );
        v.file("/etc/ld.so.conf", b"/opt/z\n");
        let prog = v.elf(
            "/usr/bin/prog",
            facts(
                Kind::Pie,
                Some(ld),
                None,
                &["libz.so.1", "libc.so.6", "libgone.so.2"],
            ),
        );
        let musl = "/lib/ld-musl-x86_64.so.1";
        let mld = v.elf(musl, facts(Kind::SharedLibrary, None, None, &[]));
        let libm = v.elf(
            "/srv/musl/libfoo.so",
            facts(
                Kind::SharedLibrary,
                None,
                Some("libfoo.so"),
                &["libc.musl-x86_64.so.1"],
            ),
        );
        v.file("/etc/ld-musl-x86_64.path", b"/srv/musl\n");
        let mprog = v.elf(
            "/usr/bin/mprog",
            facts(
                Kind::Pie,
                Some(musl),
                None,
                &["libfoo.so", "libc.musl-x86_64.so.1"],
            ),
        );
        let r = resolve(&v, &[prog, mprog, libc], &ResolveOptions::default());
        let paths = |ids: &[ObjectId]| -> Vec<ByteStr> {
            ids.iter().map(|&i| v.object_path(i).clone()).collect()
        };
        assert_eq!(r[0].status, Status::Error);
        assert_eq!(r[0].loader.as_ref().map(|l| l.family), Some(Family::Glibc));
        assert_eq!(r[0].closure, paths(&[libz, libc]));
        assert_eq!(r[0].missing, [ByteStr::from("libgone.so.2")]);
        assert_eq!(r[0].deps[0].via, Some(Via::LdSoConf));
        assert_eq!(r[1].status, Status::Ok, "{:?}", r[1]);
        assert_eq!(r[1].loader.as_ref().map(|l| l.family), Some(Family::Musl));
        assert_eq!(r[1].closure, paths(&[libm]));
        assert_eq!(r[1].deps[0].via, Some(Via::PathFile));
        assert_eq!(r[1].deps[1].via, Some(Via::Reserved));
        // libc.so.6 alone: its need is the loader, which answers to its soname.
        assert_eq!(r[2].status, Status::Ok, "{:?}", r[2]);
        assert!(r[2].missing.is_empty(), "{:?}", r[2]);
        assert!(r[2].closure.is_empty() || r[2].closure == paths(&[ldso]));
        let _ = mld;
    }
}

/*!
The pipeline: a configuration in, a [`Report`] out. The stages run in one direction (unpack the
image, scan, resolve, package ownership, checks, policy), each adding its own table to the report;
the renderers of [`crate::report`] then read it. This is what the binary runs, and what a library
user calls to get the same results (findings, policy verdict included).
*/

use std::path::{Path, PathBuf};

use crate::check::policy::{Gate, Policy};
use crate::check::{self, CheckOptions};
use crate::elf::Machine;
use crate::error::{ErrorCode, FileError};
use crate::image;
use crate::name::{ByteStr, escape_controls};
use crate::packages::PackageSet;
use crate::pkgdb::{self, DbKind, Scope};
use crate::progress::Progress;
use crate::report::tree::TreeReport;
use crate::report::why::WhyReport;
use crate::report::{FilesReport, Report};
use crate::resolve::Status;
use crate::resolve::cpu::CpuProfile;
use crate::resolve::env::Family;
use crate::resolve::{self, FileKind, FsView, LazyView, ResolveOptions, Snapshot};
use crate::rootfs::RootFs;
use crate::scan::{self, ScanOptions, ScanWarning, WarningCode};

/// What to run, on what.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// ROOT as given: a directory, or an image reference (`oci:DIR[:TAG]`, `docker-archive:FILE`,
    /// `oci-archive:FILE[:TAG]`, or a plain path to a layout or an image tarball).
    pub root: PathBuf,
    /// The platform to pick from a multi-platform image (`linux/arm64`).
    pub platform: Option<String>,
    /// Caps on the decompressed bytes of one layer, and of the whole image.
    pub max_layer_size: u64,
    /// See `max_layer_size`.
    pub max_image_size: u64,
    /// How a `docker://` ROOT is pulled (credentials, TLS, timeouts, cache).
    pub registry: image::RegistryOptions,
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Scan settings (per-file limits, walk depth).
    pub scan: ScanOptions,
    /// Resolve every object as its loader would (`None`: facts only).
    pub resolve: Option<ResolveOptions>,
    /// Run the checks (needs `resolve`).
    pub checks: Option<CheckOptions>,
    /// Judge the findings by this policy, adding its own findings (`--deny-libc`, `--max-glibc`)
    /// and the verdict (needs `checks`).
    pub policy: Option<Policy>,
    /// Host files laid over ROOT before anything is judged (`--add SRC:DEST`).
    pub adds: Vec<resolve::AddSpec>,
}

/// Why the pipeline could not produce a report: the input cannot be used as asked. The message
/// says what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Runs the stages `config` asks for.
pub fn run(config: &Config, progress: &Progress) -> Result<Report, Error> {
    let mut unpacked = open_input(config)?;
    if let Some(u) = unpacked.as_mut() {
        u.set_jobs(config.jobs);
    }
    let root = unpacked
        .as_ref()
        .map_or(config.root.as_path(), |u| u.root.as_path());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs.unwrap_or(0))
        .thread_name(|i| format!("elfdeps-{i}"))
        .build()
        .map_err(|e| Error(format!("cannot start worker threads: {e}")))?;
    // An image's tree was written by elfdeps itself, which saw the first bytes of every file:
    // the walk need not open those it knows are not ELF.
    let scan_opts = match &unpacked {
        Some(u) => {
            let mut o = config.scan.clone();
            o.walk.known_plain = Some(std::sync::Arc::new(u.known_plain()));
            std::borrow::Cow::Owned(o)
        }
        None => std::borrow::Cow::Borrowed(&config.scan),
    };
    let scanned = pool.install(|| scan::scan(root, &scan_opts, progress));
    progress.finish();
    let mut report = Report::new(scanned.map_err(|e| Error(e.to_string()))?);
    let effective = config
        .resolve
        .as_ref()
        .map(|_| resolve_options(config, unpacked.as_ref().map(|u| &u.info)));
    // The package database is read while the loaders are modelled: neither needs the other,
    // and reading a desktop's file lists is one thread's work.
    let inv = &report.inventory;
    let (resolved, owners) = pool.install(|| {
        rayon::join(
            || {
                effective.as_ref().map(|ropts| {
                    let (resolutions, glibc_config) =
                        resolve::resolve_all(&inv.rootfs, &inv.tree, &inv.objects, ropts);
                    let view = Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
                    let ids: Vec<usize> = (0..inv.objects.len()).collect();
                    let runtime =
                        crate::runtime::edges::edges_all(&view, &ids, &resolutions, ropts);
                    (resolutions, glibc_config, runtime)
                })
            },
            // Package ownership, when the root has a database: only the objects' owners are
            // reported, so only their paths are indexed.
            || {
                let paths: std::collections::HashSet<&[u8]> =
                    inv.objects.iter().map(|o| o.path.as_bytes()).collect();
                pkgdb::detect_scoped(&inv.rootfs, &inv.tree, DbKind::Auto, Scope::Paths(&paths))
                    .map(|db| pkgdb::owners(&inv.objects, &db))
            },
        )
    });
    report.ownership = owners;
    if let (Some(ropts), Some((resolutions, glibc_config, runtime))) = (&effective, resolved) {
        report.set_resolutions(resolutions, ropts.cpu.clone());
        report.loader_env = Some(ropts.env.clone());
        report.runtime = Some(runtime);
        report.glibc_config = glibc_config;
        cpu_applies(&ropts.cpu, &report, &config.root)?;
    }
    if let Some(u) = &unpacked {
        // An image's filesystem is a root by definition, even a scratch image holding one static
        // program: its absolute paths are meant to start at its top.
        report.warnings.retain(|w| w.code != WarningCode::NotARoot);
        report.layers = Some(
            report
                .inventory
                .objects
                .iter()
                .map(|o| u.layer_of(o.path.as_bytes()).map(str::to_string))
                .collect(),
        );
        report.image = Some(u.info.clone());
    }
    if let Some(copts) = &config.checks {
        pool.install(|| run_checks(&mut report, copts, config.policy.as_ref()));
    }
    report.unpacked = unpacked;
    Ok(report)
}

/// The resolution settings for ROOT: `config.resolve` (or the defaults), with the loader
/// environment a container of the image starts with, its config's `Env` (`LD_LIBRARY_PATH`,
/// `LD_PRELOAD`) and `WorkingDir`, under the `--env` values (as `docker run -e` overrides the
/// image's). Every object's session gets it: each is resolved as if started from the
/// entrypoint's environment, which is what a program the entrypoint runs inherits.
pub fn resolve_options(config: &Config, image: Option<&image::ImageInfo>) -> ResolveOptions {
    let mut o = config.resolve.clone().unwrap_or_default();
    if let Some(run) = image.and_then(|i| i.run.as_ref()) {
        let cli = std::mem::take(&mut o.env);
        let mut env = run.loader_env();
        if cli.library_path.is_some() {
            env.library_path = cli.library_path;
        }
        if cli.preload.is_some() {
            env.preload = cli.preload;
        }
        env.sources.extend(cli.sources);
        o.env = env;
    }
    o
}

/// The image ROOT names, unpacked (`None`: ROOT is a directory, used as it is).
fn open_input(config: &Config) -> Result<Option<image::Unpacked>, Error> {
    let platform = config
        .platform
        .as_deref()
        .map(image::Platform::parse)
        .transpose()
        .map_err(|e| Error(e.to_string()))?;
    match image::parse_root(&config.root).map_err(|e| Error(e.to_string()))? {
        Some(r) => {
            let opts = image::ImageOptions {
                platform,
                max_layer: config.max_layer_size,
                max_image: config.max_image_size,
                registry: config.registry.clone(),
                ahead: image::two_cores(config.jobs),
            };
            let what = match r {
                image::ImageRef::RootTarball(_) => "the tarball",
                _ => "the image",
            };
            Ok(Some(image::unpack(&r, &opts).map_err(|e| {
                Error(format!("cannot use {what} {}: {e}", r.display()))
            })?))
        }
        // Silently ignored, --platform would let a user believe a directory was checked as
        // another architecture.
        None if config.platform.is_some() => Err(Error(format!(
            "--platform {}: {} is a directory, not an image: --platform chooses among the \
             images of an OCI layout or image archive, and a directory has no images to \
             choose from; drop --platform",
            config.platform.as_deref().unwrap_or_default(),
            config.root.display()
        ))),
        None => Ok(None),
    }
}

/// The checks on a resolved report, then the policy's own findings and verdict.
fn run_checks(report: &mut Report, opts: &CheckOptions, policy: Option<&Policy>) {
    let Some(root) = report.resolved() else {
        return;
    };
    let inv = &report.inventory;
    let view = Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
    let glibc = report.glibc_config.as_ref();
    let (libc, mut checks) =
        check::analyze_with_policy(root, &view, &inv.rootfs, glibc, opts, policy);
    if let Some(policy) = policy {
        checks.gate = Some(policy.judge(&mut checks.findings));
    }
    report.libc = Some(libc);
    report.checks = Some(checks);
}

/// The verdict of a report the policy judged (`None`: no policy ran).
pub fn gate(report: &Report) -> Option<&Gate> {
    report.checks.as_ref().and_then(|c| c.gate.as_ref())
}

/// Refuses a `--cpu` profile that changes nothing in this root: one for a machine no glibc object
/// of the root is resolved for (musl's loader does not look at the CPU at all).
fn cpu_applies(cpu: &CpuProfile, report: &Report, root: &Path) -> Result<(), Error> {
    let machines = cpu.machines();
    if machines.is_empty() {
        return Ok(());
    }
    let Some(resolved) = report.resolved() else {
        return Ok(());
    };
    let glibc_machines: std::collections::HashSet<Machine> = resolved
        .iter()
        .filter(|(_, _, r)| r.loader.as_ref().is_some_and(|l| l.family == Family::Glibc))
        .map(|(_, o, _)| o.facts.machine)
        .collect();
    if glibc_machines.iter().any(|m| machines.contains(m)) {
        return Ok(());
    }
    let found = if glibc_machines.is_empty() {
        "no object loaded by glibc (musl's loader does not look at the CPU)".to_string()
    } else {
        // By name, as the message always listed them.
        let names: std::collections::BTreeSet<String> =
            glibc_machines.iter().map(Machine::to_string).collect();
        format!(
            "glibc objects only for {}",
            names.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Err(Error(format!(
        "--cpu {}: the profile describes a CPU for {}, but {} has {found}; leave --cpu out, or \
         choose a profile for the root's machine",
        cpu.name,
        machines
            .iter()
            .map(Machine::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        root.display()
    )))
}

/// The components of an in-root path as given (`usr//bin/./x` is `/usr/bin/x`).
fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect()
}

/// `given`, and what it resolved to when that is another path (symlinks, `..`).
fn named(given: &str, canonical: &ByteStr) -> String {
    let shown = escape_controls(given);
    if components(given.as_bytes()) == components(canonical.as_bytes()) {
        shown.into_owned()
    } else {
        format!("{shown} (resolved to {})", canonical.display_escaped())
    }
}

/// The object of `report` at `given` (a path inside the root, symlinks followed inside it), or
/// why there is none; `root` is the root as the user named it.
pub fn find_object(report: &Report, given: &str, root: &Path) -> Result<usize, Error> {
    let inv = &report.inventory;
    let view = || Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
    let canonical = inv
        .tree
        .resolve(given.as_bytes(), true)
        .map_err(|e| Error(not_in_root(&view(), given, root, &e)))?;
    inv.object_at(canonical.as_bytes()).ok_or_else(|| {
        let error = report.errors.iter().find(|e| e.path == canonical);
        Error(not_an_object(
            &view(),
            given,
            &canonical,
            error.map(|e| (e.message.as_str(), e.code)),
        ))
    })
}

/// Why `given` names nothing in the root, saying each path once: what is missing when it is not
/// `given` itself (a parent, a symlink's target).
fn not_in_root(view: &dyn FsView, given: &str, root: &Path, e: &FileError) -> String {
    let shown = escape_controls(given);
    let root = root.display();
    let why = escape_controls(&e.message);
    if e.code != ErrorCode::Vanished {
        return format!("{shown} cannot be looked up inside {root}: {why}");
    }
    // Which component is missing decides the wording: the last one (a plain "does not exist"),
    // the target of a symlink named by the last one, or a parent.
    let comps = components(given.as_bytes());
    let Some((last, parents)) = comps.split_last() else {
        return format!("{shown} does not exist inside {root}");
    };
    let parent = [b"/".as_slice(), &parents.join(&b'/')].concat();
    match view.resolve(&parent, true) {
        Ok(dir) if view.kind(dir.as_bytes()) == Some(FileKind::Dir) => {
            let at = if dir.as_bytes() == b"/" {
                [b"/", *last].concat()
            } else {
                [dir.as_bytes(), b"/", last].concat()
            };
            match view.read_link(&at) {
                Some(t) => format!(
                    "{shown} is a symbolic link to {} inside {root}, and {why}",
                    t.display_escaped()
                ),
                None => format!("{shown} does not exist inside {root}"),
            }
        }
        _ => format!("{shown} does not exist inside {root}: {why}"),
    }
}

/// Why the file `given` (resolved to `canonical`) is not an object `tree` or `packages` can take;
/// `error` is why its facts could not be read, when that is why.
fn not_an_object(
    view: &dyn FsView,
    given: &str,
    canonical: &ByteStr,
    error: Option<(&str, ErrorCode)>,
) -> String {
    let who = named(given, canonical);
    if let Some((message, code)) = error {
        return format!(
            "{who} could not be read: {} ({code})",
            escape_controls(message)
        );
    }
    match view.kind(canonical.as_bytes()) {
        Some(FileKind::Dir) => {
            format!("{who} is a directory, not an ELF file: name a program or library in it")
        }
        Some(FileKind::Special) => format!("{who} is a FIFO, socket or device, not an ELF file"),
        Some(FileKind::OtherFs) => {
            format!("{who} is a mount point of another filesystem, which the scan does not enter")
        }
        _ => format!("{who} is not an ELF file"),
    }
}

/// What `tree` answers about one object, without walking the root.
#[derive(Debug)]
pub struct TreeOutcome {
    /// The root as reports name it (the image reference, or the directory).
    pub root_name: ByteStr,
    /// The object's loader session.
    pub tree: TreeReport,
    /// Warnings about the root as a whole (`not-a-root`).
    pub warnings: Vec<ScanWarning>,
    /// How many paths of the root were looked up to answer.
    pub lookups: usize,
}

/// The `tree` report of the object at `given` (a path inside the root, symlinks followed inside
/// it), resolved through a [`LazyView`]: only the paths its loader would look at are looked up,
/// so the answer costs what the closure costs, not what the root holds. The session is the one
/// [`run`] followed by [`tree`] gives (tests/lazy_view.rs compares them on every object of the
/// test roots). An image is unpacked first.
pub fn tree_of(config: &Config, given: &str) -> Result<TreeOutcome, Error> {
    use std::os::unix::ffi::OsStrExt;
    let opened = open_root(config)?;
    let base = lazy_view(&opened.rootfs, config);
    let overlay = overlay_of(&base, config)?;
    let view: &dyn FsView = match &overlay {
        Some(o) => o,
        None => &base,
    };
    let id = lazy_object(view, given, config)?;
    let ropts = resolve_options(config, opened.unpacked.as_ref().map(|u| &u.info));
    let r = resolve::resolve(view, &[id], &ropts)
        .pop()
        .ok_or_else(|| Error("internal: the resolver returned no session".into()))?;
    let facts = view.facts(id);
    cpu_applies_to(&ropts.cpu, facts, &r, view.object_path(id))?;
    let warnings = opened.warnings(&base);
    let mut tree = TreeReport::session(view.object_path(id), facts, &r, |p| view.resolve(p, true));
    tree.runtime = crate::runtime::edges::session_edges(view, id, &r, &ropts);
    env_note(&mut tree, &ropts.env);
    Ok(TreeOutcome {
        root_name: match &opened.unpacked {
            Some(u) => ByteStr::from(u.info.reference.as_str()),
            None => ByteStr::from(config.root.as_os_str().as_bytes()),
        },
        tree,
        warnings,
        lookups: base.lookups(),
    })
}

/// The root a single-program command looks at, opened: ROOT, or the image it names unpacked.
struct OpenRoot {
    unpacked: Option<image::Unpacked>,
    rootfs: RootFs,
}

fn open_root(config: &Config) -> Result<OpenRoot, Error> {
    let unpacked = open_input(config)?;
    let root = unpacked
        .as_ref()
        .map_or(config.root.as_path(), |u| u.root.as_path());
    let rootfs = RootFs::open(root).map_err(|e| Error(e.to_string()))?;
    Ok(OpenRoot { unpacked, rootfs })
}

impl OpenRoot {
    /// The warnings about the root as a whole a walk would give (`not-a-root`; an image's
    /// filesystem is a root by definition, see [`run`]).
    fn warnings(&self, view: &LazyView<'_>) -> Vec<ScanWarning> {
        if self.unpacked.is_none() && !view.is_dir(b"/usr") {
            vec![scan::not_a_root(self.rootfs.path())]
        } else {
            Vec::new()
        }
    }
}

/// The view of `rootfs` that single-program commands resolve through.
fn lazy_view<'a>(rootfs: &'a RootFs, config: &Config) -> LazyView<'a> {
    LazyView::new(rootfs, config.scan.limits).excluding(config.scan.walk.exclude.clone())
}

/// `base` with `config.adds` laid over it (`None`: nothing to add).
fn overlay_of<'b>(
    base: &'b dyn FsView,
    config: &Config,
) -> Result<Option<resolve::OverlayView<'b>>, Error> {
    if config.adds.is_empty() {
        return Ok(None);
    }
    resolve::OverlayView::new(base, &config.adds, config.scan.limits)
        .map(Some)
        .map_err(|e| Error(e.to_string()))
}

/// `check ROOT --add SRC:DEST...`: the added ELF files judged in ROOT with them laid over it, and
/// the base programs they break, through a lazy view of ROOT (no walk; an image is unpacked
/// first). See [`crate::rebase`].
pub fn check_add(config: &Config, policy: &Policy) -> Result<crate::rebase::AddReport, Error> {
    use std::os::unix::ffi::OsStrExt;
    let opened = open_root(config)?;
    let base = lazy_view(&opened.rootfs, config);
    let overlay = overlay_of(&base, config)?
        .ok_or_else(|| Error("internal: check_add without --add".into()))?;
    if overlay.added_files().is_empty() {
        return Err(Error(
            "--add put no regular file in the root: nothing to judge (a gate that passes on \
             nothing would pass a build that lost its binaries); give the build's programs and \
             libraries"
                .into(),
        ));
    }
    let ropts = resolve_options(config, opened.unpacked.as_ref().map(|u| &u.info));
    let root = match &opened.unpacked {
        Some(u) => ByteStr::from(u.info.reference.as_str()),
        None => ByteStr::from(config.root.as_os_str().as_bytes()),
    };
    Ok(crate::rebase::judge(
        &base,
        &overlay,
        &config.adds,
        root,
        &ropts,
        &config.scan.limits,
        policy,
    ))
}

/// `check APP --rebase-from OLD --onto NEW`: APP's own layers (those above OLD's, matched by
/// diff_id) applied over NEW as `crane rebase` would, every ELF object they hold judged over NEW
/// and over OLD (APP as it is), and what is worse over NEW reported. Each image is unpacked; the
/// roots are looked at through lazy views (no walk).
pub fn check_rebase(
    config: &Config,
    old: &Path,
    new: &Path,
    policy: &Policy,
) -> Result<crate::rebase::RebaseReport, Error> {
    let platform = config
        .platform
        .as_deref()
        .map(image::Platform::parse)
        .transpose()
        .map_err(|e| Error(e.to_string()))?;
    let opts = image::ImageOptions {
        platform,
        max_layer: config.max_layer_size,
        max_image: config.max_image_size,
        registry: config.registry.clone(),
        ahead: image::two_cores(config.jobs),
    };
    let image_of = |p: &Path, what: &str| -> Result<image::ImageRef, Error> {
        match image::parse_root(p).map_err(|e| Error(e.to_string()))? {
            Some(r) if !matches!(r, image::ImageRef::RootTarball(_)) => Ok(r),
            _ => Err(Error(format!(
                "{what} {}: not an image (an OCI layout, oci:DIR[:TAG], oci-archive: or \
                 docker-archive:); a rebase matches image layers by their diff_ids",
                p.display()
            ))),
        }
    };
    let app = image_of(&config.root, "the application image")?;
    let old_ref = image_of(old, "--rebase-from")?;
    let new_ref = image_of(new, "--onto")?;
    let cannot = |what: &str, r: &image::ImageRef, e: image::ImageError| {
        Error(format!("cannot use {what} {}: {e}", r.display()))
    };
    let old_ids =
        image::diff_ids(&old_ref, &opts).map_err(|e| cannot("--rebase-from", &old_ref, e))?;
    let before = image::unpack(&app, &opts).map_err(|e| cannot("the image", &app, e))?;
    let onto = image::unpack(&new_ref, &opts).map_err(|e| cannot("--onto", &new_ref, e))?;
    let new_layers = onto.info.layers.len();
    let shown_old = old_ref.display();
    let (after, app_ids) = image::unpack_onto(&app, &opts, Some(onto), &|ids| {
        if ids.len() >= old_ids.len() && ids[..old_ids.len()] == old_ids[..] {
            Ok(old_ids.len())
        } else {
            Err(image::ImageError::Image(format!(
                "its layers do not start with those of {shown_old} (by diff_id): it was not \
                 built on that base; name the base it was built FROM"
            )))
        }
    })
    .map_err(|e| cannot("the image", &app, e))?;
    let before_fs = RootFs::open(&before.root).map_err(|e| Error(e.to_string()))?;
    let after_fs = RootFs::open(&after.root).map_err(|e| Error(e.to_string()))?;
    let before_view = lazy_view(&before_fs, config);
    let after_view = lazy_view(&after_fs, config);
    // The application's paths: those its own layers last wrote over NEW.
    let paths: Vec<ByteStr> = after
        .origins
        .iter()
        .filter(|(_, o)| o.layer >= new_layers)
        .filter_map(|(p, _)| after_view.resolve(p, false).ok())
        .filter(|p| after_view.kind(p.as_bytes()) == Some(FileKind::File))
        .collect();
    let ropts = config.resolve.clone().unwrap_or_default();
    let mut errors = Vec::new();
    let objects = crate::rebase::judge_objects(
        &after_view,
        &paths,
        &ropts,
        &config.scan.limits,
        &mut errors,
    );
    let judged: Vec<ByteStr> = objects.iter().map(|o| o.path.clone()).collect();
    let newly_broken = crate::rebase::compare(&before_view, &after_view, &judged, &ropts);
    let (findings, gate) = crate::rebase::judge_rebase(&newly_broken, &objects, policy);
    Ok(crate::rebase::RebaseReport {
        image: app.display(),
        rebase_from: old_ref.display(),
        onto: new_ref.display(),
        app_layers: app_ids.len() - old_ids.len(),
        objects,
        newly_broken,
        findings,
        gate,
        errors,
    })
}

/// `diff A B`: both roots walked and resolved as [`run`] does (no checks), then compared
/// ([`crate::report::diff::compare`]); `b` is B as given, the rest of `config` serves both. The roots'
/// warnings (`not-a-root`) come back too. `progress` makes each walk's indicator (one is
/// finished when its walk ends).
pub fn diff(
    config: &Config,
    b: &Path,
    gated: &[crate::diff::Gated],
    progress: &dyn Fn() -> Progress,
) -> Result<(crate::diff::DiffReport, Vec<ScanWarning>), Error> {
    if !config.adds.is_empty() {
        return Err(Error(
            "--add is not available with `diff`: compare two roots, or use `elfdeps check ROOT \
             --add SRC:DEST` for files laid over one"
                .into(),
        ));
    }
    let config = Config {
        checks: None,
        policy: None,
        ..config.clone()
    };
    let side = |root: &Path, which: &str| {
        let c = Config {
            root: root.to_path_buf(),
            ..config.clone()
        };
        run(&c, &progress()).map_err(|e| Error(format!("{which} ({}): {e}", root.display())))
    };
    let a = side(&config.root, "A")?;
    let b = side(b, "B")?;
    let mut warnings = a.warnings.clone();
    warnings.extend(b.warnings.iter().cloned());
    Ok((crate::report::diff::compare(&a, &b, gated), warnings))
}

/// The object at `given` in a lazy view, or why there is none (in the words [`find_object`]
/// uses on a walked root).
fn lazy_object(view: &dyn FsView, given: &str, config: &Config) -> Result<usize, Error> {
    let canonical = view
        .resolve(given.as_bytes(), true)
        .map_err(|e| Error(not_in_root(view, given, &config.root, &e)))?;
    view.object(canonical.as_bytes()).ok_or_else(|| {
        let error = match view.kind(canonical.as_bytes()) {
            Some(FileKind::File) => view
                .read_elf(canonical.as_bytes(), &config.scan.limits)
                .err(),
            Some(FileKind::Unreadable) => view.read_prefix(canonical.as_bytes(), 0).err(),
            _ => None,
        };
        Error(not_an_object(
            view,
            given,
            &canonical,
            error.as_ref().map(|e| (e.message.as_str(), e.code)),
        ))
    })
}

/// What `packages` answers, and what was met on the way.
#[derive(Debug)]
pub struct PackagesOutcome {
    /// The set.
    pub set: PackageSet,
    /// Records of the database or an index that were skipped.
    pub warnings: Vec<String>,
    /// Warnings about the root as a whole (`not-a-root`).
    pub root_warnings: Vec<ScanWarning>,
    /// Whether the root was walked (false: the programs were resolved through a lazy view).
    pub walked: bool,
    /// What a CycloneDX BOM of the set names beyond it: the root, its os-release, the
    /// packages' architectures.
    pub about: crate::report::cyclonedx::SetAbout,
}

/// The [`SetAbout`](crate::report::cyclonedx::SetAbout) of a set computed from `db` in a root.
fn set_about(
    config: &Config,
    rootfs: &crate::rootfs::RootFs,
    tree: &dyn crate::tree::PathLookup,
    image: Option<&image::ImageInfo>,
    db: &pkgdb::PackageDb,
) -> crate::report::cyclonedx::SetAbout {
    use std::os::unix::ffi::OsStrExt;
    let max = config.scan.limits.max_read;
    crate::report::cyclonedx::SetAbout {
        root_name: match image {
            Some(i) => ByteStr::from(i.reference.as_str()),
            None => ByteStr::from(config.root.as_os_str().as_bytes()),
        },
        os: crate::report::cyclonedx::OsRelease::read(rootfs, tree, max),
        arch: db
            .packages
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.arch.clone()?)))
            .collect(),
    }
}

/// `packages` as the command runs it: for programs named by path (no `--for`, no `--unneeded`),
/// through a [`LazyView`], looking up only what their loaders and the package database name;
/// otherwise on the walked and resolved root ([`run`], then [`packages`]). Both give the same set
/// (tests/lazy_view.rs).
pub fn packages_run(
    config: &Config,
    q: &PackagesQuery,
    progress: &Progress,
) -> Result<PackagesOutcome, Error> {
    if !config.adds.is_empty() {
        if q.for_pkg.is_some() || q.unneeded || q.paths.is_empty() {
            return Err(Error(
                "packages --add answers for programs named by path (the added ones, or the \
                 base's): name them; --for and --unneeded need a walk of the root, which --add \
                 does not do"
                    .into(),
            ));
        }
        return packages_without_walk(config, q)?.ok_or_else(|| {
            Error("internal: packages --add found no program to answer for".into())
        });
    }
    // Programs named, or an image's entrypoint: no walk.
    if q.for_pkg.is_none()
        && !q.unneeded
        && (!q.paths.is_empty() || image::parse_root(&config.root).ok().flatten().is_some())
        && let Some(out) = packages_without_walk(config, q)?
    {
        return Ok(out);
    }
    let report = run(config, progress)?;
    let ropts = resolve_options(config, report.image.as_ref());
    let (set, warnings) = packages(&report, q, &config.root, &ropts)?;
    let inv = &report.inventory;
    // `packages` read this database already; reading it again keeps its signature as it is.
    let about = pkgdb::detect(&inv.rootfs, &inv.tree, q.db)
        .map(|db| set_about(config, &inv.rootfs, &inv.tree, report.image.as_ref(), &db))
        .unwrap_or_default();
    Ok(PackagesOutcome {
        set,
        warnings,
        root_warnings: report.warnings.clone(),
        walked: true,
        about,
    })
}

/// `packages` for the programs `q.paths` without a walk; `None` when one of them is not a
/// program (a library's missing needs may be met by a library elsewhere in the root, which only
/// the walk knows).
fn packages_without_walk(
    config: &Config,
    q: &PackagesQuery,
) -> Result<Option<PackagesOutcome>, Error> {
    let opened = open_root(config)?;
    let base = lazy_view(&opened.rootfs, config);
    // With --add, the programs are looked up (and resolved) in the combined root; the package
    // database stays the base's (the added files belong to no package).
    let overlay = overlay_of(&base, config)?;
    let view: &dyn FsView = match &overlay {
        Some(o) => o,
        None => &base,
    };
    let mut ids = Vec::new();
    let mut paths = q.paths.clone();
    if paths.is_empty() {
        // An image's programs are what its containers start.
        match opened
            .unpacked
            .as_ref()
            .and_then(|u| u.info.run.as_ref())
            .and_then(|run| entry_program(view, run))
        {
            Some(p) => paths.push(p),
            None => return Ok(None),
        }
    }
    for p in &paths {
        let id = lazy_object(view, p, config)?;
        if !check::is_program_facts(view.facts(id)) {
            if overlay.is_some() {
                return Err(Error(format!(
                    "packages --add: {p} is not a program; with --add, name the programs to \
                     answer for (a library's set needs a walk of the root, which --add does not \
                     do)"
                )));
            }
            return Ok(None);
        }
        ids.push(id);
    }
    let db = pkgdb::detect(&opened.rootfs, &base, q.db).ok_or_else(|| no_database(&config.root))?;
    let mut warnings = db_warnings(&db);
    let ropts = resolve_options(config, opened.unpacked.as_ref().map(|u| &u.info));
    let sessions = resolve::resolve(view, &ids, &ropts);
    // As for the walked root, a --cpu profile must apply to something: here, to one of the
    // programs' sessions.
    let refusals: Vec<Result<(), Error>> = ids
        .iter()
        .zip(&sessions)
        .map(|(&id, r)| cpu_applies_to(&ropts.cpu, view.facts(id), r, view.object_path(id)))
        .collect();
    if !refusals.iter().any(Result::is_ok)
        && let Some(Err(e)) = refusals.into_iter().next()
    {
        return Err(e);
    }
    let objects: Vec<scan::Object> = ids
        .iter()
        .map(|&id| {
            let path = view.object_path(id);
            scan::Object {
                path: path.clone(),
                facts: Box::new(view.facts(id).clone()),
                inode: view.identity(path.as_bytes()).unwrap_or_default(),
            }
        })
        .collect();
    let targets: Vec<crate::packages::Target<'_>> = objects
        .iter()
        .zip(&sessions)
        .map(|(object, resolution)| crate::packages::Target { object, resolution })
        .collect();
    let index = read_indexes(q, &mut warnings)?;
    // Every target is a program, so no need is ever met in-process.
    let paths_view: &dyn crate::tree::PathLookup = match &overlay {
        Some(o) => o,
        None => &base,
    };
    let mut set = crate::packages::compute_for(&targets, &db, &index, paths_view, &|_, _| None);
    for (p, &id) in paths.iter().zip(&ids) {
        crate::packages::add_link_owners(&mut set, &db, view, p, view.object_path(id));
    }
    grow_set(&mut set, view, &db, &ropts, &ids, q)?;
    let root_warnings = opened.warnings(&base);
    let image = opened.unpacked.as_ref().map(|u| &u.info);
    let about = set_about(config, &opened.rootfs, &base, image, &db);
    Ok(Some(PackagesOutcome {
        set,
        warnings,
        root_warnings,
        walked: false,
        about,
    }))
}

/// The ELF program a container of the image starts: its config's entrypoint (else command),
/// searched through the config's `PATH` when it has no `/`; for a script, its `#!` interpreter
/// (through `env`, the program `env` runs). `None` when there is none in the root.
fn entry_program(view: &dyn FsView, run: &image::RunConfig) -> Option<String> {
    let search = |name: &str| -> Option<String> {
        if name.contains('/') {
            let abs = if name.starts_with('/') {
                name.to_string()
            } else {
                format!("/{name}")
            };
            return view.resolve(abs.as_bytes(), true).ok().map(|_| abs);
        }
        run.path()
            .split(':')
            .filter(|d| d.starts_with('/'))
            .find_map(|d| {
                let candidate = format!("{}/{name}", d.trim_end_matches('/'));
                let c = view.resolve(candidate.as_bytes(), true).ok()?;
                (view.kind(c.as_bytes()) == Some(FileKind::File)).then_some(candidate)
            })
    };
    let mut program = search(run.program()?)?;
    // A script names its interpreter on its first line (a few levels: env, then the program).
    for _ in 0..3 {
        let c = view.resolve(program.as_bytes(), true).ok()?;
        if view.object(c.as_bytes()).is_some() {
            return Some(program);
        }
        let head = view.read_prefix(c.as_bytes(), 256).ok()?;
        let line = head.strip_prefix(b"#!")?;
        let line = line.split(|&b| b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?;
        let mut words = line.split_whitespace();
        let interp = words.next()?;
        program = if interp.ends_with("/env") {
            search(words.find(|w| !w.starts_with('-'))?)?
        } else {
            interp.to_string()
        };
    }
    None
}

/// [`cpu_applies`] for one session: a `--cpu` profile changes what glibc's loader loads for a
/// machine it describes, so it is refused for an object whose session is not glibc's for one.
fn cpu_applies_to(
    cpu: &CpuProfile,
    facts: &crate::elf::ElfFacts,
    r: &resolve::Resolution,
    path: &ByteStr,
) -> Result<(), Error> {
    let machines = cpu.machines();
    if machines.is_empty() {
        return Ok(());
    }
    let glibc = r.loader.as_ref().is_some_and(|l| l.family == Family::Glibc);
    if glibc && machines.contains(&facts.machine) {
        return Ok(());
    }
    let found = if glibc {
        format!("a {} object", facts.machine)
    } else {
        "not loaded by glibc (musl's loader does not look at the CPU)".to_string()
    };
    Err(Error(format!(
        "--cpu {}: the profile describes a CPU for {}, but {} is {found}; leave --cpu out, or \
         choose a profile for its machine",
        cpu.name,
        machines
            .iter()
            .map(Machine::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        path.display_escaped()
    )))
}

/// A policy as the command line gives it: an optional file, then flags that add to it.
#[derive(Clone, Debug, Default)]
pub struct PolicySpec {
    /// A policy file (TOML).
    pub file: Option<PathBuf>,
    /// `--deny-libc`.
    pub deny_libc: Vec<String>,
    /// `--max-glibc`.
    pub max_glibc: Option<String>,
    /// `--deny`.
    pub deny: Vec<String>,
    /// `--fail-on`.
    pub fail_on: Option<String>,
    /// `--allow`.
    pub allow: Vec<String>,
    /// `--ignore`.
    pub ignore: Vec<String>,
    /// `--baseline`: an earlier `check --format json` report.
    pub baseline: Option<PathBuf>,
}

impl PolicySpec {
    /// Reads the files and builds the policy.
    pub fn build(&self) -> Result<Policy, Error> {
        let mut p = match &self.file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error(format!(
                        "cannot read the policy file {}: {e}",
                        path.display()
                    ))
                })?;
                Policy::from_toml(&text, &path.display().to_string())
                    .map_err(|e| Error(e.to_string()))?
            }
            None => Policy::default(),
        };
        for l in &self.deny_libc {
            let f = check::policy::flavor(l, "--deny-libc").map_err(|e| Error(e.to_string()))?;
            if !p.deny_libc.contains(&f) {
                p.deny_libc.push(f);
            }
        }
        if let Some(v) = &self.max_glibc {
            p.max_glibc =
                Some(check::policy::version(v, "--max-glibc").map_err(|e| Error(e.to_string()))?);
        }
        for c in &self.deny {
            let code = check::Code::parse(c).ok_or_else(|| {
                let all: Vec<&str> = check::Code::ALL.iter().map(|c| c.as_str()).collect();
                Error(format!(
                    "--deny {c}: unknown finding code (codes: {})",
                    all.join(", ")
                ))
            })?;
            p.deny.push(code);
        }
        if let Some(s) = &self.fail_on {
            p.fail_on = check::Severity::parse(s).ok_or_else(|| {
                Error(format!(
                    "--fail-on {s}: not a severity (error, warning, info)"
                ))
            })?;
        }
        for a in &self.allow {
            p.add_allow(a).map_err(|e| Error(e.to_string()))?;
        }
        for g in &self.ignore {
            p.add_ignore(g).map_err(|e| Error(e.to_string()))?;
        }
        if let Some(b) = &self.baseline {
            let text = std::fs::read_to_string(b)
                .map_err(|e| Error(format!("cannot read the baseline {}: {e}", b.display())))?;
            p.add_baseline(&text, &b.display().to_string())
                .map_err(|e| Error(e.to_string()))?;
        }
        Ok(p)
    }
}

/// What `packages` is asked.
#[derive(Clone, Debug)]
pub struct PackagesQuery {
    /// The database to read.
    pub db: DbKind,
    /// The programs of this installed package.
    pub for_pkg: Option<String>,
    /// Programs, as paths inside the root.
    pub paths: Vec<String>,
    /// APK repository indexes naming the providers of missing sonames.
    pub apk_index: Vec<PathBuf>,
    /// Also list the installed packages nothing needs.
    pub unneeded: bool,
    /// Only the loader closure's owners (no declared dependencies, programs of the set's
    /// packages or run-time edges).
    pub elf_only: bool,
    /// The widest tier of run-time edges followed.
    pub tier: crate::runtime::edges::Tier,
    /// Re-resolve the set in a view of the root holding only its files (the command does by
    /// default; `--no-verify`).
    pub verify: bool,
    /// List the set's files ([`PackageSet::files`]).
    pub files: bool,
    /// Packages taken out of the computed set before it is verified and written (`--drop`):
    /// "does it still run without this one?"
    pub drop: Vec<String>,
}

impl Default for PackagesQuery {
    fn default() -> PackagesQuery {
        PackagesQuery {
            db: DbKind::Auto,
            for_pkg: None,
            paths: Vec::new(),
            apk_index: Vec::new(),
            unneeded: false,
            elf_only: false,
            tier: crate::runtime::edges::Tier::Required,
            verify: false,
            files: false,
            drop: Vec::new(),
        }
    }
}

/// Grows `set`, the loader closure's owners for objects `ids` of `view`, to the set that runs
/// them (unless `q.elf_only`), and verifies it when asked.
fn grow_set(
    set: &mut PackageSet,
    view: &dyn FsView,
    db: &pkgdb::PackageDb,
    ropts: &resolve::ResolveOptions,
    ids: &[usize],
    q: &PackagesQuery,
) -> Result<(), Error> {
    use crate::packages::runtime;
    let grown = if q.elf_only {
        // Only the programs' own sessions to verify.
        runtime::Grown {
            resolved: ids.to_vec(),
            ..runtime::Grown::default()
        }
    } else {
        let growth = runtime::Growth {
            tier: q.tier,
            declared: true,
        };
        runtime::grow(set, view, db, ropts, ids, growth)
    };
    for d in &q.drop {
        let before = set.packages.len();
        set.packages.retain(|p| p.name.as_bytes() != d.as_bytes());
        if set.packages.len() == before {
            return Err(Error(format!(
                "--drop {d}: the set has no package of that name (run without --drop to see the \
                 set)"
            )));
        }
    }
    if q.verify {
        set.verify = Some(runtime::verify(set, view, db, ropts, ids, &grown));
    }
    if !q.elf_only {
        set.runtime = Some(grown);
    }
    if q.files {
        set.files = Some(crate::packages::files_of(set, db));
    }
    set.totals = crate::packages::Totals::of(set, db);
    Ok(())
}

/// The minimal package set of a resolved report, with the warnings met on the way (records of
/// the database or an index that were skipped); `root` is the root as the user named it.
pub fn packages(
    report: &Report,
    q: &PackagesQuery,
    root: &Path,
    ropts: &resolve::ResolveOptions,
) -> Result<(PackageSet, Vec<String>), Error> {
    let inv = &report.inventory;
    let mut warnings = Vec::new();
    let db = pkgdb::detect(&inv.rootfs, &inv.tree, q.db).ok_or_else(|| no_database(root))?;
    warnings.extend(db_warnings(&db));
    let Some(resolved) = report.resolved() else {
        return Err(Error(
            "packages needs the resolution (run with resolve)".into(),
        ));
    };
    let mut targets: Vec<usize> = Vec::new();
    if let Some(p) = &q.for_pkg {
        let pi = db
            .packages
            .iter()
            .position(|x| x.name.as_bytes() == p.as_bytes())
            .ok_or_else(|| {
                Error(format!(
                    "package {p} is not installed in {}",
                    root.display()
                ))
            })?;
        for (i, o) in inv.objects.iter().enumerate() {
            if db.owner_index(o.path.as_bytes()) == Some(pi) {
                targets.push(i);
            }
        }
    }
    for p in &q.paths {
        targets.push(find_object(report, p, root)?);
    }
    if q.paths.is_empty() && q.for_pkg.is_none() {
        // Every loadable object.
        targets = resolved
            .iter()
            .filter(|(_, _, r)| r.loader.is_some() || r.status == Status::Static)
            .map(|(i, _, _)| i)
            .collect();
    }
    let index = read_indexes(q, &mut warnings)?;
    let mut set = crate::packages::compute(resolved, &db, &index, &targets);
    let view = resolve::Snapshot::new(&inv.rootfs, resolved.tree, resolved.objects);
    for p in &q.paths {
        if let Ok(i) = find_object(report, p, root) {
            let program = &resolved.objects[i].path;
            crate::packages::add_link_owners(&mut set, &db, &view, p, program);
        }
    }
    grow_set(&mut set, &view, &db, ropts, &targets, q)?;
    if q.unneeded {
        set.unneeded = Some(crate::packages::unneeded(
            resolved.objects,
            resolved.tree,
            &db,
            &set,
        ));
    }
    Ok((set, warnings))
}

fn no_database(root: &Path) -> Error {
    Error(format!(
        "{} has no package database (looked for lib/apk/db/installed, var/lib/dpkg/status and var/lib/rpm/rpmdb.sqlite)",
        root.display()
    ))
}

/// The database's warnings (records it skipped), as `packages` says them.
fn db_warnings(db: &pkgdb::PackageDb) -> Vec<String> {
    db.warnings
        .iter()
        .map(|w| format!("{} database: {}", db.kind, escape_controls(w)))
        .collect()
}

/// The packages of the `--apk-index` files, their skipped records added to `warnings`.
fn read_indexes(
    q: &PackagesQuery,
    warnings: &mut Vec<String>,
) -> Result<Vec<pkgdb::Package>, Error> {
    let mut index = Vec::new();
    for f in &q.apk_index {
        let (pkgs, ws) = pkgdb::apkindex::read(f).map_err(|e| Error(e.to_string()))?;
        warnings.extend(ws.into_iter().map(|w| format!("{}: {w}", f.display())));
        index.extend(pkgs);
    }
    Ok(index)
}

/// Judges build artifacts (files, or directories searched for ELF files) by `policy`. Finding no
/// ELF file at all is an error: a gate that passed on nothing would pass a build that lost its
/// binaries.
pub fn check_files(
    paths: &[PathBuf],
    policy: &Policy,
    limits: &crate::elf::Limits,
) -> Result<FilesReport, Error> {
    let (artifacts, errors) =
        check::analyze_files(paths, limits).map_err(|e| Error(e.to_string()))?;
    let shown_paths = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    // A file named on the command line that is not ELF is not an unreadable file: it is
    // skipped, and said so.
    let (skipped, errors): (Vec<_>, Vec<_>) = errors
        .into_iter()
        .partition(|e| e.code == ErrorCode::NotElf);
    if artifacts.is_empty() {
        let listed = |es: &[crate::error::PathError]| {
            let mut v: Vec<String> = es
                .iter()
                .take(10)
                .map(|e| {
                    format!(
                        "{}: {} ({})",
                        e.path.display_escaped(),
                        escape_controls(&e.message),
                        e.code
                    )
                })
                .collect();
            if es.len() > 10 {
                v.push(format!("and {} more", es.len() - 10));
            }
            v.join("; ")
        };
        let why = if !errors.is_empty() {
            format!(
                "no ELF file could be read from {shown_paths}: {}",
                listed(&errors)
            )
        } else if !skipped.is_empty() {
            let names: Vec<String> = skipped.iter().map(|e| e.path.display_escaped()).collect();
            let (verb, what) = if names.len() == 1 {
                ("is", "an ELF file")
            } else {
                ("are", "ELF files")
            };
            format!(
                "found no ELF file: {} {verb} not {what} (no ELF magic); check --files judges \
                 ELF programs and libraries",
                names.join(", ")
            )
        } else {
            format!(
                "found no ELF file in {shown_paths}: nothing to judge, and a gate that passes on \
                 nothing would pass a build that lost its binaries; give the build's programs \
                 and libraries, or the directories that hold them"
            )
        };
        return Err(Error(why));
    }
    let items: Vec<_> = artifacts
        .iter()
        .map(|a| (a.path.clone(), &a.libc))
        .collect();
    let mut findings = check::policy_findings(&items, policy, |i, v| {
        check::artifact_symbols(&artifacts[i].path, v, limits)
    });
    let gate = policy.judge(&mut findings);
    Ok(FilesReport {
        artifacts,
        findings,
        gate,
        errors,
        skipped,
    })
}

/// The `tree` report of the object at `given` (a path inside the root); `root` is the root as
/// the user named it.
pub fn tree(report: &Report, given: &str, root: &Path) -> Result<TreeReport, Error> {
    let i = find_object(report, given, root)?;
    let resolved = report.resolved().ok_or_else(no_resolution)?;
    let mut t = TreeReport::build(resolved, i);
    let inv = &report.inventory;
    let view = Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
    let ropts = resolve::ResolveOptions {
        cpu: report.cpu.clone().unwrap_or_default(),
        hwcaps: None,
        failed_edges_only: false,
        env: report.loader_env.clone().unwrap_or_default(),
    };
    t.runtime = crate::runtime::edges::session_edges(&view, i, &resolved.resolutions[i], &ropts);
    env_note(&mut t, &ropts.env);
    Ok(t)
}

/// A tree started with a loader environment says so first: the listing depends on it.
fn env_note(tree: &mut TreeReport, env: &resolve::runenv::LoaderEnv) {
    if !env.is_unset() {
        tree.notes
            .insert(0, format!("loader environment: {}", env.describe()));
    }
}

/// The `why` report of `library` (a soname, needed name or path inside the root).
pub fn why(report: &Report, library: &str) -> Result<WhyReport, Error> {
    let resolved = report.resolved().ok_or_else(no_resolution)?;
    Ok(WhyReport::build(
        resolved,
        report.runtime.as_deref(),
        library.as_bytes(),
    ))
}

fn no_resolution() -> Error {
    Error("this needs the resolution: run the pipeline with `resolve` set".into())
}

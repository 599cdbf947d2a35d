//! Ground truth for the differential loader tests: what the REAL dynamic loader of a root file
//! system loads for each of its ELF files, asked of that loader itself, run inside the root.
//!
//! Include it with `#[path = "ground_truth/mod.rs"] mod ground_truth;` (or `mod ground_truth;` from
//! a test file in `tests/`). It depends on nothing else in `tests/` (std, libc, serde, serde_json).
//!
//! # How the loader is asked
//!
//! * glibc ([`glibc_truth`]): per file, `chroot ROOT`, then exec the root's `ld.so FILE` with the
//!   environment reduced to `LD_TRACE_LOADED_OBJECTS=1`. That is exactly the command `ldd` (a bash
//!   script in the root, from libc-bin) runs for each file after its `--version` and `--verify`
//!   probes (its other variables, LD_WARN, LD_BIND_NOW, LD_LIBRARY_VERSION and LD_VERBOSE, are
//!   empty, which ld.so treats as unset), minus bash and the two probe runs: about 4 ms a file
//!   instead of 10 ms.
//!   `ld.so --list FILE` is NOT equivalent: it aborts at the first missing library ("error while
//!   loading shared libraries: libjvm.so: cannot open shared object file"), where the environment
//!   variable selects trace mode, in which a missing library is reported as `=> not found` and the
//!   listing goes on. [`ldd_truth`] runs the real `ldd` for cross-checks. The ld.so is picked
//!   the way ldd's `RTLDLIST` would (by the file's ELF class and machine), and is run with cwd `/`.
//! * musl ([`musl_truth`]): `chroot ROOT /lib/ld-musl-ARCH.so.1 --list FILE`. For a foreign
//!   architecture the host's `qemu-ARCH-static` runs the loader: it is opened on the host and
//!   executed by file descriptor (`fexecve`) after the `chroot`, so neither a copy of the root nor
//!   an overlay mount nor binfmt_misc is needed, and the root is never written to.
//!
//! The chroot is done by this process itself (`pre_exec`), not by `/usr/sbin/chroot`: the host's
//! chroot binary is dynamically linked, and `LD_TRACE_LOADED_OBJECTS` in its environment would make
//! the HOST's ld.so trace `chroot` itself instead of running it.
//!
//! # Output formats (glibc 2.36, Debian bookworm; musl 1.2.5, Alpine 3.20)
//!
//! glibc, on stdout, one object a line in load order (the main file itself is never listed):
//! ```text
//! \tlinux-vdso.so.1 (0x00007ffd...)                               the vdso: ignored
//! \tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x...)    needed name => path it opened
//! \t/lib64/ld-linux-x86-64.so.2 (0x...)                           name == path (the ld.so, or a
//!                                                                 DT_NEEDED that is a path)
//! \tlibjvm.so => not found                                        once per object needing it
//! \tstatically linked                                             no DT_NEEDED in the file; exit 0
//! ```
//! `statically linked` is glibc's test `! main_map->l_info[DT_NEEDED]`, so it is printed (and
//! nothing else, not even preloaded objects) for static programs, static-pie (ldconfig), ld.so
//! itself, and every shared library without DT_NEEDED: 49 of the Debian root's 1327 ELF files,
//! mostly plugins (PostgreSQL's encoding conversions, Python extension modules) and libicudata.
//! The list is printed after loading and version checks, so it is complete or absent.
//! and on stderr (`FILE: ` is the file as passed, glibc's `_dl_argv[0]` in explicit invocation):
//! ```text
//! FILE: OBJ: version `GLIBC_2.38' not found (required by REQ)     exit still 0 in trace mode
//! FILE: OBJ: weak version `V' not found (required by REQ)         non-fatal
//! FILE: OBJ: no version information available (required by REQ)  non-fatal
//! FILE: error while loading shared libraries: OBJ: MSG            fatal, exit 127 (e.g. not ELF)
//! ```
//! (`ldd` merges both streams and turns a non-ELF file into `\tnot a dynamic executable`, exit 1.)
//!
//! musl, on stdout: first the loader line `\t/lib/ld-musl-x86_64.so.1 (0x7f...)` (the file's
//! PT_INTERP string, or the loader's own path), then `\tNAME => PATH (0x...)` once per object;
//! libc's reserved names (libc, libm, libpthread, ...) print as `NAME => <the loader line's path>`.
//! On stderr, relocations are processed too, so (exit 127 at the end if any):
//! ```text
//! Error loading shared library libfoo.so.1: No such file or directory (needed by /usr/bin/x)
//! Error relocating /usr/bin/x: sym: symbol not found
//! /lib/ld-musl-x86_64.so.1: /etc/passwd: Not a valid dynamic program   fatal, exit 1
//! /lib/ld-musl-x86_64.so.1: cannot load /x: No such file or directory  fatal, exit 1
//! ```
//!
//! # Paths
//!
//! All path and name strings (arguments and results) are in-root and use the escaping of
//! docs/json.md: valid UTF-8 as is, any other byte as `\xNN`, a backslash as `\\`. Printed paths
//! are canonicalised by a root-confined resolver (absolute symlink targets restart at ROOT, `..`
//! stops at ROOT, relative paths start at `/`, the loader's cwd), so
//! `/lib/x86_64-linux-gnu/libc.so.6` (via the `/lib -> usr/lib` link) becomes
//! `/usr/lib/x86_64-linux-gnu/libc.so.6`.
//!
//! Pass canonical file paths (as scanelf or [`elf_files`] list them): in explicit invocation both
//! loaders compute the main file's `$ORIGIN` from the path as given, without resolving symlinks,
//! where a program started by the kernel gets it from `/proc/self/exe`, which is resolved.
//!
//! # What "loaded" means here
//!
//! The file is loaded as the main object: an executable as when run, a shared library as the
//! first object of a process (so `$ORIGIN`/RPATH of whatever would really load it do not apply,
//! and nothing is preloaded: e.g. the JDK's `libawt.so` needs `libjvm.so`, which only `java`
//! itself finds via `lib/server/`; alone it is `not found`). glibc's choice among
//! `glibc-hwcaps/x86-64-v{2,3,4}` subdirectories depends on THIS machine's CPU (part of the cache
//! key). `/etc/ld.so.preload` of the root applies (its objects are listed like others, except for
//! a file printed as `statically linked`).
//!
//! # Speed and caching
//!
//! Files run on a few worker threads (`ELFDEPS_TRUTH_JOBS`, default CPUs + 1, from 2 to 8), each
//! run killed with its process group after `ELFDEPS_TRUTH_TIMEOUT_SECS` (default 20; then
//! `timed_out` is set). Results are cached as JSON in `$ELFDEPS_TEST_CACHE/truth/` (default
//! `~/.cache/elfdeps-tests/truth/`), see [`cache`] for the key; `ELFDEPS_TRUTH_NO_CACHE=1` bypasses
//! it, and [`Options`] sets all three per call. Measured on 2 CPUs: the 1327 ELF files of the
//! Debian root in 1.8 to 2.5 s, an Alpine root's 17 in 0.05 s natively and 0.35 s under qemu;
//! from the cache, 0.06 s.
//!
//! Not every test uses every item, hence the blanket `dead_code` allowance.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{CString, OsStr};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Bumped whenever parsing or the way the loader is run changes, so old cache entries are ignored.
const FORMAT_VERSION: u32 = 1;

/// Default per-file time limit.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The real loader's verdict on one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// Canonical in-root paths of every object the loader loaded for this file, excluding the file
    /// itself, the dynamic loader (interpreter) file and the vdso (`linux-vdso.so.1`). Includes
    /// objects from the root's `/etc/ld.so.preload`, if any. Empty when `fatal` or
    /// `statically_linked`.
    pub closure: BTreeSet<String>,
    /// Needed names the loader could not load: glibc `NAME => not found` (also when only files of
    /// the wrong class/machine exist), musl `Error loading shared library NAME: ...` (whatever the
    /// error; one that is not "No such file or directory" is also copied to `warnings`).
    pub missing: BTreeSet<String>,
    /// `(object as printed, version, required_by as printed)` from glibc's
    /// `OBJ: version `V' not found (required by REQ)`. OBJ is the path the loader opened (e.g.
    /// `/lib/x86_64-linux-gnu/libc.so.6`), REQ the needing object's path (the file as passed when
    /// it is the main file). Never set for musl, which has no symbol versioning.
    pub version_errors: BTreeSet<(String, String, String)>,
    /// Lines the loader printed that fit no known form, raw (kept for diagnostics). Also notes
    /// from this module (a printed path that would not resolve, a timeout, a signal).
    pub other: Vec<String>,
    /// The loader's exit status (None when killed by a signal). glibc: 0 for a listing, even with
    /// `not found` or version errors (ldd would exit 0 too); 127 for a fatal error (where ldd
    /// exits 1). musl: 0; 127 after `Error loading`/`Error relocating`; 1 for a fatal error.
    pub status: Option<i32>,
    /// Every found object by the name it was needed as (as printed) -> its canonical path,
    /// including the interpreter (e.g. `ld-linux-x86-64.so.2`, musl's `libc.musl-x86_64.so.1`)
    /// and objects needed by path (name == printed path). A name bound to two different paths
    /// (which a loader should never print) keeps the first and is noted in `other`.
    pub resolved: BTreeMap<String, String>,
    /// glibc printed `statically linked`: the file has no DT_NEEDED at all (a static program or
    /// static-pie, ld.so itself, but also any shared library without DT_NEEDED), and nothing was
    /// listed. musl has no such line (it prints its loader line only).
    pub statically_linked: bool,
    /// The loader gave up: glibc's text after `error while loading shared libraries: `, or musl's
    /// `cannot load ...` / `... Not a valid dynamic program` line.
    pub fatal: Option<String>,
    /// musl: `(object as printed, symbol)` from `Error relocating OBJ: SYM: symbol not found`
    /// (musl resolves symbols in --list mode; glibc's trace mode does not).
    pub undefined_symbols: BTreeSet<(String, String)>,
    /// Recognised non-fatal diagnostics, raw: glibc `no version information available` and
    /// `weak version ... not found`; musl `Error loading shared library` with another error than
    /// ENOENT; the file itself listed among the loaded objects.
    pub warnings: Vec<String>,
    /// The run was killed after the time limit (`other` says so too).
    pub timed_out: bool,
}

// ---------------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------------

/// The glibc loader's verdict for each of `files` (in-root absolute paths) in `root`, keyed by the
/// paths as given. Panics when it cannot run at all (not root, no ld.so in the root); tests that
/// must skip instead call [`try_glibc_truth`].
pub fn glibc_truth(root: &Path, files: &[String]) -> BTreeMap<String, Truth> {
    try_glibc_truth(root, files).unwrap_or_else(|e| panic!("glibc ground truth: {e}"))
}

/// The musl loader's verdict for each of `files` in `root`, whose loader is
/// `/lib/ld-musl-ARCH.so.1` (`arch`: `x86_64`, `aarch64`, `s390x`, ...; a foreign one runs under
/// `qemu-ARCH-static`, installed with apt-get when missing and we are root). Panics when it
/// cannot run; see [`try_musl_truth`].
pub fn musl_truth(root: &Path, arch: &str, files: &[String]) -> BTreeMap<String, Truth> {
    try_musl_truth(root, arch, files).unwrap_or_else(|e| panic!("musl ground truth: {e}"))
}

/// [`glibc_truth`], or why it cannot run here (for a loud skip).
pub fn try_glibc_truth(root: &Path, files: &[String]) -> Result<BTreeMap<String, Truth>, String> {
    try_glibc_truth_with(root, files, &Options::default())
}

/// [`musl_truth`], or why it cannot run here (for a loud skip).
pub fn try_musl_truth(
    root: &Path,
    arch: &str,
    files: &[String],
) -> Result<BTreeMap<String, Truth>, String> {
    try_musl_truth_with(root, arch, files, &Options::default())
}

/// [`try_glibc_truth`] with explicit [`Options`].
pub fn try_glibc_truth_with(
    root: &Path,
    files: &[String],
    options: &Options,
) -> Result<BTreeMap<String, Truth>, String> {
    let ctx = Context::glibc(root, options)?;
    Ok(compute(&ctx, files))
}

/// [`try_musl_truth`] with explicit [`Options`].
pub fn try_musl_truth_with(
    root: &Path,
    arch: &str,
    files: &[String],
    options: &Options,
) -> Result<BTreeMap<String, Truth>, String> {
    let ctx = Context::musl(root, arch, options)?;
    Ok(compute(&ctx, files))
}

/// How a run goes. `Options::default()` reads the environment: `ELFDEPS_TRUTH_NO_CACHE=1`,
/// `ELFDEPS_TRUTH_TIMEOUT_SECS` (default 20), `ELFDEPS_TRUTH_JOBS` (default CPUs + 1, 2 to 8).
#[derive(Debug, Clone)]
pub struct Options {
    /// Read and write the on-disk cache (see [`cache`]). Turn it off for throw-away roots (a
    /// tempdir), whose entries could never be hit again and would only litter the cache.
    pub cache: bool,
    /// Where the cache files go ([`cache::default_dir`] by default).
    pub cache_dir: PathBuf,
    /// Per-file time limit; a run past it is killed (with anything it started) and `timed_out`.
    pub timeout: Duration,
    /// Loader runs at a time.
    pub jobs: usize,
    /// glibc: the CPU the loader runs on. The default is this machine's; a [`GlibcCpu`] can take
    /// features away (`GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2`) or emulate another CPU
    /// (`qemu-x86_64-static -cpu Haswell`). Part of the cache key.
    pub glibc_cpu: GlibcCpu,
    /// Variables added to the loader's environment (`NAME=value`, e.g. `LD_LIBRARY_PATH=...`),
    /// as a program started with them would see them. Part of the cache key.
    pub loader_env: Vec<Vec<u8>>,
    /// The loader's working directory inside the root (default `/`). Part of the cache key.
    pub cwd: Vec<u8>,
}

/// The CPU glibc's loader runs on, for [`Options::glibc_cpu`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlibcCpu {
    /// `GLIBC_TUNABLES` for the loader (e.g. `glibc.cpu.hwcaps=-AVX2`), if any.
    pub tunables: Option<String>,
    /// A CPU model for `qemu-x86_64-static -cpu` (e.g. `Haswell`, `qemu64`): the x86-64 loader
    /// then runs under qemu-user on that emulated CPU.
    pub emulate: Option<String>,
}

impl GlibcCpu {
    /// How it shows in messages.
    pub fn label(&self) -> String {
        match (&self.tunables, &self.emulate) {
            (None, None) => "this machine's CPU".into(),
            (Some(t), None) => format!("this machine's CPU with GLIBC_TUNABLES={t}"),
            (None, Some(c)) => format!("qemu-x86_64-static -cpu {c}"),
            (Some(t), Some(c)) => format!("qemu-x86_64-static -cpu {c}, GLIBC_TUNABLES={t}"),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Options {
            cache: env("ELFDEPS_TRUTH_NO_CACHE").is_none_or(|v| v == "0"),
            cache_dir: cache::default_dir(),
            timeout: env("ELFDEPS_TRUTH_TIMEOUT_SECS")
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            jobs: env("ELFDEPS_TRUTH_JOBS")
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| {
                    // The runs are short and spend much of their time in exec and mmap, so one
                    // worker more than there are CPUs keeps the CPUs busy.
                    std::thread::available_parallelism()
                        .map_or(2, |n| n.get() + 1)
                        .clamp(2, 8)
                }),
            glibc_cpu: GlibcCpu::default(),
            loader_env: Vec::new(),
            cwd: b"/".to_vec(),
        }
    }
}

/// The real `ldd` script of the root on one file (`chroot ROOT /usr/bin/ldd FILE`, stdout and
/// stderr merged by ldd itself), parsed like [`glibc_truth`]'s output. Slower (bash plus three
/// ld.so runs); for cross-checking that the direct ld.so run is what ldd does. Never cached.
pub fn ldd_truth(root: &Path, file: &str) -> Result<Truth, String> {
    let ctx = Context::glibc(root, &Options::default())?;
    let loader = ctx.loader_for(file);
    let ldd = Exec {
        target: Target::InRoot(cstring(b"/usr/bin/ldd")),
        argv_prefix: vec![b"/usr/bin/ldd".to_vec()],
        // Debian's ldd uses only bash builtins and ld.so by absolute path; a PATH still guards
        // against ldd versions that call an external tool.
        env: vec![b"PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_vec()],
    };
    let raw = run(
        &ctx.root,
        &ldd,
        &unescape_name(file),
        ctx.options.timeout,
        &ctx.options.cwd,
    )
    .map_err(|e| format!("running ldd {file}: {e}"))?;
    let mut resolver = Resolver::new(&ctx.root);
    resolver.cwd = ctx.options.cwd.clone();
    Ok(parse_output(
        Flavor::Glibc,
        file,
        &loader.interp,
        &raw,
        &mut resolver,
    ))
}

/// Every ELF file under `root` (regular files starting with `\x7fELF`, symlinks not followed,
/// mount points inside the root not entered), as sorted escaped in-root paths. What scanelf -Rm
/// lists, without needing scanelf.
pub fn elf_files(root: &Path) -> Vec<String> {
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", root.display()));
    let dev = std::fs::metadata(&root).map(|m| m.dev()).unwrap_or(0);
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), Vec::<u8>::new())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let mut child_rel = rel.clone();
            child_rel.push(b'/');
            child_rel.extend_from_slice(name.as_bytes());
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                if meta.dev() == dev {
                    stack.push((entry.path(), child_rel));
                }
            } else if meta.is_file() && has_elf_magic(&entry.path()) {
                out.push(escape_name(&child_rel));
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Context: which loader, how to start it
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Glibc,
    Musl,
}

/// How to start a loader in the root.
struct Exec {
    target: Target,
    /// argv before the file: `[ld.so]`, `[ld-musl, --list]`, `[qemu, ld-musl, --list]`.
    argv_prefix: Vec<Vec<u8>>,
    /// The whole environment (`NAME=value`).
    env: Vec<Vec<u8>>,
}

enum Target {
    /// A program path inside the root, exec'd after the chroot.
    InRoot(CString),
    /// A host file (qemu-user-static), opened before and exec'd by descriptor after the chroot.
    HostFd(OwnedFd),
}

/// One loader of the root: how to run it and its canonical in-root path (excluded from closures).
struct Loader {
    exec: Exec,
    interp: String,
}

struct Context {
    flavor: Flavor,
    /// Canonical host path of the root.
    root: PathBuf,
    /// glibc: ld.so by in-root path (ldd's RTLDLIST entries present in the root); musl: one.
    loaders: BTreeMap<&'static str, Loader>,
    /// The key of `loaders` used when the file's header names none of them.
    default: &'static str,
    /// Extra cache-key material: the loader programs, qemu, the CPU.
    key_extra: String,
    options: Options,
    label: String,
}

/// ldd's RTLDLIST on x86 (Debian's ldd for amd64): in-root path, ELF class, e_machine.
const GLIBC_RTLDS: &[(&str, u8, u16)] = &[
    ("/lib/ld-linux.so.2", 1, 3),           // i386
    ("/lib64/ld-linux-x86-64.so.2", 2, 62), // x86-64
    ("/libx32/ld-linux-x32.so.2", 1, 62),   // x32
    ("/lib/ld-linux-aarch64.so.1", 2, 183), // native aarch64 hosts only
];

impl Context {
    fn common(root: &Path) -> Result<PathBuf, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 {
            return Err(format!("chroot needs uid 0 and this runs as uid {euid}"));
        }
        root.canonicalize()
            .map_err(|e| format!("root {}: {e}", root.display()))
    }

    fn glibc(root: &Path, options: &Options) -> Result<Self, String> {
        let root = Self::common(root)?;
        let mut loaders = BTreeMap::new();
        let mut key_extra = String::new();
        let mut default = None;
        for &(path, _, machine) in GLIBC_RTLDS {
            // A loader of another machine cannot run natively (and ldd would skip it too).
            if !host_elf_machines().contains(&machine) {
                continue;
            }
            let Ok(interp) = resolve_in_root(&root, path.as_bytes()) else {
                continue;
            };
            writeln!(
                key_extra,
                "rtld {path} -> {interp} {}",
                stamp(&root, &interp)
            )
            .unwrap();
            // Only the x86-64 loader is run under qemu-x86_64 when a CPU is emulated.
            let cpu = if machine == 62 {
                options.glibc_cpu.clone()
            } else {
                GlibcCpu {
                    emulate: None,
                    ..options.glibc_cpu.clone()
                }
            };
            let exec = glibc_exec(path, &cpu, b"LD_TRACE_LOADED_OBJECTS=1")?;
            loaders.insert(path, Loader { exec, interp });
            // The fallback for files no loader claims: the host's own kind, like ldd's x86-64.
            if host_elf_machines().first() == Some(&machine) && default.is_none() {
                default = Some(path);
            }
        }
        if loaders.is_empty() {
            return Err(format!(
                "no glibc dynamic loader for this machine in {} (looked for {})",
                root.display(),
                GLIBC_RTLDS
                    .iter()
                    .map(|r| r.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // The configuration, and glibc's built-in directories (Debian's multiarch ones first).
        for conf in [
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/ld.so.preload",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib/i386-linux-gnu",
            "/usr/lib/i386-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ] {
            writeln!(key_extra, "{conf} {}", stamp(&root, conf)).unwrap();
        }
        writeln!(key_extra, "cpu {}", cpu_fingerprint()).unwrap();
        writeln!(key_extra, "glibc cpu {:?}", options.glibc_cpu).unwrap();
        let label = format!("glibc {} on {}", root.display(), options.glibc_cpu.label());
        with_loader_env(&mut loaders, &mut key_extra, options);
        Ok(Context {
            flavor: Flavor::Glibc,
            root,
            default: default.unwrap_or_else(|| loaders.keys().next().expect("a loader")),
            loaders,
            key_extra,
            options: options.clone(),
            label,
        })
    }

    fn musl(root: &Path, arch: &str, options: &Options) -> Result<Self, String> {
        if arch.is_empty() || !arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("bad musl arch {arch:?}"));
        }
        let root = Self::common(root)?;
        let ldso = format!("/lib/ld-musl-{arch}.so.1");
        let interp = resolve_in_root(&root, ldso.as_bytes())
            .map_err(|e| format!("{ldso} in {}: {e}", root.display()))?;
        let mut key_extra = format!("ldso {ldso} -> {interp} {}\n", stamp(&root, &interp));
        // The configuration, and musl's default path.
        let path_file = format!("/etc/ld-musl-{arch}.path");
        for conf in [path_file.as_str(), "/lib", "/usr/local/lib", "/usr/lib"] {
            writeln!(key_extra, "{conf} {}", stamp(&root, conf)).unwrap();
        }
        let list = [ldso.as_bytes().to_vec(), b"--list".to_vec()];
        let exec = if runs_natively(arch) {
            Exec {
                target: Target::InRoot(cstring(ldso.as_bytes())),
                argv_prefix: list.to_vec(),
                env: Vec::new(),
            }
        } else {
            let qemu = qemu_for(qemu_arch(arch))?;
            let meta = std::fs::metadata(&qemu).map_err(|e| format!("{}: {e}", qemu.display()))?;
            writeln!(
                key_extra,
                "qemu {} {} {}",
                qemu.display(),
                meta.len(),
                meta.mtime()
            )
            .unwrap();
            let file =
                std::fs::File::open(&qemu).map_err(|e| format!("{}: {e}", qemu.display()))?;
            let mut argv = vec![b"qemu-user-static".to_vec()];
            argv.extend(list);
            Exec {
                target: Target::HostFd(OwnedFd::from(file)),
                argv_prefix: argv,
                env: Vec::new(),
            }
        };
        let mut loaders = BTreeMap::new();
        loaders.insert("musl", Loader { exec, interp });
        let label = format!("musl-{arch} {}", root.display());
        with_loader_env(&mut loaders, &mut key_extra, options);
        Ok(Context {
            flavor: Flavor::Musl,
            root,
            default: "musl",
            loaders,
            key_extra,
            options: options.clone(),
            label,
        })
    }

    /// The loader that runs `file`: glibc picks the RTLDLIST entry for the file's ELF class and
    /// machine (what ldd's `--verify` probe amounts to), else the first one present, whose error
    /// message then tells what is wrong with the file.
    fn loader_for(&self, file: &str) -> &Loader {
        if self.flavor == Flavor::Glibc {
            let host = host_path(&self.root, file);
            if let Some((class, machine)) = elf_class_machine(&host) {
                for &(path, c, m) in GLIBC_RTLDS {
                    if (c, m) == (class, machine)
                        && let Some(loader) = self.loaders.get(path)
                    {
                        return loader;
                    }
                }
            }
        }
        &self.loaders[self.default]
    }
}

/// `options.loader_env` and `options.cwd` added to every loader's run (and to the cache key).
fn with_loader_env(
    loaders: &mut BTreeMap<&'static str, Loader>,
    key_extra: &mut String,
    options: &Options,
) {
    for l in loaders.values_mut() {
        l.exec.env.extend(options.loader_env.iter().cloned());
    }
    // Only when set: the keys of the runs without (every cached root's) stay as they were.
    if !options.loader_env.is_empty() || options.cwd != b"/" {
        writeln!(
            key_extra,
            "loader env {:?} cwd {:?}",
            options.loader_env, options.cwd
        )
        .unwrap();
    }
}

/// How to run the glibc loader at in-root `path` on `cpu`, with one environment variable.
fn glibc_exec(path: &str, cpu: &GlibcCpu, var: &[u8]) -> Result<Exec, String> {
    let mut env = vec![var.to_vec()];
    if let Some(t) = &cpu.tunables {
        env.push(format!("GLIBC_TUNABLES={t}").into_bytes());
    }
    Ok(match &cpu.emulate {
        None => Exec {
            target: Target::InRoot(cstring(path.as_bytes())),
            argv_prefix: vec![path.as_bytes().to_vec()],
            env,
        },
        Some(model) => {
            let qemu = qemu_for("x86_64")?;
            let file =
                std::fs::File::open(&qemu).map_err(|e| format!("{}: {e}", qemu.display()))?;
            Exec {
                target: Target::HostFd(OwnedFd::from(file)),
                argv_prefix: vec![
                    b"qemu-user-static".to_vec(),
                    b"-cpu".to_vec(),
                    model.as_bytes().to_vec(),
                    path.as_bytes().to_vec(),
                ],
                env,
            }
        }
    })
}

/// What the root's x86-64 glibc loader says of the CPU it runs on (`ld.so --help`, glibc 2.33 and
/// later): the glibc-hwcaps subdirectories and legacy hwcap names it searches, and the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderCpuListing {
    /// `$PLATFORM` (the `AT_PLATFORM` line), if any.
    pub platform: Option<String>,
    /// glibc-hwcaps subdirectories marked `supported, searched`, best first.
    pub hwcaps: Vec<String>,
    /// Legacy hwcap names (not the platform, not `tls`) marked `searched`.
    pub legacy: Vec<String>,
}

/// Runs `ld.so --help` of the root's x86-64 loader in the root on `cpu`, and reads the CPU
/// sections. An error when the loader does not list them (glibc before 2.33).
pub fn glibc_cpu_listing(root: &Path, cpu: &GlibcCpu) -> Result<LoaderCpuListing, String> {
    let root = Context::common(root)?;
    let path = "/lib64/ld-linux-x86-64.so.2";
    let exec = glibc_exec(path, cpu, b"LC_ALL=C")?;
    let raw = run(&root, &exec, b"--help", DEFAULT_TIMEOUT, b"/")
        .map_err(|e| format!("{path} --help in {}: {e}", root.display()))?;
    let text = String::from_utf8_lossy(&raw.stdout);
    let mut listing = LoaderCpuListing {
        platform: None,
        hwcaps: Vec::new(),
        legacy: Vec::new(),
    };
    let mut section = 0;
    let mut saw = [false; 2];
    for line in text.lines() {
        if line.starts_with("Subdirectories of glibc-hwcaps") {
            section = 1;
            saw[0] = true;
            continue;
        }
        if line.starts_with("Legacy HWCAP subdirectories") {
            section = 2;
            saw[1] = true;
            continue;
        }
        let Some(item) = line.strip_prefix("  ") else {
            section = 0;
            continue;
        };
        let name = item.split_whitespace().next().unwrap_or("").to_string();
        match section {
            1 if item.contains("(supported, searched)") => listing.hwcaps.push(name),
            2 if item.contains("AT_PLATFORM") => listing.platform = Some(name),
            2 if name != "tls" && item.contains("searched") => listing.legacy.push(name),
            _ => {}
        }
    }
    if saw != [true, true] {
        return Err(format!(
            "{path} --help in {} on {} does not list its glibc-hwcaps and legacy \
             subdirectories (glibc before 2.33?); exit {:?}, output:\n{text}",
            root.display(),
            cpu.label(),
            raw.status
        ));
    }
    Ok(listing)
}

/// The e_machine values this host runs natively, its own first.
fn host_elf_machines() -> &'static [u16] {
    match std::env::consts::ARCH {
        "x86_64" => &[62, 3],
        "x86" => &[3],
        "aarch64" => &[183],
        _ => &[],
    }
}

/// Whether this host runs a musl `arch` (the ARCH of `ld-musl-ARCH.so.1`) without qemu.
fn runs_natively(arch: &str) -> bool {
    let host = std::env::consts::ARCH;
    arch == host || (host == "x86_64" && arch == "i386")
}

/// qemu's name for a musl ARCH where they differ (32-bit ARM); the same name otherwise
/// (aarch64, s390x, ppc64le, riscv64, i386, mips64, ...).
fn qemu_arch(musl_arch: &str) -> &str {
    match musl_arch {
        "armhf" | "armv7" => "arm",
        other => other,
    }
}

/// The host's `qemu-ARCH-static`, installed (apt-get install qemu-user-static) when missing and we
/// may. A static build is required: the dynamic `qemu-ARCH` would need the host's libraries
/// inside the root.
fn qemu_for(arch: &str) -> Result<PathBuf, String> {
    let name = format!("qemu-{arch}-static");
    let find = || {
        ["/usr/bin", "/usr/local/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(&name))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    // One install attempt per test process, even with tests running in parallel.
    static INSTALL: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = find() {
        return Ok(p);
    }
    let result = guard.get_or_insert_with(install_qemu).clone();
    drop(guard);
    result?;
    find().ok_or_else(|| format!("{name} is still missing after installing qemu-user-static"))
}

fn install_qemu() -> Result<(), String> {
    let hint = "apt-get install qemu-user-static";
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "qemu-user-static is missing and there is no apt-get ({hint})"
        ));
    }
    loud("ground truth: installing qemu-user-static (apt-get) to run foreign-arch loaders");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get: {e}"))
    };
    let mut out = apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "qemu-user-static",
    ])?;
    if !out.status.success() {
        // A fresh container may have no package lists yet.
        let _ = apt(&["update", "-qq"]);
        out = apt(&[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "qemu-user-static",
        ])?;
    }
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{hint} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The CPU feature flags, which decide glibc's glibc-hwcaps subdirectory choice.
fn cpu_fingerprint() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))
        .unwrap_or("");
    format!(
        "{} {:016x}",
        std::env::consts::ARCH,
        fnv1a64(flags.as_bytes(), 0)
    )
}

// ---------------------------------------------------------------------------------------------
// Running all files (parallel, cached)
// ---------------------------------------------------------------------------------------------

fn compute(ctx: &Context, files: &[String]) -> BTreeMap<String, Truth> {
    let started = Instant::now();
    let unique: BTreeSet<&String> = files.iter().collect();
    let files: Vec<&String> = unique.into_iter().collect();
    let material = cache::key_material(ctx, &files);
    if let Some(hit) = cache::load(ctx, &material) {
        loud(&format!(
            "ground truth ({}): {} files from the cache in {:.2?}",
            ctx.label,
            hit.len(),
            started.elapsed()
        ));
        return hit;
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, Truth>> = Mutex::new(BTreeMap::new());
    let jobs = ctx.options.jobs.min(files.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                // Each worker keeps its own resolver cache: the same few libraries recur.
                let mut resolver = Resolver::new(&ctx.root);
                resolver.cwd = ctx.options.cwd.clone();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let truth = truth_for(ctx, file, &mut resolver);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert((*file).clone(), truth);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    loud(&format!(
        "ground truth ({}): ran the loader on {} files in {:.2?} ({jobs} workers)",
        ctx.label,
        results.len(),
        started.elapsed()
    ));
    // A time-out or a signal may be the machine's load, not the loader's answer: not cached.
    let flaky = results
        .values()
        .filter(|t| t.timed_out || t.status.is_none())
        .count();
    if flaky == 0 {
        cache::store(ctx, &material, &results);
    } else {
        loud(&format!(
            "ground truth ({}): not cached: {flaky} runs timed out, died of a signal or did not \
             start",
            ctx.label
        ));
    }
    results
}

fn truth_for(ctx: &Context, file: &str, resolver: &mut Resolver) -> Truth {
    let loader = ctx.loader_for(file);
    // ETXTBSY: a file just written (a test's stand-in loader) can still be open for writing in a
    // child another thread of this process forked and has not exec'd yet; that passes in
    // moments, so the exec is tried again.
    let mut attempt = 0;
    let outcome = loop {
        let r = run(
            &ctx.root,
            &loader.exec,
            &unescape_name(file),
            ctx.options.timeout,
            &ctx.options.cwd,
        );
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            r => break r,
        }
    };
    match outcome {
        Ok(raw) => parse_output(ctx.flavor, file, &loader.interp, &raw, resolver),
        Err(e) => Truth {
            other: vec![format!("ground truth: could not run the loader: {e}")],
            ..Truth::default()
        },
    }
}

/// What one loader run printed.
struct Raw {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
}

/// Everything the forked child needs, prepared before the fork: after fork in a multi-threaded
/// process only async-signal-safe calls are allowed, so no allocation happens in the child.
struct Prepared {
    root: CString,
    cwd: CString,
    target: PreparedTarget,
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

enum PreparedTarget {
    Path(CString),
    Fd(RawFd),
}

// SAFETY: the raw pointers point into `_strings`, which the struct owns and never mutates; they
// are only read, in the child.
unsafe impl Send for Prepared {}
// SAFETY: as above, nothing is mutated through the pointers.
unsafe impl Sync for Prepared {}

impl Prepared {
    /// Runs in the child: chroot, chdir (to `/` unless told), exec. Only returns on failure.
    fn exec(&self) -> std::io::Result<()> {
        // SAFETY: plain syscalls on NUL-terminated strings and NULL-terminated arrays owned by
        // self; all async-signal-safe.
        unsafe {
            if libc::chroot(self.root.as_ptr()) != 0 || libc::chdir(self.cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            match &self.target {
                PreparedTarget::Path(p) => {
                    libc::execve(p.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                }
                PreparedTarget::Fd(fd) => {
                    libc::fexecve(*fd, self.argv.as_ptr(), self.envp.as_ptr());
                }
            }
        }
        Err(std::io::Error::last_os_error())
    }
}

/// Runs the loader on `file` (raw in-root bytes) in the chroot, with a time limit.
fn run(
    root: &Path,
    exec: &Exec,
    file: &[u8],
    timeout: Duration,
    cwd: &[u8],
) -> std::io::Result<Raw> {
    let mut strings: Vec<CString> = exec.argv_prefix.iter().map(|a| cstring(a)).collect();
    strings.push(cstring(file));
    let argc = strings.len();
    strings.extend(exec.env.iter().map(|e| cstring(e)));
    let mut argv: Vec<*const libc::c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    let prepared = Prepared {
        root: cstring(root.as_os_str().as_bytes()),
        cwd: cstring(cwd),
        target: match &exec.target {
            Target::InRoot(p) => PreparedTarget::Path(p.clone()),
            Target::HostFd(fd) => PreparedTarget::Fd(fd.as_raw_fd()),
        },
        _strings: strings,
        argv,
        envp,
    };
    // The program name is never exec'd by std: the pre_exec hook execs (or fails). std reports
    // an exec failure of the hook like its own through its CLOEXEC status pipe.
    let mut cmd = Command::new("/ground-truth-loader");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a time-out kills anything it may have started too (which
        // would otherwise keep the pipes open).
        .process_group(0);
    // SAFETY: the hook only makes async-signal-safe syscalls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || prepared.exec());
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut pipes = [
        child.stdout.take().map(OwnedFd::from),
        child.stderr.take().map(OwnedFd::from),
    ];
    let mut output = [Vec::new(), Vec::new()];
    let exit = ExitWatch::new(pid);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let collected = collect(&mut pipes, &mut output, &exit, deadline, &mut timed_out);
    // The child has not been reaped yet (only this function waits for it), so its pid and process
    // group id cannot have been reused: killing the group is safe, also after a normal exit (it is
    // then empty, or holds a stray grandchild), and needed after an error, to reap it.
    // SAFETY: kill() with a negative pid signals our child's process group.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let status = child.wait()?;
    collected?;
    Ok(Raw {
        stdout: std::mem::take(&mut output[0]),
        stderr: std::mem::take(&mut output[1]),
        status: status.code(),
        signal: status.signal(),
        timed_out,
    })
}

/// Reads both pipes until EOF and the child's exit, or until the deadline (then `timed_out`).
/// One thread does it all (no thread per run): poll() on the two pipes and a pidfd, which turns
/// readable when the child exits (before it is reaped).
fn collect(
    pipes: &mut [Option<OwnedFd>; 2],
    output: &mut [Vec<u8>; 2],
    exit: &ExitWatch,
    deadline: Instant,
    timed_out: &mut bool,
) -> std::io::Result<()> {
    let mut exited = false;
    while !exited || pipes.iter().any(Option::is_some) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            *timed_out = true;
            break;
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        for p in pipes.iter().flatten() {
            fds.push(pollfd(p.as_raw_fd()));
        }
        let watch = exit.fd().filter(|_| !exited);
        if let Some(fd) = watch {
            fds.push(pollfd(fd));
        }
        // Without a pidfd the exit is polled for, every 10 ms.
        let cap = if exit.fd().is_none() && !exited {
            10
        } else {
            1000
        };
        let ms = left.as_millis().clamp(1, cap) as libc::c_int;
        // SAFETY: fds is a valid array of fds.len() pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut k = 0;
        for (slot, out) in pipes.iter_mut().zip(output.iter_mut()) {
            let Some(fd) = slot else { continue };
            let revents = fds[k].revents;
            k += 1;
            if revents != 0 && !read_some(fd, out)? {
                *slot = None; // EOF
            }
        }
        exited = exited || exit.exited(watch.map(|_| fds[k].revents));
    }
    Ok(())
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Reads what a pipe has (poll said it is readable or hung up); false at EOF.
fn read_some(fd: &OwnedFd, out: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut buf = [0u8; 16384];
    loop {
        // SAFETY: reading into a stack buffer of the given length from an fd we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        out.extend_from_slice(&buf[..n as usize]);
        return Ok(n > 0);
    }
}

/// Notices the child's exit without reaping it: a pidfd (Linux 5.3+) that poll() watches, or else
/// waitid(WNOWAIT) asked after each poll() round.
struct ExitWatch {
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
}

impl ExitWatch {
    fn new(pid: libc::pid_t) -> Self {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: a fresh descriptor nobody else owns.
        let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        ExitWatch { pid, pidfd }
    }

    fn fd(&self) -> Option<RawFd> {
        self.pidfd.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// `revents` of the pidfd when it was polled.
    fn exited(&self, revents: Option<libc::c_short>) -> bool {
        if self.pidfd.is_some() {
            return revents.is_some_and(|r| r != 0);
        }
        // SAFETY: waitid on our own child; WNOWAIT leaves it to be reaped by Child::wait.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() != 0
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses one run. Lines of both streams go through one classifier, so the merged output of the
/// real `ldd` parses the same.
fn parse_output(
    flavor: Flavor,
    file: &str,
    interp: &str,
    raw: &Raw,
    resolver: &mut Resolver,
) -> Truth {
    let mut truth = Truth {
        status: raw.status,
        timed_out: raw.timed_out,
        ..Truth::default()
    };
    let file_canon = resolver.resolve(file).ok();
    let mut state = ParseState {
        file,
        file_canon,
        interp,
        musl_ldso_line: None,
    };
    for stream in [&raw.stdout, &raw.stderr] {
        for line in stream.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = escape_name(line);
            match flavor {
                Flavor::Glibc => parse_glibc_line(&line, &mut state, &mut truth, resolver),
                Flavor::Musl => parse_musl_line(&line, &mut state, &mut truth, resolver),
            }
        }
    }
    if raw.timed_out {
        truth
            .other
            .push("ground truth: killed after the time limit; output so far is above".to_owned());
    } else if let Some(sig) = raw.signal {
        truth
            .other
            .push(format!("ground truth: the loader died of signal {sig}"));
    }
    truth
}

struct ParseState<'a> {
    file: &'a str,
    file_canon: Option<String>,
    interp: &'a str,
    /// musl: the path of the first (loader) line, which libc's reserved names point to.
    musl_ldso_line: Option<String>,
}

/// `NAME (0xADDR)` -> NAME. glibc pads the address, musl prints `%p`.
fn strip_addr(s: &str) -> Option<&str> {
    let body = s.strip_suffix(')')?;
    let (name, addr) = body.rsplit_once(" (0x")?;
    (!addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// The kernel's vdso as glibc names it (x86/arm64: linux-vdso.so.1, i386: linux-gate.so.1,
/// ppc64/s390x: linux-vdso64.so.1). It is no file.
fn is_vdso(name: &str) -> bool {
    !name.contains('/') && (name.starts_with("linux-vdso") || name.starts_with("linux-gate"))
}

/// Records a loaded object printed as `name` (=> `path`).
fn found(
    name: &str,
    path: &str,
    state: &ParseState,
    truth: &mut Truth,
    resolver: &mut Resolver,
    line: &str,
) {
    let canon = match resolver.resolve(path) {
        Ok(c) => c,
        Err(e) => {
            truth.other.push(format!(
                "{line}    [ground truth: {path} does not resolve in the root: {e}]"
            ));
            path.to_owned()
        }
    };
    match truth.resolved.get(name) {
        Some(prev) if *prev != canon => truth.other.push(format!(
            "{line}    [ground truth: {name} was already bound to {prev}]"
        )),
        Some(_) => {}
        None => {
            truth.resolved.insert(name.to_owned(), canon.clone());
        }
    }
    if canon == state.interp {
        return;
    }
    if state.file_canon.as_deref() == Some(canon.as_str()) {
        truth.warnings.push(format!("{line}    [the file itself]"));
        return;
    }
    truth.closure.insert(canon);
}

fn parse_glibc_line(
    line: &str,
    state: &mut ParseState,
    truth: &mut Truth,
    resolver: &mut Resolver,
) {
    if let Some(entry) = line.strip_prefix('\t') {
        if entry == "statically linked" {
            truth.statically_linked = true;
        } else if entry == "not a dynamic executable" {
            // Only from the real ldd, for a file no RTLD accepts (e.g. not ELF).
            truth.fatal = Some(entry.to_owned());
        } else if let Some((name, target)) = entry.split_once(" => ") {
            if target == "not found" {
                truth.missing.insert(name.to_owned());
            } else if let Some(path) = strip_addr(target) {
                found(name, path, state, truth, resolver, line);
            } else {
                truth.other.push(line.to_owned());
            }
        } else if let Some(name) = strip_addr(entry) {
            if is_vdso(name) {
                // not a file
            } else {
                // Listed by path: the ld.so (its name is the path), a DT_NEEDED with a slash, or
                // a name opened as it is, relative to the working directory (found through an
                // empty LD_LIBRARY_PATH element: the directory name is empty).
                found(name, name, state, truth, resolver, line);
            }
        } else {
            truth.other.push(line.to_owned());
        }
        return;
    }
    // Diagnostics are prefixed with the traced file's name (glibc's _dl_argv[0]).
    let prefix = format!("{}: ", state.file);
    let body = line.strip_prefix(prefix.as_str()).unwrap_or(line);
    if let Some(msg) = body.strip_prefix("error while loading shared libraries: ") {
        truth.fatal = Some(msg.to_owned());
        return;
    }
    if let Some((obj, v, req)) = parse_version_line(body, ": version `") {
        truth.version_errors.insert((obj, v, req));
        return;
    }
    if parse_version_line(body, ": weak version `").is_some()
        || (body.ends_with(')')
            && body.contains(": no version information available (required by "))
    {
        truth.warnings.push(line.to_owned());
        return;
    }
    truth.other.push(line.to_owned());
}

/// `OBJ{marker}V' not found (required by REQ)` -> (OBJ, V, REQ).
fn parse_version_line(body: &str, marker: &str) -> Option<(String, String, String)> {
    let (obj, rest) = body.split_once(marker)?;
    let (version, rest) = rest.split_once("' not found (required by ")?;
    let req = rest.strip_suffix(')')?;
    Some((obj.to_owned(), version.to_owned(), req.to_owned()))
}

fn parse_musl_line(line: &str, state: &mut ParseState, truth: &mut Truth, resolver: &mut Resolver) {
    if let Some(entry) = line.strip_prefix('\t') {
        if let Some((name, target)) = entry.split_once(" => ") {
            let Some(path) = strip_addr(target) else {
                truth.other.push(line.to_owned());
                return;
            };
            // libc's reserved names print the loader line's path, which is the file's PT_INTERP
            // string and not necessarily a path of musl (a glibc program's /lib64/ld-linux...):
            // what is loaded is musl itself either way.
            if state.musl_ldso_line.as_deref() == Some(path) {
                let interp = state.interp.to_owned();
                truth.resolved.entry(name.to_owned()).or_insert(interp);
                return;
            }
            found(name, path, state, truth, resolver, line);
        } else if let (None, Some(path)) = (&state.musl_ldso_line, strip_addr(entry)) {
            state.musl_ldso_line = Some(path.to_owned());
        } else {
            truth.other.push(line.to_owned());
        }
        return;
    }
    if let Some(rest) = line.strip_prefix("Error loading shared library ")
        && let Some((left, _needed_by)) = rest
            .strip_suffix(')')
            .and_then(|r| r.rsplit_once(" (needed by "))
        && let Some((name, why)) = left.rsplit_once(": ")
    {
        truth.missing.insert(name.to_owned());
        if why != "No such file or directory" {
            truth.warnings.push(line.to_owned());
        }
        return;
    }
    if let Some(rest) = line.strip_prefix("Error relocating ")
        && let Some((obj, sym)) = rest
            .strip_suffix(": symbol not found")
            .and_then(|r| r.rsplit_once(": "))
    {
        truth
            .undefined_symbols
            .insert((obj.to_owned(), sym.to_owned()));
        return;
    }
    // Fatal errors about the main file come prefixed with the loader's argv[0].
    let file = state.file;
    if line.ends_with(&format!(": {file}: Not a valid dynamic program"))
        || line.contains(&format!(": cannot load {file}: "))
    {
        truth.fatal = Some(line.to_owned());
        return;
    }
    truth.other.push(line.to_owned());
}

// ---------------------------------------------------------------------------------------------
// Root-confined path resolution
// ---------------------------------------------------------------------------------------------

/// Canonicalises in-root paths like `realpath -e` run inside the chroot, with a memo.
struct Resolver {
    root: PathBuf,
    /// The loader's working directory (in-root), where relative paths start.
    cwd: Vec<u8>,
    memo: HashMap<String, Result<String, String>>,
}

impl Resolver {
    fn new(root: &Path) -> Self {
        Resolver {
            root: root.to_owned(),
            cwd: b"/".to_vec(),
            memo: HashMap::new(),
        }
    }

    /// `path` is escaped; relative paths start at the loader's cwd (`/` unless set).
    fn resolve(&mut self, path: &str) -> Result<String, String> {
        if let Some(r) = self.memo.get(path) {
            return r.clone();
        }
        let raw = unescape_name(path);
        let raw = if raw.starts_with(b"/") {
            raw
        } else {
            [&self.cwd[..], b"/", &raw[..]].concat()
        };
        let r = resolve_in_root(&self.root, &raw);
        self.memo.insert(path.to_owned(), r.clone());
        r
    }
}

/// Resolves `path` (raw bytes, in-root) to its canonical escaped in-root path. Every component
/// must exist; symlinks are followed with absolute targets restarting at `root`, `..` never
/// leaves `root`, at most 40 links (the kernel's ELOOP limit).
pub fn resolve_in_root(root: &Path, path: &[u8]) -> Result<String, String> {
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut todo: Vec<Vec<u8>> = components(path);
    todo.reverse(); // a stack: next component last
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        match comp.as_slice() {
            b"." => continue,
            b".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let mut host = root.to_path_buf();
        for c in done.iter().chain(std::iter::once(&comp)) {
            host.push(OsStr::from_bytes(c));
        }
        let meta = std::fs::symlink_metadata(&host)
            .map_err(|e| format!("{}: {e}", escape_name(&join_components(&done, Some(&comp)))))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return Err(format!(
                    "{}: too many levels of symbolic links",
                    escape_name(path)
                ));
            }
            let target = std::fs::read_link(&host)
                .map_err(|e| format!("readlink {}: {e}", host.display()))?;
            let target = target.as_os_str().as_bytes();
            if target.starts_with(b"/") {
                done.clear();
            }
            let mut more = components(target);
            more.reverse();
            todo.extend(more);
        } else {
            if !todo.is_empty() && !meta.is_dir() {
                return Err(format!(
                    "{}: not a directory",
                    escape_name(&join_components(&done, Some(&comp)))
                ));
            }
            done.push(comp);
        }
    }
    Ok(escape_name(&join_components(&done, None)))
}

fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn join_components(done: &[Vec<u8>], last: Option<&Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for c in done.iter().chain(last) {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

/// The on-disk cache: `<Options::cache_dir>/<flavor>-<hash>.json`, by default
/// `$ELFDEPS_TEST_CACHE/truth/` (`~/.cache/elfdeps-tests/truth/`).
///
/// The key material is text: [`FORMAT_VERSION`], the flavor and canonical root path (the root
/// directory names carry their recipe hash), the loader programs (and qemu) with size and mtime,
/// the loader configuration files (ld.so.cache, ld.so.conf, ld.so.preload, ld-musl-ARCH.path),
/// the loader's default directories (their mtime changes when a library is added or removed),
/// the CPU flags, and every input file with size, mtime (ns) and inode. Its 128-bit FNV hash names
/// the file, and the full material is stored in it and compared on load, so a hash collision
/// cannot return wrong results.
///
/// Stamps are checked on load too: size, mtime and inode of every object in any closure, and the
/// mtime of its directory and of each input file's directory (a library added to or removed from
/// a directory changes the directory's mtime). Any difference is a miss. Writes go to a temporary
/// file renamed into place, so concurrent test processes never read a partial file.
pub mod cache {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct CacheFile {
        material: String,
        stamps: BTreeMap<String, String>,
        results: BTreeMap<String, Truth>,
    }

    /// The default directory: `$ELFDEPS_TEST_CACHE/truth`, where scripts/prepare-roots keeps the
    /// roots (default `~/.cache/elfdeps-tests`).
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("ELFDEPS_TEST_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                PathBuf::from(home).join(".cache/elfdeps-tests")
            });
        base.join("truth")
    }

    pub(super) fn key_material(ctx: &Context, files: &[&String]) -> String {
        let mut m = format!(
            "elfdeps ground truth v{FORMAT_VERSION}\nflavor {:?}\nroot {}\n{}",
            ctx.flavor,
            escape_name(ctx.root.as_os_str().as_bytes()),
            ctx.key_extra
        );
        for f in files {
            writeln!(m, "file {f} {}", stamp(&ctx.root, f)).unwrap();
        }
        m
    }

    fn path_for(ctx: &Context, material: &str) -> PathBuf {
        let flavor = match ctx.flavor {
            Flavor::Glibc => "glibc",
            Flavor::Musl => "musl",
        };
        let h1 = fnv1a64(material.as_bytes(), 0);
        let h2 = fnv1a64(material.as_bytes(), 0x9e37_79b9_7f4a_7c15);
        ctx.options
            .cache_dir
            .join(format!("{flavor}-{h1:016x}{h2:016x}.json"))
    }

    /// What is checked again on load (see the module docs).
    fn stamps(ctx: &Context, results: &BTreeMap<String, Truth>) -> BTreeMap<String, String> {
        let mut paths: BTreeSet<String> = BTreeSet::new();
        for (file, truth) in results {
            paths.insert(parent(file));
            for obj in &truth.closure {
                paths.insert(obj.clone());
                paths.insert(parent(obj));
            }
        }
        paths
            .into_iter()
            .map(|p| {
                let s = stamp(&ctx.root, &p);
                (p, s)
            })
            .collect()
    }

    pub(super) fn load(ctx: &Context, material: &str) -> Option<BTreeMap<String, Truth>> {
        if !ctx.options.cache {
            return None;
        }
        let path = path_for(ctx, material);
        let bytes = std::fs::read(&path).ok()?;
        let cached: CacheFile = serde_json::from_slice(&bytes).ok()?;
        if cached.material != material {
            return None;
        }
        let fresh = cached.stamps.iter().all(|(p, s)| stamp(&ctx.root, p) == *s);
        if fresh {
            // Mark it as used, for prune().
            let _ = std::fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        }
        fresh.then_some(cached.results)
    }

    pub(super) fn store(ctx: &Context, material: &str, results: &BTreeMap<String, Truth>) {
        if !ctx.options.cache {
            return;
        }
        prune(&ctx.options.cache_dir);
        let file = CacheFile {
            material: material.to_owned(),
            stamps: stamps(ctx, results),
            results: results.clone(),
        };
        let path = path_for(ctx, material);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&ctx.options.cache_dir)?;
            let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec(&file).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            // Only speed is lost.
            loud(&format!(
                "ground truth: cannot write the cache {}: {e}",
                path.display()
            ));
        }
    }

    /// Entries untouched for 30 days go: old roots and old file lists would pile up otherwise.
    /// A hit refreshes an entry's mtime (see `load`).
    fn prune(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let month = Duration::from_secs(30 * 24 * 3600);
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > month));
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn parent(p: &str) -> String {
        match p.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => p[..i].to_owned(),
        }
    }
}

/// `size mtime_ns ino` of an escaped in-root path (its directory resolved in the root, a final
/// symlink not followed), or `-`.
fn stamp(root: &Path, path: &str) -> String {
    let bytes = unescape_name(path);
    let (dir, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (&b""[..], &bytes[..]),
    };
    let Ok(dir) = resolve_in_root(root, dir) else {
        return "-".to_owned();
    };
    let host = host_path(root, &dir).join(OsStr::from_bytes(name));
    match std::fs::symlink_metadata(host) {
        Ok(m) => format!(
            "{} {}.{:09} {}",
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino()
        ),
        Err(_) => "-".to_owned(),
    }
}

/// 64-bit FNV-1a with a seed mixed into the offset basis (two seeds make a 128-bit key).
fn fnv1a64(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Writes straight to stderr (libtest does not capture that), one write per line.
fn loud(message: &str) {
    let mut line = message.to_owned();
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn cstring(bytes: &[u8]) -> CString {
    // In-root paths and names come from the file system or the ELF string tables, neither of
    // which can hold a NUL byte.
    CString::new(bytes).expect("no NUL byte in a path")
}

fn has_elf_magic(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// (EI_CLASS, e_machine) of an ELF file.
fn elf_class_machine(path: &Path) -> Option<(u8, u16)> {
    use std::io::Read as _;
    let mut h = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut h).ok()?;
    if h[..4] != *b"\x7fELF" {
        return None;
    }
    let machine = match h[5] {
        1 => u16::from_le_bytes([h[18], h[19]]),
        2 => u16::from_be_bytes([h[18], h[19]]),
        _ => return None,
    };
    Some((h[4], machine))
}

/// The host path of an escaped in-root path.
fn host_path(root: &Path, path: &str) -> PathBuf {
    let bytes = unescape_name(path);
    let rel = bytes.strip_prefix(b"/").unwrap_or(&bytes);
    root.join(OsStr::from_bytes(rel))
}

/// docs/json.md's name escaping: valid UTF-8 as is, other bytes `\xNN`, backslash `\\`.
pub fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}").unwrap();
        }
    }
    out
}

/// The inverse of [`escape_name`]; a malformed escape is kept literally.
pub fn unescape_name(name: &str) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'x')
                && let Some(hex) = name.get(i + 2..i + 4)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

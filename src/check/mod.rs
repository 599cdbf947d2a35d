/*!
Findings: what the facts and the resolution mean for people, with stable codes (docs/findings.md).

One model ([`Finding`]), computed once per scan by [`analyze`] (a root) or [`analyze_files`]
(build artifacts, no root), then judged by a [`policy::Policy`] and rendered by every renderer.

Severities follow one rule: an **error** is something that fails when the root is used as it is (a
program that cannot start, a need nothing satisfies for a program); a **warning** is a hazard or
something that fails only when used (a plugin whose library is not installed, an RPATH a stranger
can write to); **info** explains a result that is fine in practice. In particular a shared library
whose need is not found when it is loaded *alone* is not an error when:
- some program of the root loads it (that program's own session decides, and reports the error
  if there is one), or
- the missing library exists elsewhere in the root: it is a plugin (the JDK's libraries needing
  `libjvm.so`, LibreOffice components) that is loaded into a process which already has that
  library, and the loader then matches it by soname (info);
- and when the missing library exists nowhere, a plugin that nothing loads is a warning (it fails
  only when something tries to load it).
*/

mod code;
pub mod hint;
pub mod libc;
pub mod policy;

pub use code::{Code, Severity};

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::elf::{self, Kind};
use crate::name::ByteStr;
use crate::resolve::env::GlibcConfig;
use crate::resolve::view::FsView;
use crate::resolve::{Resolved, Status};
use crate::rootfs::{DirHandle, RootFs};
use crate::scan::Object;
use crate::tree::Entry;
use libc::{Confidence, Flavor, LibcInfo};

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Severity (after policy overrides).
    pub severity: Severity,
    /// The object (or file) it is about, inside the root.
    pub path: ByteStr,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The library concerned (a needed name, or the provider lacking a version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<ByteStr>,
    /// The version concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<ByteStr>,
    /// Symbols concerned (those needing the version; the unresolved ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<ByteStr>,
    /// Why the policy does not count it (`allow: REASON`, `baseline`), when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Finding {
    fn new(code: Code, severity: Severity, path: &ByteStr, message: String) -> Finding {
        Finding {
            code,
            severity,
            path: path.clone(),
            message,
            hint: None,
            library: None,
            version: None,
            symbols: Vec::new(),
            suppressed: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }
}

/// A libc the root provides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RootLibc {
    /// glibc or musl.
    pub flavor: Flavor,
    /// The loader file (canonical).
    pub loader: ByteStr,
    /// Its machine.
    pub machine: elf::Machine,
    /// The release (glibc: the newest `GLIBC_x.y` libc.so.6 defines; musl: its version string), when
    /// known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Settings of the analysis.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Look for unresolved symbols (reads every closure's dynamic symbols).
    pub symbols: bool,
    /// Per-file limits for the reads the analysis makes.
    pub limits: elf::Limits,
}

/// What the analysis adds to a scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checks {
    /// The libcs of the root.
    pub libcs: Vec<RootLibc>,
    /// Every finding, sorted by path then code.
    pub findings: Vec<Finding>,
    /// The policy's verdict, when one was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<policy::Gate>,
}

/// Most bytes of a static object searched for libc markers.
const MAX_STATIC_READ: u64 = 64 * 1024 * 1024;

/// Whether the object is started as a program (it has an interpreter or is an executable).
pub fn is_program(o: &Object) -> bool {
    o.facts.interp.is_some() || matches!(o.facts.kind, Kind::Executable | Kind::Pie)
}

/// Reads the first `n` bytes of an object of the root (at most the whole file, within the limits),
/// for the static-libc markers.
fn read_object(rootfs: &RootFs, path: &[u8], n: u64, limits: &elf::Limits) -> Option<Vec<u8>> {
    let cap = limits.max_read.min(MAX_STATIC_READ);
    if n <= cap {
        rootfs.read_prefix(path, n).ok()
    } else {
        rootfs.read_file(path, cap).ok()
    }
}

/// Classifies every object's libc (index-aligned with `objects`).
pub fn classify_all(rootfs: &RootFs, objects: &[Object], limits: &elf::Limits) -> Vec<LibcInfo> {
    use rayon::prelude::*;
    objects
        .par_iter()
        .map(|o| {
            libc::classify(&o.facts, |n| {
                read_object(rootfs, o.path.as_bytes(), n, limits)
            })
        })
        .collect()
}

/// The root's libcs: every glibc and musl loader file, with glibc's release.
pub fn root_libcs(root: Resolved<'_>, rootfs: &RootFs) -> Vec<RootLibc> {
    let mut out = Vec::new();
    for o in root.objects {
        let base = o
            .path
            .as_bytes()
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(b"");
        if crate::resolve::env::is_musl_interp(o.path.as_bytes()) && base.starts_with(b"ld-musl-") {
            out.push(RootLibc {
                flavor: Flavor::Musl,
                loader: o.path.clone(),
                machine: o.facts.machine,
                version: rootfs
                    .read_file(o.path.as_bytes(), 16 << 20)
                    .ok()
                    .and_then(|b| musl_version(&b)),
            });
        } else if libc::is_glibc_loader_name(base)
            && o.facts
                .soname
                .as_ref()
                .is_some_and(|s| libc::is_glibc_loader_name(s.as_bytes()))
        {
            // libc.so.6 beside the loader says the release (its newest GLIBC_x.y).
            let dir = crate::resolve::env::dirname(o.path.as_bytes());
            let libc6 = [dir, b"/libc.so.6"].concat();
            let version = root
                .tree
                .resolve(&libc6, true)
                .ok()
                .and_then(|c| root.objects.iter().find(|x| x.path == c))
                .and_then(|l| {
                    l.facts
                        .version_defs
                        .iter()
                        .filter_map(|d| libc::glibc_version(d.name.as_bytes()))
                        .max()
                })
                .map(|(a, b, c)| {
                    if c == 0 {
                        format!("{a}.{b}")
                    } else {
                        format!("{a}.{b}.{c}")
                    }
                });
            out.push(RootLibc {
                flavor: Flavor::Glibc,
                loader: o.path.clone(),
                machine: o.facts.machine,
                version,
            });
        }
    }
    out
}

/// musl keeps its version as a lone string (`1.2.5`) for `ld-musl --version`'s "Version %s"; it is
/// only trusted in a file that also has musl's banner.
fn musl_version(image: &[u8]) -> Option<String> {
    let banner = b"musl libc (";
    memchr::memmem::find(image, banner)?;
    image.split(|&b| b == 0).find_map(|s| {
        let t = std::str::from_utf8(s).ok()?;
        let parts: Vec<&str> = t.split('.').collect();
        (parts.len() == 3
            && parts[0] == "1"
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
        .then(|| t.to_string())
    })
}

/// Analyzes a scanned root: libcs, then findings. Objects gain their `libc`.
pub fn analyze(
    root: Resolved<'_>,
    view: &dyn FsView,
    rootfs: &RootFs,
    opts: &CheckOptions,
) -> (Vec<LibcInfo>, Checks) {
    let infos = classify_all(rootfs, root.objects, &opts.limits);
    let libcs = root_libcs(root, rootfs);
    let mut findings = Vec::new();
    let libraries = hint::LibraryIndex::new(root.objects, root.tree);
    let glibc_cfg = GlibcConfig::load(view);
    let mut hints = hint::Hints::new(root.objects, root.tree, view, &glibc_cfg);
    // Which programs load each object (from their sessions).
    let mut loaded_by: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, o, r) in root.iter() {
        if !is_program(o) {
            continue;
        }
        for c in &r.closure {
            loaded_by.entry(c.as_bytes()).or_default().push(i);
        }
    }
    let index: HashMap<&[u8], usize> = root
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.path.as_bytes(), i))
        .collect();
    let families_for = |machine: elf::Machine| -> Vec<Flavor> {
        let mut f: Vec<Flavor> = libcs
            .iter()
            .filter(|l| l.machine == machine)
            .map(|l| l.flavor)
            .collect();
        f.dedup();
        f
    };
    let root_desc = |machine: elf::Machine| -> String {
        let fams = families_for(machine);
        if fams.is_empty() {
            format!("no libc for {machine}")
        } else {
            fams.iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        }
    };
    let any_machine: HashSet<elf::Machine> = libcs.iter().map(|l| l.machine).collect();

    for ((o, r), info) in root.objects.iter().zip(root.resolutions).zip(&infos) {
        let program = is_program(o);
        let fams = families_for(o.facts.machine);
        // wrong-architecture: the root has loaders, none for this machine.
        if fams.is_empty() && !any_machine.is_empty() && info.flavor != Flavor::None {
            let loadable = matches!(
                o.facts.kind,
                Kind::Executable | Kind::Pie | Kind::SharedLibrary
            ) && o.facts.has_dynamic;
            if loadable {
                let mut machines: Vec<String> = any_machine.iter().map(|m| m.to_string()).collect();
                machines.sort_unstable();
                findings.push(
                    Finding::new(
                        Code::WrongArchitecture,
                        if program {
                            Severity::Error
                        } else {
                            Severity::Warning
                        },
                        &o.path,
                        format!(
                            "{} object ({}); the root's loaders are for {}",
                            o.facts.machine,
                            o.facts.class.as_str(),
                            machines.join(", ")
                        ),
                    )
                    .hint("remove it, or install a build for the root's architecture"),
                );
            }
        }
        // interpreter-missing.
        if r.status == Status::InterpMissing
            && let Some(interp) = &o.facts.interp
        {
            let hint = match info.flavor {
                Flavor::Glibc if fams.contains(&Flavor::Musl) => {
                    "it is built against glibc and this root has musl: rebuild it for musl (e.g. in an Alpine build image), or use a glibc-based image".to_string()
                }
                Flavor::Musl if fams.contains(&Flavor::Glibc) => {
                    "it is built against musl and this root has glibc: rebuild it against glibc, or install musl's loader".to_string()
                }
                _ => format!(
                    "install the loader {interp}, or rebuild the program for the root ({})",
                    root_desc(o.facts.machine)
                ),
            };
            findings.push(
                Finding::new(
                    Code::InterpreterMissing,
                    Severity::Error,
                    &o.path,
                    format!(
                        "interpreter {interp} does not exist in the root: starting it fails with \"No such file or directory\" although the file exists"
                    ),
                )
                .hint(hint),
            );
        }
        // libc-mismatch.
        let high = info.confidence >= Confidence::Medium;
        let mismatch = match info.flavor {
            Flavor::Glibc => high && !fams.contains(&Flavor::Glibc) && fams.contains(&Flavor::Musl),
            Flavor::Musl => high && !fams.contains(&Flavor::Musl) && fams.contains(&Flavor::Glibc),
            _ => false,
        };
        if mismatch {
            let other = if info.flavor == Flavor::Glibc {
                "musl"
            } else {
                "glibc"
            };
            let mut message = format!(
                "built against {} ({}), but this root's libc is {other}",
                info.flavor.as_str(),
                info.evidence
            );
            if info.flavor == Flavor::Glibc
                && r.deps
                    .iter()
                    .any(|d| d.via == Some(crate::resolve::Via::Reserved))
            {
                message.push_str(
                    "; musl satisfies its libc.so.6 need itself, so it seems to load, but glibc-only symbols (e.g. __strdup, __*_chk) fail with \"Error relocating ... symbol not found\"",
                );
            }
            findings.push(
                Finding::new(Code::LibcMismatch, Severity::Error, &o.path, message).hint(format!(
                    "rebuild it against {other}, or use an image based on {}",
                    info.flavor.as_str()
                )),
            );
        }
        // mixed-libc: a program whose closure has objects of the other libc (not when it cannot
        // start at all: its closure is then only what another loader would do).
        if program
            && r.status != Status::InterpMissing
            && matches!(info.flavor, Flavor::Glibc | Flavor::Musl)
        {
            let others: Vec<&ByteStr> = r
                .closure
                .iter()
                .filter(|c| {
                    index
                        .get(c.as_bytes())
                        .map(|&i| &infos[i])
                        .is_some_and(|l| {
                            l.confidence == Confidence::High
                                && matches!(l.flavor, Flavor::Glibc | Flavor::Musl)
                                && l.flavor != info.flavor
                        })
                })
                .collect();
            if !others.is_empty() {
                let list: Vec<String> = others.iter().take(5).map(|p| p.to_string()).collect();
                findings.push(
                    Finding::new(
                        Code::MixedLibc,
                        Severity::Error,
                        &o.path,
                        format!(
                            "built against {}, but loads objects built against the other libc: {}",
                            info.flavor.as_str(),
                            list.join(", ")
                        ),
                    )
                    .hint("rebuild those libraries (or the program) against one libc"),
                );
            }
        }
        // library-missing.
        let users = loaded_by.get(o.path.as_bytes());
        if let Some(fatal) = &r.fatal {
            let severity = if program || users.is_some() {
                Severity::Error
            } else {
                Severity::Warning
            };
            findings.push(
                Finding::new(
                    Code::LibraryMissing,
                    severity,
                    &o.path,
                    format!("the loader gives up: {fatal}"),
                )
                .hint("remove or replace the file that stops the search (a linker script, a file for another OS ABI), or fix the search path"),
            );
        }
        for name in &r.missing {
            if r.status == Status::InterpMissing || r.fatal.is_some() {
                // The program cannot start at all, or the loader stops: said above.
                continue;
            }
            if mismatch && (name.as_bytes() == b"libc.so" || libc::is_glibc_soname(name.as_bytes()))
            {
                // libc-mismatch explains it.
                continue;
            }
            let candidates = libraries.candidates(name.as_bytes(), o);
            // Only a file that resolves to a library this loader can load makes a plugin fine.
            let elsewhere = candidates.iter().find_map(|c| match &c.state {
                hint::CandidateState::Loadable(_) => Some(&c.path),
                _ => None,
            });
            let failure = r
                .edges
                .iter()
                .filter(|e| e.dep.name == *name && e.dep.found.is_none())
                .find_map(|e| e.dep.error.as_ref())
                .filter(|e| !e.is_not_found());
            let (severity, message) = if program {
                (
                    Severity::Error,
                    match failure {
                        Some(e) => format!("needs {name}, which the loader cannot load: {e}"),
                        None => format!("needs {name}, which the loader does not find"),
                    },
                )
            } else if let Some(users) = users {
                let first = &root.objects[users[0]].path;
                (
                    Severity::Info,
                    format!(
                        "needs {name}, not found when it is loaded alone; {} program(s) load it (e.g. {first}), and their own results say whether it is found there",
                        users.len()
                    ),
                )
            } else if let Some(p) = elsewhere {
                (
                    Severity::Info,
                    format!(
                        "needs {name}, which is not on its search path but exists at {p}: it loads inside a process that already has {name} (a plugin, e.g. loaded with dlopen)"
                    ),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "needs {name}, which is not installed; nothing in the root loads this library at start-up, so only loading it later (dlopen) fails"
                    ),
                )
            };
            let mut f = Finding::new(Code::LibraryMissing, severity, &o.path, message);
            f.library = Some(name.clone());
            // What the search passed over explains most misses.
            let skipped = r
                .edges
                .iter()
                .filter(|e| e.dep.name == *name && e.dep.found.is_none())
                .flat_map(|e| e.dep.skipped.iter())
                .next();
            f.hint = Some(match skipped {
                Some(sk) => format!("the search passed over {}: {}", sk.path, sk.reason),
                None => hints.library_missing(o, r.loader.as_ref(), name, &candidates),
            });
            findings.push(f);
        }
        // version-missing.
        for v in &r.version_errors {
            let own = v.required_by == o.path
                || root
                    .tree
                    .resolve(v.required_by.as_bytes(), true)
                    .ok()
                    .as_ref()
                    == Some(&o.path);
            let severity = if program || users.is_some() {
                Severity::Error
            } else {
                Severity::Warning
            };
            let provider_release = libcs
                .iter()
                .find(|l| l.flavor == Flavor::Glibc && l.machine == o.facts.machine)
                .and_then(|l| l.version.clone());
            let mut message = format!(
                "{} requires version {} of {}, which it does not define",
                v.required_by, v.version, v.library
            );
            if libc::glibc_version(v.version.as_bytes()).is_some()
                && let Some(rel) = &provider_release
            {
                message.push_str(&format!(" (this root's glibc is {rel})"));
            }
            let mut f = Finding::new(Code::VersionMissing, severity, &o.path, message);
            f.library = Some(v.library.clone());
            f.version = Some(v.version.clone());
            if own {
                f.symbols =
                    symbols_with_version(rootfs, &o.path, v.version.as_bytes(), &opts.limits);
            }
            let sym_note = if f.symbols.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = f.symbols.iter().take(8).map(|s| s.to_string()).collect();
                format!(" (symbols: {})", list.join(", "))
            };
            f.hint = Some(format!(
                "build against an older {}{sym_note}, or update {} in the root",
                v.library, v.library
            ));
            findings.push(f);
        }
    }
    insecure_rpaths(root, rootfs, &mut findings);
    if let Some(f) = stale_cache(root, &glibc_cfg) {
        findings.push(f);
    }
    if opts.symbols {
        unresolved_symbols(root, rootfs, &opts.limits, &mut findings);
    }
    findings.sort_by(|a, b| (&a.path, a.code, &a.message).cmp(&(&b.path, b.code, &b.message)));
    findings.dedup();
    (
        infos,
        Checks {
            libcs,
            findings,
            gate: None,
        },
    )
}

/// The imports of `path` bound to `version` (the symbols that need it).
fn symbols_with_version(
    rootfs: &RootFs,
    path: &ByteStr,
    version: &[u8],
    limits: &elf::Limits,
) -> Vec<ByteStr> {
    let Ok(file) = rootfs.open_file(path.as_bytes()) else {
        return Vec::new();
    };
    symbols_of_file(&file, version, limits)
}

fn symbols_of_file(
    file: &crate::rootfs::OpenFile,
    version: &[u8],
    limits: &elf::Limits,
) -> Vec<ByteStr> {
    use std::os::fd::AsFd;
    let len = u64::try_from(file.stat.st_size).unwrap_or(0);
    match elf::symbols::dynamic_symbols(file.fd.as_fd(), len, limits) {
        Ok(Some(syms)) => {
            let mut v: Vec<ByteStr> = syms
                .into_iter()
                .filter(|s| {
                    s.undefined && s.version.as_ref().is_some_and(|v| v.as_bytes() == version)
                })
                .map(|s| s.name)
                .collect();
            v.sort();
            v.dedup();
            v
        }
        _ => Vec::new(),
    }
}

/// `insecure-rpath`: entries relative to the working directory, empty ones, ones missing from the
/// root (build paths: whoever creates them injects libraries), world-writable ones.
fn insecure_rpaths(root: Resolved<'_>, rootfs: &RootFs, findings: &mut Vec<Finding>) {
    let mut checked: HashMap<Vec<u8>, Option<String>> = HashMap::new();
    for o in root.objects {
        let lists = [("RPATH", &o.facts.rpath), ("RUNPATH", &o.facts.runpath)];
        for (kind, list) in lists {
            let Some(list) = list else { continue };
            for entry in list.iter().flat_map(|e| e.as_bytes().split(|&b| b == b':')) {
                let shown = ByteStr::from(entry);
                let problem = if entry.is_empty() {
                    Some("an empty entry, which means the current working directory".to_string())
                } else if entry.starts_with(b"$ORIGIN") || entry.starts_with(b"${ORIGIN}") {
                    None
                } else if !entry.starts_with(b"/") {
                    Some(format!(
                        "`{shown}` is relative to the current working directory, which whoever starts the program controls"
                    ))
                } else if entry.contains(&b'$') {
                    None
                } else {
                    checked
                        .entry(entry.to_vec())
                        .or_insert_with(|| dir_problem(root, rootfs, entry))
                        .clone()
                };
                if let Some(p) = problem {
                    findings.push(
                        Finding::new(
                            Code::InsecureRpath,
                            Severity::Warning,
                            &o.path,
                            format!("{kind} entry {p}"),
                        )
                        .hint("use $ORIGIN-relative or system paths; remove build-time paths from RPATH/RUNPATH"),
                    );
                }
            }
        }
    }
}

fn dir_problem(root: Resolved<'_>, rootfs: &RootFs, entry: &[u8]) -> Option<String> {
    let shown = ByteStr::from(entry);
    let Ok(canonical) = root.tree.resolve(entry, true) else {
        return Some(format!(
            "`{shown}` does not exist in the root (a build path?): anyone who can create it can inject libraries"
        ));
    };
    match root.tree.get(canonical.as_bytes()) {
        Some(Entry::Dir) => {}
        _ => return None,
    }
    let Ok(DirHandle::Open(fd)) = rootfs.open_dir(canonical.as_bytes()) else {
        return None;
    };
    let st = rustix::fs::fstat(&fd).ok()?;
    let mode = st.st_mode;
    // World-writable without the sticky bit: anyone can drop a library in.
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "`{shown}` is world-writable (mode {:o}): anyone can put a library there",
            mode & 0o7777
        ));
    }
    if mode & 0o002 != 0 {
        return Some(format!(
            "`{shown}` is world-writable (mode {:o}, sticky): anyone can add a library there",
            mode & 0o7777
        ));
    }
    None
}

/// `stale-ld-cache`: what ldconfig would cache from the ld.so.conf directories, against the cache.
fn stale_cache(root: Resolved<'_>, cfg: &GlibcConfig) -> Option<Finding> {
    let cache = cfg.cache.as_ref()?;
    let cached: HashSet<&[u8]> = cache.entries().iter().map(|e| e.key.as_slice()).collect();
    let mut not_cached: Vec<String> = Vec::new();
    for dir in &cfg.conf_dirs {
        let Ok(canonical) = root.tree.resolve(dir.as_bytes(), true) else {
            continue;
        };
        for name in root.tree.children(canonical.as_bytes()) {
            // ldconfig looks at lib*.so* files and keys each by its soname.
            if !(name.starts_with(b"lib") && name.windows(3).any(|w| w == b".so")) {
                continue;
            }
            let path = [canonical.as_bytes(), b"/", name].concat();
            let Ok(target) = root.tree.resolve(&path, true) else {
                continue;
            };
            let Some(o) = root.objects.iter().find(|o| o.path == target) else {
                continue;
            };
            if o.facts.kind != Kind::SharedLibrary {
                continue;
            }
            let key = o.facts.soname.as_ref().map_or(name, |s| s.as_bytes());
            if !cached.contains(key) {
                not_cached.push(format!(
                    "{} ({})",
                    ByteStr::from(key),
                    ByteStr::from(&path[..])
                ));
            }
        }
    }
    let gone: Vec<String> = cache
        .entries()
        .iter()
        .filter(|e| root.tree.resolve(&e.value, true).is_err())
        .map(|e| {
            format!(
                "{} -> {}",
                ByteStr::from(&e.key[..]),
                ByteStr::from(&e.value[..])
            )
        })
        .collect();
    if not_cached.is_empty() && gone.is_empty() {
        return None;
    }
    not_cached.sort();
    not_cached.dedup();
    let mut parts = Vec::new();
    if !not_cached.is_empty() {
        parts.push(format!(
            "{} librar{} in ld.so.conf directories missing from it: {}",
            not_cached.len(),
            if not_cached.len() == 1 { "y" } else { "ies" },
            not_cached
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !gone.is_empty() {
        parts.push(format!(
            "{} entr{} pointing at files that no longer exist: {}",
            gone.len(),
            if gone.len() == 1 { "y" } else { "ies" },
            gone.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Some(
        Finding::new(
            Code::StaleLdCache,
            Severity::Warning,
            &ByteStr::from("/etc/ld.so.cache"),
            format!("/etc/ld.so.cache is stale: {}", parts.join("; ")),
        )
        .hint(
            "run ldconfig in the root (chroot ROOT ldconfig) after installing or moving libraries",
        ),
    )
}

/// `unresolved-symbol` (`--symbols`): for each program, every non-weak undefined symbol of it and
/// of its closure must be defined by the program, its closure or its loader.
fn unresolved_symbols(
    root: Resolved<'_>,
    rootfs: &RootFs,
    limits: &elf::Limits,
    findings: &mut Vec<Finding>,
) {
    use rayon::prelude::*;
    let index: HashMap<&[u8], usize> = root
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.path.as_bytes(), i))
        .collect();
    // Every object that some program loads, read once.
    let mut wanted: Vec<usize> = Vec::new();
    let mut seen = HashSet::new();
    for (o, r) in root.objects.iter().zip(root.resolutions) {
        // A session the loader gives up on (or that cannot start) has no complete scope.
        if !is_program(o)
            || matches!(r.status, Status::Static | Status::InterpMissing)
            || r.loader.is_none()
            || r.fatal.is_some()
        {
            continue;
        }
        let loader = r.loader.as_ref().map(|l| l.path.as_bytes());
        for p in std::iter::once(o.path.as_bytes())
            .chain(r.closure.iter().map(|c| c.as_bytes()))
            .chain(loader)
        {
            if let Some(&j) = index.get(p)
                && seen.insert(j)
            {
                wanted.push(j);
            }
        }
    }
    let tables: HashMap<usize, Vec<elf::symbols::DynSym>> = wanted
        .par_iter()
        .filter_map(|&j| {
            use std::os::fd::AsFd;
            let o = &root.objects[j];
            let file = rootfs.open_file(o.path.as_bytes()).ok()?;
            let len = u64::try_from(file.stat.st_size).unwrap_or(0);
            let syms = elf::symbols::dynamic_symbols(file.fd.as_fd(), len, limits).ok()??;
            Some((j, syms))
        })
        .collect();
    for (o, r) in root.objects.iter().zip(root.resolutions) {
        // A session the loader gives up on (or that cannot start) has no complete scope.
        if !is_program(o)
            || matches!(r.status, Status::Static | Status::InterpMissing)
            || r.loader.is_none()
            || r.fatal.is_some()
        {
            continue;
        }
        let musl = r
            .loader
            .as_ref()
            .is_some_and(|l| l.family == crate::resolve::env::Family::Musl);
        let loader = r.loader.as_ref().map(|l| l.path.as_bytes());
        let members: Vec<usize> = std::iter::once(o.path.as_bytes())
            .chain(r.closure.iter().map(|c| c.as_bytes()))
            .chain(loader)
            .filter_map(|p| index.get(p).copied())
            .collect();
        // name -> versions defined (None: unversioned).
        let mut defined: HashMap<&[u8], Vec<Option<&[u8]>>> = HashMap::new();
        for j in &members {
            for s in tables.get(j).into_iter().flatten() {
                if !s.undefined {
                    defined
                        .entry(s.name.as_bytes())
                        .or_default()
                        .push(s.version.as_ref().map(|v| v.as_bytes()));
                }
            }
        }
        let mut missing: BTreeMap<(ByteStr, Option<ByteStr>), Vec<ByteStr>> = BTreeMap::new();
        for j in &members {
            for s in tables.get(j).into_iter().flatten() {
                if !s.undefined || s.weak {
                    continue;
                }
                let ok = defined.get(s.name.as_bytes()).is_some_and(|defs| {
                    musl || match &s.version {
                        None => true,
                        Some(v) => defs.iter().any(|d| d.is_none() || *d == Some(v.as_bytes())),
                    }
                });
                if !ok {
                    missing
                        .entry((s.name.clone(), s.version.clone()))
                        .or_default()
                        .push(root.objects[*j].path.clone());
                }
            }
        }
        for ((name, version), by) in missing {
            let shown = match &version {
                Some(v) => format!("{name}@{v}"),
                None => name.to_string(),
            };
            let mut f = Finding::new(
                Code::UnresolvedSymbol,
                Severity::Error,
                &o.path,
                format!(
                    "symbol {shown}, needed by {}, is defined by nothing it loads",
                    by.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
                ),
            )
            .hint(if musl {
                "musl fails on it at start-up (\"Error relocating ... symbol not found\"); provide a library that defines it or rebuild against musl".to_string()
            } else {
                "glibc fails when the symbol is first used (or at start-up with BIND_NOW); provide a library that defines it".to_string()
            });
            f.symbols = vec![name];
            f.version = version;
            findings.push(f);
        }
    }
}

/// One artifact of `check --files`.
#[derive(Clone, Debug, Serialize)]
pub struct Artifact {
    /// The path as given (a file, or a file found under a given directory).
    pub path: ByteStr,
    /// Machine.
    pub machine: elf::Machine,
    /// ELF class.
    pub class: elf::Class,
    /// Kind.
    pub kind: Kind,
    /// libc flavor and glibc floor.
    pub libc: LibcInfo,
}

/// Classifies build artifacts (`check --files`): every ELF file given or found under a given
/// directory. Returns the artifacts and the per-path errors.
pub fn analyze_files(
    paths: &[std::path::PathBuf],
    limits: &elf::Limits,
) -> Result<(Vec<Artifact>, Vec<crate::error::PathError>), String> {
    use std::os::unix::ffi::OsStrExt;
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| format!("{}: {e} (give existing files or directories)", p.display()))?;
        if meta.is_dir() {
            let report = crate::scan::scan(
                p,
                &crate::scan::ScanOptions {
                    limits: *limits,
                    ..Default::default()
                },
                &crate::progress::Progress::hidden(),
            )
            .map_err(|e| e.to_string())?;
            let rootfs = RootFs::open(p).map_err(|e| e.to_string())?;
            let infos = classify_all(&rootfs, &report.objects, limits);
            let base = p.as_os_str().as_bytes();
            let base = if base.ends_with(b"/") {
                &base[..base.len() - 1]
            } else {
                base
            };
            for (o, info) in report.objects.into_iter().zip(infos) {
                let shown = ByteStr::from([base, o.path.as_bytes()].concat());
                artifacts.push(Artifact {
                    path: shown.clone(),
                    machine: o.facts.machine,
                    class: o.facts.class,
                    kind: o.facts.kind,
                    libc: info,
                });
            }
            for mut e in report.errors {
                e.path = ByteStr::from([base, e.path.as_bytes()].concat());
                errors.push(e);
            }
        } else {
            let parent = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = p
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default();
            let rootfs = RootFs::open(parent).map_err(|e| e.to_string())?;
            let in_root = [b"/", &name[..]].concat();
            let shown = ByteStr::from(p.as_os_str().as_bytes());
            let file = match rootfs.open_file(&in_root) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(crate::error::PathError::new(shown, e));
                    continue;
                }
            };
            use std::os::fd::AsFd;
            let len = u64::try_from(file.stat.st_size).unwrap_or(0);
            match elf::parse_file(file.fd.as_fd(), len, limits) {
                Ok(Some(facts)) => {
                    let info =
                        libc::classify(&facts, |n| read_object(&rootfs, &in_root, n, limits));
                    artifacts.push(Artifact {
                        path: shown.clone(),
                        machine: facts.machine,
                        class: facts.class,
                        kind: facts.kind,
                        libc: info,
                    });
                }
                Ok(None) => errors.push(crate::error::PathError::new(
                    shown,
                    crate::error::FileError::new(
                        crate::error::ErrorCode::NotElf,
                        "not an ELF file (no ELF magic)",
                    ),
                )),
                Err(e) => errors.push(crate::error::PathError::new(shown, e)),
            }
        }
    }
    Ok((artifacts, errors))
}

/// The policy findings of `check --files` and `check ROOT`: `libc-denied` and `glibc-too-new`,
/// from each object's libc. `symbols_for(i, version)` lists the symbols of object `i` needing a
/// version.
pub fn policy_findings(
    items: &[(ByteStr, &LibcInfo)],
    policy: &policy::Policy,
    mut symbols_for: impl FnMut(usize, &[u8]) -> Vec<ByteStr>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, (path, info)) in items.iter().enumerate() {
        if policy.deny_libc.contains(&info.flavor) {
            out.push(
                Finding::new(
                    Code::LibcDenied,
                    Severity::Error,
                    path,
                    format!(
                        "linked against {} ({}, {} confidence), which the policy denies",
                        info.flavor.as_str(),
                        info.evidence,
                        match info.confidence {
                            Confidence::High => "high",
                            Confidence::Medium => "medium",
                            Confidence::Low => "low",
                        }
                    ),
                )
                .hint("rebuild it against an allowed libc"),
            );
        }
        if let (Some(max), Some(floor)) = (policy.max_glibc, &info.glibc_floor)
            && let Some(v) = libc::glibc_version(floor.as_bytes())
            && v > max
        {
            let syms = symbols_for(i, floor.as_bytes());
            let sym_text = if syms.is_empty() {
                String::new()
            } else {
                format!(
                    " for {}",
                    syms.iter()
                        .take(10)
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let mut f = Finding::new(
                Code::GlibcTooNew,
                Severity::Error,
                path,
                format!(
                    "needs {floor}{sym_text}, above the policy's maximum glibc {}",
                    policy::show_version(max)
                ),
            )
            .hint(format!(
                "build against glibc {} or older (an older build image, or zig cc -target x86_64-linux-gnu.{})",
                policy::show_version(max),
                policy::show_version(max)
            ));
            f.version = Some(floor.clone());
            f.symbols = syms;
            out.push(f);
        }
    }
    out
}

/// The symbols of an artifact of `check --files` that need `version`.
pub fn artifact_symbols(path: &ByteStr, version: &[u8], limits: &elf::Limits) -> Vec<ByteStr> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_bytes()));
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let Some(name) = p.file_name() else {
        return Vec::new();
    };
    let Ok(rootfs) = RootFs::open(parent) else {
        return Vec::new();
    };
    let in_root = [b"/", name.as_bytes()].concat();
    match rootfs.open_file(&in_root) {
        Ok(file) => symbols_of_file(&file, version, limits),
        Err(_) => Vec::new(),
    }
}

/// `symbols_with_version` for the objects of a root.
pub fn root_symbols(
    rootfs: &RootFs,
    path: &ByteStr,
    version: &[u8],
    limits: &elf::Limits,
) -> Vec<ByteStr> {
    symbols_with_version(rootfs, path, version, limits)
}

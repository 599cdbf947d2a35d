//! The run-time edges of one object: what it loads after start by conventions the loader does not
//! see, each a typed edge with where it came from.
//!
//! Conventions modelled (each has its rule, [`Rule`]):
//! - `.note.dlopen` notes of the object (systemd's ELF dlopen metadata): sonames it dlopens;
//! - glibc's `libc.so.6`: the NSS modules `/etc/nsswitch.conf` names (`libnss_SERVICE.so.2`), minus
//!   the services built into that glibc;
//! - Python: a `pythonX.Y` program, or an object that needs `libpythonX.Y`, loads its standard
//!   library (`PREFIX/lib/pythonX.Y`, found by its landmark `os.py`) and the extension modules of
//!   `lib-dynload`;
//! - the JVM: a program whose session loads `JAVA_HOME/lib/libjli.so` loads the VM `jvm.cfg`
//!   names (`lib/server/libjvm.so`) and the native libraries of `JAVA_HOME/lib`;
//! - PAM: a program whose session loads libpam loads the modules of the service named as the
//!   program (`/etc/pam.d/NAME`, with its includes; `other` when there is none).
//!
//! Not modelled (yet): gconv modules, Perl's, Ruby's and PHP's module directories, OpenSSL's
//! providers and engines, modules a server's configuration names (nginx `load_module`).

use serde::Serialize;

use crate::elf::ElfFacts;
use crate::name::ByteStr;
use crate::resolve::env::{basename as base, dirname as parent};
use crate::resolve::{FileKind, FsView, LoaderCache, ObjectId};

/// By which convention an object loads something at run time.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Rule {
    /// A `.note.dlopen` note of the object.
    DlopenNote,
    /// An NSS module named by `/etc/nsswitch.conf`, loaded by glibc's libc.
    Nss,
    /// A PAM module named by `/etc/pam.d`, loaded by libpam.
    Pam,
    /// Python's standard library directory.
    PythonStdlib,
    /// A Python extension module of `lib-dynload`.
    PythonExtension,
    /// The JVM and its native libraries (`jvm.cfg`, `JAVA_HOME/lib`).
    Jvm,
}

/// How much a program needs what an edge names.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Tier {
    /// It does not work without it (the default set).
    #[default]
    Required,
    /// A feature needs it (a dlopen note's default priority).
    Recommended,
    /// Nice to have.
    Suggested,
}

/// What an edge names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Target {
    /// Sonames, alternatives in order, opened with the loader's dlopen rules for the object that
    /// has the edge.
    Sonames(Vec<ByteStr>),
    /// A file (canonical path).
    File(ByteStr),
    /// Every file below a directory (canonical path), but for the subdirectories listed.
    Tree {
        /// The directory.
        dir: ByteStr,
        /// Names of subdirectories left out (`site-packages`).
        except: Vec<ByteStr>,
    },
}

/// One run-time edge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RuntimeEdge {
    /// The object that loads it (canonical path).
    pub from: ByteStr,
    /// By which convention.
    pub rule: Rule,
    /// Where the edge was read: the note's feature, `hosts: myhostname`, `lib/jvm.cfg`.
    pub detail: String,
    /// How much it is needed.
    pub tier: Tier,
    /// What it names.
    pub target: Target,
}

/// An edge with the files it loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EdgeLoads {
    /// The edge.
    #[serde(flatten)]
    pub edge: RuntimeEdge,
    /// What it loads (canonical paths; for a tree, its directory); empty when nothing.
    pub loads: Vec<ByteStr>,
}

/// The files edge `e` of object `from` loads: the first of its sonames that object's dlopen
/// finds, its file, or its tree's directory (empty: none).
pub fn loads_of(
    view: &dyn FsView,
    from: ObjectId,
    e: &RuntimeEdge,
    opts: &crate::resolve::ResolveOptions,
    cache: &LoaderCache,
) -> Vec<ByteStr> {
    match &e.target {
        Target::Sonames(names) => crate::resolve::derived::dlopen(view, from, names, opts, cache)
            .map(|(_, id, _)| vec![view.object_path(id).clone()])
            .unwrap_or_default(),
        Target::File(f) => view
            .resolve(f.as_bytes(), true)
            .ok()
            .filter(|c| view.kind(c.as_bytes()) == Some(FileKind::File))
            .into_iter()
            .collect(),
        Target::Tree { dir, .. } => (view.kind(dir.as_bytes()) == Some(FileKind::Dir))
            .then(|| dir.clone())
            .into_iter()
            .collect(),
    }
}

/// The run-time edges of every object `ids` of `view` whose session is `sessions` (aligned),
/// with what each loads.
pub fn edges_all(
    view: &dyn FsView,
    ids: &[ObjectId],
    sessions: &[crate::resolve::Resolution],
    opts: &crate::resolve::ResolveOptions,
) -> Vec<Vec<EdgeLoads>> {
    use rayon::prelude::*;
    let cfg = RootConfig::read(view);
    let cache = LoaderCache::default();
    // Objects are independent: in parallel, in the caller's pool, results in order.
    ids.par_iter()
        .zip(sessions)
        .map(|(&id, r)| {
            edges_of(view, id, &r.closure, &cfg)
                .into_iter()
                .map(|edge| EdgeLoads {
                    loads: loads_of(view, id, &edge, opts, &cache),
                    edge,
                })
                .collect()
        })
        .collect()
}

/// The run-time edges of a whole loader session: those of object `id` (whose session is `r`)
/// and of everything its session loads, with what each loads.
pub fn session_edges(
    view: &dyn FsView,
    id: ObjectId,
    r: &crate::resolve::Resolution,
    opts: &crate::resolve::ResolveOptions,
) -> Vec<EdgeLoads> {
    let cfg = RootConfig::read(view);
    let cache = LoaderCache::default();
    let mut out: Vec<EdgeLoads> = Vec::new();
    let members = std::iter::once((id, r.closure.as_slice())).chain(
        r.closure
            .iter()
            .filter_map(|c| view.object(c.as_bytes()))
            .map(|c| (c, &[][..])),
    );
    for (obj, closure) in members {
        for edge in edges_of(view, obj, closure, &cfg) {
            out.push(EdgeLoads {
                loads: loads_of(view, obj, &edge, opts, &cache),
                edge,
            });
        }
    }
    out
}

/// What the edges of every object of a root share: its configuration, read once.
#[derive(Debug, Default)]
pub struct RootConfig {
    /// Each database `/etc/nsswitch.conf` configures, with its services in order.
    pub nss: Vec<(String, Vec<String>)>,
    /// Warnings met while reading the configuration (in our words).
    pub warnings: Vec<String>,
}

/// Most bytes of a configuration file read.
pub const MAX_CONFIG: u64 = 1 << 20;
/// Most files of one interpreter tree taken ([`Target::Tree`]).
pub const MAX_TREE_FILES: usize = 200_000;

impl RootConfig {
    /// Reads what the edges need from `view`: `/etc/nsswitch.conf`.
    pub fn read(view: &dyn FsView) -> RootConfig {
        let mut cfg = RootConfig::default();
        if let Ok(p) = view.resolve(b"/etc/nsswitch.conf", true)
            && view.kind(p.as_bytes()) == Some(FileKind::File)
        {
            match view.read(p.as_bytes(), MAX_CONFIG) {
                Ok(bytes) => cfg.nss = parse_nsswitch(&bytes, &mut cfg.warnings),
                Err(e) => cfg.warnings.push(format!(
                    "/etc/nsswitch.conf could not be read ({}): the NSS modules it names are not \
                     part of the sets",
                    e.code
                )),
            }
        }
        cfg
    }
}

/// The databases of an nsswitch.conf with their services.
fn parse_nsswitch(bytes: &[u8], warnings: &mut Vec<String>) -> Vec<(String, Vec<String>)> {
    let (config, w) = super::nsswitch::parse(bytes);
    warnings.extend(w.into_iter().map(|w| format!("/etc/nsswitch.conf: {w}")));
    config
        .databases
        .into_iter()
        .map(|d| (d.name, d.services.into_iter().map(|s| s.name).collect()))
        .collect()
}

/// What one service of an nsswitch.conf database comes to for glibc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "path")]
pub enum NssState {
    /// Built into this glibc's libc: no module to load.
    Builtin,
    /// Its module, where `libc.so.6` would dlopen it from.
    Found(ByteStr),
    /// No module: glibc takes the service as UNAVAIL and goes on with the next one.
    Missing,
}

/// Each database of an nsswitch.conf with each of its services' state.
pub type NssDatabases = Vec<(String, Vec<(String, NssState)>)>;

/// Each database of `cfg` with each of its services' state, as the glibc whose `libc.so.6` is
/// object `libc` of `view` would load them.
pub fn nss_states(
    view: &dyn FsView,
    libc: ObjectId,
    cfg: &RootConfig,
    opts: &crate::resolve::ResolveOptions,
    cache: &LoaderCache,
) -> NssDatabases {
    let builtin = glibc_version(view.facts(libc))
        .map(super::nsswitch::glibc_builtin_services)
        .unwrap_or(&[]);
    let mut memo: std::collections::HashMap<&str, NssState> = std::collections::HashMap::new();
    cfg.nss
        .iter()
        .map(|(db, services)| {
            let states = services
                .iter()
                .map(|s| {
                    let state = memo.entry(s.as_str()).or_insert_with(|| {
                        if builtin.contains(&s.as_str()) {
                            return NssState::Builtin;
                        }
                        let name = ByteStr::from(super::nsswitch::module_soname(s).as_str());
                        match crate::resolve::derived::dlopen(view, libc, &[name], opts, cache) {
                            Some((_, id, _)) => NssState::Found(view.object_path(id).clone()),
                            None => NssState::Missing,
                        }
                    });
                    (s.clone(), state.clone())
                })
                .collect();
            (db.clone(), states)
        })
        .collect()
}

/// The glibc version `libc.so.6` defines (its highest `GLIBC_2.N` version definition).
pub fn glibc_version(facts: &ElfFacts) -> Option<(u32, u32)> {
    facts
        .version_defs
        .iter()
        .filter_map(|d| {
            let rest = d.name.as_bytes().strip_prefix(b"GLIBC_")?;
            let text = std::str::from_utf8(rest).ok()?;
            let mut parts = text.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
            Some((major, minor))
        })
        .max()
}

/// The run-time edges of object `id` of `view`; `closure` is what its own session loads
/// (canonical paths), from which the JVM is recognised.
pub fn edges_of(
    view: &dyn FsView,
    id: ObjectId,
    closure: &[ByteStr],
    cfg: &RootConfig,
) -> Vec<RuntimeEdge> {
    let facts = view.facts(id);
    let path = view.object_path(id);
    let mut out = Vec::new();
    for note in &facts.dlopen {
        out.push(RuntimeEdge {
            from: path.clone(),
            rule: Rule::DlopenNote,
            detail: note
                .feature
                .clone()
                .unwrap_or_else(|| "(no feature named)".to_string()),
            tier: match note.priority {
                crate::elf::Priority::Required => Tier::Required,
                crate::elf::Priority::Recommended => Tier::Recommended,
                crate::elf::Priority::Suggested => Tier::Suggested,
            },
            target: Target::Sonames(note.sonames.clone()),
        });
    }
    if facts
        .soname
        .as_ref()
        .is_some_and(|s| s.as_bytes() == b"libc.so.6")
    {
        nss_edges(path, facts, cfg, &mut out);
    }
    python_edges(view, path, facts, closure, &mut out);
    jvm_edges(view, path, closure, &mut out);
    pam_edges(view, path, facts, closure, &mut out);
    out
}

/// A program that loads libpam uses the PAM service named as the program (Linux-PAM's
/// convention: `login`, `su`, `sshd`, `passwd` call `pam_start` with their own name; `other` when
/// the service has no file), whose modules libpam loads from `security/` beside itself (its
/// compiled-in default module directory, `LIBDIR/security`).
fn pam_edges(
    view: &dyn FsView,
    path: &ByteStr,
    facts: &ElfFacts,
    closure: &[ByteStr],
    out: &mut Vec<RuntimeEdge>,
) {
    let is_program = facts.interp.is_some()
        || matches!(
            facts.kind,
            crate::elf::Kind::Executable | crate::elf::Kind::Pie
        );
    let Some(libpam) = closure
        .iter()
        .find(|c| base(c.as_bytes()).starts_with(b"libpam.so"))
        .filter(|_| is_program)
    else {
        return;
    };
    let Ok(service) = std::str::from_utf8(base(path.as_bytes())) else {
        return;
    };
    let moddir = crate::tree::child_of(parent(libpam.as_bytes()), b"security");
    let mut read = |name: &str| -> Option<Vec<u8>> {
        let file = [b"/etc/pam.d/".as_slice(), name.as_bytes()].concat();
        let c = view.resolve(&file, true).ok()?;
        (view.kind(c.as_bytes()) == Some(FileKind::File))
            .then(|| view.read(c.as_bytes(), MAX_CONFIG).ok())
            .flatten()
    };
    let modules = super::pam::pam_modules(service, &mut read);
    for m in modules.modules {
        let file = if m.path.starts_with('/') {
            m.path.as_bytes().to_vec()
        } else {
            crate::tree::child_of(&moddir, m.path.as_bytes())
        };
        out.push(RuntimeEdge {
            from: path.clone(),
            rule: Rule::Pam,
            detail: format!("/etc/pam.d/{}", m.via.join(" -> ")),
            // `-type` lines: libpam skips the module quietly when it is missing.
            tier: if m.optional {
                Tier::Recommended
            } else {
                Tier::Required
            },
            target: Target::File(ByteStr::from(file)),
        });
    }
}

fn nss_edges(path: &ByteStr, facts: &ElfFacts, cfg: &RootConfig, out: &mut Vec<RuntimeEdge>) {
    let builtin = glibc_version(facts)
        .map(super::nsswitch::glibc_builtin_services)
        .unwrap_or(&[]);
    for (database, service) in cfg
        .nss
        .iter()
        .flat_map(|(d, ss)| ss.iter().map(move |s| (d, s)))
    {
        if builtin.contains(&service.as_str()) {
            continue;
        }
        out.push(RuntimeEdge {
            from: path.clone(),
            rule: Rule::Nss,
            detail: format!("{database}: {service}"),
            tier: Tier::Required,
            target: Target::Sonames(vec![ByteStr::from(
                super::nsswitch::module_soname(service).as_str(),
            )]),
        });
    }
}

/// `X.Y` of a name `pythonX.Y` or `libpythonX.Y...`.
fn python_version(name: &[u8], prefix: &[u8]) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let major = digits(rest);
    if major == 0 || rest.get(major) != Some(&b'.') {
        return None;
    }
    let minor = digits(&rest[major + 1..]);
    if minor == 0 {
        return None;
    }
    let end = major + 1 + minor;
    // A program is `pythonX.Y` exactly (or `pythonX.Yd`, `pythonX.Ym`: ABI flags).
    if prefix == b"python" && !rest[end..].iter().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

fn python_edges(
    view: &dyn FsView,
    path: &ByteStr,
    facts: &ElfFacts,
    closure: &[ByteStr],
    out: &mut Vec<RuntimeEdge>,
) {
    let own = python_version(base(path.as_bytes()), b"python").filter(|_| {
        facts.interp.is_some()
            || matches!(
                facts.kind,
                crate::elf::Kind::Executable | crate::elf::Kind::Pie
            )
    });
    let embedded = || {
        facts
            .needed
            .iter()
            .find_map(|n| python_version(n.as_bytes(), b"libpython"))
            .map(|v| {
                let lib = closure
                    .iter()
                    .find(|c| base(c.as_bytes()).starts_with(format!("libpython{v}").as_bytes()));
                (v, lib.cloned())
            })
    };
    let (version, anchor) = match own {
        Some(v) => (v, path.clone()),
        None => match embedded() {
            Some((v, Some(lib))) => (v, lib),
            _ => return,
        },
    };
    // Python finds its prefix from where it runs (the program, or libpython), going up until a
    // directory holds lib/pythonX.Y/os.py.
    let mut dir = parent(anchor.as_bytes()).to_vec();
    for _ in 0..4 {
        let up = parent(&dir).to_vec();
        let stdlib = [
            &up[..],
            if up == b"/" { b"" } else { b"/" },
            b"lib/python",
            version.as_bytes(),
        ]
        .concat();
        let landmark = [&stdlib[..], b"/os.py"].concat();
        if let Ok(c) = view.resolve(&landmark, true)
            && view.kind(c.as_bytes()) == Some(FileKind::File)
            && let Ok(stdlib) = view.resolve(&stdlib, true)
        {
            let detail = format!("Python {version} ({})", stdlib.display_escaped());
            out.push(RuntimeEdge {
                from: path.clone(),
                rule: Rule::PythonStdlib,
                detail: detail.clone(),
                tier: Tier::Required,
                target: Target::Tree {
                    dir: stdlib.clone(),
                    except: vec![
                        ByteStr::from("site-packages"),
                        ByteStr::from("dist-packages"),
                        ByteStr::from("lib-dynload"),
                    ],
                },
            });
            let dynload = crate::tree::child_of(stdlib.as_bytes(), b"lib-dynload");
            for name in view.children(&dynload).into_iter().take(MAX_TREE_FILES) {
                if !name.as_bytes().ends_with(b".so") {
                    continue;
                }
                let file = crate::tree::child_of(&dynload, name.as_bytes());
                out.push(RuntimeEdge {
                    from: path.clone(),
                    rule: Rule::PythonExtension,
                    detail: detail.clone(),
                    tier: Tier::Required,
                    target: Target::File(ByteStr::from(file)),
                });
            }
            return;
        }
        if up == b"/" {
            return;
        }
        dir = up;
    }
}

fn jvm_edges(view: &dyn FsView, path: &ByteStr, closure: &[ByteStr], out: &mut Vec<RuntimeEdge>) {
    let Some(jli) = closure.iter().find(|c| base(c.as_bytes()) == b"libjli.so") else {
        return;
    };
    let lib = parent(jli.as_bytes()).to_vec();
    let cfg_path = crate::tree::child_of(&lib, b"jvm.cfg");
    // Debian's jvm.cfg is a symlink into /etc.
    let Ok(cfg) = view
        .resolve(&cfg_path, true)
        .and_then(|c| view.read(c.as_bytes(), MAX_CONFIG))
    else {
        return;
    };
    let detail = ByteStr::from(cfg_path.clone())
        .display_escaped()
        .to_string();
    // jvm.cfg: `-NAME KNOWN|IGNORE|ALIASED_TO -OTHER|...`; the launcher takes the first KNOWN.
    let vm = cfg.split(|&b| b == b'\n').find_map(|line| {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let name = words.next()?.strip_prefix(b"-")?;
        (words.next()? == b"KNOWN"
            && !name.is_empty()
            && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'))
        .then(|| name.to_vec())
    });
    let mut files = Vec::new();
    if let Some(vm) = vm {
        let dir = crate::tree::child_of(&lib, &vm);
        files.push(crate::tree::child_of(&dir, b"libjvm.so"));
    }
    for name in view.children(&lib).into_iter().take(MAX_TREE_FILES) {
        if name.as_bytes().ends_with(b".so") && name.as_bytes() != b"libjli.so" {
            files.push(crate::tree::child_of(&lib, name.as_bytes()));
        }
    }
    for f in files {
        out.push(RuntimeEdge {
            from: path.clone(),
            rule: Rule::Jvm,
            detail: detail.clone(),
            tier: Tier::Required,
            target: Target::File(ByteStr::from(f)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{Kind, VersionDef};
    use crate::resolve::MemView;
    use crate::resolve::testing_facts as facts;

    const LD: &str = "/lib64/ld-linux-x86-64.so.2";

    fn program() -> ElfFacts {
        facts(Kind::Pie, Some(LD), None, &["libc.so.6"])
    }

    fn library(soname: &str) -> ElfFacts {
        facts(Kind::SharedLibrary, None, Some(soname), &[])
    }

    fn targets(edges: &[RuntimeEdge], rule: Rule) -> Vec<String> {
        edges
            .iter()
            .filter(|e| e.rule == rule)
            .map(|e| match &e.target {
                Target::Sonames(s) => s
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
                Target::File(f) => f.to_string(),
                Target::Tree { dir, .. } => format!("tree {dir}"),
            })
            .collect()
    }

    #[test]
    fn nss_modules_of_libc_but_for_the_services_built_into_it() {
        let mut v = MemView::new();
        let mut libc = library("libc.so.6");
        libc.version_defs.push(VersionDef {
            index: 2,
            name: ByteStr::from("GLIBC_2.36"),
            base: false,
            weak: false,
            parents: Vec::new(),
        });
        let id = v.elf("/lib/libc.so.6", libc);
        v.file(
            "/etc/nsswitch.conf",
            b"passwd: files ldap\nhosts: files myhostname dns\n# netgroup: nis\n",
        );
        let cfg = RootConfig::read(&v);
        let edges = edges_of(&v, id, &[], &cfg);
        assert_eq!(
            targets(&edges, Rule::Nss),
            ["libnss_ldap.so.2", "libnss_myhostname.so.2"]
        );
        assert_eq!(edges[1].detail, "hosts: myhostname");
        // Before 2.34 `files` and `dns` were modules too.
        let mut old = library("libc.so.6");
        old.version_defs.push(VersionDef {
            index: 2,
            name: ByteStr::from("GLIBC_2.31"),
            base: false,
            weak: false,
            parents: Vec::new(),
        });
        let id = v.elf("/lib/old/libc.so.6", old);
        assert_eq!(targets(&edges_of(&v, id, &[], &cfg), Rule::Nss).len(), 5);
        // A program has none of its own: its libc does.
        let p = v.elf("/usr/bin/p", program());
        assert!(edges_of(&v, p, &[], &cfg).is_empty());
    }

    #[test]
    fn the_jvm_cfg_names_the_vm_and_lib_holds_the_native_libraries() {
        let mut v = MemView::new();
        let home = "/usr/lib/jvm/j";
        v.elf(format!("{home}/lib/libjli.so"), library("libjli.so"));
        v.elf(format!("{home}/lib/libjava.so"), library("libjava.so"));
        v.elf(format!("{home}/lib/server/libjvm.so"), library("libjvm.so"));
        v.file(
            format!("{home}/lib/jvm.cfg"),
            b"# comment\n-client IGNORE\n-server KNOWN\n",
        );
        let java = v.elf(format!("{home}/bin/java"), program());
        let cfg = RootConfig::default();
        let closure = [ByteStr::from(format!("{home}/lib/libjli.so").as_str())];
        let got = targets(&edges_of(&v, java, &closure, &cfg), Rule::Jvm);
        assert_eq!(
            got,
            [
                format!("{home}/lib/server/libjvm.so"),
                format!("{home}/lib/libjava.so")
            ]
        );
        // Without libjli in its session, a program is no JVM.
        assert!(edges_of(&v, java, &[], &cfg).is_empty());
    }

    #[test]
    fn python_loads_its_standard_library_and_lib_dynload() {
        let mut v = MemView::new();
        v.file("/usr/lib/python3.11/os.py", b"");
        v.file("/usr/lib/python3.11/lib-dynload/_ssl.so", b"");
        v.file("/usr/lib/python3.11/lib-dynload/README", b"");
        let py = v.elf("/usr/bin/python3.11", program());
        let cfg = RootConfig::default();
        let edges = edges_of(&v, py, &[], &cfg);
        assert_eq!(
            targets(&edges, Rule::PythonStdlib),
            ["tree /usr/lib/python3.11"]
        );
        assert_eq!(
            targets(&edges, Rule::PythonExtension),
            ["/usr/lib/python3.11/lib-dynload/_ssl.so"]
        );
        // No landmark, no standard library.
        let mut bare = MemView::new();
        let py = bare.elf("/usr/bin/python3.11", program());
        assert!(edges_of(&bare, py, &[], &cfg).is_empty());
    }

    #[test]
    fn pam_modules_of_the_service_named_as_the_program() {
        let mut v = MemView::new();
        let libpam = "/usr/lib/x86_64-linux-gnu/libpam.so.0.85.1";
        v.elf(libpam, library("libpam.so.0"));
        v.file(
            "/etc/pam.d/su",
            b"auth sufficient pam_rootok.so\n@include common-auth\n-session optional pam_systemd.so\n",
        );
        v.file("/etc/pam.d/common-auth", b"auth required pam_unix.so\n");
        let su = v.elf("/usr/bin/su", program());
        let cfg = RootConfig::default();
        let edges = edges_of(&v, su, &[ByteStr::from(libpam)], &cfg);
        let dir = "/usr/lib/x86_64-linux-gnu/security";
        assert_eq!(
            targets(&edges, Rule::Pam),
            [
                format!("{dir}/pam_rootok.so"),
                format!("{dir}/pam_unix.so"),
                format!("{dir}/pam_systemd.so")
            ]
        );
        let tiers: Vec<Tier> = edges.iter().map(|e| e.tier).collect();
        assert_eq!(tiers, [Tier::Required, Tier::Required, Tier::Recommended]);
        assert_eq!(edges[1].detail, "/etc/pam.d/su -> common-auth");
    }

    #[test]
    fn python_versions_from_names() {
        assert_eq!(
            python_version(b"python3.11", b"python").as_deref(),
            Some("3.11")
        );
        assert_eq!(
            python_version(b"python3.11d", b"python").as_deref(),
            Some("3.11")
        );
        assert_eq!(python_version(b"python3", b"python"), None);
        assert_eq!(python_version(b"python3.11-config", b"python"), None);
        assert_eq!(
            python_version(b"libpython3.11.so.1.0", b"libpython").as_deref(),
            Some("3.11")
        );
        assert_eq!(python_version(b"libpython.so", b"libpython"), None);
    }
}

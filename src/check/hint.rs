/*!
What stands in the root under the name of a library the loader did not find, and what to do about a
`library-missing` finding.

A hint names a file only after checking what it resolves to (a dangling symlink is not a library),
and it follows the family of the loader of the session: musl has no ld.so.conf and no ldconfig; its
system path is the path file `/etc/ld-musl-ARCH.path` (which replaces the built-in
`/lib:/usr/local/lib:/usr/lib` when present) and the RUNPATH/RPATH of the objects. glibc searches
RUNPATH, its cache (built by ldconfig from the ld.so.conf directories and its own default
directories) and its default directories; adding a directory to ld.so.conf is only suggested when
the loader does not already search it.

Hints are built from plain data: the walked tree, and what the probes ([`super::probe`]) read
beforehand, glibc's configuration and each loader's [`SystemPath`] (musl's path file, the default
directories built into an ld.so).

The same candidates serve `elfdeps packages` (a library that loads into a process which already
has its need is not broken, [`LibraryIndex::loadable`]).
*/

use crate::elf::Machine;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::probe::LdConfig;
use crate::elf::Kind;
use crate::name::ByteStr;
use crate::resolve::LoaderRef;
use crate::resolve::env::{Family, basename, dirname, is_musl_interp};
use crate::scan::Object;
use crate::tree::{Entry, Tree, child_of};

/// What a path named like a needed library turns out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateState {
    /// A shared library of the requester's machine and class: its canonical path.
    Loadable(ByteStr),
    /// A symlink that leads to nothing inside the root (its target as written).
    Dangling(Option<ByteStr>),
    /// Resolves to a directory, a FIFO, a device...
    NotAFile(ByteStr),
    /// A regular file that is not a shared library for the requester (not ELF, another kind,
    /// another machine or class).
    NotLoadable(ByteStr),
}

/// A path of the root named like a needed library (by file name or by DT_SONAME).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The path as found in the tree.
    pub path: ByteStr,
    /// What it resolves to.
    pub state: CandidateState,
}

/// Every path of the root where a library of a given name may live: by file name and by
/// DT_SONAME.
pub struct LibraryIndex<'a> {
    tree: &'a Tree,
    objs: &'a [Object],
    by_name: HashMap<Cow<'a, [u8]>, Vec<ByteStr>>,
    objects: HashMap<&'a [u8], usize>,
}

impl<'a> LibraryIndex<'a> {
    /// Indexes the walked tree and the objects (one pass over each); with `wanted`, only the
    /// paths of those names (a root's missing names are few, its paths many).
    pub fn new(
        objs: &'a [Object],
        tree: &'a Tree,
        wanted: Option<&HashSet<&[u8]>>,
    ) -> LibraryIndex<'a> {
        let wants = |name: &[u8]| wanted.is_none_or(|w| w.contains(name));
        let mut by_name: HashMap<Cow<'a, [u8]>, Vec<ByteStr>> = HashMap::new();
        for (dir, name, entry) in tree.entries() {
            if matches!(entry, Entry::File | Entry::Symlink(_)) {
                let base = name;
                if (base.starts_with(b"lib") || base.contains(&b'.')) && wants(base) {
                    by_name
                        .entry(Cow::Borrowed(base))
                        .or_default()
                        .push(child_of(dir, base).into());
                }
            }
        }
        // Plain (non-ELF) files are kept by name hash only: asked for by name, for the names
        // wanted (never loadable, they still tell a hint what is there).
        if let Some(w) = wanted {
            for (name, path) in tree.plain_files_named_any(w.iter().copied()) {
                by_name
                    .entry(Cow::Owned(name.to_vec()))
                    .or_default()
                    .push(path);
            }
        }
        // In path order, as a walk of the whole tree lists them; then the libraries found by
        // DT_SONAME.
        for v in by_name.values_mut() {
            v.sort();
        }
        for o in objs {
            if let Some(s) = o.facts.soname.as_ref().filter(|s| wants(s.as_bytes())) {
                let v = by_name.entry(Cow::Borrowed(s.as_bytes())).or_default();
                if !v.contains(&o.path) {
                    v.push(o.path.clone());
                }
            }
        }
        let objects = objs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.path.as_bytes(), i))
            .collect();
        LibraryIndex {
            tree,
            objs,
            by_name,
            objects,
        }
    }

    /// Every path named `name`, with what it resolves to for a requester like `requester` (the
    /// session's objects share its machine and class).
    pub fn candidates(&self, name: &[u8], requester: &Object) -> Vec<Candidate> {
        let tree = self.tree;
        let Some(paths) = self.by_name.get(name) else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|p| {
                let state = match tree.resolve(p.as_bytes(), true) {
                    Err(_) => CandidateState::Dangling(match tree.get(p.as_bytes()) {
                        Some(Entry::Symlink(t)) => Some(t.clone()),
                        _ => None,
                    }),
                    Ok(c) => match tree.get(c.as_bytes()) {
                        Some(Entry::File) => match self.objects.get(c.as_bytes()) {
                            Some(&i)
                                if {
                                    let f = &self.objs[i].facts;
                                    f.kind == Kind::SharedLibrary
                                        && f.machine == requester.facts.machine
                                        && f.class == requester.facts.class
                                } =>
                            {
                                CandidateState::Loadable(c)
                            }
                            _ => CandidateState::NotLoadable(c),
                        },
                        _ => CandidateState::NotAFile(c),
                    },
                };
                Candidate {
                    path: p.clone(),
                    state,
                }
            })
            .collect()
    }

    /// The first path named `name` that resolves to a library `requester`'s loader can load: the
    /// library a process that already loaded it matches the need with (the rule for plugins, e.g.
    /// the JDK's libraries needing `libjvm.so`). Returns (path as found, canonical path).
    pub fn loadable(&self, name: &[u8], requester: &Object) -> Option<(ByteStr, ByteStr)> {
        self.candidates(name, requester)
            .into_iter()
            .find_map(|c| match c.state {
                CandidateState::Loadable(canonical) => Some((c.path, canonical)),
                _ => None,
            })
    }
}

/// Where a loader looks for a need when no RUNPATH/RPATH helps, for hints: read by the probes
/// ([`super::probe`]) for each loader a hint may name, then plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemPath {
    /// musl: its path file, or its built-in default.
    Musl {
        /// Canonical directories of musl's system path.
        dirs: Vec<ByteStr>,
        /// The path file this interpreter reads (present or not).
        path_file: ByteStr,
        /// Whether it exists (else the built-in default applies).
        path_file_exists: bool,
    },
    /// glibc: the default directories and the ld.so.conf ones.
    Glibc {
        /// Canonical default directories built into that ld.so.
        default_dirs: Vec<ByteStr>,
        /// Canonical ld.so.conf directories (searched through the cache).
        conf_dirs: Vec<ByteStr>,
    },
}

impl SystemPath {
    fn searches(&self, dir: &[u8]) -> bool {
        match self {
            SystemPath::Musl { dirs, .. } => dirs.iter().any(|d| d.as_bytes() == dir),
            SystemPath::Glibc {
                default_dirs,
                conf_dirs,
                ..
            } => default_dirs
                .iter()
                .chain(conf_dirs)
                .any(|d| d.as_bytes() == dir),
        }
    }
}

/// Which [`SystemPath`] a session's hints use: its loader, the interpreter that loader is known
/// by (musl finds its path file from the interpreter the program names; a library's session uses
/// the root's loader, known by its own path), and the requester's machine (glibc's fallback
/// default directories depend on it when the loader's own facts are unknown).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoaderKey {
    /// The loader file (canonical).
    pub loader: ByteStr,
    /// The interpreter it is known by.
    pub interp: ByteStr,
    /// The requester's machine.
    pub machine: Machine,
}

impl LoaderKey {
    /// The key of `o`'s session with `loader`.
    pub fn of(o: &Object, loader: &LoaderRef) -> LoaderKey {
        let interp = match (&o.facts.interp, family_of(loader)) {
            (Some(i), Family::Musl) if is_musl_interp(i.as_bytes()) => i.clone(),
            _ => loader.path.clone(),
        };
        LoaderKey {
            loader: loader.path.clone(),
            interp,
            machine: o.facts.machine,
        }
    }
}

/// The loader family of a session.
pub fn family_of(loader: &LoaderRef) -> Family {
    loader.family
}

/// The canonical paths of `dirs` in `tree` (those that resolve), each once, in order.
pub fn canonical_dirs<'d>(tree: &Tree, dirs: impl Iterator<Item = &'d ByteStr>) -> Vec<ByteStr> {
    let mut out: Vec<ByteStr> = Vec::new();
    for d in dirs {
        if let Ok(c) = tree.resolve(d.as_bytes(), true)
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out
}

/// Builds `library-missing` hints from plain data: the walked tree, the glibc configuration and
/// the system path of each loader, all read beforehand by the probes.
pub struct Hints<'a> {
    tree: &'a Tree,
    ld: &'a LdConfig,
    system_paths: &'a HashMap<LoaderKey, SystemPath>,
}

impl<'a> Hints<'a> {
    /// For the root whose walked `tree`, glibc configuration `ld` and loaders' `system_paths`
    /// the probes read.
    pub fn new(
        tree: &'a Tree,
        ld: &'a LdConfig,
        system_paths: &'a HashMap<LoaderKey, SystemPath>,
    ) -> Hints<'a> {
        Hints {
            tree,
            ld,
            system_paths,
        }
    }

    /// The system path of `o`'s session with `loader`. The probes read one for every session that
    /// misses a library; a key they did not read (an input built by hand) stands for a loader
    /// that searches no system directory, with musl's path file absent.
    fn system_path(&self, o: &Object, loader: &LoaderRef) -> SystemPath {
        let key = LoaderKey::of(o, loader);
        match self.system_paths.get(&key) {
            Some(s) => s.clone(),
            None => match family_of(loader) {
                Family::Musl => SystemPath::Musl {
                    dirs: Vec::new(),
                    path_file: musl_path_file(key.interp.as_bytes()),
                    path_file_exists: false,
                },
                Family::Glibc => SystemPath::Glibc {
                    default_dirs: Vec::new(),
                    conf_dirs: Vec::new(),
                },
            },
        }
    }

    /// The hint for `o`'s session missing `name`, when the search skipped nothing that explains it.
    pub fn library_missing(
        &self,
        o: &Object,
        loader: Option<&LoaderRef>,
        name: &ByteStr,
        candidates: &[Candidate],
    ) -> String {
        let install = format!("install the package that provides {name}");
        let loadable = candidates.iter().find_map(|c| match &c.state {
            CandidateState::Loadable(canonical) => Some((&c.path, canonical)),
            _ => None,
        });
        let Some((path, canonical)) = loadable else {
            return match candidates.first() {
                None => install,
                Some(c) => {
                    let (what, todo) = match &c.state {
                        // A link left behind: the package that installed it lost its file.
                        CandidateState::Dangling(Some(t)) => (
                            format!(
                                "{} is a symlink to {t}, which does not exist in the root",
                                c.path
                            ),
                            "reinstall",
                        ),
                        CandidateState::Dangling(None) => (
                            format!("{} does not resolve inside the root", c.path),
                            "reinstall",
                        ),
                        CandidateState::NotAFile(t) => (
                            format!("{} resolves to {t}, which is not a regular file", c.path),
                            "install",
                        ),
                        CandidateState::NotLoadable(t) => (
                            format!(
                                "{} ({t}) is not a {} {} shared library",
                                c.path,
                                o.facts.machine,
                                o.facts.class.as_str()
                            ),
                            "install",
                        ),
                        CandidateState::Loadable(_) => (String::new(), "install"),
                    };
                    format!("{what}: {todo} the package that provides {name}")
                }
            };
        };
        let Some(loader) = loader else {
            return format!("{name} exists at {path}; {install} for this object's loader");
        };
        let sys = self.system_path(o, loader);
        // The loaders search a directory by file name: a file that only has the soname is not
        // found until a link of that name exists.
        let named = [path, canonical]
            .into_iter()
            .find(|p| basename(p.as_bytes()) == name.as_bytes());
        let (dir, link) = match named {
            Some(p) => (dirname(p.as_bytes()), None),
            None => (
                dirname(canonical.as_bytes()),
                Some(ByteStr::from(basename(canonical.as_bytes()))),
            ),
        };
        let dir_shown = ByteStr::from(dir);
        let dir_canonical = self
            .tree
            .resolve(dir, true)
            .unwrap_or_else(|_| dir_shown.clone());
        let searched = sys.searches(dir_canonical.as_bytes());
        // ldconfig caches what it finds in the ld.so.conf directories.
        let cached = self
            .ld
            .cache
            .as_ref()
            .is_some_and(|c| c.iter().any(|e| e.soname == *name));
        let add_dir = match &sys {
            SystemPath::Musl {
                path_file,
                path_file_exists: true,
                ..
            } => format!(
                "add {dir_shown} to the RUNPATH ($ORIGIN-relative) or to {path_file}, musl's system path"
            ),
            SystemPath::Musl {
                path_file,
                path_file_exists: false,
                ..
            } => format!(
                "add {dir_shown} to the RUNPATH ($ORIGIN-relative), or create {path_file} listing /lib, /usr/local/lib, /usr/lib and {dir_shown} (musl has no ld.so.conf or ldconfig; that file replaces its default path)"
            ),
            SystemPath::Glibc { .. } => format!(
                "add {dir_shown} to the RUNPATH ($ORIGIN-relative), or list it in /etc/ld.so.conf (or a file it includes) and run ldconfig in the root"
            ),
        };
        match (&sys, link, searched) {
            (SystemPath::Glibc { .. }, Some(base), true) => format!(
                "{canonical} has the soname {name}, but no file of that name leads to it: run ldconfig in the root ({dir_shown} is a directory it scans; it creates the link {name} -> {base} and caches it)"
            ),
            (_, Some(base), true) => format!(
                "{canonical} has the soname {name}, but no file of that name leads to it: create the link {dir_shown}/{name} -> {base}"
            ),
            (_, Some(base), false) => format!(
                "{canonical} has the soname {name}, but no file of that name leads to it: create the link {dir_shown}/{name} -> {base}, and {add_dir}"
            ),
            (SystemPath::Glibc { conf_dirs, .. }, None, true)
                if conf_dirs.contains(&dir_canonical) && !cached =>
            {
                if self.ld.cache.is_some() {
                    format!(
                        "{path} is in an ld.so.conf directory but not in /etc/ld.so.cache: the cache is stale; run ldconfig in the root (chroot ROOT ldconfig)"
                    )
                } else {
                    format!(
                        "{path} is in an ld.so.conf directory and the root has no /etc/ld.so.cache: run ldconfig in the root (chroot ROOT ldconfig)"
                    )
                }
            }
            (_, None, true) => format!(
                "{path} is in {dir_shown}, which the loader searches: see `elfdeps tree` for why the search does not reach it"
            ),
            (_, None, false) => format!("{name} exists at {path}: {add_dir}"),
        }
    }
}

/// The path file musl reads for interpreter `interp`: `<prefix>/etc/ld-musl-ARCH.path`, prefix
/// being the interpreter's path minus its last two components.
pub fn musl_path_file(interp: &[u8]) -> ByteStr {
    let prefix = dirname(dirname(interp));
    let prefix: &[u8] = if prefix == b"/" { b"" } else { prefix };
    ByteStr::from(
        [
            prefix,
            b"/etc/ld-musl-",
            crate::resolve::env::musl_arch(interp),
            b".path",
        ]
        .concat(),
    )
}

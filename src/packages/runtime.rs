//! The set that runs the programs: the loader closure's owners ([`super::compute_for`]) grown to a
//! fixed point by what installing a package brings and what its programs load at run time.
//!
//! Each round, for every package newly in the set:
//! 1. its declared dependencies join (dpkg Depends and Pre-Depends, APK `D:`, RPM Requires: the
//!    first alternative of each group that an installed package satisfies), as the package
//!    manager would install them;
//! 2. its programs (every ELF executable it ships) must start within the set: each is resolved,
//!    and the owners of what its loader loads join (an exec'd helper such as git's
//!    `git-remote-https` is covered this way);
//!
//! and for every object loaded by anything in the set, its run-time edges
//! ([`crate::runtime::edges`]) up to the chosen tier: what an edge names joins with its owner,
//! and an ELF object it names is resolved in turn (a dlopen'd `libjvm.so` brings `libstdc++`).
//! Shared objects of an included package that nothing names (plugins) are not resolved.
//!
//! Nothing is assumed installed: an Essential package is in the set only when something needs it
//! (a distroless image has no Essential set), and is marked so.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::{PackageSet, Reason};
use crate::name::ByteStr;
use crate::pkgdb::PackageDb;
use crate::resolve::derived::{Filtered, dlopen};
use crate::resolve::{FileKind, FsView, LoaderCache, ObjectId, Resolution, ResolveOptions};
use crate::runtime::edges::{self, RootConfig, RuntimeEdge, Target, Tier};

/// How far the set grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The widest tier of run-time edges followed (`Required`: the default set).
    pub tier: Tier,
    /// Follow declared dependencies.
    pub declared: bool,
}

impl Default for Growth {
    fn default() -> Growth {
        Growth {
            tier: Tier::Required,
            declared: true,
        }
    }
}

/// A run-time edge of the set and what it came to.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeOutcome {
    /// The edge.
    #[serde(flatten)]
    pub edge: RuntimeEdge,
    /// The files it loads (canonical paths; for a tree, the directory), empty when unresolved.
    pub loads: Vec<ByteStr>,
    /// Whether it was followed (its tier is within the chosen one).
    pub followed: bool,
}

/// An ELF need of a package's object met by a package it does not declare (directly or through
/// its declared dependencies): a packaging bug.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Undeclared {
    /// The package whose object has the need.
    pub package: ByteStr,
    /// The object.
    pub object: ByteStr,
    /// The file it loads.
    pub file: ByteStr,
    /// The package owning that file.
    pub provider: ByteStr,
}

/// A declared dependency of a package of the set that none of its ELF objects needs (it may
/// still carry data the package needs, as nginx-common carries nginx's configuration).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeclaredUnused {
    /// The declaring package.
    pub package: ByteStr,
    /// The dependency, as declared.
    pub relation: String,
    /// The package that satisfies it.
    pub satisfied_by: ByteStr,
}

/// A plugin of the set (a shared object nothing names) that misses something.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Optional {
    /// Its package.
    pub package: ByteStr,
    /// The object.
    pub object: ByteStr,
    /// The needed names its loader would not find.
    pub missing: Vec<ByteStr>,
}

/// What the verification found: the set's objects and edges re-resolved in the root holding only the
/// set's files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verification {
    /// Objects re-resolved.
    pub objects: usize,
    /// Edges re-resolved.
    pub edges: usize,
    /// What does not resolve there, one line each.
    pub failures: Vec<String>,
}

/// What the growth added to a [`PackageSet`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Grown {
    /// The tier followed.
    pub tier: Tier,
    /// Run-time edges met, with what they loaded.
    pub edges: Vec<EdgeOutcome>,
    /// ELF needs met by undeclared packages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undeclared: Vec<Undeclared>,
    /// Declared dependencies no ELF object needs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_unused: Vec<DeclaredUnused>,
    /// Dependencies no installed package satisfies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsatisfied: Vec<String>,
    /// Shared objects of the set's packages that nothing names (plugins: the optional tier)
    /// and that would not load as they are: what they miss is reported, not added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional: Vec<Optional>,
    /// Warnings (configuration files, bounds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Objects resolved (the programs, their packages' programs and what edges name).
    #[serde(skip)]
    pub resolved: Vec<ObjectId>,
}

/// Most objects the growth resolves.
pub const MAX_OBJECTS: usize = 100_000;

struct State<'a> {
    view: &'a dyn FsView,
    db: &'a PackageDb,
    opts: &'a ResolveOptions,
    cache: LoaderCache,
    growth: Growth,
    cfg: RootConfig,
    files_of: Vec<Vec<ByteStr>>,
    reasons: BTreeMap<usize, BTreeSet<Reason>>,
    expanded: HashSet<usize>,
    resolved: HashSet<ObjectId>,
    edged: HashSet<ObjectId>,
    pending: Vec<ObjectId>,
    out: Grown,
    /// (package of an object, package of a file it loads).
    elf_pairs: BTreeSet<(usize, usize)>,
    /// Every file a session or an edge of the set loads.
    loaded: HashSet<ByteStr>,
    /// (object, file) behind each pair, for the report.
    pair_example: HashMap<(usize, usize), (ByteStr, ByteStr)>,
}

/// Grows `set` (computed by [`super::compute_for`] for objects `programs` of `view`) to the set
/// that runs them. `paths` is the view as a path lookup for the database's listed files.
pub fn grow(
    set: &mut PackageSet,
    view: &dyn FsView,
    db: &PackageDb,
    opts: &ResolveOptions,
    programs: &[ObjectId],
    growth: Growth,
) -> Grown {
    let cfg = RootConfig::read(view);
    let mut files_of: Vec<Vec<ByteStr>> = vec![Vec::new(); db.packages.len()];
    for (path, i) in db.owned() {
        if let Some(v) = files_of.get_mut(i) {
            v.push(path.clone());
        }
    }
    for v in &mut files_of {
        v.sort();
    }
    let index: HashMap<&ByteStr, usize> = db
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.name, i))
        .collect();
    let mut st = State {
        view,
        db,
        opts,
        cache: LoaderCache::default(),
        growth,
        out: Grown {
            tier: growth.tier,
            warnings: cfg.warnings.clone(),
            ..Grown::default()
        },
        cfg,
        files_of,
        reasons: BTreeMap::new(),
        expanded: HashSet::new(),
        resolved: HashSet::new(),
        edged: HashSet::new(),
        pending: programs.to_vec(),
        elf_pairs: BTreeSet::new(),
        loaded: HashSet::new(),
        pair_example: HashMap::new(),
    };
    for p in set.packages.iter().filter(|p| p.installed) {
        if let Some(&i) = index.get(&p.name) {
            st.reasons.entry(i).or_default();
        }
    }
    loop {
        let fresh: Vec<usize> = st
            .reasons
            .keys()
            .copied()
            .filter(|i| !st.expanded.contains(i))
            .collect();
        if fresh.is_empty() && st.pending.is_empty() {
            break;
        }
        for i in fresh {
            st.expanded.insert(i);
            st.expand_package(i);
        }
        st.resolve_pending();
    }
    st.plugins();
    st.finish(set, &index);
    st.out
}

impl State<'_> {
    fn add(&mut self, pkg: usize, reason: Reason) {
        self.reasons.entry(pkg).or_default().insert(reason);
    }

    /// The owner of canonical `path`, added with `reason` (program, file, role) when there is one.
    fn add_owner(
        &mut self,
        path: &ByteStr,
        program: &ByteStr,
        role: &'static str,
    ) -> Option<usize> {
        let owner = self.db.owner_index(path.as_bytes())?;
        self.add(
            owner,
            Reason {
                program: program.clone(),
                file: path.clone(),
                role,
            },
        );
        // A loader need (not a run-time edge, which configuration drives) is one the package
        // should declare.
        if matches!(role, "library" | "interpreter")
            && let Some(from) = self.db.owner_index(program.as_bytes())
            && from != owner
        {
            self.elf_pairs.insert((from, owner));
            // The least example, so the report does not depend on the order of the work.
            let example = (program.clone(), path.clone());
            self.pair_example
                .entry((from, owner))
                .and_modify(|e| {
                    if example < *e {
                        *e = example.clone();
                    }
                })
                .or_insert(example);
        }
        Some(owner)
    }

    fn expand_package(&mut self, i: usize) {
        let Some(p) = self.db.packages.get(i) else {
            return;
        };
        if self.growth.declared {
            for group in &p.depends {
                let found = group.iter().find_map(|r| self.db.satisfier(r, i));
                let text = crate::pkgdb::declared::group_text(group);
                match found {
                    Some(j) => self.add(
                        j,
                        Reason {
                            program: p.name.clone(),
                            file: ByteStr::from(text.as_str()),
                            role: "declared",
                        },
                    ),
                    None => self.out.unsatisfied.push(format!(
                        "{} depends on {text}, which no installed package satisfies",
                        p.name
                    )),
                }
            }
        }
        // Its programs must start within the set.
        let files = std::mem::take(&mut self.files_of[i]);
        for f in &files {
            if self.view.kind(f.as_bytes()) != Some(FileKind::File) {
                continue;
            }
            if let Some(id) = self.view.object(f.as_bytes())
                && self.view.facts(id).is_program()
                && !self.resolved.contains(&id)
            {
                self.pending.push(id);
            }
        }
        self.files_of[i] = files;
    }

    fn resolve_pending(&mut self) {
        let mut ids: Vec<ObjectId> = std::mem::take(&mut self.pending);
        // By path, not by id: ids depend on the view (a lazy view numbers objects as it meets
        // them), the report must not.
        ids.sort_unstable_by(|a, b| self.view.object_path(*a).cmp(self.view.object_path(*b)));
        ids.dedup();
        ids.retain(|id| !self.resolved.contains(id));
        let room = MAX_OBJECTS.saturating_sub(self.resolved.len());
        if ids.len() > room {
            self.out.warnings.push(format!(
                "the set's growth stopped after resolving {MAX_OBJECTS} objects (its bound); \
                 the set may miss what the rest need"
            ));
            ids.truncate(room);
        }
        if ids.is_empty() {
            return;
        }
        let sessions = crate::resolve::resolve_cached(self.view, &ids, self.opts, &self.cache);
        for (&id, r) in ids.iter().zip(&sessions) {
            self.resolved.insert(id);
            self.out.resolved.push(id);
            self.take_session(id, r);
        }
    }

    fn take_session(&mut self, id: ObjectId, r: &Resolution) {
        let path = self.view.object_path(id).clone();
        self.loaded.insert(path.clone());
        self.loaded.extend(r.closure.iter().cloned());
        self.add_owner(&path, &path, "program");
        // It cannot start: what another loader of the root would load is not its set (the
        // gap says so, see the module documentation of `packages`).
        if r.status == crate::resolve::Status::InterpMissing {
            return;
        }
        for c in &r.closure {
            self.add_owner(c, &path, "library");
        }
        if let Some(l) = &r.loader {
            self.add_owner(&l.path, &path, "interpreter");
        }
        // The edges of the object and of everything its session loads.
        self.edges_from(id, &r.closure);
        for c in &r.closure {
            if let Some(cid) = self.view.object(c.as_bytes()) {
                self.edges_from(cid, &[]);
            }
        }
    }

    fn edges_from(&mut self, id: ObjectId, closure: &[ByteStr]) {
        if !self.edged.insert(id) {
            return;
        }
        for e in edges::edges_of(self.view, id, closure, &self.cfg) {
            let followed = e.tier <= self.growth.tier;
            let loads = if followed {
                self.follow(id, &e)
            } else {
                Vec::new()
            };
            self.out.edges.push(EdgeOutcome {
                edge: e,
                loads,
                followed,
            });
        }
    }

    /// Adds what edge `e` of object `id` names; returns the files it loads.
    fn follow(&mut self, id: ObjectId, e: &RuntimeEdge) -> Vec<ByteStr> {
        let role: &'static str = e.rule.into();
        let loads = edges::loads_of(self.view, id, e, self.opts, &self.cache);
        match &e.target {
            Target::Sonames(_) | Target::File(_) => {
                for file in &loads {
                    self.add_owner(file, &e.from, role);
                    // What it brings is what its own session loads.
                    if let Some(obj) = self.view.object(file.as_bytes())
                        && !self.resolved.contains(&obj)
                    {
                        self.pending.push(obj);
                    }
                }
                loads
            }
            Target::Tree { dir, except } => {
                let (files, complete) = tree_files(self.view, dir, except);
                if !complete {
                    self.out.warnings.push(format!(
                        "{} holds more than {} entries: the rest are not looked at",
                        dir.display_escaped(),
                        edges::MAX_TREE_FILES
                    ));
                }
                let owners: BTreeSet<usize> = files
                    .iter()
                    .filter_map(|f| self.db.owner_index(f))
                    .collect();
                for o in owners {
                    self.add(
                        o,
                        Reason {
                            program: e.from.clone(),
                            file: dir.clone(),
                            role,
                        },
                    );
                }
                vec![dir.clone()]
            }
        }
    }

    /// The optional tier: every shared object of the set's packages that nothing loaded,
    /// resolved as its own session; those missing something are reported.
    fn plugins(&mut self) {
        let loaded: HashSet<&ByteStr> = self.loaded.iter().collect();
        let mut ids = Vec::new();
        for &i in self.reasons.keys() {
            for f in &self.files_of[i] {
                if loaded.contains(f) || self.view.kind(f.as_bytes()) != Some(FileKind::File) {
                    continue;
                }
                if let Some(id) = self.view.object(f.as_bytes())
                    && !self.resolved.contains(&id)
                    && self.view.facts(id).kind == crate::elf::Kind::SharedLibrary
                {
                    ids.push((i, id));
                }
            }
        }
        ids.truncate(MAX_OBJECTS);
        let only: Vec<ObjectId> = ids.iter().map(|&(_, id)| id).collect();
        let sessions = crate::resolve::resolve_cached(self.view, &only, self.opts, &self.cache);
        for (&(i, id), r) in ids.iter().zip(&sessions) {
            if !r.missing.is_empty() {
                self.out.optional.push(Optional {
                    package: self.db.packages[i].name.clone(),
                    object: self.view.object_path(id).clone(),
                    missing: r.missing.clone(),
                });
            }
        }
        self.out.optional.sort();
    }

    fn finish(&mut self, set: &mut PackageSet, index: &HashMap<&ByteStr, usize>) {
        // Declared closures of the packages whose objects load another package's files.
        let mut undeclared = Vec::new();
        let mut closure_memo: HashMap<usize, BTreeSet<usize>> = HashMap::new();
        for &(from, to) in &self.elf_pairs {
            let declared = closure_memo.entry(from).or_insert_with(|| {
                self.db
                    .declared_closure(&[from])
                    .packages
                    .into_keys()
                    .collect()
            });
            if !declared.contains(&to)
                && let Some((object, file)) = self.pair_example.get(&(from, to))
            {
                undeclared.push(Undeclared {
                    package: self.db.packages[from].name.clone(),
                    object: object.clone(),
                    file: file.clone(),
                    provider: self.db.packages[to].name.clone(),
                });
            }
        }
        undeclared.sort();
        self.out.undeclared = undeclared;
        self.out.edges.sort_by(|a, b| {
            (&a.edge.from, a.edge.rule, &a.edge.detail, &a.loads).cmp(&(
                &b.edge.from,
                b.edge.rule,
                &b.edge.detail,
                &b.loads,
            ))
        });
        self.out.edges.dedup_by(|a, b| a.edge == b.edge);
        // Direct declared dependencies of the set no object of the package needs.
        let needs: BTreeSet<(usize, usize)> = self.elf_pairs.clone();
        let mut unused = Vec::new();
        for &i in self.reasons.keys() {
            let p = &self.db.packages[i];
            for group in &p.depends {
                let Some(j) = group.iter().find_map(|r| self.db.satisfier(r, i)) else {
                    continue;
                };
                if j != i && !needs.contains(&(i, j)) {
                    unused.push(DeclaredUnused {
                        package: p.name.clone(),
                        relation: crate::pkgdb::declared::group_text(group),
                        satisfied_by: self.db.packages[j].name.clone(),
                    });
                }
            }
        }
        unused.sort();
        unused.dedup();
        self.out.declared_unused = unused;
        // Merge into the set.
        for (i, rs) in std::mem::take(&mut self.reasons) {
            let p = &self.db.packages[i];
            match set.packages.iter_mut().find(|n| n.name == p.name) {
                Some(n) => {
                    let all = set.all_reasons.entry(n.name.clone()).or_default();
                    all.extend(n.reasons.iter().cloned());
                    all.extend(rs);
                    n.reason_count = n.reason_count.max(all.len());
                    n.reasons = all.iter().take(super::MAX_REASONS).cloned().collect();
                }
                None if !rs.is_empty() => {
                    let mut n = super::needed_of(p, rs);
                    n.installed = true;
                    set.packages.push(n);
                }
                None => {}
            }
        }
        let _ = index;
        set.packages.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// The files (not directories) below `dir`, but for its subdirectories `except`, and whether
/// that is all of them (at most [`edges::MAX_TREE_FILES`] entries are looked at).
fn tree_files(view: &dyn FsView, dir: &ByteStr, except: &[ByteStr]) -> (Vec<Vec<u8>>, bool) {
    let mut files = Vec::new();
    let mut seen = 0;
    let mut stack = vec![dir.as_bytes().to_vec()];
    while let Some(d) = stack.pop() {
        for name in view.children(&d) {
            seen += 1;
            if seen > edges::MAX_TREE_FILES {
                return (files, false);
            }
            let full = crate::tree::child_of(&d, name.as_bytes());
            match view.kind(&full) {
                Some(FileKind::Dir) if d != dir.as_bytes() || !except.contains(&name) => {
                    stack.push(full);
                }
                Some(FileKind::Dir) | None => {}
                Some(_) => files.push(full),
            }
        }
    }
    (files, true)
}

/// Re-resolves the objects `resolved` and the followed edges `edges` in `view` holding only the
/// files of the packages of `set` (plus what no package owns but is not an ELF object, and the
/// programs `programs` themselves), and says what does not resolve there as it did in `view`.
pub fn verify(
    set: &PackageSet,
    view: &dyn FsView,
    db: &PackageDb,
    opts: &ResolveOptions,
    programs: &[ObjectId],
    grown: &Grown,
) -> Verification {
    let names: HashSet<&ByteStr> = set
        .packages
        .iter()
        .filter(|p| p.installed)
        .map(|p| &p.name)
        .collect();
    let in_set: HashSet<usize> = db
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| names.contains(&p.name))
        .map(|(i, _)| i)
        .collect();
    let program_paths: HashSet<&[u8]> = programs
        .iter()
        .map(|&id| view.object_path(id).as_bytes())
        .collect();
    let keep = |path: &[u8]| match db.owner_index(path) {
        Some(o) => in_set.contains(&o),
        // What no package owns is kept (the image has it: /etc/passwd, ld.so.cache, the
        // alternatives links), but for an ELF object, which only the programs asked about are.
        None => {
            program_paths.contains(path)
                || view.kind(path) != Some(FileKind::File)
                || view.object(path).is_none()
        }
    };
    let reduced = Filtered::new(view, keep);
    let (full_cache, cut_cache) = (LoaderCache::default(), LoaderCache::default());
    let mut v = Verification::default();
    let full = crate::resolve::resolve_cached(view, &grown.resolved, opts, &full_cache);
    let cut = crate::resolve::resolve_cached(&reduced, &grown.resolved, opts, &cut_cache);
    for ((&id, a), b) in grown.resolved.iter().zip(&full).zip(&cut) {
        v.objects += 1;
        if a.closure != b.closure || a.missing != b.missing || a.status != b.status {
            let path = view.object_path(id).display_escaped();
            let lost: Vec<String> = b
                .missing
                .iter()
                .filter(|m| !a.missing.contains(m))
                .map(|m| m.display_escaped())
                .collect();
            v.failures.push(if lost.is_empty() {
                format!(
                    "{path} loads differently in the reduced root ({:?} there)",
                    b.status
                )
            } else {
                format!("{path} misses {} in the reduced root", lost.join(", "))
            });
        }
    }
    for e in grown
        .edges
        .iter()
        .filter(|e| e.followed && !e.loads.is_empty())
    {
        v.edges += 1;
        let Some(from) = view.object(e.edge.from.as_bytes()) else {
            continue;
        };
        let ok = match &e.edge.target {
            Target::Sonames(names) => dlopen(&reduced, from, names, opts, &cut_cache).is_some(),
            Target::File(f) => reduced
                .resolve(f.as_bytes(), true)
                .is_ok_and(|c| reduced.kind(c.as_bytes()) == Some(FileKind::File)),
            // Every file of the tree is still there.
            Target::Tree { dir, except } => {
                tree_files(&reduced, dir, except).0.len() == tree_files(view, dir, except).0.len()
            }
        };
        if !ok {
            v.failures.push(format!(
                "{} ({}, {}) does not load {} in the reduced root",
                e.edge.from.display_escaped(),
                e.edge.rule,
                e.edge.detail,
                e.loads
                    .iter()
                    .map(|l| l.display_escaped())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    v
}

//! Minimal package sets: the packages whose files the given programs load (the program, its
//! closure, its interpreter), and the installed packages nothing needs.
//!
//! A needed soname found nowhere is a gap; when a package provides it, one provider joins the set,
//! chosen by one rule (the same name in every output format):
//! 1. an installed package (the root's database) that provides it (`so:NAME`) or lists a file of
//!    that name (its file was deleted, or is not where the loader looks): the first by name;
//! 2. otherwise a package of the `--apk-index` files that provides `so:NAME`: the first by name
//!    (bytewise), with the version of its first record in the order the files were given.
//!
//! Every provider stays listed in the gap (`providers`), with the one chosen (`chosen`). This is our
//! rule, not apk's solver (which weighs `provider_priority` and versions): when several packages
//! provide a soname, the others are named so the user can pick another.
//!
//! A program whose interpreter is missing cannot start: its set is the program's package and an
//! `interpreter-missing` gap, not what another loader of the root would load for it. A library (not
//! a program) whose need exists elsewhere in the root as a library it can load is not broken: it is
//! loaded into a process that already has that need (the rule `elfdeps check` explains as "loads
//! inside a process that already has ..."), and that library's package joins the set.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::check::hint::LibraryIndex;
use crate::name::ByteStr;
use crate::pkgdb::{Package, PackageDb};
use crate::resolve::{Resolution, Resolved, Status};
use crate::scan::Object;
use crate::tree::{PathLookup, Tree};

pub mod runtime;

/// Subpackage suffixes that are never runtime dependencies (unless a loaded file lives there).
pub const NEVER_NEEDED: &[&str] = &[
    "-dev",
    "-doc",
    "-dbg",
    "-static",
    "-openrc",
    "-lang",
    "-bash-completion",
    "-zsh-completion",
    "-fish-completion",
    "-tests",
];

/// Whether a package name has a never-needed suffix.
pub fn is_never_needed(name: &[u8]) -> bool {
    NEVER_NEEDED.iter().any(|s| name.ends_with(s.as_bytes()))
}

/// Why a package is in the set: which object needs which of its files.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reason {
    /// The program (or library) the set was computed for.
    pub program: ByteStr,
    /// The file of the package it loads (or the program itself).
    pub file: ByteStr,
    /// program, library, interpreter, `in-process` (a library the process already has, see the
    /// module documentation; `file` is that library) or `provider` (the chosen provider of a
    /// missing soname; `file` is the soname).
    pub role: &'static str,
}

/// One package of the set.
#[derive(Clone, Debug, Serialize)]
pub struct Needed {
    /// Name.
    pub name: ByteStr,
    /// Version.
    pub version: ByteStr,
    /// Origin.
    pub origin: Option<ByteStr>,
    /// Why (up to a few).
    pub reasons: Vec<Reason>,
    /// How many reasons in all.
    pub reason_count: usize,
    /// Whether the root's database has it (false: a provider from `--apk-index`).
    pub installed: bool,
    /// dpkg's `Essential: yes`: a package manager assumes it, a distroless image does not have it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    /// Its installed size in bytes, as the database records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_size: Option<u64>,
    /// Set when the package has a never-needed suffix (-dev, -doc, ...) and yet a loaded file
    /// lives in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What kind of gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKind {
    /// A loaded file no package owns.
    Unowned,
    /// A needed soname the loader finds nowhere.
    Missing,
    /// The program's interpreter (PT_INTERP) is not in the root: it cannot start.
    InterpreterMissing,
}

/// Where the chosen provider comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderSource {
    /// The root's database.
    Installed,
    /// An `--apk-index` file.
    Index,
}

/// The provider of a gap that joins the set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chosen {
    /// Its name.
    pub name: ByteStr,
    /// Where it comes from.
    pub source: ProviderSource,
}

/// A needed file no package owns, a soname found nowhere, or a missing interpreter.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    /// The program.
    pub program: ByteStr,
    /// The file (unowned, interpreter-missing) or the soname (missing).
    pub what: ByteStr,
    /// What is wrong.
    pub kind: GapKind,
    /// Packages that provide it (installed ones, and those of the `--apk-index` files), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ByteStr>,
    /// The one of them in the set (see the module documentation for the rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Chosen>,
}

/// What a file of an unneeded package is, by its path (reports name it in lower case).
///
/// Declared in the alphabetical order of those names: the counts are listed (and serialized as
/// JSON keys) in this order, as they were when the kinds were strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ContentKind {
    /// Listed by the package, but not in the tree.
    Absent,
    /// `*.crt`, `*.pem`, `/etc/ssl/*`.
    Certificates,
    /// Anything else.
    Data,
    /// An ELF object of the scan.
    Elf,
    /// Init scripts, `*.sh`, anything in a `bin` or `sbin` directory.
    Scripts,
}

/// An installed package nothing needs, with what it contains.
#[derive(Clone, Debug, Serialize)]
pub struct Unneeded {
    /// Name.
    pub name: ByteStr,
    /// Files by kind (directories are not counted).
    pub contents: BTreeMap<ContentKind, usize>,
}

/// The result.
#[derive(Clone, Debug, Serialize)]
pub struct PackageSet {
    /// The database read (`apk`, `dpkg`, `rpm`).
    pub database: crate::pkgdb::DbFormat,
    /// The programs it is for.
    pub programs: Vec<ByteStr>,
    /// The packages, sorted by name.
    pub packages: Vec<Needed>,
    /// Loaded files no package owns, and sonames found nowhere.
    pub gaps: Vec<Gap>,
    /// With `--unneeded`: installed packages nothing in the set needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unneeded: Option<Vec<Unneeded>>,
    /// How the set grew past the loader closure (absent with `--elf-only`): run-time edges,
    /// undeclared and unused dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<runtime::Grown>,
    /// Unless `--no-verify`: the set re-resolved in a view of the root holding only its files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<runtime::Verification>,
    /// The set's size against everything installed (the database's installed sizes).
    pub totals: Totals,
    /// Every reason of each installed package (`reasons` keeps a few), for the growth to add to.
    #[serde(skip)]
    pub(crate) all_reasons: BTreeMap<ByteStr, BTreeSet<Reason>>,
    /// Every path of the set: its installed packages' files as the database lists them, and
    /// the unowned programs it was computed for (`--format files`; not in JSON, which lists
    /// the packages).
    #[serde(skip)]
    pub files: Option<Vec<ByteStr>>,
}

const MAX_REASONS: usize = 8;

/// The providers of a soname and the one chosen (module documentation).
fn providers_of(
    db: &PackageDb,
    listing: &HashMap<&[u8], Vec<usize>>,
    index: &[Package],
    soname: &[u8],
) -> (Vec<ByteStr>, Option<Chosen>) {
    let mut installed: Vec<ByteStr> = db
        .providers(soname)
        .into_iter()
        .map(|p| p.name.clone())
        .chain(
            listing
                .get(soname)
                .into_iter()
                .flatten()
                .map(|&i| db.packages[i].name.clone()),
        )
        .collect();
    installed.sort();
    installed.dedup();
    let mut from_index: Vec<ByteStr> = crate::pkgdb::apkindex::providers(index, soname)
        .into_iter()
        .map(|p| p.name.clone())
        .collect();
    from_index.sort();
    from_index.dedup();
    let chosen = match (installed.first(), from_index.first()) {
        (Some(n), _) => Some(Chosen {
            name: n.clone(),
            source: ProviderSource::Installed,
        }),
        (None, Some(n)) => Some(Chosen {
            name: n.clone(),
            // A package of the index that is also installed is the installed one.
            source: if db.packages.iter().any(|p| &p.name == n) {
                ProviderSource::Installed
            } else {
                ProviderSource::Index
            },
        }),
        (None, None) => None,
    };
    let mut all = installed;
    all.extend(from_index);
    all.sort();
    all.dedup();
    (all, chosen)
}

/// One program (or library) whose set is computed: the object and its loader session.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The object.
    pub object: &'a Object,
    /// Its resolution.
    pub resolution: &'a Resolution,
}

/// Computes the set for objects `targets` (indexes into `report.objects`). `index`: packages of
/// APK repository indexes, which name the subpackages providing missing sonames.
pub fn compute(
    root: Resolved<'_>,
    db: &PackageDb,
    index: &[Package],
    targets: &[usize],
) -> PackageSet {
    let list: Vec<Target<'_>> = targets
        .iter()
        .map(|&t| Target {
            object: &root.objects[t],
            resolution: &root.resolutions[t],
        })
        .collect();
    // The root-wide index of library files is built only when a library (not a program) is
    // among the targets: only its missing needs can be met in-process.
    let libraries = std::cell::OnceCell::new();
    let in_process = |name: &[u8], o: &Object| {
        libraries
            .get_or_init(|| LibraryIndex::new(root.objects, root.tree, None))
            .loadable(name, o)
            .map(|(_, canonical)| canonical)
    };
    compute_for(&list, db, index, root.tree, &in_process)
}

/// [`compute`] for any targets, however they were resolved (the walked root, or a lazy view for a
/// few programs): `paths` resolves paths inside the root; `in_process(name, library)` is the
/// canonical path of a loadable library named `name` elsewhere in the root, which a library
/// missing it finds in the process that loads it (asked only for targets that are not programs).
pub fn compute_for(
    targets: &[Target<'_>],
    db: &PackageDb,
    index: &[Package],
    paths: &dyn PathLookup,
    in_process: &dyn Fn(&[u8], &Object) -> Option<ByteStr>,
) -> PackageSet {
    let mut reasons: BTreeMap<usize, BTreeSet<Reason>> = BTreeMap::new();
    // Providers from the index that are not installed: name -> reasons.
    let mut from_index: BTreeMap<ByteStr, BTreeSet<Reason>> = BTreeMap::new();
    let mut gaps = Vec::new();
    // Installed packages by the last component of each file they list, whether or not it is
    // still in the root (a deleted library's package still lists it): one pass, built once.
    let mut listing: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, p) in db.packages.iter().enumerate() {
        for f in &p.files {
            let base = f.as_bytes().rsplit(|&b| b == b'/').next().unwrap_or(b"");
            let v = listing.entry(base).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    // Providers by soname: every program missing the same library asks once.
    let mut memo: HashMap<ByteStr, (Vec<ByteStr>, Option<Chosen>)> = HashMap::new();
    for t in targets {
        let (o, r) = (t.object, t.resolution);
        let mut files: Vec<(ByteStr, &'static str)> = vec![(o.path.clone(), "program")];
        let mut provided: Vec<(ByteStr, Chosen)> = Vec::new();
        match r {
            // It cannot start: what another loader of the root would load is not its set.
            r if r.status == Status::InterpMissing => {
                if let Some(interp) = &o.facts.interp {
                    let listed = paths
                        .lookup(interp.as_bytes(), false)
                        .unwrap_or_else(|_| interp.clone());
                    let owner = db
                        .owner_index(listed.as_bytes())
                        .map(|i| &db.packages[i].name);
                    let chosen = owner.map(|n| Chosen {
                        name: n.clone(),
                        source: ProviderSource::Installed,
                    });
                    if let Some(c) = &chosen {
                        provided.push((interp.clone(), c.clone()));
                    }
                    gaps.push(Gap {
                        program: o.path.clone(),
                        what: interp.clone(),
                        kind: GapKind::InterpreterMissing,
                        providers: owner.into_iter().cloned().collect(),
                        chosen,
                    });
                }
            }
            r => {
                files.extend(r.closure.iter().map(|c| (c.clone(), "library")));
                if let Some(l) = &r.loader {
                    files.push((l.path.clone(), "interpreter"));
                }
                let program = crate::check::is_program(o);
                for m in &r.missing {
                    if !program && let Some(canonical) = in_process(m.as_bytes(), o) {
                        files.push((canonical, "in-process"));
                        continue;
                    }
                    let (providers, chosen) = memo
                        .entry(m.clone())
                        .or_insert_with(|| providers_of(db, &listing, index, m.as_bytes()))
                        .clone();
                    if let Some(c) = &chosen {
                        provided.push((m.clone(), c.clone()));
                    }
                    gaps.push(Gap {
                        program: o.path.clone(),
                        what: m.clone(),
                        kind: GapKind::Missing,
                        providers,
                        chosen,
                    });
                }
            }
        }
        for (what, c) in provided {
            let reason = Reason {
                program: o.path.clone(),
                file: what,
                role: "provider",
            };
            match db.packages.iter().position(|p| p.name == c.name) {
                Some(i) => {
                    reasons.entry(i).or_default().insert(reason);
                }
                None => {
                    from_index.entry(c.name).or_default().insert(reason);
                }
            }
        }
        for (f, role) in files {
            match db.owner_index(f.as_bytes()) {
                Some(i) => {
                    reasons.entry(i).or_default().insert(Reason {
                        program: o.path.clone(),
                        file: f,
                        role,
                    });
                }
                None => gaps.push(Gap {
                    program: o.path.clone(),
                    what: f,
                    kind: GapKind::Unowned,
                    providers: Vec::new(),
                    chosen: None,
                }),
            }
        }
    }
    let all_reasons: BTreeMap<ByteStr, BTreeSet<Reason>> = reasons
        .iter()
        .map(|(&i, rs)| (db.packages[i].name.clone(), rs.clone()))
        .collect();
    let mut packages: Vec<Needed> = reasons
        .into_iter()
        .map(|(i, rs)| needed_of(&db.packages[i], rs))
        .collect();
    for (name, rs) in from_index {
        // The first record of that name, in the order the index files were given.
        let p = index.iter().find(|p| p.name == name);
        packages.push(Needed {
            version: p.map(|p| p.version.clone()).unwrap_or_default(),
            origin: p.and_then(|p| p.origin.clone()),
            name,
            reason_count: rs.len(),
            reasons: rs.into_iter().take(MAX_REASONS).collect(),
            installed: false,
            essential: false,
            installed_size: p.and_then(|p| p.installed_size),
            warning: None,
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    PackageSet {
        database: db.kind,
        programs: targets.iter().map(|t| t.object.path.clone()).collect(),
        packages,
        gaps,
        unneeded: None,
        runtime: None,
        verify: None,
        files: None,
        totals: Totals::default(),
        all_reasons,
    }
}

/// The size of a set against the whole database.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Packages in the set.
    pub packages: usize,
    /// Their installed size in bytes (packages whose size the database does not record count 0).
    pub bytes: u64,
    /// Packages installed.
    pub installed_packages: usize,
    /// Their installed size in bytes.
    pub installed_bytes: u64,
}

impl Totals {
    /// The totals of `set` against `db`.
    pub fn of(set: &PackageSet, db: &PackageDb) -> Totals {
        Totals {
            packages: set.packages.len(),
            bytes: set.packages.iter().filter_map(|p| p.installed_size).sum(),
            installed_packages: db.packages.len(),
            installed_bytes: db.packages.iter().filter_map(|p| p.installed_size).sum(),
        }
    }
}

/// Every path of `set` (see [`PackageSet::files`]), sorted.
pub fn files_of(set: &PackageSet, db: &PackageDb) -> Vec<ByteStr> {
    let names: BTreeSet<&ByteStr> = set
        .packages
        .iter()
        .filter(|p| p.installed)
        .map(|p| &p.name)
        .collect();
    let mut out: Vec<ByteStr> = db
        .packages
        .iter()
        .filter(|p| names.contains(&p.name))
        .flat_map(|p| p.files.iter().cloned())
        .chain(
            set.gaps
                .iter()
                .filter(|g| g.kind == GapKind::Unowned && set.programs.contains(&g.what))
                .map(|g| g.what.clone()),
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The symlinks a program named by `given` is reached through (canonical paths of the links
/// themselves, in order): a package that ships such a link (`/usr/bin/python3 ->
/// python3.11`, in python3-minimal) is needed to start it by that name.
pub fn link_chain(view: &dyn crate::resolve::FsView, given: &[u8]) -> Vec<ByteStr> {
    use crate::resolve::FileKind;
    let mut out = Vec::new();
    let mut cur = given.to_vec();
    // As many links as the kernel follows.
    for _ in 0..40 {
        let Ok(at) = view.resolve(&cur, false) else {
            break;
        };
        if view.kind(at.as_bytes()) != Some(FileKind::Symlink) {
            break;
        }
        let Some(target) = view.read_link(at.as_bytes()) else {
            break;
        };
        cur = if target.as_bytes().starts_with(b"/") {
            target.as_bytes().to_vec()
        } else {
            let dir = match at.as_bytes().iter().rposition(|&b| b == b'/') {
                Some(i) => &at.as_bytes()[..i],
                None => b"",
            };
            [dir, b"/", target.as_bytes()].concat()
        };
        out.push(at);
    }
    out
}

/// Adds to `set` the owners of the links `given` goes through to reach `program` (see
/// [`link_chain`]).
pub fn add_link_owners(
    set: &mut PackageSet,
    db: &PackageDb,
    view: &dyn crate::resolve::FsView,
    given: &str,
    program: &ByteStr,
) {
    for link in link_chain(view, given.as_bytes()) {
        let Some(i) = db.owner_index(link.as_bytes()) else {
            continue;
        };
        let reason = Reason {
            program: program.clone(),
            file: link,
            role: "link",
        };
        let p = &db.packages[i];
        match set.packages.iter_mut().find(|n| n.name == p.name) {
            Some(n) => {
                if !n.reasons.contains(&reason) {
                    n.reason_count += 1;
                    if n.reasons.len() < MAX_REASONS {
                        n.reasons.push(reason);
                    }
                }
            }
            None => {
                set.packages
                    .push(needed_of(p, [reason].into_iter().collect()));
                set.packages.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
    }
}

/// The set's entry for installed package `p`, needed for `rs`.
fn needed_of(p: &Package, rs: BTreeSet<Reason>) -> Needed {
    let warning = is_never_needed(p.name.as_bytes()).then(|| {
        format!(
            "{} is a {} subpackage, but a loaded file lives in it",
            p.name,
            NEVER_NEEDED
                .iter()
                .find(|s| p.name.as_bytes().ends_with(s.as_bytes()))
                .unwrap_or(&"-dev")
        )
    });
    Needed {
        name: p.name.clone(),
        version: p.version.clone(),
        origin: p.origin.clone(),
        reason_count: rs.len(),
        reasons: rs.into_iter().take(MAX_REASONS).collect(),
        installed: true,
        essential: p.essential,
        installed_size: p.installed_size,
        warning,
    }
}

/// What the user should know about the gaps, one line each (written to standard error, whatever
/// the format): which provider of a missing library or interpreter the set lists, and why.
pub fn gap_notes(set: &PackageSet) -> Vec<String> {
    let mut out = Vec::new();
    for g in &set.gaps {
        let others = |chosen: &ByteStr| -> String {
            let rest: Vec<String> = g
                .providers
                .iter()
                .filter(|p| *p != chosen)
                .map(|p| p.to_string())
                .collect();
            if rest.is_empty() {
                String::new()
            } else {
                format!(" (also provided by {})", rest.join(", "))
            }
        };
        let line = match (g.kind, &g.chosen) {
            (GapKind::Unowned, _) => continue,
            (GapKind::Missing, None) => format!(
                "{} needs {}, which is not installed, and no package of the database or of an --apk-index provides it",
                g.program, g.what
            ),
            (GapKind::Missing, Some(c)) => format!(
                "{} needs {}, which the loader does not find; provided by {}{}, which the set lists: {}",
                g.program,
                g.what,
                c.name,
                others(&c.name),
                match c.source {
                    ProviderSource::Installed => format!(
                        "{} is installed, so its file is gone or not where the loader looks (reinstall it; `elfdeps check` says what the loader sees)",
                        c.name
                    ),
                    ProviderSource::Index => "from the APK index, not installed".to_string(),
                }
            ),
            (GapKind::InterpreterMissing, None) => format!(
                "{} cannot start: its interpreter {} is not in the root (install the libc it was built for, or rebuild it for the root's); the set lists only its own package",
                g.program, g.what
            ),
            (GapKind::InterpreterMissing, Some(c)) => format!(
                "{} cannot start: its interpreter {} is not in the root, though the installed package {} lists it, which the set lists (reinstall it)",
                g.program, g.what, c.name
            ),
        };
        out.push(line);
    }
    if let Some(g) = &set.runtime {
        out.extend(g.warnings.iter().map(|w| format!("warning: {w}")));
        out.extend(g.unsatisfied.iter().map(|u| format!("warning: {u}")));
        for u in &g.undeclared {
            out.push(format!(
                "note: {} loads {} of {}, which its package {} does not declare (a packaging bug: \
                 installing {} alone would not install it)",
                u.object, u.file, u.provider, u.package, u.package
            ));
        }
        let skipped = g.edges.iter().filter(|e| !e.followed).count();
        if skipped > 0 {
            out.push(format!(
                "note: {skipped} run-time edge{} of a lower tier than {} not followed (--tier widens \
                 the set; --format json lists them)",
                if skipped == 1 { "" } else { "s" },
                g.tier
            ));
        }
    }
    if let Some(v) = &set.verify {
        if v.failures.is_empty() {
            out.push(format!(
                "the set verified: its {} objects and {} run-time edges resolve in a root holding only its files",
                v.objects, v.edges
            ));
        } else {
            out.push(format!(
                "the set did not verify: {} of what it loads does not resolve in a root holding only its files:",
                v.failures.len()
            ));
            out.extend(v.failures.iter().map(|f| format!("  {f}")));
        }
    }
    out
}

/// Installed packages not in `set`, with their contents by kind.
pub fn unneeded(
    objects: &[Object],
    tree: &Tree,
    db: &PackageDb,
    set: &PackageSet,
) -> Vec<Unneeded> {
    let needed: BTreeSet<&ByteStr> = set.packages.iter().map(|p| &p.name).collect();
    let elf: BTreeSet<&[u8]> = objects.iter().map(|o| o.path.as_bytes()).collect();
    let mut out = Vec::new();
    for p in &db.packages {
        if needed.contains(&p.name) {
            continue;
        }
        let mut contents: BTreeMap<ContentKind, usize> = BTreeMap::new();
        for f in &p.files {
            let canonical = tree
                .resolve(f.as_bytes(), false)
                .unwrap_or_else(|_| f.clone());
            let c = canonical.as_bytes();
            let kind = match tree.get(c) {
                Some(crate::tree::Entry::Dir) => continue,
                None => ContentKind::Absent,
                _ if elf.contains(c) => ContentKind::Elf,
                _ if c.ends_with(b".crt")
                    || c.ends_with(b".pem")
                    || c.starts_with(b"/etc/ssl/") =>
                {
                    ContentKind::Certificates
                }
                _ if c.starts_with(b"/etc/init.d/")
                    || c.ends_with(b".sh")
                    || c.starts_with(b"/usr/bin/")
                    || c.starts_with(b"/bin/")
                    || c.starts_with(b"/sbin/")
                    || c.starts_with(b"/usr/sbin/") =>
                {
                    ContentKind::Scripts
                }
                _ => ContentKind::Data,
            };
            *contents.entry(kind).or_default() += 1;
        }
        out.push(Unneeded {
            name: p.name.clone(),
            contents,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds are listed (and keyed in JSON) in the order of their names.
    #[test]
    fn content_kinds_sort_by_name() {
        use ContentKind::*;
        let kinds = [Absent, Certificates, Data, Elf, Scripts];
        let names: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["absent", "certificates", "data", "elf", "scripts"]);
        assert!(names.is_sorted() && kinds.is_sorted());
        for (k, n) in kinds.iter().zip(&names) {
            assert_eq!(serde_json::to_value(k).unwrap(), n.as_str());
        }
    }
}

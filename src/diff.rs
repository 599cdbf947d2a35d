/*!
`elfdeps diff A B`: what changes between two roots (or images) for the programs they hold.

Each side is walked and resolved as `scan` does it; then the two are compared:
- the libcs each provides (flavor, loader, release) and the glibc floor its objects need (the
  highest `GLIBC_x.y` any object's version needs ask of glibc's libraries; musl has no symbol
  versions, so a musl root has no floor);
- the sonames each side's objects provide (`DT_SONAME`), added and removed;
- the objects at the same canonical path in both, each judged in its own root ([`Verdict`]): those
  worse in B ([`crate::rebase::change`]) and those broken in A that start in B
  ([`crate::rebase::fix`]);
- the installed packages of each side's database, by name and architecture: added, removed, or
  at another version.

A gate ([`Gated`]) names the kinds of change that fail the comparison (exit 1 in the binary).
*/

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::check::RootLibc;
use crate::check::libc::{glibc_floor, glibc_version};
use crate::name::ByteStr;
use crate::pkgdb::{self, DbFormat, DbKind};
use crate::rebase::{Change, Fix, Verdict, change, fix};
use crate::report::Report;

/// The schema identifier of the `diff` JSON document.
pub const SCHEMA: &str = "elfdeps-diff/1";

/// A kind of change a gate can fail on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gated {
    /// B's glibc floor is higher than A's (or A has none and B has one).
    FloorRaised,
    /// An object at the same path is worse in B.
    NewlyBroken,
    /// A soname A's objects provide is provided by none of B's.
    SonameRemoved,
    /// A package installed in A is not installed in B.
    PackageRemoved,
    /// The libc flavors B provides are not those A provides (glibc to musl, one added or gone).
    LibcChanged,
}

impl Gated {
    /// Every kind, in the order reports list them.
    pub const ALL: [Gated; 5] = [
        Gated::FloorRaised,
        Gated::NewlyBroken,
        Gated::SonameRemoved,
        Gated::PackageRemoved,
        Gated::LibcChanged,
    ];

    /// The name flags and JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            Gated::FloorRaised => "floor-raised",
            Gated::NewlyBroken => "newly-broken",
            Gated::SonameRemoved => "soname-removed",
            Gated::PackageRemoved => "package-removed",
            Gated::LibcChanged => "libc-changed",
        }
    }
}

/// The glibc floor of one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Floor {
    /// The highest `GLIBC_x.y[.z]` needed.
    pub version: ByteStr,
    /// How many objects need it.
    pub objects: usize,
    /// The first of them by path.
    pub example: ByteStr,
}

/// One side of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// The root as reports name it (the image reference, or the directory as given).
    pub root: ByteStr,
    /// The libcs it provides (every glibc and musl loader, with its release).
    pub libcs: Vec<RootLibc>,
    /// The glibc floor its objects need (`None`: no object needs a `GLIBC_` version).
    pub glibc_floor: Option<Floor>,
    /// How many ELF objects it holds.
    pub objects: usize,
    /// How many files could not be read (per-file errors of the scan).
    pub errors: usize,
    /// Its package database, when it has one.
    pub package_db: Option<DbFormat>,
    /// How many packages are installed (with a database).
    pub packages: Option<usize>,
}

/// A soname provided on one side only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Soname {
    /// The soname.
    pub soname: ByteStr,
    /// The objects providing it on that side.
    pub paths: Vec<ByteStr>,
}

/// Sonames added and removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SonameDiff {
    /// Provided in B, not in A.
    pub added: Vec<Soname>,
    /// Provided in A, not in B.
    pub removed: Vec<Soname>,
}

/// One package, on one side or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    /// Its name.
    pub name: ByteStr,
    /// Its architecture, when the database records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<ByteStr>,
    /// Its version in A (`None`: not installed there).
    pub before: Option<ByteStr>,
    /// Its version in B (`None`: not installed there).
    pub after: Option<ByteStr>,
}

/// Packages added, removed or at another version.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PackageDiff {
    /// Installed in B only.
    pub added: Vec<PackageChange>,
    /// Installed in A only.
    pub removed: Vec<PackageChange>,
    /// Installed in both, at other versions.
    pub changed: Vec<PackageChange>,
}

/// The gate's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct DiffGate {
    /// The kinds of change asked to fail the comparison (`--gate`).
    pub gated: Vec<Gated>,
    /// Those that occurred.
    pub triggered: Vec<Gated>,
    /// No gated kind occurred.
    pub passed: bool,
}

/// What `diff A B` answers.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// The first root.
    pub a: Side,
    /// The second root.
    pub b: Side,
    /// B's glibc floor is higher than A's.
    pub floor_raised: bool,
    /// The libc flavors differ.
    pub libc_changed: bool,
    /// Sonames provided on one side only.
    pub sonames: SonameDiff,
    /// How many objects are at the same canonical path in both (those compared).
    pub compared: usize,
    /// Objects worse in B.
    pub newly_broken: Vec<Change>,
    /// Objects broken in A that start (or load) in B.
    pub fixed: Vec<Fix>,
    /// Package changes (`None` unless both sides have a package database).
    pub packages: Option<PackageDiff>,
    /// The gate.
    pub gate: DiffGate,
}

/// A glibc version as numbers: `GLIBC_2.2.5` is `(2, 2, 5)`.
type Level = (u32, u32, u32);

/// The floor of a side's objects.
fn floor_of(report: &Report) -> Option<Floor> {
    // Objects are sorted by path, so the first found at the floor is the first by path.
    let mut best: Option<(Level, Floor)> = None;
    for o in &report.inventory.objects {
        let Some(v) = glibc_floor(&o.facts) else {
            continue;
        };
        let Some(t) = glibc_version(v.as_bytes()) else {
            continue;
        };
        match &mut best {
            Some((bt, f)) if *bt == t => f.objects += 1,
            Some((bt, _)) if *bt > t => {}
            _ => {
                let f = Floor {
                    version: v,
                    objects: 1,
                    example: o.path.clone(),
                };
                best = Some((t, f));
            }
        }
    }
    best.map(|(_, f)| f)
}

/// Each soname a side's objects provide, with the objects.
fn sonames_of(report: &Report) -> BTreeMap<ByteStr, Vec<ByteStr>> {
    let mut out: BTreeMap<ByteStr, Vec<ByteStr>> = BTreeMap::new();
    for o in &report.inventory.objects {
        if let Some(s) = &o.facts.soname {
            out.entry(s.clone()).or_default().push(o.path.clone());
        }
    }
    out
}

/// The installed packages by (name, architecture), with their version.
type Installed = BTreeMap<(ByteStr, Option<ByteStr>), ByteStr>;

fn database_of(report: &Report) -> Option<(DbFormat, Installed)> {
    let inv = &report.inventory;
    let db = pkgdb::detect(&inv.rootfs, &inv.tree, DbKind::Auto)?;
    let installed = db
        .packages
        .iter()
        .map(|p| ((p.name.clone(), p.arch.clone()), p.version.clone()))
        .collect();
    Some((db.kind, installed))
}

fn side(report: &Report, db: Option<&(DbFormat, Installed)>) -> Side {
    let libcs = match report.resolved() {
        Some(r) => crate::check::probe::root_libcs(r, &report.inventory.rootfs),
        None => Vec::new(),
    };
    Side {
        root: report.root_name(),
        libcs,
        glibc_floor: floor_of(report),
        objects: report.inventory.objects.len(),
        errors: report.errors.len(),
        package_db: db.map(|(k, _)| *k),
        packages: db.map(|(_, p)| p.len()),
    }
}

fn package_diff(a: &Installed, b: &Installed) -> PackageDiff {
    let mut d = PackageDiff::default();
    let entry = |(name, arch): &(ByteStr, Option<ByteStr>), before, after| PackageChange {
        name: name.clone(),
        arch: arch.clone(),
        before,
        after,
    };
    for (k, va) in a {
        match b.get(k) {
            None => d.removed.push(entry(k, Some(va.clone()), None)),
            Some(vb) if vb != va => d.changed.push(entry(k, Some(va.clone()), Some(vb.clone()))),
            Some(_) => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            d.added.push(entry(k, None, Some(vb.clone())));
        }
    }
    d
}

/// Compares two walked and resolved reports, failing on the kinds of change in `gated`.
pub fn compare(a: &Report, b: &Report, gated: &[Gated]) -> DiffReport {
    let (dba, dbb) = (database_of(a), database_of(b));
    let (sa, sb) = (side(a, dba.as_ref()), side(b, dbb.as_ref()));
    let level = |s: &Side| {
        s.glibc_floor
            .as_ref()
            .and_then(|f| glibc_version(f.version.as_bytes()))
    };
    let floor_raised = level(&sb) > level(&sa);
    let flavors = |s: &Side| s.libcs.iter().map(|l| l.flavor).collect::<BTreeSet<_>>();
    let libc_changed = flavors(&sa) != flavors(&sb);

    let (na, nb) = (sonames_of(a), sonames_of(b));
    let only = |x: &BTreeMap<ByteStr, Vec<ByteStr>>, y: &BTreeMap<ByteStr, Vec<ByteStr>>| {
        x.iter()
            .filter(|(s, _)| !y.contains_key(*s))
            .map(|(s, p)| Soname {
                soname: s.clone(),
                paths: p.clone(),
            })
            .collect::<Vec<_>>()
    };
    let sonames = SonameDiff {
        added: only(&nb, &na),
        removed: only(&na, &nb),
    };

    let mut newly_broken = Vec::new();
    let mut fixed = Vec::new();
    let mut compared = 0;
    if let (Some(ra), Some(rb)) = (a.resolved(), b.resolved()) {
        for (i, o) in ra.objects.iter().enumerate() {
            let Some(j) = b.inventory.object_at(o.path.as_bytes()) else {
                continue;
            };
            compared += 1;
            let va = Verdict::of(&o.facts, &ra.resolutions[i]);
            let vb = Verdict::of(&rb.objects[j].facts, &rb.resolutions[j]);
            if let Some(c) = change(&o.path, &va, &vb) {
                newly_broken.push(c);
            } else if let Some(f) = fix(&o.path, &va, &vb) {
                fixed.push(f);
            }
        }
    }

    let packages = match (&dba, &dbb) {
        (Some((_, pa)), Some((_, pb))) => Some(package_diff(pa, pb)),
        _ => None,
    };
    let occurred = |g: Gated| match g {
        Gated::FloorRaised => floor_raised,
        Gated::NewlyBroken => !newly_broken.is_empty(),
        Gated::SonameRemoved => !sonames.removed.is_empty(),
        Gated::PackageRemoved => packages.as_ref().is_some_and(|p| !p.removed.is_empty()),
        Gated::LibcChanged => libc_changed,
    };
    let mut gated: Vec<Gated> = gated.to_vec();
    gated.sort();
    gated.dedup();
    let triggered: Vec<Gated> = gated.iter().copied().filter(|&g| occurred(g)).collect();
    DiffReport {
        a: sa,
        b: sb,
        floor_raised,
        libc_changed,
        sonames,
        compared,
        newly_broken,
        fixed,
        packages,
        gate: DiffGate {
            passed: triggered.is_empty(),
            gated,
            triggered,
        },
    }
}

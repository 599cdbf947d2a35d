/*!
`elfdeps diff A B`: what changes between two roots (or images) for the programs they hold.

Each side is walked and resolved as `scan` does it; then the two are compared:
- the libcs each provides (flavor, loader, release) and the glibc floor its objects need (the
  highest `GLIBC_x.y` any object's version needs ask of glibc's libraries; musl has no symbol
  versions, so a musl root has no floor);
- the sonames each side's objects provide (`DT_SONAME`), added and removed;
- the objects at the same canonical path in both, each judged in its own root ([`crate::rebase::Verdict`]): those
  worse in B ([`crate::rebase::change`]) and those broken in A that start in B
  ([`crate::rebase::fix`]);
- the installed packages of each side's database, by name and architecture: added, removed, or
  at another version.

A gate ([`Gated`]) names the kinds of change that fail the comparison (exit 1 in the binary).
This module is the model of the result; `report::diff::compare` computes it from two reports.
*/

use serde::Serialize;

use crate::check::RootLibc;
use crate::name::ByteStr;
use crate::pkgdb::DbFormat;
use crate::rebase::{Change, Fix};

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

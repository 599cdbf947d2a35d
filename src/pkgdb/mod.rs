/*!
Package databases of a root: who owns each file, who provides each soname.

Readers (each survives hostile input: a record it cannot use is skipped with a warning, the rest of
the file is kept; names are bytes):
- [`apk`]: `lib/apk/db/installed` (Alpine, Wolfi, Chimera): `P` name, `V` version, `o` origin, `F`/`R`
  file lists, `p` provides (`so:` names), `D` depends;
- [`apkindex`]: repository indexes (`APKINDEX.tar.gz`), to name the subpackage that would provide a
  missing soname;
- [`dpkg`]: `var/lib/dpkg/status` and `info/PKG.list` (Debian, Ubuntu), with `diversions`, and the
  merged-/usr layout (the database lists `/lib/x`, the file lives at `/usr/lib/x`): every listed path
  is resolved through the root's symlinks before it is matched;
- [`rpm`]: `var/lib/rpm/rpmdb.sqlite` header blobs, parsed with bounds checks.

Every database file is read through the confined [`RootFs`], within a size cap.
*/

pub mod apk;
pub mod apkindex;
pub mod dpkg;
pub mod rpm;

use std::collections::HashMap;

use serde::Serialize;

use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::Tree;

/// Most bytes read from one database file.
pub const MAX_DB_FILE: u64 = 256 << 20;
/// Longest line kept; a longer one skips its record.
pub const MAX_LINE: usize = 1 << 20;
/// Warnings kept per database.
const MAX_WARNINGS: usize = 50;

/// One installed package.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    /// Name (`libssl3`, `libc6`).
    pub name: ByteStr,
    /// Version.
    pub version: ByteStr,
    /// The source package / origin it was built from.
    pub origin: Option<ByteStr>,
    /// Files, as the database lists them (absolute).
    pub files: Vec<ByteStr>,
    /// What it provides (`so:libssl.so.3=3`, virtual names).
    pub provides: Vec<ByteStr>,
}

/// What an object's report says about its package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageRef {
    /// Name.
    pub name: ByteStr,
    /// Version.
    pub version: ByteStr,
    /// Origin / source package.
    pub origin: Option<ByteStr>,
}

/// A root's package database.
#[derive(Debug, Default)]
pub struct PackageDb {
    /// `apk` or `dpkg`.
    pub kind: &'static str,
    /// Every installed package.
    pub packages: Vec<Package>,
    /// Canonical in-root path → package index.
    owners: HashMap<ByteStr, usize>,
    /// Records skipped, and why.
    pub warnings: Vec<String>,
}

impl PackageDb {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    /// Indexes every listed file by its canonical path in `tree` (symlinked directories such as
    /// `/lib -> usr/lib` resolved; the last component is not followed).
    fn index(&mut self, tree: &Tree, diversions: &[(ByteStr, ByteStr, ByteStr)]) {
        for (i, p) in self.packages.iter().enumerate() {
            for f in &p.files {
                // A diverted file lives at the diversion's target, unless this package is the one
                // that diverted it.
                let path = diversions
                    .iter()
                    .find(|(from, _, by)| from == f && by != &p.name)
                    .map_or(f, |(_, to, _)| to);
                let key = tree
                    .resolve(path.as_bytes(), false)
                    .unwrap_or_else(|_| path.clone());
                self.owners.entry(key).or_insert(i);
            }
        }
    }

    /// The package owning the file at canonical path `path`.
    pub fn owner(&self, path: &[u8]) -> Option<&Package> {
        self.owners.get(path).map(|&i| &self.packages[i])
    }

    /// Index of the owner of `path`.
    pub fn owner_index(&self, path: &[u8]) -> Option<usize> {
        self.owners.get(path).copied()
    }

    /// Packages whose provides name the soname (`so:NAME`).
    pub fn providers(&self, soname: &[u8]) -> Vec<&Package> {
        let want = [b"so:", soname].concat();
        self.packages
            .iter()
            .filter(|p| {
                p.provides.iter().any(|v| {
                    let v = v.as_bytes();
                    v == want.as_slice()
                        || (v.starts_with(&want) && v.get(want.len()) == Some(&b'='))
                })
            })
            .collect()
    }

    /// The report form of package `i`.
    pub fn reference(&self, i: usize) -> PackageRef {
        let p = &self.packages[i];
        PackageRef {
            name: p.name.clone(),
            version: p.version.clone(),
            origin: p.origin.clone(),
        }
    }
}

/// What the report says about the database.
#[derive(Clone, Debug, Serialize)]
pub struct DbSummary {
    /// `apk` or `dpkg`.
    pub database: &'static str,
    /// Installed packages.
    pub installed: usize,
    /// ELF objects no package owns.
    pub unowned_elf: usize,
    /// Records skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Who owns which object: the package of each (index-aligned with the objects; `None`:
/// unowned), and what the report says about the database.
#[derive(Clone, Debug)]
pub struct Ownership {
    /// The owner of each object.
    pub owners: Vec<Option<PackageRef>>,
    /// The database, for the report.
    pub summary: DbSummary,
}

/// The owner in `db` of each of `objects`.
pub fn owners(objects: &[crate::scan::Object], db: &PackageDb) -> Ownership {
    let owners: Vec<Option<PackageRef>> = objects
        .iter()
        .map(|o| db.owner_index(o.path.as_bytes()).map(|i| db.reference(i)))
        .collect();
    let unowned = owners.iter().filter(|o| o.is_none()).count();
    Ownership {
        owners,
        summary: DbSummary {
            database: db.kind,
            installed: db.packages.len(),
            unowned_elf: unowned,
            warnings: db.warnings.clone(),
        },
    }
}

/// Which database to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// The first one found: apk, then dpkg, then rpm.
    Auto,
    /// `lib/apk/db/installed`.
    Apk,
    /// `var/lib/dpkg`.
    Dpkg,
    /// `var/lib/rpm/rpmdb.sqlite`.
    Rpm,
}

/// Reads the root's package database (`None`: there is none of the asked kind).
pub fn detect(rootfs: &RootFs, tree: &Tree, kind: DbKind) -> Option<PackageDb> {
    let apk = || apk::read(rootfs, tree);
    let dpkg = || dpkg::read(rootfs, tree);
    let rpm = || rpm::read(rootfs, tree);
    match kind {
        DbKind::Apk => apk(),
        DbKind::Dpkg => dpkg(),
        DbKind::Rpm => rpm(),
        DbKind::Auto => apk().or_else(dpkg).or_else(rpm),
    }
}

/// Splits `bytes` into numbered lines (without the `\n`).
///
/// A `\r` before the `\n` is kept: apk and dpkg end lines with `\n` alone, so a trailing `\r`
/// is part of the value, and a file may be named `tool\r` next to `tool` (taking `\r\n` for a
/// line end would give `tool` to the package that owns `tool\r`).
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Reads a database file of the root (`None` when absent).
pub fn read_db_file(rootfs: &RootFs, tree: &Tree, path: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let canonical = tree.resolve(path, true).ok()?;
    Some(
        rootfs
            .read_file(canonical.as_bytes(), MAX_DB_FILE)
            .map_err(|e| format!("{}: {}", ByteStr::from(path), e.message)),
    )
}

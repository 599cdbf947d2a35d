/*!
Package databases of a root: who owns each file, who provides each soname.

Readers (each survives hostile input: a record it cannot use is skipped with a warning, the rest of
the file is kept; names are bytes):
- [`apk`]: `lib/apk/db/installed` (Alpine, Wolfi, Chimera): `P` name, `V` version, `o` origin, `F`/`R`
  file lists, `p` provides (`so:`, `cmd:`, `pc:` names), `D` depends (`!` conflicts skipped), `A`
  architecture, `I` installed size;
- [`apkindex`]: repository indexes (`APKINDEX.tar.gz`), to name the subpackage that would provide a
  missing soname;
- [`dpkg`]: `var/lib/dpkg/status` (`Package`, `Version`, `Source`, `Architecture`, `Essential`,
  `Installed-Size`, `Depends` and `Pre-Depends`, `Provides`) and `info/PKG.list` (Debian, Ubuntu),
  with `diversions`, and the
  merged-/usr layout (the database lists `/lib/x`, the file lives at `/usr/lib/x`): every listed path
  is resolved through the root's symlinks before it is matched;
- `rpm` (the `rpm` feature, with a bundled SQLite): `var/lib/rpm/rpmdb.sqlite` header blobs, parsed
  with bounds checks: name, version, source, file list, architecture, size, provides, requires
  (`rpmlib(...)`, `config(...)`, rich `(a or b)` and `missingok` requires skipped). A build without it reports an RPM database it finds, or is asked for, as
  [`NotBuiltIn::Rpm`] instead of reading it.

Every database file is read through the confined [`RootFs`], within a size cap.

[`declared`]: the dependencies each package declares ([`Package::depends`]), the package that
satisfies one ([`PackageDb::satisfier`]) and what a set of packages pulls in
([`PackageDb::declared_closure`]).
*/

pub mod apk;
pub mod apkindex;
pub mod declared;
pub mod dpkg;
#[cfg(feature = "rpm")]
pub mod rpm;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;
pub use declared::{DeclaredBy, DeclaredClosure, MAX_RELATIONS, Relation, Unsatisfied};

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
    /// What it provides: APK's entries as written (`so:libssl.so.3=3`, `cmd:gzip=1.13`), dpkg's
    /// and RPM's names (`awk`, `libc.so.6()(64bit)`, `/bin/sh`).
    pub provides: Vec<ByteStr>,
    /// What it declares it needs: every group must be satisfied, by any one of its alternatives
    /// (dpkg `a | b`; APK and RPM groups have one). dpkg's `Pre-Depends` are here too, with
    /// [`Relation::pre`] set; APK `!` conflicts and `i:` install-if are not dependencies.
    pub depends: Vec<Vec<Relation>>,
    /// dpkg `Essential: yes` (always false for APK and RPM).
    pub essential: bool,
    /// Installed size in bytes (dpkg's `Installed-Size` is KiB and multiplied out; APK `I:`, RPM
    /// `SIZE` are bytes).
    pub installed_size: Option<u64>,
    /// Architecture (`amd64`, `all`, `x86_64`, `noarch`).
    pub arch: Option<ByteStr>,
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
    /// Architecture, for the CycloneDX purls (`?arch=`); not in the elfdeps/1 JSON document,
    /// whose `package` objects keep their documented keys.
    #[serde(skip)]
    pub arch: Option<ByteStr>,
}

/// A package database format. Reports name it `apk`, `dpkg` or `rpm` (JSON's
/// `packages.database`, warnings).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DbFormat {
    /// APK (`lib/apk/db/installed`).
    Apk,
    /// dpkg (`var/lib/dpkg/status`).
    Dpkg,
    /// RPM (`var/lib/rpm/rpmdb.sqlite`).
    Rpm,
}

/// A root's package database.
#[derive(Debug)]
pub struct PackageDb {
    /// Which format it is.
    pub kind: DbFormat,
    /// Every installed package.
    pub packages: Vec<Package>,
    /// Canonical in-root path → package index.
    owners: HashMap<ByteStr, usize>,
    /// Records skipped, and why.
    pub warnings: Vec<String>,
    /// Set when the root has a database of a kind this build cannot read (or one was asked for):
    /// `packages` is then empty, and `warnings` says so and how to get a build that reads it.
    pub not_built_in: Option<NotBuiltIn>,
    /// Each path a relation names (`/bin/sh`) → its canonical in-root path, when they differ.
    required_paths: HashMap<ByteStr, ByteStr>,
    /// Package and provided names, for [`PackageDb::satisfier`] (built on first use).
    names: OnceLock<declared::NameIndex>,
}

/// A package database kind left out of this build by a Cargo feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotBuiltIn {
    /// RPM (`var/lib/rpm/rpmdb.sqlite`): the `rpm` feature (SQLite) is off.
    Rpm,
}

impl NotBuiltIn {
    /// The Cargo feature that reads it.
    pub fn feature(self) -> &'static str {
        match self {
            NotBuiltIn::Rpm => "rpm",
        }
    }
}

impl PackageDb {
    /// An empty database of format `kind`.
    pub fn new(kind: DbFormat) -> PackageDb {
        PackageDb {
            kind,
            packages: Vec::new(),
            owners: HashMap::new(),
            warnings: Vec::new(),
            not_built_in: None,
            required_paths: HashMap::new(),
            names: OnceLock::new(),
        }
    }

    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    /// Indexes every listed file by its canonical path in `tree` (symlinked directories such as
    /// `/lib -> usr/lib` resolved; the last component is not followed): a file that exists is
    /// keyed by its directory's canonical path and its name, one that does not by its listed
    /// path. Each directory is resolved once, and a file's existence comes from its directory's
    /// entries, so a lazy view answers from directory listings, not a lookup per listed file.
    fn index(&mut self, tree: &dyn PathLookup, diversions: &[(ByteStr, ByteStr, ByteStr)]) {
        let mut dirs: HashMap<Vec<u8>, Option<ByteStr>> = HashMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            for f in &p.files {
                // A diverted file lives at the diversion's target, unless this package is the one
                // that diverted it.
                let path = diversions
                    .iter()
                    .find(|(from, _, by)| from == f && by != &p.name)
                    .map_or(f, |(_, to, _)| to);
                let key = listed_key(tree, path, &mut dirs);
                self.owners.entry(key).or_insert(i);
            }
        }
        // A path a relation names is matched against the file lists the same way (RPM's
        // `Requires: /bin/sh` against bash's `/usr/bin/sh` under merged /usr).
        let mut seen = std::collections::HashSet::new();
        for r in self
            .packages
            .iter()
            .flat_map(|p| p.depends.iter().flatten())
        {
            if r.name.as_bytes().starts_with(b"/") && seen.insert(&r.name) {
                let key = listed_key(tree, &r.name, &mut dirs);
                if key != r.name {
                    self.required_paths.insert(r.name.clone(), key);
                }
            }
        }
    }

    /// The package owning the file at canonical path `path`.
    pub fn owner(&self, path: &[u8]) -> Option<&Package> {
        self.owners.get(path).map(|&i| &self.packages[i])
    }

    /// Every indexed file (canonical path) with the index of its owner.
    pub fn owned(&self) -> impl Iterator<Item = (&ByteStr, usize)> {
        self.owners.iter().map(|(p, &i)| (p, i))
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
            arch: p.arch.clone(),
        }
    }
}

/// What the report says about the database.
#[derive(Clone, Debug, Serialize)]
pub struct DbSummary {
    /// Its format (`apk`, `dpkg`, `rpm`).
    pub database: DbFormat,
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
    /// Every installed package, in the database's order: a bill of materials lists them all,
    /// not only those owning an ELF object.
    pub installed: Vec<PackageRef>,
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
        installed: (0..db.packages.len()).map(|i| db.reference(i)).collect(),
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

/// Where RPM keeps its database (the older place first, as rpm looks).
const RPM_DIRS: [&[u8]; 2] = [b"/var/lib/rpm", b"/usr/lib/sysimage/rpm"];

/// Reads the root's package database (`None`: there is none of the asked kind). In a build without
/// the `rpm` feature, an RPM database (asked for, or the one found) is an empty database with
/// [`PackageDb::not_built_in`] set.
pub fn detect(rootfs: &RootFs, tree: &dyn PathLookup, kind: DbKind) -> Option<PackageDb> {
    let apk = || apk::read(rootfs, tree);
    let dpkg = || dpkg::read(rootfs, tree);
    #[cfg(feature = "rpm")]
    let rpm = || rpm::read(rootfs, tree);
    #[cfg(not(feature = "rpm"))]
    let rpm = || rpm_not_built_in(tree, kind == DbKind::Rpm);
    match kind {
        DbKind::Apk => apk(),
        DbKind::Dpkg => dpkg(),
        DbKind::Rpm => rpm(),
        DbKind::Auto => apk().or_else(dpkg).or_else(rpm),
    }
}

/// An RPM database this build cannot read: `None` when the root has none and none was asked for.
#[cfg(not(feature = "rpm"))]
fn rpm_not_built_in(tree: &dyn PathLookup, asked: bool) -> Option<PackageDb> {
    let found = RPM_DIRS.iter().find_map(|d| {
        let p = ByteStr::from([*d, b"/rpmdb.sqlite"].concat());
        tree.lookup(p.as_bytes(), true).is_ok().then_some(p)
    });
    if found.is_none() && !asked {
        return None;
    }
    let mut db = PackageDb::new(DbFormat::Rpm);
    db.not_built_in = Some(NotBuiltIn::Rpm);
    db.warn(match found {
        Some(p) => format!(
            "{p}: this elfdeps was built without rpm support; rebuild with --features rpm to read \
             it (until then no file is attributed to an RPM package)"
        ),
        None => "this elfdeps was built without rpm support; rebuild with --features rpm to read \
                 RPM databases"
            .to_string(),
    });
    Some(db)
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

/// Why a database file of the root could not be read (the path as it was asked for).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}: {msg}", msg = .1.message)]
pub struct DbFileError(pub ByteStr, pub crate::error::FileError);

/// The key of listed file `path` (see [`PackageDb::index`]); `dirs` remembers each directory's
/// canonical path.
fn listed_key(
    tree: &dyn PathLookup,
    path: &ByteStr,
    dirs: &mut HashMap<Vec<u8>, Option<ByteStr>>,
) -> ByteStr {
    let p = path.as_bytes();
    let split = p.iter().rposition(|&b| b == b'/');
    let (dir, name) = match split {
        Some(s) => (&p[..s.max(1)], &p[s + 1..]),
        None => (&b"/"[..], p),
    };
    if name.is_empty() || name == b"." || name == b".." {
        // Not a name in a directory (`/.`, `/usr/`): resolved as a whole.
        return tree.lookup(p, false).unwrap_or_else(|_| path.clone());
    }
    // Looked up before inserting: most listed files share their directory with the one before,
    // and a key is copied only for a directory seen first.
    if !dirs.contains_key(dir) {
        dirs.insert(dir.to_vec(), tree.lookup(dir, true).ok());
    }
    let canonical = dirs.get(dir).and_then(Option::as_ref);
    match canonical {
        Some(d) if tree.has_entry(d.as_bytes(), name) => {
            ByteStr::from(crate::tree::child_of(d.as_bytes(), name))
        }
        _ => path.clone(),
    }
}

/// Reads a database file of the root (`None` when absent).
pub fn read_db_file(
    rootfs: &RootFs,
    tree: &dyn PathLookup,
    path: &[u8],
) -> Option<Result<Vec<u8>, DbFileError>> {
    let canonical = tree.lookup(path, true).ok()?;
    Some(
        rootfs
            .read_file(canonical.as_bytes(), MAX_DB_FILE)
            .map_err(|e| DbFileError(ByteStr::from(path), e)),
    )
}

#[cfg(all(test, not(feature = "rpm")))]
mod without_rpm {
    use super::*;
    use crate::tree::{Entry, Tree};

    fn tree(paths: &[(&str, Entry)]) -> Tree {
        let mut entries: Vec<(ByteStr, Entry)> = paths
            .iter()
            .map(|(p, e)| (ByteStr::from(*p), e.clone()))
            .collect();
        entries.sort();
        Tree::from_sorted(entries)
    }

    fn detect_in(t: &Tree, kind: DbKind) -> Option<PackageDb> {
        // The readers look a path up in the walked tree before opening it: an empty directory
        // as the root is enough for a tree that lists no apk or dpkg database.
        let dir = tempfile::tempdir().expect("tempdir");
        let rootfs = RootFs::open(dir.path()).expect("root");
        detect(&rootfs, t, kind)
    }

    #[test]
    fn a_found_rpm_database_says_it_is_not_built_in() {
        for (dir, db) in [
            ("/var/lib/rpm", "/var/lib/rpm/rpmdb.sqlite"),
            (
                "/usr/lib/sysimage/rpm",
                "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            ),
        ] {
            let mut paths = vec![(db, Entry::File)];
            let mut d = dir;
            while let Some((parent, _)) = d.rsplit_once('/') {
                paths.push((d, Entry::Dir));
                d = parent;
            }
            let t = tree(&paths);
            for kind in [DbKind::Auto, DbKind::Rpm] {
                let got = detect_in(&t, kind).expect("an outcome, not `no database`");
                assert_eq!(got.not_built_in, Some(NotBuiltIn::Rpm));
                assert_eq!(got.kind, DbFormat::Rpm);
                assert!(got.packages.is_empty());
                assert_eq!(got.warnings.len(), 1);
                assert!(
                    got.warnings[0].starts_with(&format!(
                        "{db}: this elfdeps was built without rpm support; rebuild with \
                         --features rpm"
                    )),
                    "{:?}",
                    got.warnings
                );
            }
        }
    }

    #[test]
    fn an_asked_rpm_database_says_it_is_not_built_in() {
        let t = tree(&[("/etc", Entry::Dir)]);
        assert!(detect_in(&t, DbKind::Auto).is_none(), "no database at all");
        let got = detect_in(&t, DbKind::Rpm).expect("an outcome, not `no database`");
        assert_eq!(got.not_built_in, Some(NotBuiltIn::Rpm));
        assert_eq!(NotBuiltIn::Rpm.feature(), "rpm");
        assert!(
            got.warnings[0].starts_with("this elfdeps was built without rpm support"),
            "{:?}",
            got.warnings
        );
    }
}

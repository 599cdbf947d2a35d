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
    /// With [`Scope::Paths`], only the paths asked for are indexed and the file lists are dropped.
    fn index(
        &mut self,
        tree: &dyn PathLookup,
        diversions: &[(ByteStr, ByteStr, ByteStr)],
        scope: Scope<'_>,
    ) {
        let mut ix = Indexer::new(tree, diversions, scope);
        for (i, p) in self.packages.iter().enumerate() {
            for f in &p.files {
                ix.add(&mut self.owners, i, &p.name, f.as_bytes());
            }
        }
        self.finish_index(ix);
    }

    /// What is left of indexing once every file list went through `ix`: the paths relations
    /// name are matched (all), or the file lists are dropped (scoped).
    fn finish_index(&mut self, mut ix: Indexer<'_>) {
        if let Scope::Paths(_) = ix.scope {
            for p in &mut self.packages {
                p.files = Vec::new();
            }
            return;
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
                let key = listed_key(ix.tree, r.name.as_bytes(), &mut ix.dirs);
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
    detect_scoped(rootfs, tree, kind, Scope::All)
}

/// [`detect`], indexing only the files `scope` asks for: with [`Scope::Paths`], the database's
/// file lists are empty and [`PackageDb::owner`] answers for those paths alone.
pub fn detect_scoped(
    rootfs: &RootFs,
    tree: &dyn PathLookup,
    kind: DbKind,
    scope: Scope<'_>,
) -> Option<PackageDb> {
    let apk = || apk::read(rootfs, tree, scope);
    let dpkg = || dpkg::read(rootfs, tree, scope);
    #[cfg(feature = "rpm")]
    let rpm = || rpm::read(rootfs, tree, scope);
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
    p: &[u8],
    dirs: &mut HashMap<Vec<u8>, Option<ByteStr>>,
) -> ByteStr {
    let Some((dir, name)) = split_listed(p) else {
        // Not a name in a directory (`/.`, `/usr/`): resolved as a whole.
        return tree.lookup(p, false).unwrap_or_else(|_| ByteStr::from(p));
    };
    match canonical_dir(tree, dir, dirs) {
        Some(d) if tree.has_entry(d.as_bytes(), name) => {
            ByteStr::from(crate::tree::child_of(d.as_bytes(), name))
        }
        _ => ByteStr::from(p),
    }
}

/// A listed path's directory and name; `None` when it does not end in a name (`/.`, `/usr/`).
fn split_listed(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let (dir, name) = match p.iter().rposition(|&b| b == b'/') {
        Some(s) => (&p[..s.max(1)], &p[s + 1..]),
        None => (&b"/"[..], p),
    };
    (!(name.is_empty() || name == b"." || name == b"..")).then_some((dir, name))
}

/// The canonical path of listed directory `dir`, resolved once per directory (`dirs`).
fn canonical_dir<'d>(
    tree: &dyn PathLookup,
    dir: &[u8],
    dirs: &'d mut HashMap<Vec<u8>, Option<ByteStr>>,
) -> Option<&'d ByteStr> {
    // Looked up before inserting: most listed files share their directory with the one before,
    // and a key is copied only for a directory seen first.
    if !dirs.contains_key(dir) {
        dirs.insert(dir.to_vec(), tree.lookup(dir, true).ok());
    }
    dirs.get(dir).and_then(Option::as_ref)
}

/// Which listed files a database read indexes.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every listed file, and the paths relations name (the package commands need a set's files
    /// and declared closures).
    All,
    /// Only these canonical paths: a scan asks who owns its ELF objects and nothing else, so the
    /// file lists of a desktop's database (100k+ paths) are neither kept nor keyed.
    Paths(&'a std::collections::HashSet<&'a [u8]>),
}

/// Keys listed files one at a time (see [`PackageDb::index`]), so a reader can index a file
/// list as it reads it instead of keeping every list first.
struct Indexer<'a> {
    tree: &'a dyn PathLookup,
    diversions: &'a [(ByteStr, ByteStr, ByteStr)],
    scope: Scope<'a>,
    /// Each listed directory's canonical path.
    dirs: HashMap<Vec<u8>, Option<ByteStr>>,
    /// A scoped key, built in place: the canonical directory and a slash, then the name.
    key: Vec<u8>,
    /// The listed directory `key` starts with the canonical path of.
    key_dir: Option<Vec<u8>>,
    /// Where the directory part of `key` ends (`None`: that directory does not resolve).
    key_len: Option<usize>,
}

impl<'a> Indexer<'a> {
    fn new(
        tree: &'a dyn PathLookup,
        diversions: &'a [(ByteStr, ByteStr, ByteStr)],
        scope: Scope<'a>,
    ) -> Self {
        Indexer {
            tree,
            diversions,
            scope,
            dirs: HashMap::new(),
            key: Vec::new(),
            key_dir: None,
            key_len: None,
        }
    }

    /// Indexes `file`, listed by package `pkg` (named `name`); the first package to list a path
    /// owns it.
    fn add(
        &mut self,
        owners: &mut HashMap<ByteStr, usize>,
        pkg: usize,
        name: &ByteStr,
        file: &[u8],
    ) {
        // A diverted file lives at the diversion's target, unless this package is the one that
        // diverted it.
        let path = self
            .diversions
            .iter()
            .find(|(from, _, by)| from.as_bytes() == file && by != name)
            .map_or(file, |(_, to, _)| to.as_bytes());
        match self.scope {
            Scope::All => {
                let key = listed_key(self.tree, path, &mut self.dirs);
                owners.entry(key).or_insert(pkg);
            }
            Scope::Paths(keep) => {
                // The key `listed_key` would give, built only far enough to see whether it is
                // kept: a kept path exists, so its directory's entries need not be asked.
                let whole;
                let key: &[u8] = match split_listed(path) {
                    None => match self.tree.lookup(path, false) {
                        Ok(k) => {
                            whole = k;
                            whole.as_bytes()
                        }
                        Err(_) => path,
                    },
                    Some((dir, base)) => {
                        // A file list names a directory's files one after the other: the key's
                        // directory part is kept from the line before when it is the same.
                        if self.key_dir.as_deref() != Some(dir) {
                            self.key.clear();
                            self.key_len = canonical_dir(self.tree, dir, &mut self.dirs).map(|d| {
                                let d = d.as_bytes();
                                self.key.extend_from_slice(d);
                                if d != b"/" {
                                    self.key.push(b'/');
                                }
                                self.key.len()
                            });
                            self.key_dir = Some(dir.to_vec());
                        }
                        match self.key_len {
                            Some(len) => {
                                self.key.truncate(len);
                                self.key.extend_from_slice(base);
                                &self.key
                            }
                            None => path,
                        }
                    }
                };
                if keep.contains(key) && !owners.contains_key(key) {
                    owners.insert(ByteStr::from(key), pkg);
                }
            }
        }
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

#[cfg(test)]
mod scoped {
    use super::*;
    use crate::tree::{Entry, Tree};

    fn package(name: &str, files: &[&str]) -> Package {
        Package {
            name: ByteStr::from(name),
            files: files.iter().map(|f| ByteStr::from(*f)).collect(),
            ..Package::default()
        }
    }

    /// A scoped index gives each kept path the owner the full index gives it: through a merged
    /// /usr, a diversion, a path listed twice (the first package keeps it), a file that is not
    /// there and a listed path that names no file.
    #[test]
    fn owners_of_kept_paths_are_those_of_the_full_index() {
        let mut entries: Vec<(ByteStr, Entry)> = [
            ("/lib", Entry::Symlink(ByteStr::from("usr/lib"))),
            ("/usr", Entry::Dir),
            ("/usr/lib", Entry::Dir),
            ("/usr/lib/libc.so.6", Entry::File),
            ("/usr/lib/libz.so.1", Entry::File),
            ("/usr/lib/libz.so.1.distrib", Entry::File),
            ("/usr/lib/libm.so.6", Entry::File),
            ("/usr/bin", Entry::Dir),
            ("/usr/bin/tool", Entry::File),
        ]
        .iter()
        .map(|(p, e)| (ByteStr::from(*p), e.clone()))
        .collect();
        entries.sort();
        let tree = Tree::from_sorted(entries);
        let packages = vec![
            package(
                "libc6",
                &["/lib/libc.so.6", "/lib/libm.so.6", "/usr/lib/", "/."],
            ),
            package("zlib", &["/lib/libz.so.1", "/usr/bin/gone"]),
            package("tools", &["/usr/bin/tool", "/usr/lib/libm.so.6"]),
            package("zlib-divert", &["/usr/lib/libz.so.1"]),
        ];
        // zlib-divert moved zlib's /lib/libz.so.1 aside; its own copy is the one at that path.
        let diversions = vec![(
            ByteStr::from("/lib/libz.so.1"),
            ByteStr::from("/usr/lib/libz.so.1.distrib"),
            ByteStr::from("zlib-divert"),
        )];
        let mut full = PackageDb::new(DbFormat::Dpkg);
        full.packages = packages.clone();
        full.index(&tree, &diversions, Scope::All);
        let kept: [&[u8]; 6] = [
            b"/usr/lib/libc.so.6",
            b"/usr/lib/libm.so.6",
            b"/usr/lib/libz.so.1",
            b"/usr/lib/libz.so.1.distrib",
            b"/usr/bin/tool",
            b"/usr/bin/gone",
        ];
        let keep: std::collections::HashSet<&[u8]> = kept.iter().copied().collect();
        let mut scoped = PackageDb::new(DbFormat::Dpkg);
        scoped.packages = packages;
        scoped.index(&tree, &diversions, Scope::Paths(&keep));
        let name = |db: &PackageDb, p: &[u8]| db.owner(p).map(|p| p.name.to_string());
        for p in kept {
            assert_eq!(
                name(&scoped, p),
                name(&full, p),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        assert_eq!(name(&full, b"/usr/lib/libm.so.6").as_deref(), Some("libc6"));
        assert_eq!(
            name(&full, b"/usr/lib/libz.so.1.distrib").as_deref(),
            Some("zlib")
        );
        assert_eq!(
            name(&full, b"/usr/lib/libz.so.1").as_deref(),
            Some("zlib-divert")
        );
        assert!(scoped.packages.iter().all(|p| p.files.is_empty()));
        assert_eq!(
            scoped.owned().count(),
            kept.len(),
            "only kept paths are keyed"
        );
    }
}

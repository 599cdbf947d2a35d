//! dpkg's database: `var/lib/dpkg/status` (RFC 822-style paragraphs; only packages whose Status is
//! `install ok installed` count), `info/PKG.list` or `info/PKG:ARCH.list` (one path per line), and
//! `diversions` (triples of lines: the diverted path, where it went, the diverting package).
//!
//! Relation fields (`Depends`, `Pre-Depends`, `Provides`) are comma-separated groups of
//! `|`-separated alternatives, each `NAME[:ARCH] [(OP VERSION)]` (deb-control(5)).

use std::collections::HashMap;

use super::{
    DbFormat, Indexer, MAX_LINE, MAX_RELATIONS, Package, PackageDb, Relation, Scope, lines,
    read_db_file,
};
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;

/// Reads the database, or `None` when the root has none.
pub fn read(rootfs: &RootFs, tree: &dyn PathLookup, scope: Scope<'_>) -> Option<PackageDb> {
    let status = read_db_file(rootfs, tree, b"/var/lib/dpkg/status")?;
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let mut db = PackageDb::new(DbFormat::Dpkg);
            db.warn(format!("cannot read the dpkg status: {e}"));
            return Some(db);
        }
    };
    let mut db = Parsing::default();
    parse_status(&status, &mut db);
    let diversions = match read_db_file(rootfs, tree, b"/var/lib/dpkg/diversions") {
        Some(Ok(b)) => parse_diversions(&b),
        _ => Vec::new(),
    };
    // A scoped read indexes each file list as it reads it and keeps none of them.
    let mut owners = HashMap::new();
    let mut ix = Indexer::new(tree, &diversions, scope);
    let keep_files = matches!(scope, Scope::All);
    for i in 0..db.packages.len() {
        let name = db.packages[i].package.name.clone();
        let arch = db.packages[i].origin_arch.take();
        let mut candidates = vec![[b"/var/lib/dpkg/info/", name.as_bytes(), b".list"].concat()];
        if let Some(a) = arch {
            candidates.insert(
                0,
                [
                    b"/var/lib/dpkg/info/",
                    name.as_bytes(),
                    b":",
                    a.as_bytes(),
                    b".list",
                ]
                .concat(),
            );
        }
        let list = candidates
            .iter()
            .find_map(|c| read_db_file(rootfs, tree, c));
        match list {
            Some(Ok(bytes)) => {
                for (n, line) in lines(&bytes) {
                    if line.is_empty() || line == b"/." {
                        continue;
                    }
                    if line.len() > MAX_LINE || !line.starts_with(b"/") {
                        db.warn(format!(
                            "{}.list line {n}: not an absolute path: skipped",
                            name
                        ));
                        continue;
                    }
                    let p = &mut db.packages[i].package;
                    if keep_files {
                        p.files.push(ByteStr::from(line));
                    } else {
                        ix.add(&mut owners, i, &p.name, line);
                    }
                }
            }
            Some(Err(e)) => db.warn(format!("cannot read the file list of {name}: {e}")),
            None => {}
        }
    }
    let mut out = PackageDb {
        kind: DbFormat::Dpkg,
        packages: db.packages.into_iter().map(|p| p.package).collect(),
        owners,
        warnings: db.warnings,
        ..PackageDb::new(DbFormat::Dpkg)
    };
    if keep_files {
        out.index(tree, &diversions, scope);
    } else {
        out.finish_index(ix);
    }
    Some(out)
}

/// A package being read, with its architecture (for `PKG:ARCH.list`).
#[derive(Default)]
pub struct Pending {
    package: Package,
    origin_arch: Option<ByteStr>,
}

/// The database while its status is read.
#[derive(Default)]
pub struct Parsing {
    packages: Vec<Pending>,
    warnings: Vec<String>,
    /// Relations kept so far (at most [`MAX_RELATIONS`]).
    relations: usize,
}

impl Parsing {
    /// The installed packages read so far (without file lists).
    pub fn into_packages(self) -> Vec<Package> {
        self.packages.into_iter().map(|p| p.package).collect()
    }

    fn warn(&mut self, w: String) {
        if self.warnings.len() < 50 {
            self.warnings.push(w);
        }
    }
}

/// Parses `status`.
pub fn parse_status(bytes: &[u8], db: &mut Parsing) {
    let mut fields: Vec<(&[u8], &[u8])> = Vec::new();
    let mut bad: Option<String> = None;
    let mut start = 1;
    let flush = |fields: &mut Vec<(&[u8], &[u8])>,
                 bad: &mut Option<String>,
                 start: usize,
                 db: &mut Parsing| {
        let get = |k: &[u8]| {
            fields
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| *v)
        };
        if let Some(why) = bad.take() {
            db.warn(format!("status: paragraph at line {start} skipped: {why}"));
        } else if let Some(name) = get(b"Package") {
            let installed = get(b"Status").is_some_and(|s| s.ends_with(b" installed"));
            if installed {
                // Source: NAME [(VERSION)]
                let origin = get(b"Source")
                    .map(|s| s.split(|&b| b == b' ').next().unwrap_or(s))
                    .or(Some(name));
                let architecture = get(b"Architecture");
                let arch = architecture.filter(|a| *a != b"all");
                let multi = get(b"Multi-Arch").is_some_and(|m| m == b"same");
                let mut depends = Vec::new();
                let mut provides = Vec::new();
                let mut left = MAX_RELATIONS.saturating_sub(db.relations);
                // Only the package that crosses the limit says so.
                let had_room = left > 0;
                let mut cut = false;
                for (field, pre) in [(&b"Pre-Depends"[..], true), (b"Depends", false)] {
                    if let Some(v) = get(field) {
                        cut |= relations(v, pre, &mut left, &mut depends);
                    }
                }
                if let Some(v) = get(b"Provides") {
                    let mut groups = Vec::new();
                    cut |= relations(v, false, &mut left, &mut groups);
                    provides.extend(groups.into_iter().flatten().map(|r| r.name));
                }
                db.relations = MAX_RELATIONS - left;
                if cut && had_room {
                    db.warn(format!(
                        "status: more than {MAX_RELATIONS} relations: those of {} on are dropped",
                        ByteStr::from(name)
                    ));
                }
                db.packages.push(Pending {
                    package: Package {
                        name: ByteStr::from(name),
                        version: ByteStr::from(get(b"Version").unwrap_or_default()),
                        origin: origin.map(ByteStr::from),
                        files: Vec::new(),
                        provides,
                        depends,
                        essential: get(b"Essential")
                            .is_some_and(|e| e.eq_ignore_ascii_case(b"yes")),
                        // KiB, as dpkg-gencontrol computes it.
                        installed_size: get(b"Installed-Size")
                            .and_then(parse_u64)
                            .and_then(|k| k.checked_mul(1024)),
                        arch: architecture.map(ByteStr::from),
                    },
                    origin_arch: if multi { arch.map(ByteStr::from) } else { None },
                });
            }
        } else if !fields.is_empty() {
            db.warn(format!(
                "status: paragraph at line {start} has no Package field: skipped"
            ));
        }
        fields.clear();
    };
    let mut last_was_field = false;
    for (n, line) in lines(bytes) {
        if line.is_empty() {
            flush(&mut fields, &mut bad, start, db);
            start = n + 1;
            last_was_field = false;
            continue;
        }
        if line.len() > MAX_LINE {
            bad.get_or_insert_with(|| format!("line {n} is longer than {MAX_LINE} bytes"));
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A continuation line (Description, Conffiles): nothing we use.
            if !last_was_field {
                bad.get_or_insert_with(|| format!("line {n}: a continuation line without a field"));
            }
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(c) if c > 0 => {
                let value = &line[c + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                fields.push((&line[..c], value));
                last_was_field = true;
            }
            _ => {
                bad.get_or_insert_with(|| format!("line {n} is not a `Field: value` line"));
            }
        }
    }
    flush(&mut fields, &mut bad, start, db);
}

/// A decimal number (`Installed-Size: 489`), surrounding blanks allowed.
fn parse_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v.trim_ascii()).ok()?.parse().ok()
}

/// Parses relation field `value` into groups of alternatives appended to `out`, each marked `pre`
/// (`Pre-Depends`). Empty and malformed alternatives are skipped. At most `left` relations are
/// kept (it is decreased by those); true when some were dropped for it.
pub fn relations(value: &[u8], pre: bool, left: &mut usize, out: &mut Vec<Vec<Relation>>) -> bool {
    for group in value.split(|&b| b == b',') {
        let mut alternatives = Vec::new();
        for alt in group.split(|&b| b == b'|') {
            if *left == 0 {
                if !alternatives.is_empty() {
                    out.push(alternatives);
                }
                return true;
            }
            if let Some(r) = relation(alt, pre) {
                *left -= 1;
                alternatives.push(r);
            }
        }
        if !alternatives.is_empty() {
            out.push(alternatives);
        }
    }
    false
}

/// One alternative: `NAME[:ARCH] [(OP VERSION)]`. A qualifier without an operator or a version is
/// dropped (dpkg would refuse it); a missing name skips the alternative.
fn relation(text: &[u8], pre: bool) -> Option<Relation> {
    let (head, version) = match text.iter().position(|&b| b == b'(') {
        Some(open) => {
            let (head, rest) = text.split_at(open);
            let inner = rest.get(1..).unwrap_or_default();
            let inner = inner.split(|&b| b == b')').next().unwrap_or_default();
            let inner = inner.trim_ascii();
            let op_len = inner.iter().take_while(|b| b"<>=".contains(b)).count();
            let (op, v) = inner.split_at(op_len);
            let v = v.trim_ascii();
            let version =
                (!op.is_empty() && !v.is_empty()).then(|| (ByteStr::from(op), ByteStr::from(v)));
            (head, version)
        }
        None => (text, None),
    };
    let head = head.trim_ascii();
    let (name, arch) = match head.iter().position(|&b| b == b':') {
        Some(c) => {
            let (name, arch) = head.split_at(c);
            let arch = arch.get(1..).unwrap_or_default();
            (name, (!arch.is_empty()).then(|| ByteStr::from(arch)))
        }
        None => (head, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(Relation {
        name: ByteStr::from(name),
        arch,
        version,
        pre,
        syntax: DbFormat::Dpkg,
    })
}

/// Parses `diversions`: (diverted path, new path, diverting package).
pub fn parse_diversions(bytes: &[u8]) -> Vec<(ByteStr, ByteStr, ByteStr)> {
    let l: Vec<&[u8]> = lines(bytes)
        .map(|(_, l)| l)
        .filter(|l| !l.is_empty())
        .collect();
    l.chunks_exact(3)
        .map(|c| {
            (
                ByteStr::from(c[0]),
                ByteStr::from(c[1]),
                ByteStr::from(c[2]),
            )
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::pkgdb::DeclaredBy;

    /// The database `status` describes (no file lists).
    pub(in crate::pkgdb) fn db(status: &[u8]) -> PackageDb {
        let mut parsing = Parsing::default();
        parse_status(status, &mut parsing);
        let warnings = parsing.warnings.clone();
        PackageDb {
            packages: parsing.into_packages(),
            warnings,
            ..PackageDb::new(DbFormat::Dpkg)
        }
    }

    /// Records of the Debian test root's status (fields we do not read, and descriptions, left
    /// out).
    const BOOKWORM: &[u8] = b"\
Package: mawk
Status: install ok installed
Installed-Size: 263
Architecture: amd64
Multi-Arch: foreign
Version: 1.3.4.20200120-3.1
Provides: awk
Depends: libc6 (>= 2.29)

Package: debconf
Status: install ok installed
Installed-Size: 491
Architecture: all
Multi-Arch: foreign
Version: 1.5.82
Replaces: debconf-tiny
Provides: debconf-2.0
Recommends: apt-utils, debconf-i18n
Conflicts: debconf-tiny, whiptail-utf8 (<= 0.50.17-13)

Package: base-files
Essential: yes
Status: install ok installed
Installed-Size: 341
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u15
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3)

Package: libc6
Status: install ok installed
Installed-Size: 13001
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u14
Replaces: libc6-amd64
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: gcc-12 (12.2.0-14+deb12u1)
Version: 12.2.0-14+deb12u1
Provides: libgcc1 (= 1:12.2.0-14+deb12u1)
Depends: gcc-12-base (= 12.2.0-14+deb12u1), libc6 (>= 2.35)

Package: gcc-12-base
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 12.2.0-14+deb12u1

Package: python3-numpy
Status: install ok installed
Installed-Size: 26176
Architecture: amd64
Source: numpy
Version: 1:1.24.2-1+deb12u1
Provides: dh-sequence-numpy3, python3-f2py, python3-numpy-abi9, python3-numpy-api16, python3-numpy-dev
Depends: python3-pkg-resources, python3 (<< 3.12), python3 (>= 3.11~), python3.11:any, python3:any, libblas3 | libblas.so.3, libc6 (>= 2.35), liblapack3 | liblapack.so.3
Conflicts: python-numpy

Package: python3
Status: install ok installed
Architecture: amd64
Multi-Arch: allowed
Source: python3-defaults
Version: 3.11.2-1+b1
Provides: python3-profiler
Pre-Depends: python3.11 (>= 3.11.2-1~)

Package: libblas3
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: lapack
Version: 3.11.0-2
Provides: libblas.so.3
Depends: libc6 (>= 2.29), libgfortran5 (>= 8)

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1
Provides: awk
";

    fn index(db: &PackageDb, name: &str) -> usize {
        db.packages
            .iter()
            .position(|p| p.name.as_bytes() == name.as_bytes())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    fn groups(p: &Package) -> Vec<String> {
        p.depends
            .iter()
            .map(|g| crate::pkgdb::declared::group_text(g))
            .collect()
    }

    #[test]
    fn relations_size_arch_essential_of_real_records() {
        let db = db(BOOKWORM);
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        let mawk = &db.packages[index(&db, "mawk")];
        assert_eq!(mawk.provides, [ByteStr::from("awk")]);
        assert_eq!(mawk.installed_size, Some(263 * 1024));
        assert_eq!(mawk.arch, Some(ByteStr::from("amd64")));
        assert!(!mawk.essential);
        assert_eq!(groups(mawk), ["libc6 (>= 2.29)"]);
        let libc = &mawk.depends[0][0];
        assert_eq!(
            libc.version,
            Some((ByteStr::from(">="), ByteStr::from("2.29")))
        );
        assert!(!libc.pre);

        let base = &db.packages[index(&db, "base-files")];
        assert!(base.essential);
        assert_eq!(groups(base), ["awk"]);
        assert!(base.depends[0][0].pre, "Pre-Depends are marked");

        // `all` is kept as the architecture (the .list lookup ignores it).
        let debconf = &db.packages[index(&db, "debconf")];
        assert_eq!(debconf.arch, Some(ByteStr::from("all")));
        assert!(
            debconf.depends.is_empty(),
            "Recommends are not dependencies"
        );

        // A versioned Provides gives its name only.
        let gcc = &db.packages[index(&db, "libgcc-s1")];
        assert_eq!(gcc.provides, [ByteStr::from("libgcc1")]);
        assert_eq!(gcc.installed_size, None);

        let numpy = &db.packages[index(&db, "python3-numpy")];
        assert_eq!(
            groups(numpy),
            [
                "python3-pkg-resources",
                "python3 (<< 3.12)",
                "python3 (>= 3.11~)",
                "python3.11:any",
                "python3:any",
                "libblas3 | libblas.so.3",
                "libc6 (>= 2.35)",
                "liblapack3 | liblapack.so.3",
            ]
        );
        assert_eq!(numpy.depends[4][0].arch, Some(ByteStr::from("any")));
        assert_eq!(numpy.depends[4][0].name, ByteStr::from("python3"));
        assert_eq!(numpy.installed_size, Some(26176 * 1024));
    }

    #[test]
    fn satisfiers_names_virtual_packages_alternatives() {
        let db = db(BOOKWORM);
        let at = |n: &str| index(&db, n);
        let base = &db.packages[at("base-files")];
        // `awk` is virtual: mawk provides it (the removed package that did is not installed).
        assert_eq!(
            db.satisfier(&base.depends[0][0], at("base-files")),
            Some(at("mawk"))
        );
        let numpy = &db.packages[at("python3-numpy")];
        let sat = |g: usize, a: usize| db.satisfier(&numpy.depends[g][a], at("python3-numpy"));
        assert_eq!(sat(4, 0), Some(at("python3")), "python3:any");
        assert_eq!(
            sat(0, 0),
            None,
            "python3-pkg-resources is not installed here"
        );
        assert_eq!(sat(5, 0), Some(at("libblas3")));
        assert_eq!(sat(5, 1), Some(at("libblas3")), "libblas.so.3 is provided");
        assert_eq!(sat(7, 0), None);
        assert_eq!(sat(7, 1), None);
        let debconf2 = Relation::named("debconf-2.0", DbFormat::Dpkg);
        assert_eq!(db.satisfier(&debconf2, at("mawk")), Some(at("debconf")));
        // From an `all` package (debconf) an unqualified relation takes any architecture.
        assert_eq!(
            db.satisfier(&Relation::named("libc6", DbFormat::Dpkg), at("debconf")),
            Some(at("libc6"))
        );

        let closure = db.declared_closure(&[at("python3-numpy")]);
        let names: Vec<&str> = closure
            .packages
            .keys()
            .map(|&i| db.packages[i].name.to_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            names,
            [
                "libc6",
                "libgcc-s1",
                "gcc-12-base",
                "python3-numpy",
                "python3",
                "libblas3"
            ]
        );
        let unsatisfied: Vec<&str> = closure
            .unsatisfied
            .iter()
            .map(|u| u.relation.as_str())
            .collect();
        // python3.11 (also a Pre-Depends of python3) and libgfortran5 are left out of the records
        // above.
        assert_eq!(
            unsatisfied,
            [
                "python3-pkg-resources",
                "python3.11:any",
                "liblapack3 | liblapack.so.3",
                "python3.11 (>= 3.11.2-1~)",
                "libgfortran5 (>= 8)",
            ]
        );
        assert_eq!(closure.packages[&at("python3-numpy")], []);
        assert_eq!(
            closure.packages[&at("libc6")],
            [
                DeclaredBy {
                    from: at("python3-numpy"),
                    relation: "libc6 (>= 2.35)".into()
                },
                DeclaredBy {
                    from: at("libblas3"),
                    relation: "libc6 (>= 2.29)".into()
                },
                DeclaredBy {
                    from: at("libgcc-s1"),
                    relation: "libc6 (>= 2.35)".into()
                },
            ]
        );
        // libc6 <-> libgcc-s1 is a cycle: each is visited once.
        assert_eq!(
            closure.packages[&at("libgcc-s1")],
            [DeclaredBy {
                from: at("libc6"),
                relation: "libgcc-s1".into()
            }]
        );
    }

    #[test]
    fn architecture_qualifiers() {
        let db = db(b"\
Package: libc6
Status: install ok installed
Architecture: amd64
Version: 1

Package: libc6
Status: install ok installed
Architecture: i386
Version: 1

Package: prog
Status: install ok installed
Architecture: i386
Version: 1
Depends: libc6, libc6:amd64, libc6:any, libc6:native, libc6:arm64

Package: tool
Status: install ok installed
Architecture: arm64
Version: 1
Depends: libc6

Package: doc
Status: install ok installed
Architecture: all
Version: 1
Depends: libc6
");
        let prog = &db.packages[2];
        let sat: Vec<Option<usize>> = prog
            .depends
            .iter()
            .map(|g| db.satisfier(&g[0], 2))
            .collect();
        assert_eq!(sat, [Some(1), Some(0), Some(0), Some(1), None]);
        assert_eq!(prog.depends[1][0].to_string(), "libc6:amd64");
        // An arm64 program has no libc6 of its architecture; an `all` one takes the first.
        assert_eq!(db.satisfier(&db.packages[3].depends[0][0], 3), None);
        assert_eq!(db.satisfier(&db.packages[4].depends[0][0], 4), Some(0));
    }

    #[test]
    fn hostile_relations() {
        // A Depends line of almost 1 MiB: one group of 350k alternatives, none installed but the
        // last.
        let mut text = b"Package: a\nStatus: install ok installed\nDepends: ".to_vec();
        while text.len() < MAX_LINE - 100 {
            text.extend_from_slice(b"x | ");
        }
        text.extend_from_slice(
            b"b\n\nPackage: b\nStatus: install ok installed\nDepends: b, a, ,, | , (>= 1), :any\n",
        );
        let started = std::time::Instant::now();
        let db = db(&text);
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        assert_eq!(db.packages[0].depends.len(), 1);
        assert!(db.packages[0].depends[0].len() > 200_000);
        // b depends on itself and on a (a cycle); the empty and nameless groups are dropped.
        assert_eq!(groups(&db.packages[1]), ["b", "a"]);
        let closure = db.declared_closure(&[0]);
        assert_eq!(closure.packages.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(closure.packages[&0], [], "a seed lists no reasons");
        assert!(closure.unsatisfied.is_empty());
        // The same line with nothing installed: one unsatisfied group, written out once.
        let lone = String::from_utf8_lossy(&text[..text.len() - 80]).replace("| b\n", "| y\n");
        let db2 = crate::pkgdb::dpkg::tests::db(lone.as_bytes());
        let closure = db2.declared_closure(&[0, 0, 7]);
        assert_eq!(closure.unsatisfied.len(), 1);
        assert!(closure.unsatisfied[0].relation.starts_with("x | x | "));
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn status_paragraphs() {
        let mut db = Parsing::default();
        parse_status(
            b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc (2.36-9)\nVersion: 2.36-9\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
            &mut db,
        );
        assert_eq!(db.packages.len(), 1);
        let p = &db.packages[0];
        assert_eq!(p.package.origin, Some(ByteStr::from("glibc")));
        assert_eq!(p.origin_arch, Some(ByteStr::from("amd64")));
    }

    #[test]
    fn hostile_status_keeps_the_rest() {
        let mut text =
            b"Package: a\nStatus: install ok installed\nVersion: 1\n\nnot a field\n\n".to_vec();
        text.extend_from_slice(b"Package: b\nStatus: install ok installed\nDescription: ");
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 5));
        text.extend_from_slice(b"\n\n \n\nPackage: \xff\xfe\nStatus: install ok installed\n\nPackage: c\nStatus: install ok installed\n");
        let mut db = Parsing::default();
        parse_status(&text, &mut db);
        let names: Vec<String> = db
            .packages
            .iter()
            .map(|p| p.package.name.escaped())
            .collect();
        assert_eq!(names, ["a", "\\xff\\xfe", "c"], "{:?}", db.warnings);
        assert_eq!(db.warnings.len(), 3, "{:?}", db.warnings);
        parse_status(b"", &mut db);
        parse_status(b":\n:\n\x00", &mut db);
    }

    #[test]
    fn diversions() {
        let d = parse_diversions(b"/usr/bin/x\n/usr/bin/x.distrib\nfoo\n/bin/y\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1, ByteStr::from("/usr/bin/x.distrib"));
    }
}

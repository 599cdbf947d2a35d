//! dpkg's database: `var/lib/dpkg/status` (RFC 822-style paragraphs; only packages whose Status is
//! `install ok installed` count), `info/PKG.list` or `info/PKG:ARCH.list` (one path per line), and
//! `diversions` (triples of lines: the diverted path, where it went, the diverting package).
//!
//! Relation fields (`Depends`, `Pre-Depends`, `Provides`) are comma-separated groups of
//! `|`-separated alternatives, each `NAME[:ARCH] [(OP VERSION)]` (deb-control(5)).

use super::{DbFormat, MAX_LINE, MAX_RELATIONS, Package, PackageDb, Relation, lines, read_db_file};
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;

/// Reads the database, or `None` when the root has none.
pub fn read(rootfs: &RootFs, tree: &dyn PathLookup) -> Option<PackageDb> {
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
                    db.packages[i].package.files.push(ByteStr::from(line));
                }
            }
            Some(Err(e)) => db.warn(format!("cannot read the file list of {name}: {e}")),
            None => {}
        }
    }
    let diversions = match read_db_file(rootfs, tree, b"/var/lib/dpkg/diversions") {
        Some(Ok(b)) => parse_diversions(&b),
        _ => Vec::new(),
    };
    let mut out = PackageDb {
        kind: DbFormat::Dpkg,
        packages: db.packages.into_iter().map(|p| p.package).collect(),
        owners: Default::default(),
        warnings: db.warnings,
        ..PackageDb::new(DbFormat::Dpkg)
    };
    out.index(tree, &diversions);
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
mod tests {
    use super::*;

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

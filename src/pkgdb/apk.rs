//! APK's installed database (`lib/apk/db/installed`): blank-line separated records of `K:value`
//! lines. `F:` names a directory (relative to the root) and the `R:` lines after it its files.
//! `D:` lists dependencies separated by spaces, each `NAME[OP VERSION]` (`so:libc.musl-x86_64.so.1`,
//! `musl>=1.2.3`, `/bin/sh`; `!NAME` is a conflict, not a dependency).

use super::{DbFormat, MAX_LINE, MAX_RELATIONS, Package, PackageDb, Relation, lines, read_db_file};

/// Longest directory an `F:` line may name (Linux's PATH_MAX).
const MAX_PATH: usize = 4096;
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;

/// Reads the database, or `None` when the root has none.
pub fn read(rootfs: &RootFs, tree: &dyn PathLookup, scope: super::Scope<'_>) -> Option<PackageDb> {
    let bytes = match read_db_file(rootfs, tree, b"/lib/apk/db/installed")
        .or_else(|| read_db_file(rootfs, tree, b"/usr/lib/apk/db/installed"))?
    {
        Ok(b) => b,
        Err(e) => {
            let mut db = PackageDb::new(DbFormat::Apk);
            db.warn(format!("cannot read the APK database: {e}"));
            return Some(db);
        }
    };
    let mut db = parse(&bytes);
    db.index(tree, &[], scope);
    Some(db)
}

/// Parses the database text.
pub fn parse(bytes: &[u8]) -> PackageDb {
    let mut db = PackageDb::new(DbFormat::Apk);
    let mut cur = Package::default();
    let mut dir: Vec<u8> = Vec::new();
    let mut bad: Option<String> = None;
    let mut start = 1;
    // Whether the record had its P: / V: line (even an empty one).
    let (mut named, mut versioned) = (false, false);
    // Relations kept (at most MAX_RELATIONS) and whether more were dropped.
    let (mut relations, mut cut) = (0usize, false);
    let finish = |db: &mut PackageDb, cur: &mut Package, bad: &mut Option<String>, start: usize| {
        let p = std::mem::take(cur);
        if let Some(why) = bad.take() {
            db.warn(format!(
                "installed database: record at line {start} skipped: {why}"
            ));
        } else if p.name.as_bytes().is_empty() {
            if !p.files.is_empty() || !p.version.as_bytes().is_empty() {
                db.warn(format!(
                    "installed database: record at line {start} has no P: (name): skipped"
                ));
            }
        } else {
            db.packages.push(p);
        }
    };
    for (n, line) in lines(bytes) {
        if line.is_empty() {
            finish(&mut db, &mut cur, &mut bad, start);
            dir.clear();
            start = n + 1;
            (named, versioned) = (false, false);
            continue;
        }
        if line.len() > MAX_LINE {
            bad.get_or_insert_with(|| format!("line {n} is longer than {MAX_LINE} bytes"));
            continue;
        }
        // Every line is one letter, a colon, a value.
        if line.len() < 2 || line[1] != b':' {
            bad.get_or_insert_with(|| format!("line {n} is not a `K:value` line"));
            continue;
        }
        let value = &line[2..];
        // apk writes each identity field once per record. A second one is what a file name
        // with a newline looks like when a writer renders it verbatim (apko#2507: `R:x` then
        // `P:fake`): the record's name or version can no longer be trusted, so none of it is.
        if matches!(line[0], b'P' | b'V' | b'o') {
            let seen = match line[0] {
                b'P' => named,
                b'V' => versioned,
                _ => cur.origin.is_some(),
            };
            if seen {
                bad.get_or_insert_with(|| {
                    format!(
                        "line {n}: a second {}: line in one record (a file name with a newline?)",
                        line[0] as char
                    )
                });
                continue;
            }
            named |= line[0] == b'P';
            versioned |= line[0] == b'V';
        }
        match line[0] {
            b'P' => cur.name = ByteStr::from(value),
            b'V' => cur.version = ByteStr::from(value),
            b'o' => cur.origin = Some(ByteStr::from(value)),
            b'p' => cur.provides.extend(
                value
                    .split(|&b| b == b' ')
                    .filter(|v| !v.is_empty())
                    .map(ByteStr::from),
            ),
            b'D' => {
                for token in value.split(|&b| b == b' ') {
                    if token.is_empty() || token.starts_with(b"!") {
                        continue;
                    }
                    if relations == MAX_RELATIONS {
                        if !cut {
                            db.warn(format!(
                                "installed database: line {n}: more than {MAX_RELATIONS} \
                                 dependencies: the rest are dropped"
                            ));
                        }
                        cut = true;
                        break;
                    }
                    if let Some(r) = relation(token) {
                        relations += 1;
                        cur.depends.push(vec![r]);
                    }
                }
            }
            b'A' => cur.arch = Some(ByteStr::from(value)),
            b'I' => {
                cur.installed_size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            b'F' => {
                // Every R: line below repeats the directory: a long one times many short R:
                // lines would make gigabytes of paths out of megabytes of database.
                if value.len() > MAX_PATH {
                    bad.get_or_insert_with(|| {
                        format!("line {n}: a directory of {} bytes", value.len())
                    });
                    continue;
                }
                if value.split(|&b| b == b'/').any(|c| c == b"..") {
                    bad.get_or_insert_with(|| format!("line {n}: a directory with `..`"));
                    continue;
                }
                dir = value.to_vec();
            }
            b'R' => {
                if value.contains(&b'/') || value == b".." || value == b"." {
                    bad.get_or_insert_with(|| format!("line {n}: a file name with `/`"));
                    continue;
                }
                let mut p = Vec::with_capacity(dir.len() + value.len() + 2);
                p.push(b'/');
                if !dir.is_empty() {
                    p.extend_from_slice(&dir);
                    p.push(b'/');
                }
                p.extend_from_slice(value);
                cur.files.push(ByteStr::from(p));
            }
            _ => {}
        }
    }
    finish(&mut db, &mut cur, &mut bad, start);
    db
}

/// One `D:` token (not a conflict): the name up to the first operator character, then the
/// operator (`=`, `>=`, `<`, `~`, `><`, ...) and the version. `None` without a name.
pub fn relation(token: &[u8]) -> Option<Relation> {
    let is_op = |b: &u8| matches!(b, b'<' | b'>' | b'=' | b'~');
    let (name, version) = match token.iter().position(is_op) {
        Some(at) => {
            let (name, rest) = token.split_at(at);
            let op_len = rest.iter().take_while(|b| is_op(b)).count();
            let (op, v) = rest.split_at(op_len);
            (name, Some((ByteStr::from(op), ByteStr::from(v))))
        }
        None => (token, None),
    };
    (!name.is_empty()).then(|| Relation {
        version,
        ..Relation::named(name, DbFormat::Apk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_files_and_provides() {
        let db = parse(
            b"C:Q1abc\nP:libssl3\nV:3.3.2-r0\no:openssl\np:so:libssl.so.3=3\nF:usr/lib\nR:libssl.so.3\n\nP:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n",
        );
        assert_eq!(db.packages.len(), 2);
        assert_eq!(
            db.packages[0].files,
            vec![ByteStr::from("/usr/lib/libssl.so.3")]
        );
        assert_eq!(db.packages[0].origin, Some(ByteStr::from("openssl")));
        assert_eq!(db.packages[1].files.len(), 2);
        assert_eq!(
            db.providers(b"libssl.so.3")[0].name,
            ByteStr::from("libssl3")
        );
        assert!(db.warnings.is_empty());
    }

    /// Records of the Alpine 3.20 x86_64 test root's database (checksums, file lists and the
    /// fields we do not read left out), and a made-up one with a conflict and a `~` version.
    const ALPINE: &[u8] = b"\
P:alpine-baselayout
V:3.6.5-r0
A:x86_64
I:315392
o:alpine-baselayout
D:alpine-baselayout-data=3.6.5-r0 /bin/sh

P:alpine-baselayout-data
V:3.6.5-r0
A:x86_64
I:77824
o:alpine-baselayout

P:apk-tools
V:2.14.4-r0
A:x86_64
I:303104
o:apk-tools
D:musl>=1.2.3_git20230424 ca-certificates-bundle so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3 so:libz.so.1
p:so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.4-r0

P:busybox
V:1.36.1-r29
A:x86_64
I:929792
o:busybox
D:so:libc.musl-x86_64.so.1
p:cmd:busybox=1.36.1-r29

P:busybox-binsh
V:1.36.1-r29
A:x86_64
I:8192
o:busybox
D:busybox=1.36.1-r29
p:/bin/sh cmd:sh=1.36.1-r29

P:ca-certificates-bundle
V:20240705-r0
A:x86_64
I:241664
o:ca-certificates
p:ca-certificates-cacert=20240705-r0

P:libcrypto3
V:3.3.2-r0
A:x86_64
I:4771840
o:openssl
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3

P:libssl3
V:3.3.2-r0
A:x86_64
I:815104
o:openssl
D:libcrypto3=3.3.2-r0 so:libc.musl-x86_64.so.1 so:libcrypto.so.3
p:so:libssl.so.3=3

P:musl
V:1.2.5-r0
A:x86_64
I:667648
o:musl
p:so:libc.musl-x86_64.so.1=1

P:ssl_client
V:1.36.1-r29
A:x86_64
I:28672
o:busybox
D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3
p:cmd:ssl_client=1.36.1-r29
i:busybox=1.36.1-r29 libssl3

P:zlib
V:1.3.1-r1
A:x86_64
I:110592
o:zlib
D:so:libc.musl-x86_64.so.1
p:so:libz.so.1=1.3.1

P:script
V:1
A:noarch
D:!busybox-extras cmd:sh pc:zlib  zlib~1.3 ssl_client<2 =1
";

    #[test]
    fn depends_arch_size_and_satisfiers() {
        let db = parse(ALPINE);
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        let at = |n: &str| {
            db.packages
                .iter()
                .position(|p| p.name.as_bytes() == n.as_bytes())
                .unwrap_or_else(|| panic!("no {n}"))
        };
        let texts = |n: &str| -> Vec<String> {
            db.packages[at(n)]
                .depends
                .iter()
                .map(|g| crate::pkgdb::declared::group_text(g))
                .collect()
        };
        // Written back as apk wrote them.
        assert_eq!(
            texts("apk-tools"),
            [
                "musl>=1.2.3_git20230424",
                "ca-certificates-bundle",
                "so:libc.musl-x86_64.so.1",
                "so:libcrypto.so.3",
                "so:libssl.so.3",
                "so:libz.so.1",
            ]
        );
        let tools = &db.packages[at("apk-tools")];
        assert_eq!(
            tools.depends[0][0].version,
            Some((ByteStr::from(">="), ByteStr::from("1.2.3_git20230424")))
        );
        assert_eq!(tools.arch, Some(ByteStr::from("x86_64")));
        assert_eq!(tools.installed_size, Some(303104));
        assert!(!tools.essential);
        // The conflict is not a dependency; install_if (`i:`) is not read.
        assert_eq!(
            texts("script"),
            ["cmd:sh", "pc:zlib", "zlib~1.3", "ssl_client<2"]
        );
        assert!(texts("ssl_client").iter().all(|t| t.starts_with("so:")));

        let sat =
            |from: &str, g: usize| db.satisfier(&db.packages[at(from)].depends[g][0], at(from));
        assert_eq!(sat("apk-tools", 0), Some(at("musl")));
        assert_eq!(
            sat("apk-tools", 2),
            Some(at("musl")),
            "so: with =1 stripped"
        );
        assert_eq!(sat("apk-tools", 5), Some(at("zlib")));
        assert_eq!(
            sat("alpine-baselayout", 1),
            Some(at("busybox-binsh")),
            "/bin/sh"
        );
        // A noarch package takes any architecture; `cmd:` and `~` are matched by name.
        assert_eq!(sat("script", 0), Some(at("busybox-binsh")));
        assert_eq!(sat("script", 1), None, "no pc:zlib here");
        assert_eq!(sat("script", 2), Some(at("zlib")));
        // The providers query still reads the same entries.
        assert_eq!(db.providers(b"libz.so.1")[0].name, ByteStr::from("zlib"));

        let closure = db.declared_closure(&[at("alpine-baselayout")]);
        let mut names: Vec<&str> = closure
            .packages
            .keys()
            .map(|&i| db.packages[i].name.to_str().unwrap_or("?"))
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "alpine-baselayout",
                "alpine-baselayout-data",
                "busybox",
                "busybox-binsh",
                "musl"
            ]
        );
        assert_eq!(
            closure.packages[&at("busybox-binsh")],
            [crate::pkgdb::DeclaredBy {
                from: at("alpine-baselayout"),
                relation: "/bin/sh".into()
            }]
        );
        assert!(closure.unsatisfied.is_empty());
    }

    #[test]
    fn hostile_records_are_skipped_not_fatal() {
        // A 1-byte line, a blank line inside, non-UTF-8, a path escape, a huge line; the good
        // records before and after survive.
        let mut text = b"P:good1\nV:1\nF:usr\nR:a\n\nP:bad\nx\n\nP:bad2\nF:../../etc\nR:shadow\n\nP:\xff\xfename\nV:2\nR:b\n\n".to_vec();
        text.extend_from_slice(b"P:huge\nV:");
        text.extend(std::iter::repeat_n(b'9', MAX_LINE + 10));
        text.extend_from_slice(b"\n\nP:good2\nV:3\n");
        let db = parse(&text);
        let names: Vec<String> = db.packages.iter().map(|p| p.name.escaped()).collect();
        assert_eq!(
            names,
            ["good1", "\\xff\\xfename", "good2"],
            "{:?}",
            db.warnings
        );
        assert_eq!(db.warnings.len(), 3, "{:?}", db.warnings);
        // A file name with a newline, rendered verbatim, adds a second P: to its record (and a
        // trailing \r is part of a name).
        let db = parse(b"P:real\nV:1\nF:usr\nR:a\nR:x\nP:fake\n\nP:cr\nV:1\nF:usr\nR:b\r\n");
        let names: Vec<String> = db.packages.iter().map(|p| p.name.escaped()).collect();
        assert_eq!(names, ["cr"], "{:?}", db.warnings);
        assert!(db.warnings[0].contains("second P:"), "{:?}", db.warnings);
        assert_eq!(db.packages[0].files, vec![ByteStr::from("/usr/b\r")]);
        // A directory longer than PATH_MAX skips its record.
        let mut text = b"P:long\nF:".to_vec();
        text.extend(std::iter::repeat_n(b'd', MAX_PATH + 1));
        text.extend_from_slice(b"\nR:a\nR:b\n\nP:ok\n");
        let db = parse(&text);
        assert_eq!(db.packages.len(), 1);
        assert!(
            db.warnings[0].contains("a directory of"),
            "{:?}",
            db.warnings
        );
        // Empty input and garbage do not panic.
        let _ = parse(b"");
        let _ = parse(b"\n\n\n:\n::\nP");
    }
}

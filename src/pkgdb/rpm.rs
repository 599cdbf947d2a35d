//! RPM's database (`var/lib/rpm/rpmdb.sqlite`, or `usr/lib/sysimage/rpm/`): a `Packages` table of
//! header blobs.
//!
//! The database file (and its write-ahead log) is read through the confined root and copied into a
//! private temporary directory, which SQLite then opens read-only: SQLite never opens a path of the
//! root, and the root is never written to. Each header blob is parsed by hand with strict bounds
//! checks; a blob that fails them skips that package with a warning.

use std::path::Path;

use super::{MAX_DB_FILE, Package, PackageDb, read_db_file};
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::Tree;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SOURCERPM: u32 = 1044;
const TAG_PROVIDENAME: u32 = 1047;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Index entries and data bytes a header may have (real ones: hundreds of entries, < 16 MiB).
const MAX_ENTRIES: usize = 65536;
const MAX_DATA: usize = 64 << 20;
/// Files per package.
const MAX_FILES: usize = 1 << 20;

/// Reads the database, or `None` when the root has none.
pub fn read(rootfs: &RootFs, tree: &Tree) -> Option<PackageDb> {
    let dirs: [&[u8]; 2] = [b"/var/lib/rpm", b"/usr/lib/sysimage/rpm"];
    let (dir, main) = dirs.iter().find_map(|d| {
        let p = [*d, b"/rpmdb.sqlite"].concat();
        read_db_file(rootfs, tree, &p).map(|r| (*d, r))
    })?;
    let mut db = PackageDb {
        kind: "rpm",
        ..Default::default()
    };
    let main = match main {
        Ok(b) => b,
        Err(e) => {
            db.warn(format!("cannot read the RPM database: {e}"));
            return Some(db);
        }
    };
    let wal = match read_db_file(rootfs, tree, &[dir, b"/rpmdb.sqlite-wal"].concat()) {
        Some(Ok(b)) => Some(b),
        _ => None,
    };
    match blobs(&main, wal.as_deref()) {
        Ok(list) => {
            for (hnum, blob) in list {
                match parse_header(&blob) {
                    Ok(p) => db.packages.push(p),
                    Err(e) => db.warn(format!("package #{hnum}: {e}: skipped")),
                }
            }
        }
        Err(e) => db.warn(format!("cannot read the RPM database: {e}")),
    }
    db.index(tree, &[]);
    Some(db)
}

/// Every `(hnum, blob)` of the `Packages` table, from private copies of the database files.
fn blobs(main: &[u8], wal: Option<&[u8]>) -> Result<Vec<(i64, Vec<u8>)>, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let path = tmp.path().join("rpmdb.sqlite");
    std::fs::write(&path, main).map_err(|e| e.to_string())?;
    if let Some(w) = wal {
        std::fs::write(tmp.path().join("rpmdb.sqlite-wal"), w).map_err(|e| e.to_string())?;
    }
    query(&path).map_err(|e| e.to_string())
}

fn query(path: &Path) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    use rusqlite::{Connection, OpenFlags};
    // Read-write on our private copy so SQLite can fold the write-ahead log in; the root's own
    // files are never opened by SQLite.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Hostile files: bounded work and memory.
    conn.pragma_update(None, "cell_size_check", "ON")?;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
        MAX_DB_FILE.min(1 << 30) as i32,
    )?;
    let mut st = conn.prepare("SELECT hnum, blob FROM Packages")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    rows.collect()
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

/// One index entry's value.
enum Value<'a> {
    Strings(Vec<&'a [u8]>),
    Ints(Vec<u32>),
}

/// Parses a header blob (`il`, `dl`, `il` index entries of 16 bytes, `dl` bytes of data).
pub fn parse_header(blob: &[u8]) -> Result<Package, String> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    if il == 0 || il > MAX_ENTRIES {
        return Err(format!("{il} index entries"));
    }
    if dl > MAX_DATA {
        return Err(format!("{dl} bytes of data"));
    }
    let data_start = 8 + il * 16;
    let data = blob.get(data_start..data_start + dl).ok_or_else(|| {
        format!(
            "the blob ({} bytes) is shorter than its header says",
            blob.len()
        )
    })?;
    let get = |tag: u32| -> Result<Option<Value<'_>>, String> {
        for i in 0..il {
            let e = 8 + i * 16;
            if be32(blob, e)? != tag {
                continue;
            }
            let ty = be32(blob, e + 4)?;
            let off = be32(blob, e + 8)? as usize;
            let count = be32(blob, e + 12)? as usize;
            if off >= data.len() && count > 0 {
                return Err(format!("tag {tag}: offset {off} beyond the data"));
            }
            return Ok(Some(match ty {
                TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
                    if count > MAX_FILES {
                        return Err(format!("tag {tag}: {count} strings"));
                    }
                    let mut v = Vec::with_capacity(count.min(4096));
                    let mut at = off;
                    let n = if ty == TYPE_STRING { 1 } else { count };
                    for _ in 0..n {
                        let rest = data
                            .get(at..)
                            .ok_or_else(|| format!("tag {tag}: string beyond the data"))?;
                        let end = rest
                            .iter()
                            .position(|&b| b == 0)
                            .ok_or_else(|| format!("tag {tag}: unterminated string"))?;
                        v.push(&rest[..end]);
                        at += end + 1;
                    }
                    Value::Strings(v)
                }
                TYPE_INT32 => {
                    if count > MAX_FILES {
                        return Err(format!("tag {tag}: {count} integers"));
                    }
                    let bytes = data
                        .get(off..off + count * 4)
                        .ok_or_else(|| format!("tag {tag}: integers beyond the data"))?;
                    Value::Ints(
                        bytes
                            .chunks_exact(4)
                            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                    )
                }
                _ => return Ok(None),
            }));
        }
        Ok(None)
    };
    let string = |v: Option<Value<'_>>| match v {
        Some(Value::Strings(s)) => s.first().map(|s| ByteStr::from(*s)),
        _ => None,
    };
    fn strings(v: Option<Value<'_>>) -> Vec<&[u8]> {
        match v {
            Some(Value::Strings(s)) => s,
            _ => Vec::new(),
        }
    }
    let name = string(get(TAG_NAME)?).ok_or("no name")?;
    let version = string(get(TAG_VERSION)?).unwrap_or_default();
    let release = string(get(TAG_RELEASE)?).unwrap_or_default();
    let epoch = match get(TAG_EPOCH)? {
        Some(Value::Ints(v)) => v.first().copied(),
        _ => None,
    };
    let source = string(get(TAG_SOURCERPM)?);
    let provides: Vec<ByteStr> = strings(get(TAG_PROVIDENAME)?)
        .into_iter()
        .map(ByteStr::from)
        .collect();
    let base = strings(get(TAG_BASENAMES)?);
    let dirs = strings(get(TAG_DIRNAMES)?);
    let idx = match get(TAG_DIRINDEXES)? {
        Some(Value::Ints(v)) => v,
        _ => Vec::new(),
    };
    if base.len() != idx.len() {
        return Err(format!(
            "{} basenames but {} dir indexes",
            base.len(),
            idx.len()
        ));
    }
    let mut files = Vec::with_capacity(base.len());
    for (b, &d) in base.iter().zip(&idx) {
        let d = dirs
            .get(d as usize)
            .ok_or_else(|| format!("dir index {d} out of range"))?;
        files.push(ByteStr::from([*d, *b].concat()));
    }
    let v = format!(
        "{}{}-{}",
        epoch.map(|e| format!("{e}:")).unwrap_or_default(),
        version,
        release
    );
    // The source package name: NAME-VERSION-RELEASE.src.rpm without the last two fields.
    let origin = source.map(|s| {
        let t = s
            .as_bytes()
            .strip_suffix(b".src.rpm")
            .unwrap_or(s.as_bytes());
        let mut parts: Vec<&[u8]> = t.rsplitn(3, |&b| b == b'-').collect();
        ByteStr::from(parts.pop().unwrap_or(t))
    });
    Ok(Package {
        name,
        version: ByteStr::from(v.as_str()),
        origin,
        files,
        provides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_blobs_are_errors() {
        assert!(parse_header(b"").is_err());
        assert!(parse_header(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(parse_header(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        // One entry pointing past the data.
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 4];
        b.extend_from_slice(&1000u32.to_be_bytes());
        b.extend_from_slice(&6u32.to_be_bytes());
        b.extend_from_slice(&100u32.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(b"abc\0");
        assert!(parse_header(&b).is_err());
        // Unterminated string.
        let mut c = b.clone();
        c[16..20].copy_from_slice(&0u32.to_be_bytes());
        let n = c.len();
        c[n - 1] = b'd';
        assert!(parse_header(&c).is_err());
        // A good one.
        c[n - 1] = 0;
        assert_eq!(parse_header(&c).unwrap().name, ByteStr::from("abc"));
    }
}

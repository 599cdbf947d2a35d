//! RPM's database (`var/lib/rpm/rpmdb.sqlite`, or `usr/lib/sysimage/rpm/`): a `Packages` table of
//! header blobs.
//!
//! The database file (and its write-ahead log) is read through the confined root and copied into a
//! private temporary directory, which SQLite then opens read-only: SQLite never opens a path of the
//! root, and the root is never written to. SQLite reads the copy with its hardening for untrusted
//! files (defensive mode, no triggers or views, untrusted schema, tight limits, a time limit and a
//! heap limit). Each header blob is parsed by hand with strict bounds checks; a blob that fails
//! them skips that package with a warning, and the other packages are kept.

use std::path::Path;

use super::{DbFormat, MAX_RELATIONS, Package, PackageDb, Relation, read_db_file};
use crate::name::ByteStr;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SIZE: u32 = 1009;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_PROVIDENAME: u32 = 1047;
const TAG_REQUIREFLAGS: u32 = 1048;
const TAG_REQUIRENAME: u32 = 1049;
const TAG_REQUIREVERSION: u32 = 1050;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// REQUIREFLAGS bits (rpm's `rpmsenseFlags`): the comparison, and when the requirement applies.
const SENSE_LESS: u32 = 1 << 1;
const SENSE_GREATER: u32 = 1 << 2;
const SENSE_EQUAL: u32 = 1 << 3;
/// `PreReq:` (legacy), `Requires(pre)`.
const SENSE_PREREQ: u32 = 1 << 6;
const SENSE_SCRIPT_PRE: u32 = 1 << 9;
/// `Requires(missingok)`: a weak requirement, not a dependency.
const SENSE_MISSINGOK: u32 = 1 << 19;

/// Index entries and data bytes a header may have (real ones: hundreds of entries, < 16 MiB).
const MAX_ENTRIES: usize = 65536;
const MAX_DATA: usize = 64 << 20;
/// Files per package.
const MAX_FILES: usize = 1 << 20;

/// Packages (rows) read from one database; real ones have thousands.
const MAX_ROWS: usize = 100_000;
/// Files listed across the whole database (a full Fedora install lists about half a million).
const MAX_TOTAL_FILES: usize = 4 << 20;
/// Longest file path a header may list (Linux's PATH_MAX). A header names each file as a
/// directory index plus a base name, so without this one long directory and a million empty base
/// names would make terabytes of paths out of a few megabytes of blob.
const MAX_PATH: usize = 4096;
/// The longest blob SQLite may hand over: the largest header the parser accepts.
const MAX_BLOB: usize = 8 + MAX_ENTRIES * 16 + MAX_DATA;
/// Wall time for reading the database (SQLite's progress handler interrupts the query after it).
const TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// Heap SQLite may use while the database is read (it needs a few MiB plus the largest blob).
const HEAP_LIMIT: i64 = 256 << 20;

/// Why a package's header blob cannot be read: the blob breaks one of the parser's bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Shorter than a number it should hold at this offset.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// None, or more than [`MAX_ENTRIES`], index entries.
    #[error("{0} index entries")]
    Entries(usize),
    /// More than [`MAX_DATA`] bytes of data.
    #[error("{0} bytes of data")]
    Data(usize),
    /// The blob (of this length) ends before the data its header announces.
    #[error("the blob ({0} bytes) is shorter than its header says")]
    Short(usize),
    /// A tag's offset lies beyond the data.
    #[error("tag {0}: offset {1} beyond the data")]
    Offset(u32, usize),
    /// A tag lists more strings than a package may have files.
    #[error("tag {0}: {1} strings")]
    Strings(u32, usize),
    /// A tag's string starts beyond the data.
    #[error("tag {0}: string beyond the data")]
    StringBeyond(u32),
    /// A tag's string has no NUL before the end of the data.
    #[error("tag {0}: unterminated string")]
    Unterminated(u32),
    /// A tag lists more integers than a package may have files.
    #[error("tag {0}: {1} integers")]
    Integers(u32, usize),
    /// A tag's integers run past the data.
    #[error("tag {0}: integers beyond the data")]
    IntegersBeyond(u32),
    /// No name tag.
    #[error("no name")]
    NoName,
    /// The file list's base names and directory indexes do not pair up.
    #[error("{0} basenames but {1} dir indexes")]
    Unpaired(usize, usize),
    /// A file's directory index names no directory.
    #[error("dir index {0} out of range")]
    DirIndex(u32),
    /// A file path longer than [`MAX_PATH`].
    #[error("a file path of {0} bytes (at most {MAX_PATH})")]
    PathTooLong(usize),
}

/// Why one row of the `Packages` table gives no package.
#[derive(Debug, thiserror::Error)]
enum RowError {
    /// Its header blob is bad.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Its blob is longer than [`MAX_BLOB`].
    #[error("a header blob of {0} bytes (at most {MAX_BLOB})")]
    TooLong(i64),
    /// Its header is not a blob.
    #[error("its header is {0}, not a blob")]
    NotBlob(&'static str),
    /// SQLite could not read it.
    #[error("SQLite cannot read it: {0}")]
    Failed(String),
}

/// Why the database as a whole cannot be read (rows already read stand).
#[derive(Debug, thiserror::Error)]
enum DbError {
    /// No private directory for the copy.
    #[error("temporary directory: {0}")]
    TempDir(std::io::Error),
    /// Copying the database file failed.
    #[error("copying it: {0}")]
    Copy(std::io::Error),
    /// Copying its write-ahead log failed.
    #[error("copying its write-ahead log: {0}")]
    CopyWal(std::io::Error),
    /// SQLite failed (not SQLite, a broken schema, no `Packages` table, the time limit).
    #[error("{}", sqlite_message(.0))]
    Sqlite(rusqlite::Error),
}

/// What to do about a database that cannot be used, for the warnings.
const ADVICE: &str = "no file is attributed to an RPM package; if the image is yours, \
                      `rpm --root ROOT --rebuilddb` rewrites the database";

/// Reads the database, or `None` when the root has none.
pub fn read(rootfs: &RootFs, tree: &dyn PathLookup, scope: super::Scope<'_>) -> Option<PackageDb> {
    let (dir, main) = super::RPM_DIRS.iter().find_map(|d| {
        let p = [*d, b"/rpmdb.sqlite"].concat();
        read_db_file(rootfs, tree, &p).map(|r| (*d, r))
    })?;
    let mut db = PackageDb::new(DbFormat::Rpm);
    let at = ByteStr::from([dir, b"/rpmdb.sqlite"].concat());
    let main = match main {
        Ok(b) => b,
        Err(e) => {
            db.warn(format!("cannot read the RPM database: {e}; {ADVICE}"));
            return Some(db);
        }
    };
    let wal = match read_db_file(rootfs, tree, &[dir, b"/rpmdb.sqlite-wal"].concat()) {
        Some(Ok(b)) => Some(b),
        _ => None,
    };
    let mut total_files = 0usize;
    let mut total_relations = 0usize;
    let mut rows = 0usize;
    let result = with_rows(main, wal, |hnum, blob| {
        rows += 1;
        if rows > MAX_ROWS {
            db.warn(format!(
                "{at}: more than {MAX_ROWS} packages: the rest are not read (their files count as \
                 owned by no package)"
            ));
            return false;
        }
        let parsed = match blob {
            Row::Blob(b) => parse_header(b).map_err(RowError::from),
            Row::TooLong(n) => Err(RowError::TooLong(n)),
            Row::NotBlob(t) => Err(RowError::NotBlob(t)),
            Row::Failed(e) => Err(RowError::Failed(e)),
        };
        match parsed {
            Ok(p) if total_files + p.files.len() > MAX_TOTAL_FILES => {
                db.warn(format!(
                    "{at}: more than {MAX_TOTAL_FILES} files listed: package #{hnum} ({}) and \
                     the rest are not read (their files count as owned by no package)",
                    p.name
                ));
                false
            }
            Ok(mut p) => {
                let room = MAX_RELATIONS - total_relations;
                if p.depends.len() > room {
                    if room > 0 {
                        db.warn(format!(
                            "{at}: more than {MAX_RELATIONS} requires: those of package #{hnum} \
                             ({}) on are dropped",
                            p.name
                        ));
                    }
                    p.depends.truncate(room);
                }
                total_relations += p.depends.len();
                total_files += p.files.len();
                db.packages.push(p);
                true
            }
            Err(e) => {
                db.warn(format!(
                    "{at}: package #{hnum}: bad header ({e}): skipped, its files count as owned \
                     by no package; `rpm --root ROOT -qa` shows whether rpm can read it"
                ));
                true
            }
        }
    });
    if let Err(e) = result {
        let got = if db.packages.is_empty() {
            String::new()
        } else {
            format!(" after {} packages", db.packages.len())
        };
        let advice = if db.packages.is_empty() {
            ADVICE.to_string()
        } else {
            "the files of the packages not read count as owned by no package".to_string()
        };
        db.warn(format!(
            "{at}: cannot read the RPM database{got}: {e}; {advice}"
        ));
    }
    db.index(tree, &[], scope);
    Some(db)
}

/// One row's header, as SQLite has it.
enum Row<'a> {
    Blob(&'a [u8]),
    /// Longer than [`MAX_BLOB`]: not fetched.
    TooLong(i64),
    /// NULL, an integer, a float (SQLite columns take any type).
    NotBlob(&'static str),
    /// SQLite could not read the row.
    Failed(String),
}

/// Calls `f(hnum, header)` for every row of the `Packages` table, read from private copies of the
/// database files (`main` is dropped once copied), until `f` returns false. An error is the
/// database's (not SQLite, a broken schema, no `Packages` table, the time limit); rows already
/// given to `f` stand.
fn with_rows(
    main: Vec<u8>,
    wal: Option<Vec<u8>>,
    f: impl FnMut(i64, Row<'_>) -> bool,
) -> Result<(), DbError> {
    let tmp = tempfile::tempdir().map_err(DbError::TempDir)?;
    let path = tmp.path().join("rpmdb.sqlite");
    std::fs::write(&path, &main).map_err(DbError::Copy)?;
    drop(main);
    if let Some(w) = wal {
        std::fs::write(tmp.path().join("rpmdb.sqlite-wal"), w).map_err(DbError::CopyWal)?;
    }
    let deadline = std::time::Instant::now() + TIME_LIMIT;
    query(&path, deadline, f).map_err(DbError::Sqlite)
}

fn is_interrupt(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(c, _) if c.code == rusqlite::ErrorCode::OperationInterrupted)
}

/// What went wrong, in words (SQLite's own message first, then its error code).
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        _ if is_interrupt(e) => format!("reading it took longer than {} s", TIME_LIMIT.as_secs()),
        rusqlite::Error::SqliteFailure(c, Some(m)) => {
            format!("{m} (SQLite error {})", c.extended_code)
        }
        e => e.to_string(),
    }
}

/// An error about the database's shape (not SQLite's).
fn not_rpm(why: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
        Some(why),
    )
}

/// Opens the private copy at `path` with SQLite's hardening for untrusted database files ("Defense
/// Against the Dark Arts", sqlite.org/security.html) and streams the `Packages` rows to `f`.
/// `deadline`: when the query is interrupted.
fn query(
    path: &Path,
    deadline: std::time::Instant,
    mut f: impl FnMut(i64, Row<'_>) -> bool,
) -> rusqlite::Result<()> {
    use rusqlite::config::DbConfig;
    use rusqlite::limits::Limit;
    use rusqlite::types::ValueRef;
    use rusqlite::{Connection, OpenFlags, OptionalExtension};
    // Read-write on our private copy so SQLite can fold the write-ahead log in; the root's own
    // files are never opened by SQLite. No URI names, no symlinks followed.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    // Before the schema is first read: nothing in it may run code, and nothing may write to or
    // corrupt the file through SQL (defensive mode turns off writable_schema and friends).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    // A view named Packages could compute rows forever (a recursive CTE): only a table is read.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    // Work and sizes of a single query: our one SELECT needs almost nothing; what the hostile
    // schema declares (long CREATE statements, deep expressions in defaults or generated columns)
    // hits these instead of our memory. SQL_LENGTH stays well above any real rpmdb statement.
    for (limit, value) in [
        (Limit::SQLITE_LIMIT_LENGTH, MAX_BLOB as i32),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, 100_000),
        (Limit::SQLITE_LIMIT_COLUMN, 100),
        (Limit::SQLITE_LIMIT_EXPR_DEPTH, 100),
        (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 4),
        (Limit::SQLITE_LIMIT_VDBE_OP, 25_000),
        (Limit::SQLITE_LIMIT_FUNCTION_ARG, 8),
        (Limit::SQLITE_LIMIT_ATTACHED, 0),
        (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 100),
        (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 10),
        (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 1),
        (Limit::SQLITE_LIMIT_WORKER_THREADS, 0),
    ] {
        conn.set_limit(limit, value)?;
    }
    // Bounded time: SQLite calls this every 10,000 virtual machine steps; true interrupts.
    conn.progress_handler(10_000, Some(move || std::time::Instant::now() > deadline))?;
    // Bounded memory: a small page cache, no memory-mapping of the file, and a heap limit. The
    // heap limit is process-wide; elfdeps uses SQLite nowhere else, and it is put back below.
    let old_heap: i64 = conn.query_row("PRAGMA hard_heap_limit", [], |r| r.get(0))?;
    conn.query_row(
        &format!("PRAGMA hard_heap_limit = {HEAP_LIMIT}"),
        [],
        |_| Ok(()),
    )?;
    let result = (|| {
        conn.pragma_update(None, "cell_size_check", "ON")?;
        conn.pragma_update(None, "trusted_schema", "OFF")?;
        conn.pragma_update(None, "mmap_size", 0)?;
        conn.pragma_update(None, "cache_size", -8192)?;
        // rpm's Packages is a table. Anything else under that name is refused up front, with a
        // message that says so (views are off anyway: one could compute rows forever).
        let kind: Option<String> = conn
            .query_row(
                "SELECT type FROM sqlite_schema WHERE name = 'Packages' COLLATE NOCASE",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match kind.as_deref() {
            Some("table") => {}
            Some(other) => return Err(not_rpm(format!("its Packages is a {other}, not a table"))),
            None => return Err(not_rpm("it has no Packages table".into())),
        }
        // `length()` of a blob is read from the record header without loading the blob, so an
        // oversized one is reported instead of failing the query with SQLITE_TOOBIG. Rows go in
        // rowid order from just after the last one read: when one row fails (a corrupt overflow
        // page, a computed column over the length limit), the query restarts after it, so one
        // bad row costs only itself (syft#1231).
        let mut st = conn.prepare(&format!(
            "SELECT rowid, hnum, length(blob), CASE WHEN length(blob) <= {MAX_BLOB} THEN blob END \
             FROM Packages WHERE rowid > ?1 ORDER BY rowid"
        ))?;
        let mut next =
            conn.prepare("SELECT rowid FROM Packages WHERE rowid > ?1 ORDER BY rowid LIMIT 1")?;
        let mut after = i64::MIN;
        'restart: loop {
            let mut rows = st.query([after])?;
            loop {
                let r = match rows.next() {
                    Ok(Some(r)) => r,
                    Ok(None) => break 'restart,
                    Err(e) if is_interrupt(&e) => return Err(e),
                    Err(e) => {
                        // The row after `after` failed: skip it, or give up when even the rowids
                        // cannot be read.
                        let failed: i64 = match next.query_row([after], |r| r.get(0)) {
                            Ok(rowid) => rowid,
                            Err(_) => return Err(e),
                        };
                        after = failed;
                        if !f(failed, Row::Failed(sqlite_message(&e))) {
                            break 'restart;
                        }
                        continue 'restart;
                    }
                };
                let rowid: i64 = r.get(0)?;
                after = rowid;
                let hnum = match r.get_ref(1)? {
                    ValueRef::Integer(i) => i,
                    _ => rowid,
                };
                let len = match r.get_ref(2)? {
                    ValueRef::Integer(i) => i,
                    _ => 0,
                };
                let row = match r.get_ref(3)? {
                    ValueRef::Blob(b) => Row::Blob(b),
                    ValueRef::Null if len > MAX_BLOB as i64 => Row::TooLong(len),
                    ValueRef::Null => Row::NotBlob("NULL"),
                    ValueRef::Integer(_) => Row::NotBlob("an integer"),
                    ValueRef::Real(_) => Row::NotBlob("a number"),
                    ValueRef::Text(_) => Row::NotBlob("text"),
                };
                if !f(hnum, row) {
                    break 'restart;
                }
            }
        }
        Ok(())
    })();
    let _ = conn.query_row(&format!("PRAGMA hard_heap_limit = {old_heap}"), [], |_| {
        Ok(())
    });
    result
}

fn be32(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(HeaderError::Truncated(at))
}

/// One index entry's value.
enum Value<'a> {
    Strings(Vec<&'a [u8]>),
    Ints(Vec<u32>),
}

/// Parses a header blob (`il`, `dl`, `il` index entries of 16 bytes, `dl` bytes of data).
pub fn parse_header(blob: &[u8]) -> Result<Package, HeaderError> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    if il == 0 || il > MAX_ENTRIES {
        return Err(HeaderError::Entries(il));
    }
    if dl > MAX_DATA {
        return Err(HeaderError::Data(dl));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or(HeaderError::Short(blob.len()))?;
    let get = |tag: u32| -> Result<Option<Value<'_>>, HeaderError> {
        for i in 0..il {
            let e = 8 + i * 16;
            if be32(blob, e)? != tag {
                continue;
            }
            let ty = be32(blob, e + 4)?;
            let off = be32(blob, e + 8)? as usize;
            let count = be32(blob, e + 12)? as usize;
            if off >= data.len() && count > 0 {
                return Err(HeaderError::Offset(tag, off));
            }
            return Ok(Some(match ty {
                TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
                    if count > MAX_FILES {
                        return Err(HeaderError::Strings(tag, count));
                    }
                    let mut v = Vec::with_capacity(count.min(4096));
                    let mut at = off;
                    let n = if ty == TYPE_STRING { 1 } else { count };
                    for _ in 0..n {
                        let rest = data.get(at..).ok_or(HeaderError::StringBeyond(tag))?;
                        let end = rest
                            .iter()
                            .position(|&b| b == 0)
                            .ok_or(HeaderError::Unterminated(tag))?;
                        v.push(&rest[..end]);
                        at += end + 1;
                    }
                    Value::Strings(v)
                }
                TYPE_INT32 => {
                    if count > MAX_FILES {
                        return Err(HeaderError::Integers(tag, count));
                    }
                    let bytes = data
                        .get(off..off + count * 4)
                        .ok_or(HeaderError::IntegersBeyond(tag))?;
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
    let name = string(get(TAG_NAME)?).ok_or(HeaderError::NoName)?;
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
    let arch = string(get(TAG_ARCH)?);
    let installed_size = match get(TAG_SIZE)? {
        Some(Value::Ints(v)) => v.first().map(|&n| u64::from(n)),
        _ => None,
    };
    let require_names = strings(get(TAG_REQUIRENAME)?);
    let require_flags = match get(TAG_REQUIREFLAGS)? {
        Some(Value::Ints(v)) => v,
        _ => Vec::new(),
    };
    let require_versions = strings(get(TAG_REQUIREVERSION)?);
    let depends = require_names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            requirement(
                name,
                require_flags.get(i).copied().unwrap_or(0),
                require_versions.get(i).copied().unwrap_or_default(),
            )
        })
        .map(|r| vec![r])
        .collect();
    let base = strings(get(TAG_BASENAMES)?);
    let dirs = strings(get(TAG_DIRNAMES)?);
    let idx = match get(TAG_DIRINDEXES)? {
        Some(Value::Ints(v)) => v,
        _ => Vec::new(),
    };
    if base.len() != idx.len() {
        return Err(HeaderError::Unpaired(base.len(), idx.len()));
    }
    let mut files = Vec::with_capacity(base.len());
    for (b, &d) in base.iter().zip(&idx) {
        let d = dirs.get(d as usize).ok_or(HeaderError::DirIndex(d))?;
        if d.len() + b.len() > MAX_PATH {
            return Err(HeaderError::PathTooLong(d.len() + b.len()));
        }
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
        depends,
        essential: false,
        installed_size,
        arch,
    })
}

/// One require as a relation, or `None` for what is not a package dependency: rpm's own features
/// (`rpmlib(...)`), configuration versions (`config(...)`), rich boolean requires (`(a or b)`,
/// not read), weak ones (`missingok`).
fn requirement(name: &[u8], flags: u32, version: &[u8]) -> Option<Relation> {
    if name.is_empty()
        || name.starts_with(b"rpmlib(")
        || name.starts_with(b"config(")
        || name.starts_with(b"(")
        || flags & SENSE_MISSINGOK != 0
    {
        return None;
    }
    let op = match flags & (SENSE_LESS | SENSE_GREATER | SENSE_EQUAL) {
        f if f == SENSE_LESS => "<",
        f if f == SENSE_GREATER => ">",
        f if f == SENSE_EQUAL => "=",
        f if f == SENSE_LESS | SENSE_EQUAL => "<=",
        f if f == SENSE_GREATER | SENSE_EQUAL => ">=",
        _ => "",
    };
    let version = (!op.is_empty() && !version.is_empty())
        .then(|| (ByteStr::from(op), ByteStr::from(version)));
    Some(Relation {
        version,
        pre: flags & (SENSE_PREREQ | SENSE_SCRIPT_PRE) != 0,
        ..Relation::named(name, DbFormat::Rpm)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_interrupted_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
             INSERT INTO Packages (blob)
               WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000)
               SELECT X'00' FROM n;",
        )
        .unwrap();
        drop(conn);
        // A deadline already passed: the progress handler stops the scan of 50,000 rows.
        let mut seen = 0;
        let e = query(&path, std::time::Instant::now(), |_, _| {
            seen += 1;
            true
        })
        .unwrap_err();
        assert!(is_interrupt(&e), "{e}");
        assert!(seen < 50_000, "{seen}");
        assert!(sqlite_message(&e).contains("longer than"));
        // With time, every row.
        seen = 0;
        let later = std::time::Instant::now() + std::time::Duration::from_secs(60);
        query(&path, later, |_, _| {
            seen += 1;
            true
        })
        .unwrap();
        assert_eq!(seen, 50_000);
    }

    /// A header blob of `entries` (tag, value); integers are aligned to 4 bytes, as rpm does.
    fn header(entries: &[(u32, Value<'_>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, value) in entries {
            let (ty, count) = match value {
                Value::Strings(s) => {
                    let ty = if s.len() == 1 && *tag != TAG_REQUIRENAME {
                        TYPE_STRING
                    } else {
                        TYPE_STRING_ARRAY
                    };
                    (ty, s.len())
                }
                Value::Ints(v) => {
                    while data.len() % 4 != 0 {
                        data.push(0);
                    }
                    (TYPE_INT32, v.len())
                }
            };
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&(count as u32).to_be_bytes());
            match value {
                Value::Strings(s) => {
                    for x in s {
                        data.extend_from_slice(x);
                        data.push(0);
                    }
                }
                Value::Ints(v) => v
                    .iter()
                    .for_each(|n| data.extend_from_slice(&n.to_be_bytes())),
            }
        }
        let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    /// Requires as rpm writes them for a package like Fedora's `bash` (names and flags from
    /// `rpm -q --requires --qf '[%{REQUIREFLAGS} %{REQUIRENAME}\n]'`), plus made-up weak and
    /// rich ones.
    #[test]
    fn requires_provides_arch_size() {
        let names: Vec<&[u8]> = vec![
            b"/usr/bin/sh",
            b"config(bash)",
            b"filesystem",
            b"libc.so.6()(64bit)",
            b"libc.so.6(GLIBC_2.34)(64bit)",
            b"libtinfo.so.6()(64bit)",
            b"rpmlib(CompressedFileNames)",
            b"glibc",
            b"(coreutils or busybox)",
            b"weak",
            b"",
        ];
        let flags = vec![
            1 << 9,
            SENSE_EQUAL,
            SENSE_GREATER | SENSE_EQUAL | SENSE_PREREQ,
            0,
            0,
            0,
            SENSE_LESS | SENSE_EQUAL | (1 << 24),
            SENSE_LESS,
            0,
            SENSE_MISSINGOK,
            0,
        ];
        let versions: Vec<&[u8]> = vec![
            b"",
            b"5.2.26-3.fc40",
            b"3",
            b"",
            b"",
            b"",
            b"3.0.4-1",
            b"3",
            b"",
            b"",
            b"",
        ];
        let blob = header(&[
            (TAG_NAME, Value::Strings(vec![b"bash"])),
            (TAG_VERSION, Value::Strings(vec![b"5.2.26"])),
            (TAG_RELEASE, Value::Strings(vec![b"3.fc40"])),
            (TAG_SIZE, Value::Ints(vec![8_177_404])),
            (TAG_ARCH, Value::Strings(vec![b"x86_64"])),
            (
                TAG_PROVIDENAME,
                Value::Strings(vec![b"/bin/sh", b"bash", b"bash(x86-64)", b"config(bash)"]),
            ),
            (TAG_REQUIREFLAGS, Value::Ints(flags)),
            (TAG_REQUIRENAME, Value::Strings(names)),
            (TAG_REQUIREVERSION, Value::Strings(versions)),
        ]);
        let p = parse_header(&blob).unwrap();
        assert_eq!(p.arch, Some(ByteStr::from("x86_64")));
        assert_eq!(p.installed_size, Some(8_177_404));
        assert!(!p.essential);
        assert_eq!(p.provides[0], ByteStr::from("/bin/sh"));
        let texts: Vec<String> = p
            .depends
            .iter()
            .map(|g| crate::pkgdb::declared::group_text(g))
            .collect();
        assert_eq!(
            texts,
            [
                "/usr/bin/sh",
                "filesystem >= 3",
                "libc.so.6()(64bit)",
                "libc.so.6(GLIBC_2.34)(64bit)",
                "libtinfo.so.6()(64bit)",
                "glibc < 3",
            ]
        );
        let pre: Vec<bool> = p.depends.iter().map(|g| g[0].pre).collect();
        assert_eq!(pre, [true, true, false, false, false, false]);

        // Requires without flags or versions (a header that lists only the names) still read.
        let blob = header(&[
            (TAG_NAME, Value::Strings(vec![b"tool"])),
            (TAG_REQUIRENAME, Value::Strings(vec![b"bash", b"/bin/sh"])),
        ]);
        let tool = parse_header(&blob).unwrap();
        assert_eq!(tool.depends.len(), 2);
        assert_eq!(tool.depends[0][0].version, None);

        // `/bin/sh` is provided by bash; a path nobody provides falls to its owner, found through
        // the canonical path read time resolved.
        let mut db = PackageDb::new(DbFormat::Rpm);
        db.packages = vec![p, tool];
        db.packages[0].files = vec![ByteStr::from("/usr/bin/sh")];
        db.owners.insert(ByteStr::from("/usr/bin/sh"), 0);
        let sh = &db.packages[1].depends[1][0];
        assert_eq!(db.satisfier(sh, 1), Some(0), "by provides");
        // Without the provides: `/bin/sh` is the owner of `/usr/bin/sh`, `/bin` being a symlink
        // to `usr/bin` (merged /usr), which indexing the database resolves.
        use crate::tree::{Entry, Tree};
        let tree = Tree::from_sorted(vec![
            (
                ByteStr::from("/bin"),
                Entry::Symlink(ByteStr::from("usr/bin")),
            ),
            (ByteStr::from("/usr"), Entry::Dir),
            (ByteStr::from("/usr/bin"), Entry::Dir),
            (ByteStr::from("/usr/bin/sh"), Entry::File),
        ]);
        let mut db3 = PackageDb::new(DbFormat::Rpm);
        db3.packages = db.packages.clone();
        db3.packages[0].provides.clear();
        db3.index(&tree, &[], crate::pkgdb::Scope::All);
        assert_eq!(db3.satisfier(sh, 1), Some(0), "by owner");
        let closure = db3.declared_closure(&[1]);
        assert_eq!(closure.packages.keys().copied().collect::<Vec<_>>(), [0, 1]);
        // bash's own requires (filesystem, glibc, sonames) are not installed here.
        assert_eq!(closure.unsatisfied.len(), 5, "{:?}", closure.unsatisfied);
    }

    /// The warnings quote these messages: each error says what it said as a string.
    #[test]
    fn hostile_blobs_are_errors() {
        let message = |blob: &[u8]| parse_header(blob).unwrap_err().to_string();
        assert_eq!(message(b""), "truncated at byte 0");
        assert_eq!(
            message(&[0, 0, 0, 1, 0, 0, 0, 0]),
            "the blob (8 bytes) is shorter than its header says"
        );
        assert_eq!(
            message(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
            "4294967295 index entries"
        );
        // One entry pointing past the data.
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 4];
        b.extend_from_slice(&1000u32.to_be_bytes());
        b.extend_from_slice(&6u32.to_be_bytes());
        b.extend_from_slice(&100u32.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(b"abc\0");
        assert_eq!(message(&b), "tag 1000: offset 100 beyond the data");
        // Unterminated string.
        let mut c = b.clone();
        c[16..20].copy_from_slice(&0u32.to_be_bytes());
        let n = c.len();
        c[n - 1] = b'd';
        assert_eq!(message(&c), "tag 1000: unterminated string");
        assert_eq!(
            HeaderError::PathTooLong(5000).to_string(),
            "a file path of 5000 bytes (at most 4096)"
        );
        assert_eq!(
            RowError::TooLong(1).to_string(),
            format!("a header blob of 1 bytes (at most {MAX_BLOB})")
        );
        // A good one.
        c[n - 1] = 0;
        assert_eq!(parse_header(&c).unwrap().name, ByteStr::from("abc"));
    }
}

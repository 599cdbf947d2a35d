//! APK repository indexes (`APKINDEX.tar.gz`, given with `--apk-index`): a signature tar and the
//! index tar, each its own gzip stream, concatenated. The `APKINDEX` member has the installed
//! database's record format (`P:`, `V:`, `o:`, `p:so:libssl.so.3=3`, ...), without file lists.

use std::io::Read;
use std::path::Path;

use super::{Package, apk};

/// Most decompressed bytes read from an index (real ones are a few MiB).
const MAX_INDEX: u64 = 256 << 20;

/// Reads the packages of an index file, and the warnings about skipped records.
pub fn read(path: &Path) -> Result<(Vec<Package>, Vec<String>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut archive = tar::Archive::new(gz.take(MAX_INDEX));
    let entries = archive
        .entries()
        .map_err(|e| format!("{}: not an APKINDEX.tar.gz: {e}", path.display()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        if entry.path_bytes().as_ref() != b"APKINDEX" {
            continue;
        }
        let mut text = Vec::new();
        entry
            .read_to_end(&mut text)
            .map_err(|e| format!("{}: reading APKINDEX: {e}", path.display()))?;
        let db = apk::parse(&text);
        return Ok((db.packages, db.warnings));
    }
    Err(format!(
        "{} has no APKINDEX member (is it an APKINDEX.tar.gz?)",
        path.display()
    ))
}

/// Packages of `index` that provide `so:SONAME`.
pub fn providers<'a>(index: &'a [Package], soname: &[u8]) -> Vec<&'a Package> {
    let want = [b"so:", soname].concat();
    index
        .iter()
        .filter(|p| {
            p.provides.iter().any(|v| {
                let v = v.as_bytes();
                v == want.as_slice() || (v.starts_with(&want) && v.get(want.len()) == Some(&b'='))
            })
        })
        .collect()
}

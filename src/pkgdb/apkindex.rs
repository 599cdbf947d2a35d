//! APK repository indexes (`APKINDEX.tar.gz`, given with `--apk-index`): a signature tar and the
//! index tar, each its own gzip stream, concatenated. The `APKINDEX` member has the installed
//! database's record format (`P:`, `V:`, `o:`, `p:so:libssl.so.3=3`, ...), without file lists.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Package, apk};

/// Most decompressed bytes read from an index (real ones are a few MiB).
const MAX_INDEX: u64 = 256 << 20;

/// Why an index cannot be read. Each message starts with the index's path.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file cannot be opened.
    #[error("{}: {source}", path.display())]
    Open {
        /// The index, as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a tar stream (after gzip).
    #[error("{}: not an APKINDEX.tar.gz: {source}", path.display())]
    NotAnIndex {
        /// The index, as given.
        path: PathBuf,
        /// What the tar reader found.
        source: std::io::Error,
    },
    /// A tar member header cannot be read.
    #[error("{}: {source}", path.display())]
    Member {
        /// The index, as given.
        path: PathBuf,
        /// What the tar reader found.
        source: std::io::Error,
    },
    /// The `APKINDEX` member cannot be read.
    #[error("{}: reading APKINDEX: {source}", path.display())]
    ReadIndex {
        /// The index, as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No `APKINDEX` member.
    #[error("{} has no APKINDEX member (is it an APKINDEX.tar.gz?)", path.display())]
    NoIndex {
        /// The index, as given.
        path: PathBuf,
    },
}

/// Reads the packages of an index file, and the warnings about skipped records.
pub fn read(path: &Path) -> Result<(Vec<Package>, Vec<String>), IndexError> {
    let path_buf = || path.to_path_buf();
    let file = std::fs::File::open(path).map_err(|source| IndexError::Open {
        path: path_buf(),
        source,
    })?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut archive = tar::Archive::new(gz.take(MAX_INDEX));
    let entries = archive.entries().map_err(|source| IndexError::NotAnIndex {
        path: path_buf(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| IndexError::Member {
            path: path_buf(),
            source,
        })?;
        if entry.path_bytes().as_ref() != b"APKINDEX" {
            continue;
        }
        let mut text = Vec::new();
        entry
            .read_to_end(&mut text)
            .map_err(|source| IndexError::ReadIndex {
                path: path_buf(),
                source,
            })?;
        let db = apk::parse(&text);
        return Ok((db.packages, db.warnings));
    }
    Err(IndexError::NoIndex { path: path_buf() })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages are word for word those of the `String` errors before (the CLI prints them).
    #[test]
    fn errors_say_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.tar.gz");
        let e = read(&missing).unwrap_err();
        let io = std::fs::File::open(&missing).unwrap_err();
        assert!(matches!(&e, IndexError::Open { source, .. } if source.kind() == io.kind()));
        assert_eq!(e.to_string(), format!("{}: {io}", missing.display()));

        // A gzip stream holding a tar without an APKINDEX member.
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_cksum();
        tar.append_data(&mut header, "DESCRIPTION", &b"x"[..])
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
        let other = dir.path().join("other.tar.gz");
        std::fs::write(&other, gz.finish().unwrap()).unwrap();
        let e = read(&other).unwrap_err();
        assert!(matches!(e, IndexError::NoIndex { .. }));
        assert_eq!(
            e.to_string(),
            format!(
                "{} has no APKINDEX member (is it an APKINDEX.tar.gz?)",
                other.display()
            )
        );

        // Not gzip at all.
        let text = dir.path().join("text.tar.gz");
        std::fs::write(&text, b"P:musl\n").unwrap();
        let e = read(&text).unwrap_err();
        // The tar reader fails on the first member, not on `entries()`.
        assert!(matches!(e, IndexError::Member { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("{}: ", text.display())),
            "{shown}"
        );
    }
}

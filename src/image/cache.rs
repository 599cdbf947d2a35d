//! The blob cache of registry pulls (`--blob-cache DIR`): blobs by digest, `DIR/sha256/HEX`. A
//! cached blob is used only when its content still hashes to its name; it is hard-linked into the
//! pulled layout (copied when DIR is on another filesystem).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::hex;

/// Puts the cached blob `hex` at `dest`, after checking its content: its size, or `None` when it
/// is not cached (a damaged one is removed).
pub fn take(cache: &Path, hex_digest: &str, dest: &Path) -> Option<u64> {
    let p = cache.join("sha256").join(hex_digest);
    let mut f = std::fs::File::open(&p).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(_) => return None,
        }
    }
    if hex(&h.finalize()) != hex_digest {
        let _ = std::fs::remove_file(&p);
        return None;
    }
    std::fs::hard_link(&p, dest)
        .or_else(|_| std::fs::copy(&p, dest).map(|_| ()))
        .ok()?;
    Some(n)
}

/// Keeps the verified blob at `src` in the cache (best effort: a cache that cannot be written
/// costs a later download, not this pull).
pub fn keep(cache: &Path, hex_digest: &str, src: &Path) {
    let dir = cache.join("sha256");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let p = dir.join(hex_digest);
    if p.exists() {
        return;
    }
    let tmp = dir.join(format!(".{hex_digest}.{}", std::process::id()));
    let ok = std::fs::hard_link(src, &tmp)
        .or_else(|_| std::fs::copy(src, &tmp).map(|_| ()))
        .is_ok();
    if ok && std::fs::rename(&tmp, &p).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Empties the cache (`--clear-blob-cache`): its `sha256` directory goes.
pub fn clear(cache: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(cache.join("sha256")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/*!
Small caches built byte by byte for the unit tests (the caches `ldconfig` writes are tested in
tests/ldcache.rs).
*/

use super::ByteOrder;
use super::parse::{EXTENSION_MAGIC, NEW_MAGIC, OLD_MAGIC, TAG_GLIBC_HWCAPS};

/// Builds a little-endian new-format cache: entries (flags, key, value, hwcap), hwcaps names.
pub(crate) fn build_new(entries: &[(i32, &str, &str, u64)], hwcaps: &[&str]) -> Vec<u8> {
    build_new_in(ByteOrder::Little, entries, hwcaps)
}

/// [`build_new`] with every number big endian and the header's flags saying so (what an s390x
/// ldconfig writes).
pub(super) fn build_new_big_endian(entries: &[(i32, &str, &str, u64)], hwcaps: &[&str]) -> Vec<u8> {
    build_new_in(ByteOrder::Big, entries, hwcaps)
}

fn build_new_in(order: ByteOrder, entries: &[(i32, &str, &str, u64)], hwcaps: &[&str]) -> Vec<u8> {
    let u32_bytes = |x: u32| match order {
        ByteOrder::Little => x.to_le_bytes(),
        ByteOrder::Big => x.to_be_bytes(),
    };
    let u64_bytes = |x: u64| match order {
        ByteOrder::Little => x.to_le_bytes(),
        ByteOrder::Big => x.to_be_bytes(),
    };
    // cache_file_new_flags_endian_little / _big.
    let endian_flag = match order {
        ByteOrder::Little => 2,
        ByteOrder::Big => 3,
    };
    let n = entries.len();
    let mut strings = Vec::new();
    let strings_at = 48 + 24 * n;
    let mut add = |s: &str| {
        let off = strings_at + strings.len();
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        off as u32
    };
    let mut table = Vec::new();
    for &(flags, key, value, hwcap) in entries {
        let (k, v) = (add(key), add(value));
        for x in [flags as u32, k, v, 0] {
            table.extend_from_slice(&u32_bytes(x));
        }
        table.extend_from_slice(&u64_bytes(hwcap));
    }
    let names: Vec<u32> = hwcaps.iter().map(|h| add(h)).collect();
    let mut b = Vec::new();
    b.extend_from_slice(NEW_MAGIC);
    b.extend_from_slice(&u32_bytes(n as u32));
    b.extend_from_slice(&u32_bytes(strings.len() as u32));
    b.extend_from_slice(&[endian_flag, 0, 0, 0]);
    b.extend_from_slice(&0u32.to_le_bytes()); // extension offset, patched below
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(&table);
    b.extend_from_slice(&strings);
    if !names.is_empty() {
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        let ext = b.len();
        b[32..36].copy_from_slice(&u32_bytes(ext as u32));
        let data = ext + 8 + 16;
        for x in [
            EXTENSION_MAGIC,
            1,
            TAG_GLIBC_HWCAPS,
            0,
            data as u32,
            4 * names.len() as u32,
        ] {
            b.extend_from_slice(&u32_bytes(x));
        }
        for x in names {
            b.extend_from_slice(&u32_bytes(x));
        }
    }
    b
}

/// Builds a little-endian old-format cache.
pub(super) fn build_old(entries: &[(i32, &str, &str)]) -> Vec<u8> {
    let mut b = OLD_MAGIC.to_vec();
    b.push(0);
    b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut strings = Vec::new();
    for &(flags, key, value) in entries {
        let k = strings.len() as u32;
        strings.extend_from_slice(key.as_bytes());
        strings.push(0);
        let v = strings.len() as u32;
        strings.extend_from_slice(value.as_bytes());
        strings.push(0);
        for x in [flags as u32, k, v] {
            b.extend_from_slice(&x.to_le_bytes());
        }
    }
    b.extend_from_slice(&strings);
    b
}

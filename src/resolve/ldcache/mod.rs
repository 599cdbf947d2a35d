/*!
glibc's `/etc/ld.so.cache`: a parser that does not trust its input, and the lookup glibc's `ld.so`
performs on the result.

- [`parse`](LdCache::parse) (parse.rs) reads the three layouts glibc has written (old, old and
  new, new), in either byte order, within bounds proportional to the input; the module doc of
  parse.rs describes the layouts and their sources.
- [`lookup`](LdCache::lookup), [`lookup_ranked`](LdCache::lookup_ranked) and
  [`lookup_cpu`](LdCache::lookup_cpu) (lookup.rs) are glibc's `search_cache` over the result.
- [`LoaderFlags`], [`flags_accepted_for`] and [`flags_description`] (flags.rs) say which entry
  flags the loader of each machine and ABI ([`crate::elf::Abi`], from `e_flags`) accepts, and
  how `ldconfig -p` names them.

The tests that compare all this with `ldconfig` itself are in tests/ldcache.rs.
*/

mod flags;
mod lookup;
mod parse;
#[cfg(test)]
pub(crate) mod synthetic;

pub use flags::{LoaderFlags, flags_accepted_for, flags_description};
pub use lookup::libcmp;

use std::fmt;

/// `DL_CACHE_HWCAP_EXTENSION` (dl-cache.h): in `file_entry_new.hwcap`, the low 32 bits are an index
/// into the glibc-hwcaps section.
pub const DL_CACHE_HWCAP_EXTENSION: u64 = 1 << 62;
/// `DL_CACHE_HWCAP_ISA_LEVEL_MASK`: ISA-level bits in the upper half of `hwcap` (glibc 2.33+, x86).
const DL_CACHE_HWCAP_ISA_LEVEL_MASK: u64 = (1 << 10) - 1;
/// `_DL_HWCAP_TLS_MASK` (dl-cache.c): the legacy "tls" hwcap, always considered present.
const DL_HWCAP_TLS_MASK: u64 = 1 << 63;

/// Which of glibc's three cache layouts a file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheFormat {
    /// Only the old `ld.so-1.7.0` table (`ldconfig -c old`): no hwcap data.
    Old,
    /// The old table followed by a new-format table (`ldconfig -c compat`, the default before
    /// glibc 2.32); the new table is the one used.
    OldAndNew,
    /// Only the new `glibc-ld.so.cache1.1` table (the default since glibc 2.32).
    New,
}

/// Byte order of the numbers in a cache file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little endian (x86, arm, aarch64, ppc64le, riscv, ...).
    Little,
    /// Big endian (s390x, ppc64, sparc64, mips, ...).
    Big,
}

/// Why a cache file cannot be used: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheError {
    /// Byte offset in the file of the field (or data) found to be wrong.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl CacheError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        CacheError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {:#x})", self.message, self.offset)
    }
}

impl std::error::Error for CacheError {}

/// One library entry, with its strings resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// `flags`: `FLAG_ELF_LIBC6` (3) plus the ABI bits (`FLAG_X8664_LIB64` ...); see
    /// [`flags_description`].
    pub flags: i32,
    /// The soname (what a DT_NEEDED is compared against).
    pub key: Vec<u8>,
    /// The path the loader opens.
    pub value: Vec<u8>,
    /// Minimum kernel version from the ABI note (0 if none; always 0 in the old format).
    pub osversion: u32,
    /// Raw hwcap word: legacy hwcap bits, or [`DL_CACHE_HWCAP_EXTENSION`] plus a glibc-hwcaps index
    /// (always 0 in the old format).
    pub hwcap: u64,
    /// For a glibc-hwcaps entry, the subdirectory name (`x86-64-v3`), when the cache's glibc-hwcaps
    /// section resolves it.
    pub hwcaps_subdir: Option<Vec<u8>>,
}

impl CacheEntry {
    /// Whether `hwcap` marks a glibc-hwcaps entry (`dl_cache_hwcap_extension` in dl-cache.h: only
    /// bit 62 set in the upper half, ignoring the ISA-level bits). Older loaders ignore these.
    pub fn is_hwcaps_extension(&self) -> bool {
        is_hwcaps_extension(self.hwcap)
    }
}

fn is_hwcaps_extension(hwcap: u64) -> bool {
    (hwcap >> 32) & !DL_CACHE_HWCAP_ISA_LEVEL_MASK == DL_CACHE_HWCAP_EXTENSION >> 32
}

/// A parsed `/etc/ld.so.cache`.
#[derive(Clone, Debug)]
pub struct LdCache {
    format: CacheFormat,
    byte_order: ByteOrder,
    /// `cache_file_new.flags & 3` (0 in the old format).
    endian_flag: u8,
    entries: Vec<CacheEntry>,
    /// Per glibc-hwcaps section index: whether `ld.so` can give that subdirectory a priority at
    /// all (see [`LdCache::lookup_ranked`]).
    hwcaps_mergeable: Vec<bool>,
    generator: Option<Vec<u8>>,
    warnings: Vec<CacheError>,
}

impl LdCache {
    /// The layout of the file.
    pub fn format(&self) -> CacheFormat {
        self.format
    }

    /// The byte order the numbers were read in (recorded in the file, or inferred).
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// Whether a loader of byte order `loader` would use this file at all: glibc accepts a new
    /// header whose flags are unset (0) or record its own byte order
    /// (`cache_file_new_matches_endian`); with no record, the numbers must also make sense in its
    /// byte order, which is what the parse inferred.
    pub fn matches_loader_byte_order(&self, loader: ByteOrder) -> bool {
        match parse::endian_from_flag(self.endian_flag) {
            Some(recorded) => recorded == loader,
            None => self.byte_order == loader,
        }
    }

    /// The entries of the table the loader uses (the new one when there are both), in file order:
    /// sorted by soname, descending in `_dl_cache_libcmp` order; glibc-hwcaps entries first among
    /// equal sonames.
    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }

    /// The generator extension section ("ldconfig (GNU libc) stable release version 2.36"), if
    /// any.
    pub fn generator(&self) -> Option<&[u8]> {
        self.generator.as_deref()
    }

    /// Non-fatal problems found while parsing (at most a few).
    pub fn warnings(&self) -> &[CacheError] {
        &self.warnings
    }
}

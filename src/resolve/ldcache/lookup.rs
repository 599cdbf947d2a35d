/*!
glibc's lookup in a parsed cache: `search_cache` of elf/dl-cache.c (2.33 and later), its
`_dl_cache_libcmp` order, and glibc's own preference among glibc-hwcaps subdirectories.
*/

use super::flags::FLAG_ELF_LIBC6;
use super::{CacheEntry, CacheFormat, DL_HWCAP_TLS_MASK, LdCache};
use crate::resolve::cpu::CacheCpu;
use std::cmp::Ordering;

/// The CPU [`LdCache::lookup_ranked`] assumes: none of the legacy hwcaps, no platform bit, and
/// every ISA level (the check left out).
const BASELINE_NO_ISA: CacheCpu = CacheCpu {
    hwcap_exclude: !DL_HWCAP_TLS_MASK,
    platform_mask: 0,
    platform: u64::MAX,
    isa_1: None,
};

impl LdCache {
    /// What glibc's `_dl_load_cache_lookup` returns for `soname`, for a loader whose
    /// `_dl_cache_check_flags` is `flags_ok` (see [`LoaderFlags`](super::LoaderFlags)), on a CPU that supports
    /// the glibc-hwcaps subdirectories for which `hwcaps_ok` is true.
    ///
    /// Among several supported subdirectories, glibc's own preference order is used
    /// (`sysdeps/*/dl-hwcaps-subdirs.c`: `x86-64-v4` before `x86-64-v3` before `x86-64-v2`,
    /// `power10` before `power9`, newest `zNN` first, ...); names glibc does not know come after
    /// those, in file order. Use [`LdCache::lookup_ranked`] to give the order explicitly.
    pub fn lookup(
        &self,
        soname: &[u8],
        flags_ok: impl Fn(i32) -> bool,
        hwcaps_ok: impl Fn(&[u8]) -> bool,
    ) -> Option<&CacheEntry> {
        self.lookup_ranked(soname, flags_ok, |sub| {
            hwcaps_ok(sub).then(|| builtin_hwcaps_rank(sub))
        })
    }

    /// [`LdCache::lookup`] with the glibc-hwcaps preference given explicitly: `hwcaps_priority`
    /// returns `None` for a subdirectory the CPU does not support, else its rank (lower is
    /// preferred, as in glibc's `glibc_hwcaps_priority`).
    ///
    /// This is `search_cache` of glibc's elf/dl-cache.c (2.33 and later), step by step:
    ///
    /// 1. Binary search for `soname` with `_dl_cache_libcmp` (digit runs compare as numbers; the
    ///    table is sorted in descending order), then back up to the first entry with that key. An
    ///    unsorted (corrupt) table can make the search miss, as it does in `ld.so`.
    /// 2. Walk the entries with that key (only up to the binary search's upper bound), skipping
    ///    those whose flags the loader does not accept.
    /// 3. glibc-hwcaps entries come first (ldconfig sorts them so): each one whose subdirectory the
    ///    CPU supports competes on priority; the best one is kept, the first one winning ties.
    ///    A subdirectory also counts as unsupported when `ld.so` cannot match its name, which
    ///    happens when the cache's list of names is not strictly sorted (`ld.so` merges it with its
    ///    own sorted list) or when the extension directory is malformed.
    /// 4. At the first ordinary entry, if a glibc-hwcaps entry was chosen, that one is the result.
    ///    Otherwise the first ordinary entry that passes is the result. (In the old format, which
    ///    has no hwcap data, the walk only stops at an entry whose flags equal the loader's
    ///    `_DL_CACHE_DEFAULT_ID`: a later accepted entry otherwise replaces an earlier one.)
    ///
    /// This one is for a baseline x86 CPU without the ISA-level check: entries with legacy hwcap
    /// bits (glibc before 2.37: the `haswell`, `i686`, `avx512_1`... subdirectories) are skipped,
    /// as on a CPU that has none of them (the always-present `tls` bit alone is accepted); see
    /// [`LdCache::lookup_cpu`] for a given CPU. The minimum kernel version (`osversion`) is
    /// assumed satisfied.
    pub fn lookup_ranked(
        &self,
        soname: &[u8],
        flags_ok: impl Fn(i32) -> bool,
        hwcaps_priority: impl Fn(&[u8]) -> Option<usize>,
    ) -> Option<&CacheEntry> {
        self.lookup_cpu(soname, flags_ok, &BASELINE_NO_ISA, hwcaps_priority)
    }

    /// [`LdCache::lookup_ranked`] for a given CPU: ordinary entries with legacy hwcap or platform
    /// bits are accepted as `search_cache` does on that CPU (`hwcap_exclude`, the platform bit),
    /// and a glibc-hwcaps entry needs its x86 ISA level (from the library's
    /// GNU_PROPERTY_X86_ISA_1_NEEDED, as ldconfig wrote it) to be supported.
    pub fn lookup_cpu(
        &self,
        soname: &[u8],
        flags_ok: impl Fn(i32) -> bool,
        cpu: &CacheCpu,
        hwcaps_priority: impl Fn(&[u8]) -> Option<usize>,
    ) -> Option<&CacheEntry> {
        // A C string stops at its first NUL.
        let name = soname.split(|&b| b == 0).next().unwrap_or_default();
        let entries = &self.entries;
        let new_format = self.format != CacheFormat::Old;
        // `_DL_CACHE_DEFAULT_ID` is FLAG_ELF_LIBC6 wherever the loader accepts it (the generic and
        // ARM dl-cache.h), and otherwise the only value the loader accepts.
        let is_default_id = |flags: i32| flags == FLAG_ELF_LIBC6 || !flags_ok(FLAG_ELF_LIBC6);
        let entry = |i: i64| usize::try_from(i).ok().and_then(|i| entries.get(i));

        // `int left = 0, right = nlibs - 1` in C; i64 holds every value (nlibs <= file size / 12).
        let mut left: i64 = 0;
        let mut right: i64 = i64::try_from(entries.len()).ok()? - 1;
        while left <= right {
            let mut middle = (left + right) / 2;
            let cmp = libcmp(name, &entry(middle)?.key);
            if cmp == Ordering::Equal {
                left = middle;
                while middle > 0 && libcmp(name, &entry(middle - 1)?.key) == Ordering::Equal {
                    middle -= 1;
                }
                let mut best: Option<&CacheEntry> = None;
                let mut best_priority = usize::MAX;
                loop {
                    let e = entry(middle)?;
                    if middle > left && libcmp(name, &e.key) != Ordering::Equal {
                        break;
                    }
                    if flags_ok(e.flags) {
                        let mut named = false;
                        let mut usable = true;
                        if new_format {
                            named = e.is_hwcaps_extension();
                            if named && !cpu.accepts_isa_level(e.hwcap) {
                                middle += 1;
                                if middle > right {
                                    break;
                                }
                                continue;
                            }
                            if !named && best.is_some() {
                                // The glibc-hwcaps entries are exhausted: keep the best of them.
                                break;
                            }
                            if named {
                                match self.hwcaps_priority_of(e, &hwcaps_priority) {
                                    Some(p) if best.is_none() || p < best_priority => {
                                        best_priority = p;
                                    }
                                    _ => usable = false,
                                }
                            } else if !cpu.accepts_legacy(e.hwcap) {
                                // Legacy hwcaps or a platform this CPU does not have.
                                usable = false;
                            }
                        }
                        if usable {
                            best = Some(e);
                            if !named && is_default_id(e.flags) {
                                break;
                            }
                        }
                    }
                    middle += 1;
                    if middle > right {
                        break;
                    }
                }
                return best;
            }
            // Descending order: a name that sorts before the middle key lies to the right.
            if cmp == Ordering::Less {
                left = middle + 1;
            } else {
                right = middle - 1;
            }
        }
        None
    }

    /// `glibc_hwcaps_priority` for entry `e`: `None` where glibc's priority would be 0.
    fn hwcaps_priority_of(
        &self,
        e: &CacheEntry,
        hwcaps_priority: &impl Fn(&[u8]) -> Option<usize>,
    ) -> Option<usize> {
        let index = usize::try_from(e.hwcap & u64::from(u32::MAX)).ok()?;
        if !self.hwcaps_mergeable.get(index).copied().unwrap_or(false) {
            return None;
        }
        hwcaps_priority(e.hwcaps_subdir.as_deref()?)
    }
}

/// `_dl_cache_libcmp` (elf/dl-cache.c): like `strcmp`, but runs of digits compare as numbers, and a
/// digit sorts after any non-digit. `a` and `b` end at their end (they hold no NUL).
///
/// The accumulation overflows for absurdly long digit runs in C (`int`); wrapping arithmetic keeps
/// the usual two's-complement outcome instead of panicking. Bytes compare as unsigned, as `char` is
/// on arm, aarch64, powerpc, s390 and riscv (x86's signed `char` orders bytes >= 0x80 differently;
/// sonames are ASCII).
pub fn libcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    while at(a, i) != 0 {
        let (c1, c2) = (at(a, i), at(b, j));
        if c1.is_ascii_digit() {
            if !c2.is_ascii_digit() {
                return Ordering::Greater;
            }
            let mut v1: i32 = 0;
            while at(a, i).is_ascii_digit() {
                v1 = v1.wrapping_mul(10).wrapping_add(i32::from(at(a, i) - b'0'));
                i += 1;
            }
            let mut v2: i32 = 0;
            while at(b, j).is_ascii_digit() {
                v2 = v2.wrapping_mul(10).wrapping_add(i32::from(at(b, j) - b'0'));
                j += 1;
            }
            if v1 != v2 {
                return v1.wrapping_sub(v2).cmp(&0);
            }
        } else if c2.is_ascii_digit() {
            return Ordering::Less;
        } else if c1 != c2 {
            return c1.cmp(&c2);
        } else {
            i += 1;
            j += 1;
        }
    }
    0u8.cmp(&at(b, j))
}

/// glibc's preference among the glibc-hwcaps subdirectories it knows, most preferred first:
/// `_dl_hwcaps_subdirs` in sysdeps/x86_64, sysdeps/powerpc/powerpc64/le, sysdeps/s390/s390-64 and
/// sysdeps/riscv `dl-hwcaps-subdirs.c` (later glibc releases add newer names at the front).
const BUILTIN_HWCAPS_ORDER: &[&[u8]] = &[
    b"x86-64-v4",
    b"x86-64-v3",
    b"x86-64-v2",
    b"power11",
    b"power10",
    b"power9",
    b"z17",
    b"z16",
    b"z15",
    b"z14",
    b"z13",
    b"rva23u64",
    b"rva22u64",
    b"rva20u64",
];

fn builtin_hwcaps_rank(sub: &[u8]) -> usize {
    BUILTIN_HWCAPS_ORDER
        .iter()
        .position(|&k| k == sub)
        .unwrap_or(BUILTIN_HWCAPS_ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{Abi, ArmFloat, Machine};
    use crate::resolve::ldcache::DL_CACHE_HWCAP_EXTENSION;
    use crate::resolve::ldcache::flags_accepted_for;
    use crate::resolve::ldcache::synthetic::{build_new, build_old};

    #[test]
    fn old_format_walk_stops_only_at_the_default_id() {
        let i386 = flags_accepted_for(Machine::I386, Abi::Base);
        // FLAG_ELF (1) then FLAG_ELF_LIBC6 (3): the later, default one wins.
        let c = build_old(&[
            (1, "libx.so.1", "/a/libx.so.1"),
            (3, "libx.so.1", "/b/libx.so.1"),
        ]);
        let c = LdCache::parse(&c).unwrap();
        assert_eq!(
            c.lookup(b"libx.so.1", &i386, |_| false).unwrap().value,
            b"/b/libx.so.1"
        );
        // Two FLAG_ELF entries: the last accepted one.
        let c = build_old(&[
            (1, "libx.so.1", "/a/libx.so.1"),
            (1, "libx.so.1", "/b/libx.so.1"),
        ]);
        let c = LdCache::parse(&c).unwrap();
        assert_eq!(
            c.lookup(b"libx.so.1", &i386, |_| false).unwrap().value,
            b"/b/libx.so.1"
        );
        // The new format stops at the first accepted ordinary entry.
        let c = build_new(
            &[
                (1, "libx.so.1", "/a/libx.so.1", 0),
                (1, "libx.so.1", "/b/libx.so.1", 0),
            ],
            &[],
        );
        let c = LdCache::parse(&c).unwrap();
        assert_eq!(
            c.lookup(b"libx.so.1", &i386, |_| false).unwrap().value,
            b"/a/libx.so.1"
        );
        // ARM hard-float: unmarked libc6 entries are accepted too, and are the default ID.
        let arm = flags_accepted_for(Machine::Arm, Abi::Arm(ArmFloat::Hard));
        assert!(arm(0x0903) && arm(0x0003) && !arm(0x0b03) && !arm(0x0001));
        let c = build_old(&[
            (0x903, "libx.so.1", "/hf/libx.so.1"),
            (3, "libx.so.1", "/x/libx.so.1"),
        ]);
        let c = LdCache::parse(&c).unwrap();
        assert_eq!(
            c.lookup(b"libx.so.1", &arm, |_| false).unwrap().value,
            b"/x/libx.so.1"
        );
    }

    #[test]
    fn hwcaps_selection_and_legacy_bits() {
        let ext = DL_CACHE_HWCAP_EXTENSION;
        let entries = [
            (0x303, "libx.so.1", "/v2/libx.so.1", ext),
            (0x303, "libx.so.1", "/v3/libx.so.1", ext | 1),
            (0x303, "libx.so.1", "/v9/libx.so.1", ext | 7), // index out of range
            (0x303, "libx.so.1", "/haswell/libx.so.1", 1 << 48), // legacy platform bit
            (0x303, "libx.so.1", "/tls/libx.so.1", DL_HWCAP_TLS_MASK),
            (0x303, "libx.so.1", "/lib/libx.so.1", 0),
        ];
        let b = build_new(&entries, &["x86-64-v2", "x86-64-v3"]);
        let c = LdCache::parse(&b).unwrap();
        assert_eq!(
            c.entries()[1].hwcaps_subdir.as_deref(),
            Some(&b"x86-64-v3"[..])
        );
        assert_eq!(c.entries()[2].hwcaps_subdir, None);
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
        let get = |ok: &dyn Fn(&[u8]) -> bool| {
            c.lookup(
                b"libx.so.1",
                flags_accepted_for(Machine::X86_64, Abi::Base),
                ok,
            )
            .unwrap()
            .value
            .clone()
        };
        assert_eq!(get(&|_| false), b"/tls/libx.so.1");
        assert_eq!(get(&|s| s == b"x86-64-v2"), b"/v2/libx.so.1");
        assert_eq!(get(&|_| true), b"/v3/libx.so.1");
        // Names out of order in the section: ld.so's merge cannot match the later, smaller one.
        let b = build_new(
            &[
                (0x303, "libx.so.1", "/v3/libx.so.1", ext),
                (0x303, "libx.so.1", "/v2/libx.so.1", ext | 1),
            ],
            &["x86-64-v3", "x86-64-v2"],
        );
        let c = LdCache::parse(&b).unwrap();
        assert!(!c.warnings().is_empty());
        assert!(
            c.lookup(
                b"libx.so.1",
                flags_accepted_for(Machine::X86_64, Abi::Base),
                |s| s == b"x86-64-v2"
            )
            .is_none()
        );
        assert_eq!(
            c.lookup(
                b"libx.so.1",
                flags_accepted_for(Machine::X86_64, Abi::Base),
                |_| true
            )
            .unwrap()
            .value,
            b"/v3/libx.so.1"
        );
    }

    #[test]
    fn libcmp_orders_numbers_numerically() {
        use Ordering::*;
        assert_eq!(libcmp(b"libfoo.so.10", b"libfoo.so.9"), Greater);
        assert_eq!(libcmp(b"libfoo.so.9", b"libfoo.so.10"), Less);
        assert_eq!(libcmp(b"libfoo.so.1", b"libfoo.so.1"), Equal);
        assert_eq!(libcmp(b"libfoo.so", b"libfoo.so.1"), Less);
        assert_eq!(libcmp(b"libfoo.so.1", b"libfoo.so"), Greater);
        assert_eq!(libcmp(b"lib2", b"libx"), Greater);
        assert_eq!(libcmp(b"libx", b"lib2"), Less);
        assert_eq!(libcmp(b"", b""), Equal);
        assert_eq!(libcmp(b"", b"a"), Less);
        // Leading zeros: numerically equal, so the rest decides.
        assert_eq!(libcmp(b"a007b", b"a7b"), Equal);
        // Absurd digit runs do not panic.
        let long = [b'9'; 100];
        let _ = libcmp(&long, b"1");
    }
}

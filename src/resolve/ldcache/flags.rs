/*!
The `flags` of cache entries: which values each architecture's glibc loader accepts
(`_dl_cache_check_flags`, `_DL_CACHE_DEFAULT_ID`), and their names in `ldconfig -p`.
*/

/// `FLAG_ELF` (sysdeps/generic/ldconfig.h).
pub(super) const FLAG_ELF: i32 = 0x0001;
/// `FLAG_ELF_LIBC6` (sysdeps/generic/ldconfig.h); also the generic `_DL_CACHE_DEFAULT_ID`.
pub(super) const FLAG_ELF_LIBC6: i32 = 0x0003;

/// The flags one glibc loader accepts in cache entries: its `_dl_cache_check_flags` and
/// `_DL_CACHE_DEFAULT_ID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderFlags {
    /// `_DL_CACHE_DEFAULT_ID`: always accepted.
    pub default_id: i32,
    /// A second accepted value: `FLAG_ELF` (1) in the generic rule, `FLAG_ARM_LIBHF|FLAG_ELF_LIBC6`
    /// (or `LIBSF`) on 32-bit ARM.
    pub also: Option<i32>,
}

impl LoaderFlags {
    /// The rule of the glibc loader for `machine`, as elfdeps names machines (`x86_64`, `i386`,
    /// `aarch64`, `arm`, `s390x`, `ppc64le`, `riscv64`, ...). Sources: the
    /// `sysdeps/unix/sysv/linux/*/dl-cache.h` files, flag values from sysdeps/generic/ldconfig.h:
    ///
    /// | machine | accepted | file |
    /// |---|---|---|
    /// | `x86_64` | 0x0303 | x86_64/dl-cache.h |
    /// | `x32` | 0x0803 | x86_64/x32/dl-cache.h |
    /// | `aarch64`, `aarch64_be` | 0x0a03 | aarch64/dl-cache.h (LP64) |
    /// | `s390x` | 0x0403 | s390/s390-64/dl-cache.h |
    /// | `ppc64`, `ppc64le` | 0x0503 | powerpc/powerpc64/dl-cache.h |
    /// | `sparc64` | 0x0103 | sparc/sparc64/dl-cache.h |
    /// | `ia64` | 0x0203 | ia64/dl-cache.h |
    /// | `riscv64`, `riscv32` | 0x1003 (double-float ABI) | riscv/dl-cache.h |
    /// | `loongarch64` | 0x1203 (double-float ABI) | loongarch/dl-cache.h |
    /// | `mips64`, `mips64el` | 0x0703 (n64) | mips/dl-cache.h |
    /// | `arm`, `armhf` | 0x0903 or 0x0003 | arm/dl-cache.h (hard-float) |
    /// | `armel` | 0x0b03 or 0x0003 | arm/dl-cache.h (soft-float) |
    /// | anything else (`i386`, `mips` o32, `ppc`, `s390`, `m68k`, ...) | 0x0003 or 0x0001 | generic/dl-cache.h |
    ///
    /// The name alone cannot tell every ABI apart; these Debian-style names select the others:
    /// `riscv64-lp64` (0x0f03), `loongarch64-lp64s` (0x1103), `mipsn32`/`mipsn32el` (0x0603),
    /// `mips64r6`/`mips64r6el` (0x0e03), `mipsn32r6`/`mipsn32r6el` (0x0d03), `mipsr6`/`mipsr6el`
    /// (0x0c03).
    pub fn for_machine(machine: &str) -> LoaderFlags {
        let only = |id| LoaderFlags {
            default_id: id,
            also: None,
        };
        match machine {
            "x86_64" => only(0x0303),
            "x32" => only(0x0803),
            "aarch64" | "aarch64_be" => only(0x0a03),
            "s390x" => only(0x0403),
            "ppc64" | "ppc64le" => only(0x0503),
            "sparc64" => only(0x0103),
            "ia64" => only(0x0203),
            "riscv64" | "riscv32" => only(0x1003),
            "riscv64-lp64" => only(0x0f03),
            "loongarch64" => only(0x1203),
            "loongarch64-lp64s" => only(0x1103),
            "mips64" | "mips64el" => only(0x0703),
            "mipsn32" | "mipsn32el" => only(0x0603),
            "mips64r6" | "mips64r6el" => only(0x0e03),
            "mipsn32r6" | "mipsn32r6el" => only(0x0d03),
            "mipsr6" | "mipsr6el" => only(0x0c03),
            // arm/dl-cache.h defines only _dl_cache_check_flags; the default ID stays generic.
            "arm" | "armhf" => LoaderFlags {
                default_id: FLAG_ELF_LIBC6,
                also: Some(0x0903),
            },
            "armel" => LoaderFlags {
                default_id: FLAG_ELF_LIBC6,
                also: Some(0x0b03),
            },
            _ => LoaderFlags {
                default_id: FLAG_ELF_LIBC6,
                also: Some(FLAG_ELF),
            },
        }
    }

    /// `_dl_cache_check_flags(flags)`.
    pub fn accepts(&self, flags: i32) -> bool {
        flags == self.default_id || self.also == Some(flags)
    }
}

/// `_dl_cache_check_flags` of the glibc loader for `machine`, as a predicate for
/// [`LdCache::lookup`](super::LdCache::lookup); see [`LoaderFlags::for_machine`] for the table and its sources.
pub fn flags_accepted_for(machine: &str) -> impl Fn(i32) -> bool + Clone + use<> {
    let rule = LoaderFlags::for_machine(machine);
    move |flags| rule.accepts(flags)
}

/// The flags as `ldconfig -p` prints them (`print_entry` in elf/cache.c): `libc6,x86-64`.
pub fn flags_description(flags: i32) -> String {
    let kind = match flags & 0x00ff {
        0 => "libc4",
        1 => "ELF",
        2 => "libc5",
        3 => "libc6",
        _ => "unknown",
    };
    let required = flags & 0xff00;
    let abi = match required {
        0 => "",
        0x0100 | 0x0400 | 0x0500 | 0x0700 => ",64bit",
        0x0200 => ",IA-64",
        0x0300 => ",x86-64",
        0x0600 => ",N32",
        0x0800 => ",x32",
        0x0900 => ",hard-float",
        0x0a00 => ",AArch64",
        0x0b00 | 0x0f00 | 0x1100 => ",soft-float",
        0x0c00 => ",nan2008",
        0x0d00 => ",N32,nan2008",
        0x0e00 => ",64bit,nan2008",
        0x1000 | 0x1200 => ",double-float",
        _ => return format!("{kind},{required}"),
    };
    format!("{kind}{abi}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert!(flags_accepted_for("x86_64")(0x0303));
        assert!(!flags_accepted_for("x86_64")(0x0003));
        assert!(flags_accepted_for("i386")(0x0003) && flags_accepted_for("i386")(0x0001));
        assert!(!flags_accepted_for("i386")(0x0303));
        assert!(flags_accepted_for("aarch64")(0x0a03));
        assert!(flags_accepted_for("s390x")(0x0403));
        assert!(flags_accepted_for("ppc64le")(0x0503));
        assert!(flags_accepted_for("riscv64")(0x1003));
        assert_eq!(flags_description(0x0303), "libc6,x86-64");
        assert_eq!(flags_description(0x0003), "libc6");
        assert_eq!(flags_description(0x0a03), "libc6,AArch64");
        assert_eq!(flags_description(0x7f03), "libc6,32512");
        assert_eq!(flags_description(-1), "unknown,65280");
    }
}

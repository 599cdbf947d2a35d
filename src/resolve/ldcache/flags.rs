/*!
The `flags` of cache entries: which values each architecture's glibc loader accepts
(`_dl_cache_check_flags`, `_DL_CACHE_DEFAULT_ID`), and their names in `ldconfig -p`.
*/

use crate::elf::{Abi, ArmFloat, FloatAbi, Machine, MipsAbi, MipsNan};

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
    /// The rule of a glibc loader built for `machine` and `abi`. The rule is compiled into each
    /// ld.so (`sysdeps/unix/sysv/linux/*/dl-cache.h`, by the compiler's ABI macros), so the ABI to
    /// pass is the loader's own; ldconfig marks each library's entry with the library's ABI
    /// (`*/readelflib.c`, from its `e_flags`), and the two meet here. Flag values from
    /// sysdeps/generic/ldconfig.h:
    ///
    /// | machine, ABI | accepted | file |
    /// |---|---|---|
    /// | `x86_64` | 0x0303 | x86_64/dl-cache.h |
    /// | `x32` | 0x0803 | x86_64/x32/dl-cache.h |
    /// | `aarch64`, `aarch64_be` | 0x0a03 | aarch64/dl-cache.h (LP64) |
    /// | `s390x` | 0x0403 | s390/s390-64/dl-cache.h |
    /// | `ppc64`, `ppc64le` | 0x0503 | powerpc/powerpc64/dl-cache.h |
    /// | `sparc64` | 0x0103 | sparc/sparc64/dl-cache.h |
    /// | `ia64` | 0x0203 | ia64/dl-cache.h (glibc before 2.40) |
    /// | RISC-V double-float (lp64d) | 0x1003 | riscv/dl-cache.h |
    /// | RISC-V any other float ABI (lp64) | 0x0f03 | riscv/dl-cache.h |
    /// | LoongArch double-float (lp64d) | 0x1203 | loongarch/dl-cache.h |
    /// | LoongArch any other float ABI (lp64s) | 0x1103 | loongarch/dl-cache.h |
    /// | MIPS n64 | 0x0703 | mips/dl-cache.h |
    /// | MIPS n32 | 0x0603 | mips/dl-cache.h |
    /// | MIPS n64, 2008 NaN (mips64r6) | 0x0e03 | mips/dl-cache.h |
    /// | MIPS n32, 2008 NaN (mipsn32r6) | 0x0d03 | mips/dl-cache.h |
    /// | MIPS o32, 2008 NaN (mipsr6) | 0x0c03 | mips/dl-cache.h |
    /// | ARM hard-float (armhf), or unmarked | 0x0903 or 0x0003 | arm/dl-cache.h |
    /// | ARM soft-float (armel) | 0x0b03 or 0x0003 | arm/dl-cache.h |
    /// | anything else (`i386`, MIPS o32, `ppc`, `s390`, `m68k`, ...) | 0x0003 or 0x0001 | generic/dl-cache.h |
    ///
    /// An unmarked ARM object says nothing of the loader it runs under: the hard-float one is
    /// taken, the ABI of every ARM distribution still built.
    pub fn new(machine: Machine, abi: Abi) -> LoaderFlags {
        let only = |id| LoaderFlags {
            default_id: id,
            also: None,
        };
        let generic = LoaderFlags {
            default_id: FLAG_ELF_LIBC6,
            also: Some(FLAG_ELF),
        };
        match (machine, abi) {
            (Machine::X86_64, _) => only(0x0303),
            (Machine::X32, _) => only(0x0803),
            (Machine::Aarch64 | Machine::Aarch64Be, _) => only(0x0a03),
            (Machine::S390x, _) => only(0x0403),
            (Machine::Ppc64 | Machine::Ppc64le, _) => only(0x0503),
            (Machine::Sparc64, _) => only(0x0103),
            (Machine::Ia64, _) => only(0x0203),
            // `#if defined __riscv_float_abi_double ... #else` soft: no other glibc port exists.
            (_, Abi::Riscv(FloatAbi::Double)) => only(0x1003),
            (_, Abi::Riscv(_)) => only(0x0f03),
            (_, Abi::LoongArch(FloatAbi::Double)) => only(0x1203),
            (_, Abi::LoongArch(_)) => only(0x1103),
            (_, Abi::Mips(MipsAbi::N64, MipsNan::Legacy)) => only(0x0703),
            (_, Abi::Mips(MipsAbi::N32, MipsNan::Legacy)) => only(0x0603),
            (_, Abi::Mips(MipsAbi::N64, MipsNan::Ieee2008)) => only(0x0e03),
            (_, Abi::Mips(MipsAbi::N32, MipsNan::Ieee2008)) => only(0x0d03),
            (_, Abi::Mips(MipsAbi::O32, MipsNan::Ieee2008)) => only(0x0c03),
            // Legacy-NaN o32 keeps the generic rule.
            (_, Abi::Mips(MipsAbi::O32, MipsNan::Legacy)) => generic,
            // arm/dl-cache.h defines only _dl_cache_check_flags; the default ID stays generic.
            (_, Abi::Arm(ArmFloat::Soft)) => LoaderFlags {
                default_id: FLAG_ELF_LIBC6,
                also: Some(0x0b03),
            },
            (_, Abi::Arm(ArmFloat::Hard | ArmFloat::Unmarked)) => LoaderFlags {
                default_id: FLAG_ELF_LIBC6,
                also: Some(0x0903),
            },
            _ => generic,
        }
    }

    /// `_dl_cache_check_flags(flags)`.
    pub fn accepts(&self, flags: i32) -> bool {
        flags == self.default_id || self.also == Some(flags)
    }
}

/// `_dl_cache_check_flags` of the glibc loader for `machine` and `abi`, as a predicate for
/// [`LdCache::lookup`](super::LdCache::lookup); see [`LoaderFlags::new`] for the table and its
/// sources.
pub fn flags_accepted_for(machine: Machine, abi: Abi) -> impl Fn(i32) -> bool + Clone + use<> {
    let rule = LoaderFlags::new(machine, abi);
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

    fn accepted(machine: Machine, abi: Abi) -> impl Fn(i32) -> bool {
        flags_accepted_for(machine, abi)
    }

    #[test]
    fn flags() {
        let x86 = accepted(Machine::X86_64, Abi::Base);
        assert!(x86(0x0303) && !x86(0x0003));
        let i386 = accepted(Machine::I386, Abi::Base);
        assert!(i386(0x0003) && i386(0x0001) && !i386(0x0303));
        assert!(accepted(Machine::Aarch64, Abi::Base)(0x0a03));
        assert!(accepted(Machine::S390x, Abi::Base)(0x0403));
        assert!(accepted(Machine::Ppc64le, Abi::Base)(0x0503));
        assert_eq!(flags_description(0x0303), "libc6,x86-64");
        assert_eq!(flags_description(0x0003), "libc6");
        assert_eq!(flags_description(0x0a03), "libc6,AArch64");
        assert_eq!(flags_description(0x7f03), "libc6,32512");
        assert_eq!(flags_description(-1), "unknown,65280");
    }

    /// Every ABI an object's e_flags can select gets the rule of the loader built for it: the
    /// entries ldconfig writes for libraries of that ABI, and no other ABI's.
    #[test]
    fn each_abi_accepts_its_own_entries() {
        use Machine as M;
        // (machine, e_flags as toolchains write them, accepted flags, refused flags)
        let cases: &[(Machine, u32, &[i32], &[i32])] = &[
            // armhf: its own entries and unmarked ones; not armel's, not FLAG_ELF.
            (M::Arm, 0x0500_0400, &[0x0903, 0x0003], &[0x0b03, 0x0001]),
            // armel: the reverse.
            (M::Arm, 0x0500_0200, &[0x0b03, 0x0003], &[0x0903, 0x0001]),
            // Unmarked: taken for hard-float.
            (M::Arm, 0x0400_0000, &[0x0903, 0x0003], &[0x0b03]),
            // riscv64 lp64d and lp64.
            (M::Riscv64, 0x5, &[0x1003], &[0x0f03, 0x0003]),
            (M::Riscv64, 0x1, &[0x0f03], &[0x1003, 0x0003]),
            // LoongArch lp64d and lp64s.
            (M::Loongarch64, 0x43, &[0x1203], &[0x1103, 0x0003]),
            (M::Loongarch64, 0x41, &[0x1103], &[0x1203, 0x0003]),
            // MIPS: n64, n32, their 2008-NaN (R6) forms, and o32 either way.
            (
                M::Mips64el,
                0x8000_0007,
                &[0x0703],
                &[0x0e03, 0x0603, 0x0003],
            ),
            (
                M::Mips64el,
                0xa000_0407,
                &[0x0e03],
                &[0x0703, 0x0d03, 0x0003],
            ),
            (M::Mipsel, 0x8000_0027, &[0x0603], &[0x0d03, 0x0703, 0x0003]),
            (M::Mipsel, 0xa000_0427, &[0x0d03], &[0x0603, 0x0e03, 0x0003]),
            (M::Mips, 0x9000_1407, &[0x0c03], &[0x0003, 0x0001, 0x0d03]),
            (M::Mipsel, 0x7000_1007, &[0x0003, 0x0001], &[0x0c03, 0x0603]),
            // One ABI per machine: e_flags do not matter.
            (M::X86_64, 0, &[0x0303], &[0x0003, 0x0803]),
            (M::X32, 0, &[0x0803], &[0x0303, 0x0003]),
            (M::Aarch64Be, 0, &[0x0a03], &[0x0003]),
            (M::Sparc64, 0, &[0x0103], &[0x0003]),
            (M::Ia64, 0, &[0x0203], &[0x0003]),
            (M::Ppc, 0, &[0x0003, 0x0001], &[0x0503]),
            (M::S390, 0, &[0x0003, 0x0001], &[0x0403]),
        ];
        for &(machine, e_flags, yes, no) in cases {
            let abi = Abi::new(machine, e_flags);
            let ok = accepted(machine, abi);
            for &f in yes {
                assert!(ok(f), "{machine} {abi:?} should accept {f:#06x}");
            }
            for &f in no {
                assert!(!ok(f), "{machine} {abi:?} should refuse {f:#06x}");
            }
        }
    }
}

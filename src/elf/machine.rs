/*!
What an object's ELF header says it is for, as typed values: [`Machine`] (`e_machine`, told apart
by class and byte order where distributions name the variants differently), [`Abi`] (the ABI
`e_flags` select within a machine, where glibc tells ABIs apart) and [`ElfType`] (`e_type`).
Decisions (which loader, which default directories, which ld.so.cache entries) match on these;
reports show the machine and type by the names they always had (`x86_64`, `EM_999`, `DYN`), which
is also how they serialize.
*/

use std::fmt;

use serde::Serialize;

use super::{Class, Endian};

/// An object's machine: `e_machine`, refined by class and byte order where distributions give the
/// variants their own names (`x86_64` and `x32`, `aarch64` and `aarch64_be`, `mips64el`, ...).
/// Displayed and serialized as that lower-case name; an `e_machine` without one as `EM_<number>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Machine {
    /// EM_X86_64, 64-bit: `x86_64`.
    X86_64,
    /// EM_X86_64, 32-bit (the x32 ABI): `x32`.
    X32,
    /// EM_386: `i386`.
    I386,
    /// EM_AARCH64, little-endian: `aarch64`.
    Aarch64,
    /// EM_AARCH64, big-endian: `aarch64_be`.
    Aarch64Be,
    /// EM_ARM: `arm` (its float ABI is in `e_flags`: [`super::Abi`]).
    Arm,
    /// EM_S390, 64-bit: `s390x`.
    S390x,
    /// EM_S390, 31-bit: `s390`.
    S390,
    /// EM_PPC64, little-endian: `ppc64le`.
    Ppc64le,
    /// EM_PPC64, big-endian: `ppc64`.
    Ppc64,
    /// EM_PPC: `ppc`.
    Ppc,
    /// EM_RISCV, 64-bit: `riscv64`.
    Riscv64,
    /// EM_RISCV, 32-bit: `riscv32`.
    Riscv32,
    /// EM_MIPS, 64-bit little-endian: `mips64el`.
    Mips64el,
    /// EM_MIPS, 64-bit big-endian: `mips64`.
    Mips64,
    /// EM_MIPS, 32-bit little-endian (o32 or n32): `mipsel`.
    Mipsel,
    /// EM_MIPS, 32-bit big-endian (o32 or n32): `mips`.
    Mips,
    /// EM_LOONGARCH, 64-bit: `loongarch64`.
    Loongarch64,
    /// EM_LOONGARCH, 32-bit: `loongarch32`.
    Loongarch32,
    /// EM_SPARC: `sparc`.
    Sparc,
    /// EM_SPARCV9: `sparc64`.
    Sparc64,
    /// EM_IA_64: `ia64`.
    Ia64,
    /// EM_ALPHA: `alpha`.
    Alpha,
    /// EM_SH: `sh`.
    Sh,
    /// EM_68K: `m68k`.
    M68k,
    /// EM_PARISC: `hppa`.
    Hppa,
    /// EM_BPF: `bpf`.
    Bpf,
    /// EM_AMDGPU: `amdgpu`.
    Amdgpu,
    /// Any other `e_machine`: `EM_<number>`.
    Other(u16),
}

impl Machine {
    /// The machine of an ELF header.
    pub fn new(e_machine: u16, class: Class, endian: Endian) -> Machine {
        use object::elf::{self as e, *};
        let is64 = class == Class::Elf64;
        let little = endian == Endian::Little;
        match e::Machine(e_machine) {
            EM_X86_64 if is64 => Self::X86_64,
            EM_X86_64 => Self::X32,
            EM_386 => Self::I386,
            EM_AARCH64 if little => Self::Aarch64,
            EM_AARCH64 => Self::Aarch64Be,
            EM_ARM => Self::Arm,
            EM_S390 if is64 => Self::S390x,
            EM_S390 => Self::S390,
            EM_PPC64 if little => Self::Ppc64le,
            EM_PPC64 => Self::Ppc64,
            EM_PPC => Self::Ppc,
            EM_RISCV if is64 => Self::Riscv64,
            EM_RISCV => Self::Riscv32,
            EM_MIPS => match (is64, little) {
                (true, true) => Self::Mips64el,
                (true, false) => Self::Mips64,
                (false, true) => Self::Mipsel,
                (false, false) => Self::Mips,
            },
            EM_LOONGARCH if is64 => Self::Loongarch64,
            EM_LOONGARCH => Self::Loongarch32,
            EM_SPARC => Self::Sparc,
            EM_SPARCV9 => Self::Sparc64,
            EM_IA_64 => Self::Ia64,
            EM_ALPHA => Self::Alpha,
            EM_SH => Self::Sh,
            EM_68K => Self::M68k,
            EM_PARISC => Self::Hppa,
            EM_BPF => Self::Bpf,
            EM_AMDGPU => Self::Amdgpu,
            other => Self::Other(other.0),
        }
    }

    /// The lower-case name distributions use; `None` for [`Machine::Other`] (shown `EM_<n>`).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Machine::X86_64 => "x86_64",
            Machine::X32 => "x32",
            Machine::I386 => "i386",
            Machine::Aarch64 => "aarch64",
            Machine::Aarch64Be => "aarch64_be",
            Machine::Arm => "arm",
            Machine::S390x => "s390x",
            Machine::S390 => "s390",
            Machine::Ppc64le => "ppc64le",
            Machine::Ppc64 => "ppc64",
            Machine::Ppc => "ppc",
            Machine::Riscv64 => "riscv64",
            Machine::Riscv32 => "riscv32",
            Machine::Mips64el => "mips64el",
            Machine::Mips64 => "mips64",
            Machine::Mipsel => "mipsel",
            Machine::Mips => "mips",
            Machine::Loongarch64 => "loongarch64",
            Machine::Loongarch32 => "loongarch32",
            Machine::Sparc => "sparc",
            Machine::Sparc64 => "sparc64",
            Machine::Ia64 => "ia64",
            Machine::Alpha => "alpha",
            Machine::Sh => "sh",
            Machine::M68k => "m68k",
            Machine::Hppa => "hppa",
            Machine::Bpf => "bpf",
            Machine::Amdgpu => "amdgpu",
            Machine::Other(_) => return None,
        })
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.name()) {
            (Machine::Other(n), _) => write!(f, "EM_{n}"),
            (_, name) => f.write_str(name.unwrap_or_default()),
        }
    }
}

impl Serialize for Machine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The ABI an object follows within its machine, from `e_flags`, where glibc tells ABIs of one
/// machine apart: `ldconfig` marks each library's ld.so.cache entry with it
/// (`sysdeps/unix/sysv/linux/*/readelflib.c`), each glibc loader accepts the entries of its own
/// (`_dl_cache_check_flags` in the `dl-cache.h` files, see `resolve::ldcache::LoaderFlags`), and
/// refuses objects of another (`elf_machine_matches_host`, `VALID_FLOAT_ABI`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Abi {
    /// A machine whose glibc has one ABI (x86_64, aarch64, s390x, ppc64le, ...; x32 and i386 are
    /// machines of their own) or whose variants glibc does not tell apart by `e_flags`.
    Base,
    /// 32-bit ARM, by its float ABI.
    Arm(ArmFloat),
    /// RISC-V, by `EF_RISCV_FLOAT_ABI`.
    Riscv(FloatAbi),
    /// LoongArch, by `EF_LARCH_ABI_MODIFIER_MASK`.
    LoongArch(FloatAbi),
    /// MIPS: the calling convention and the NaN encoding.
    Mips(MipsAbi, MipsNan),
}

/// The float ABI of a 32-bit ARM object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArmFloat {
    /// EABI version 5 with `EF_ARM_ABI_FLOAT_HARD`: armhf (floats passed in VFP registers).
    Hard,
    /// EABI version 5 with `EF_ARM_ABI_FLOAT_SOFT`: armel.
    Soft,
    /// Neither flag, or an EABI version before 5: glibc takes it as compatible with both (ldconfig
    /// gives it a plain `libc6` entry, every ARM loader accepts it).
    Unmarked,
}

/// A float ABI as RISC-V and LoongArch record it: which floating-point registers carry arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatAbi {
    /// None (lp64, lp64s).
    Soft,
    /// Single precision (lp64f): no glibc port.
    Single,
    /// Double precision (lp64d): the usual one.
    Double,
    /// Quad precision (RISC-V lp64q): no glibc port.
    Quad,
    /// A LoongArch value the ABI does not define.
    Invalid,
}

/// The MIPS calling convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MipsAbi {
    /// A 32-bit object without `EF_MIPS_ABI2`.
    O32,
    /// A 32-bit object with `EF_MIPS_ABI2` (64-bit registers, 32-bit pointers).
    N32,
    /// Any 64-bit object.
    N64,
}

/// How a MIPS object encodes NaNs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MipsNan {
    /// The legacy encoding.
    Legacy,
    /// IEEE 754-2008 (`EF_MIPS_NAN2008`), which every MIPS R6 object uses (R6 has no legacy
    /// NaN): glibc's ldconfig and loaders decide by this flag, not by the `EF_MIPS_ARCH` level.
    Ieee2008,
}

// e_flags bits (glibc's elf/elf.h).
const EF_ARM_EABIMASK: u32 = 0xff00_0000;
const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x200;
const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
const EF_RISCV_FLOAT_ABI: u32 = 0x6;
const EF_LARCH_ABI_MODIFIER_MASK: u32 = 0x7;
const EF_MIPS_ABI2: u32 = 0x20;
const EF_MIPS_NAN2008: u32 = 0x400;

impl Abi {
    /// The ABI of an object of `machine` with these `e_flags`, as glibc's `readelflib.c` reads
    /// them.
    pub fn new(machine: Machine, e_flags: u32) -> Abi {
        match machine {
            // arm/readelflib.c: only EABI version 5 marks the float ABI; hard wins over soft.
            Machine::Arm => Abi::Arm(if e_flags & EF_ARM_EABIMASK != EF_ARM_EABI_VER5 {
                ArmFloat::Unmarked
            } else if e_flags & EF_ARM_ABI_FLOAT_HARD != 0 {
                ArmFloat::Hard
            } else if e_flags & EF_ARM_ABI_FLOAT_SOFT != 0 {
                ArmFloat::Soft
            } else {
                ArmFloat::Unmarked
            }),
            Machine::Riscv64 | Machine::Riscv32 => Abi::Riscv(match e_flags & EF_RISCV_FLOAT_ABI {
                0 => FloatAbi::Soft,
                2 => FloatAbi::Single,
                4 => FloatAbi::Double,
                _ => FloatAbi::Quad,
            }),
            Machine::Loongarch64 | Machine::Loongarch32 => {
                Abi::LoongArch(match e_flags & EF_LARCH_ABI_MODIFIER_MASK {
                    1 => FloatAbi::Soft,
                    2 => FloatAbi::Single,
                    3 => FloatAbi::Double,
                    _ => FloatAbi::Invalid,
                })
            }
            Machine::Mips | Machine::Mipsel | Machine::Mips64 | Machine::Mips64el => {
                // EF_MIPS_ABI2 only means something in a 32-bit object.
                let abi = match machine {
                    Machine::Mips64 | Machine::Mips64el => MipsAbi::N64,
                    _ if e_flags & EF_MIPS_ABI2 != 0 => MipsAbi::N32,
                    _ => MipsAbi::O32,
                };
                let nan = if e_flags & EF_MIPS_NAN2008 != 0 {
                    MipsNan::Ieee2008
                } else {
                    MipsNan::Legacy
                };
                Abi::Mips(abi, nan)
            }
            _ => Abi::Base,
        }
    }
}

/// `e_type`. Displayed and serialized as `NONE`, `REL`, `EXEC`, `DYN`, `CORE`, or `ET_<number>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElfType {
    /// ET_NONE.
    None,
    /// ET_REL: an object file.
    Rel,
    /// ET_EXEC: an executable at a fixed address.
    Exec,
    /// ET_DYN: a shared object or a position-independent executable.
    Dyn,
    /// ET_CORE.
    Core,
    /// Any other value (OS- or processor-specific).
    Other(u16),
}

impl ElfType {
    /// The type of an `e_type` value.
    pub fn new(e_type: u16) -> ElfType {
        use object::elf::*;
        match FileType(e_type) {
            ET_NONE => ElfType::None,
            ET_REL => ElfType::Rel,
            ET_EXEC => ElfType::Exec,
            ET_DYN => ElfType::Dyn,
            ET_CORE => ElfType::Core,
            other => ElfType::Other(other.0),
        }
    }
}

impl fmt::Display for ElfType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfType::None => f.write_str("NONE"),
            ElfType::Rel => f.write_str("REL"),
            ElfType::Exec => f.write_str("EXEC"),
            ElfType::Dyn => f.write_str("DYN"),
            ElfType::Core => f.write_str("CORE"),
            ElfType::Other(n) => write!(f, "ET_{n}"),
        }
    }
}

impl Serialize for ElfType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the ones reports always showed (docs/json.md): every `e_machine` the
    /// old table named, in each class and byte order, and a number for the rest.
    #[test]
    fn machines_keep_their_names() {
        use object::elf as e;
        let (c32, c64, le, be) = (Class::Elf32, Class::Elf64, Endian::Little, Endian::Big);
        let cases = [
            (e::EM_X86_64, c64, le, "x86_64"),
            (e::EM_X86_64, c32, le, "x32"),
            (e::EM_386, c32, le, "i386"),
            (e::EM_AARCH64, c64, le, "aarch64"),
            (e::EM_AARCH64, c64, be, "aarch64_be"),
            (e::EM_ARM, c32, le, "arm"),
            (e::EM_ARM, c32, be, "arm"),
            (e::EM_S390, c64, be, "s390x"),
            (e::EM_S390, c32, be, "s390"),
            (e::EM_PPC64, c64, le, "ppc64le"),
            (e::EM_PPC64, c64, be, "ppc64"),
            (e::EM_PPC, c32, be, "ppc"),
            (e::EM_RISCV, c64, le, "riscv64"),
            (e::EM_RISCV, c32, le, "riscv32"),
            (e::EM_MIPS, c64, le, "mips64el"),
            (e::EM_MIPS, c64, be, "mips64"),
            (e::EM_MIPS, c32, le, "mipsel"),
            (e::EM_MIPS, c32, be, "mips"),
            (e::EM_LOONGARCH, c64, le, "loongarch64"),
            (e::EM_LOONGARCH, c32, le, "loongarch32"),
            (e::EM_SPARC, c32, be, "sparc"),
            (e::EM_SPARCV9, c64, be, "sparc64"),
            (e::EM_IA_64, c64, le, "ia64"),
            (e::EM_ALPHA, c64, le, "alpha"),
            (e::EM_SH, c32, le, "sh"),
            (e::EM_68K, c32, be, "m68k"),
            (e::EM_PARISC, c32, be, "hppa"),
            (e::EM_BPF, c64, le, "bpf"),
            (e::EM_AMDGPU, c64, le, "amdgpu"),
            (e::Machine(999), c64, le, "EM_999"),
            (e::Machine(0), c32, le, "EM_0"),
        ];
        for (e_machine, class, endian, name) in cases {
            let m = Machine::new(e_machine.0, class, endian);
            assert_eq!(m.to_string(), name, "{e_machine} {class:?} {endian:?}");
            assert_eq!(serde_json::to_value(m).unwrap(), name);
        }
        assert_eq!(Machine::new(999, Class::Elf64, Endian::Little).name(), None);
    }

    /// Each ABI glibc tells apart, from the e_flags real toolchains write.
    #[test]
    fn e_flags_select_the_abi() {
        use Machine as M;
        let cases = [
            // gcc for armhf (Debian armhf, Alpine armv7): EABI5, hard-float.
            (M::Arm, 0x0500_0400, Abi::Arm(ArmFloat::Hard)),
            // armel: EABI5, soft-float.
            (M::Arm, 0x0500_0200, Abi::Arm(ArmFloat::Soft)),
            // EABI5 without either flag; an EABI4 object with the (then unrelated) 0x400 bit; OABI.
            (M::Arm, 0x0500_0000, Abi::Arm(ArmFloat::Unmarked)),
            (M::Arm, 0x0400_0400, Abi::Arm(ArmFloat::Unmarked)),
            (M::Arm, 0, Abi::Arm(ArmFloat::Unmarked)),
            // RISC-V: RVC (1) plus the float ABI bits.
            (M::Riscv64, 0x5, Abi::Riscv(FloatAbi::Double)),
            (M::Riscv64, 0x1, Abi::Riscv(FloatAbi::Soft)),
            (M::Riscv64, 0x3, Abi::Riscv(FloatAbi::Single)),
            (M::Riscv64, 0x7, Abi::Riscv(FloatAbi::Quad)),
            (M::Riscv32, 0x4, Abi::Riscv(FloatAbi::Double)),
            // LoongArch: OBJABI_V1 (0x40) with the ABI modifier.
            (M::Loongarch64, 0x43, Abi::LoongArch(FloatAbi::Double)),
            (M::Loongarch64, 0x41, Abi::LoongArch(FloatAbi::Soft)),
            (M::Loongarch64, 0x2, Abi::LoongArch(FloatAbi::Single)),
            (M::Loongarch64, 0x0, Abi::LoongArch(FloatAbi::Invalid)),
            // MIPS o32 (mips32r2, PIC, CPIC), n32 (ABI2), n64; R6 objects set NAN2008.
            (
                M::Mipsel,
                0x7000_1007,
                Abi::Mips(MipsAbi::O32, MipsNan::Legacy),
            ),
            (
                M::Mips,
                0x9000_1407,
                Abi::Mips(MipsAbi::O32, MipsNan::Ieee2008),
            ),
            (
                M::Mipsel,
                0x8000_0027,
                Abi::Mips(MipsAbi::N32, MipsNan::Legacy),
            ),
            (
                M::Mipsel,
                0xa000_0427,
                Abi::Mips(MipsAbi::N32, MipsNan::Ieee2008),
            ),
            (
                M::Mips64el,
                0x8000_0007,
                Abi::Mips(MipsAbi::N64, MipsNan::Legacy),
            ),
            (
                M::Mips64el,
                0xa000_0407,
                Abi::Mips(MipsAbi::N64, MipsNan::Ieee2008),
            ),
            // EF_MIPS_ABI2 in a 64-bit object changes nothing.
            (
                M::Mips64,
                0x8000_0027,
                Abi::Mips(MipsAbi::N64, MipsNan::Legacy),
            ),
            // Machines with one ABI ignore e_flags.
            (M::X86_64, 0, Abi::Base),
            (M::Aarch64, 0, Abi::Base),
            (M::Ppc64, 2, Abi::Base),
            (M::S390x, 0, Abi::Base),
            (M::Other(999), 0x400, Abi::Base),
        ];
        for (machine, e_flags, abi) in cases {
            assert_eq!(Abi::new(machine, e_flags), abi, "{machine} {e_flags:#x}");
        }
    }

    #[test]
    fn types_keep_their_names() {
        for (e_type, name) in [
            (0, "NONE"),
            (1, "REL"),
            (2, "EXEC"),
            (3, "DYN"),
            (4, "CORE"),
            (0xfe00, "ET_65024"),
        ] {
            assert_eq!(ElfType::new(e_type).to_string(), name);
            assert_eq!(serde_json::to_value(ElfType::new(e_type)).unwrap(), name);
        }
        assert_eq!(ElfType::new(3), ElfType::Dyn);
    }
}

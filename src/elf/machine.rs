/*!
What an object's ELF header says it is for, as typed values: [`Machine`] (`e_machine`, told apart
by class and byte order where distributions name the variants differently) and [`ElfType`]
(`e_type`). Decisions (which loader, which default directories, which ld.so.cache entries) match
on these; reports show them by the names they always had (`x86_64`, `EM_999`, `DYN`), which is
also how they serialize.
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
        match (self.name(), self) {
            (Some(n), _) => f.write_str(n),
            (None, Machine::Other(n)) => write!(f, "EM_{n}"),
            (None, _) => unreachable!("every named machine has a name"),
        }
    }
}

impl Serialize for Machine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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

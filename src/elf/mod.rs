/*!
ELF facts: what one ELF file says about itself, as owned values.

This is the only ELF type the rest of elfdeps sees; `object` stays behind [`parse`]. Facts come from the
program headers and the dynamic segment — what the loader reads — not from section headers, so a file
with its section headers stripped (sstrip, some packers) still gives its dependencies.
*/

pub mod budget;
mod machine;
pub mod markers;
pub mod note;
mod parse;
pub mod reader;
pub mod symbols;

use serde::Serialize;

use crate::name::ByteStr;

pub use machine::{Abi, ArmFloat, ElfType, FloatAbi, Machine, MipsAbi, MipsNan};
pub use note::{DlopenNote, Priority};
pub use parse::{
    DEFAULT_FILE_TIMEOUT, DEFAULT_MAX_MEMORY, DEFAULT_MAX_READ, ELF_MAGIC, Limits, is_elf_magic,
    parse_bytes, parse_file, parse_file_in,
};

/// ELF class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Class {
    /// 32-bit.
    #[serde(rename = "ELF32")]
    Elf32,
    /// 64-bit.
    #[serde(rename = "ELF64")]
    Elf64,
}

impl Class {
    /// The name JSON uses (`ELF32`, `ELF64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Elf32 => "ELF32",
            Class::Elf64 => "ELF64",
        }
    }
}

/// Byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

/// What the object is, as a user thinks of it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Kind {
    /// ET_EXEC with an interpreter: a classic dynamically linked executable.
    Executable,
    /// ET_DYN with an interpreter, or flagged DF_1_PIE: a position-independent executable.
    Pie,
    /// ET_EXEC without an interpreter: statically linked.
    Static,
    /// ET_DYN without an interpreter but flagged DF_1_PIE: a static PIE.
    StaticPie,
    /// ET_DYN otherwise (a DT_SONAME'd library that also has PT_INTERP, like libc.so.6, counts here).
    SharedLibrary,
    /// ET_REL: an object file or kernel module.
    Relocatable,
    /// ET_CORE.
    Core,
    /// A separate debug-info file: segments present, their contents stripped (SHT_NOBITS).
    DebugInfo,
    /// Anything else.
    Other,
}

impl Kind {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One version required from one needed file (a Vernaux record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionNeed {
    /// Version name, e.g. `GLIBC_2.34`.
    pub name: ByteStr,
    /// VER_FLG_WEAK: the loader only warns when it is missing.
    pub weak: bool,
    /// The version index symbols use to refer to it (vna_other).
    #[serde(skip)]
    pub index: u16,
}

/// The versions required from one needed file (a Verneed record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionNeeds {
    /// The needed file's name as recorded (vn_file), normally a DT_NEEDED soname.
    pub file: ByteStr,
    /// Required versions, in file order.
    pub versions: Vec<VersionNeed>,
}

/// One version definition (a Verdef record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionDef {
    /// vd_ndx.
    pub index: u16,
    /// The version name (the first Verdaux).
    pub name: ByteStr,
    /// VER_FLG_BASE: the entry naming the object itself.
    pub base: bool,
    /// VER_FLG_WEAK.
    pub weak: bool,
    /// The parents named by the further Verdaux records.
    pub parents: Vec<ByteStr>,
}

/// Everything elfdeps knows about one ELF file from its own bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ElfFacts {
    /// ELF class.
    pub class: Class,
    /// Byte order.
    pub endian: Endian,
    /// `e_machine` with class and byte order (serialized as its name: see [`Machine`]).
    pub machine: Machine,
    /// Raw `e_machine`.
    #[serde(skip)]
    pub e_machine: u16,
    /// Raw `e_flags`: processor-specific flags, of which [`ElfFacts::abi`] reads the ABI.
    #[serde(skip)]
    pub e_flags: u32,
    /// `EI_OSABI` as a name.
    pub osabi: String,
    /// Raw `EI_OSABI`.
    #[serde(skip)]
    pub ei_osabi: u8,
    /// `e_type` (serialized as EXEC, DYN, REL, CORE, ...).
    #[serde(rename = "type")]
    pub e_type: ElfType,
    /// What it is (static, PIE, shared library, ...).
    pub kind: Kind,
    /// PT_INTERP.
    pub interp: Option<ByteStr>,
    /// DT_NEEDED, in order.
    pub needed: Vec<ByteStr>,
    /// DT_SONAME.
    pub soname: Option<ByteStr>,
    /// DT_RPATH entries (split on ':'; `None` when there is no DT_RPATH).
    pub rpath: Option<Vec<ByteStr>>,
    /// DT_RUNPATH entries likewise.
    pub runpath: Option<Vec<ByteStr>>,
    /// DT_FLAGS.
    pub flags: Option<u64>,
    /// DT_FLAGS_1.
    pub flags_1: Option<u64>,
    /// DT_VERNEED records, in order.
    pub version_needs: Vec<VersionNeeds>,
    /// DT_VERDEF records, in order.
    pub version_defs: Vec<VersionDef>,
    /// The libraries its `.note.dlopen` notes say it may `dlopen()` at run time, in file order
    /// (see [`note`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dlopen: Vec<DlopenNote>,
    /// What was wrong with its notes (a bad note costs its own entries, not the other facts), in
    /// our words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note_warnings: Vec<String>,
    /// Whether the object has a PT_DYNAMIC segment.
    #[serde(skip)]
    pub has_dynamic: bool,
    /// Whether the object has a PT_LOAD segment (a loader refuses one without: "no loadable
    /// segments").
    #[serde(skip)]
    pub has_load: bool,
    /// A static object's libc markers (see [`markers`]), searched while it was open for these
    /// facts; `None` for other objects, and for facts not read from a file's bytes.
    #[serde(skip)]
    pub libc_markers: Option<markers::LibcMarkers>,
}

impl ElfFacts {
    /// Whether the object is started as a program: it has an interpreter or is an executable.
    pub fn is_program(&self) -> bool {
        self.interp.is_some() || matches!(self.kind, Kind::Executable | Kind::Pie)
    }

    /// The ABI its `e_flags` select within its machine.
    pub fn abi(&self) -> Abi {
        Abi::new(self.machine, self.e_flags)
    }
}

/// Names for `EI_OSABI`.
pub fn osabi_name(osabi: u8) -> String {
    use object::elf::*;
    let name = match OsAbi(osabi) {
        ELFOSABI_SYSV => "SYSV",
        ELFOSABI_GNU => "GNU",
        ELFOSABI_HPUX => "HPUX",
        ELFOSABI_NETBSD => "NetBSD",
        ELFOSABI_SOLARIS => "Solaris",
        ELFOSABI_FREEBSD => "FreeBSD",
        ELFOSABI_OPENBSD => "OpenBSD",
        ELFOSABI_ARM => "ARM",
        ELFOSABI_STANDALONE => "Standalone",
        other => return format!("OSABI_{}", other.0),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn kinds_keep_their_strings_and_serde_agrees() {
        // As they were hand-written before strum (docs/json.md lists them).
        let before = [
            "executable",
            "pie",
            "static",
            "static-pie",
            "shared-library",
            "relocatable",
            "core",
            "debug-info",
            "other",
        ];
        let names: Vec<&str> = Kind::VARIANTS.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, before);
        for &k in Kind::VARIANTS {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}

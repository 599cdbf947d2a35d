//! Extraction of [`ElfFacts`] with `object`'s low-level ELF API over a [`FileReader`].

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::StringTable;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, ReadRef};

use super::budget::MemoryBudget;
use super::note::{DlopenNotes, MAX_NOTE_BYTES, NoteWarning};
use super::reader::{Bounds, Fault, FileReader, MAX_STRING, Source};
use super::{
    Class, ElfFacts, ElfType, Endian, Kind, Machine, VersionDef, VersionNeed, VersionNeeds,
    osabi_name,
};
use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;

/// The four bytes every ELF file starts with.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";

/// The most Verneed/Verdef records (and auxiliary records per entry) we walk. Real objects have a few
/// dozen; the bound keeps a crafted count from turning into millions of reads.
const MAX_VERSION_RECORDS: u64 = 4096;

/// The most dynamic-table entries read (see `read_dynamic`).
const MAX_DYNAMIC_ENTRIES: u64 = 65536;

/// Per-file limits, and the scan-wide memory budget they draw from.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes read (and held) for one file (`--max-read`).
    pub max_read: u64,
    /// Longest time one file's parse may take (`--file-timeout`); `None`: unlimited.
    pub file_timeout: Option<Duration>,
    /// Most bytes held for all files being parsed at once, across workers (`--max-memory`);
    /// `None`: unlimited (each file is still capped by `max_read`).
    pub max_memory: Option<u64>,
}

/// Default `--max-read`.
pub const DEFAULT_MAX_READ: u64 = 64 * 1024 * 1024;
/// Default `--file-timeout`: a real object parses in microseconds; seconds mean a hostile file or a
/// hung filesystem.
pub const DEFAULT_FILE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--max-memory`: room for 8 workers each at the default `--max-read`.
pub const DEFAULT_MAX_MEMORY: u64 = 512 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_read: DEFAULT_MAX_READ,
            file_timeout: Some(DEFAULT_FILE_TIMEOUT),
            max_memory: Some(DEFAULT_MAX_MEMORY),
        }
    }
}

impl Limits {
    /// The shared budget for one scan under these limits (`None` when `max_memory` is unlimited).
    pub fn memory_budget(&self) -> Option<MemoryBudget> {
        self.max_memory.map(MemoryBudget::new)
    }
}

/// Whether `head` starts with the ELF magic.
pub fn is_elf_magic(head: &[u8]) -> bool {
    head.starts_with(&ELF_MAGIC)
}

/// Parses the regular file `fd` of `len` bytes. `Ok(None)`: not an ELF file (no magic).
///
/// The scan-wide `--max-memory` budget is not applied here (it is shared by the files of one scan;
/// see [`parse_file_in`]); `max_read` and `file_timeout` are.
pub fn parse_file(
    fd: BorrowedFd<'_>,
    len: u64,
    limits: &Limits,
) -> Result<Option<ElfFacts>, FileError> {
    parse_source(Source::Fd(fd), len, limits, None)
}

/// [`parse_file`] drawing from the scan-wide `memory` budget.
pub fn parse_file_in(
    fd: BorrowedFd<'_>,
    len: u64,
    limits: &Limits,
    memory: Option<&MemoryBudget>,
) -> Result<Option<ElfFacts>, FileError> {
    parse_source(Source::Fd(fd), len, limits, memory)
}

/// Parses ELF facts from bytes in memory, with the same reader, checks and limits as a file
/// (the entry point of the `elf_facts` fuzz target). `Ok(None)`: not an ELF file.
pub fn parse_bytes(bytes: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
    parse_source(Source::Bytes(bytes), bytes.len() as u64, limits, None)
}

fn parse_source<'f>(
    src: Source<'f>,
    len: u64,
    limits: &Limits,
    memory: Option<&'f MemoryBudget>,
) -> Result<Option<ElfFacts>, FileError> {
    let bounds = Bounds {
        max_read: limits.max_read,
        deadline: limits
            .file_timeout
            .and_then(|t| Instant::now().checked_add(t)),
        memory,
    };
    let reader = FileReader::new(src, len, bounds).map_err(|f| fault_error(f, limits))?;
    let head = reader.head();
    if !is_elf_magic(head) {
        return Ok(None);
    }
    let result = match head.get(4) {
        Some(&c) if c == elf::ELFCLASS32.0 => facts::<FileHeader32<Endianness>>(&reader),
        Some(&c) if c == elf::ELFCLASS64.0 => facts::<FileHeader64<Endianness>>(&reader),
        Some(&c) => Err(Bad::Msg(format!("unknown ELF class {c}"))),
        None => Err(Bad::Msg("file too short for an ELF header".into())),
    };
    match result {
        Ok(f) => Ok(Some(f)),
        // When our reader refused a read, that is the real reason, not object's generic message.
        Err(e) => Err(match reader.fault() {
            Some(fault) => fault_error(fault, limits),
            None => match e {
                Bad::Msg(m) => FileError::new(ErrorCode::ElfInvalid, m),
                Bad::Limit(m) => FileError::new(ErrorCode::LimitExceeded, m),
            },
        }),
    }
}

pub(super) fn fault_error(f: Fault, limits: &Limits) -> FileError {
    match f {
        Fault::Truncated => FileError::new(
            ErrorCode::ElfTruncated,
            "a header, table or string lies beyond the end of the file (truncated or corrupt ELF)",
        ),
        Fault::Budget => FileError::new(
            ErrorCode::LimitExceeded,
            format!(
                "parsing needs more than {} bytes of this file (raise --max-read to allow it)",
                limits.max_read
            ),
        ),
        Fault::LongString => FileError::new(
            ErrorCode::ElfInvalid,
            format!("a string-table entry is longer than {MAX_STRING} bytes"),
        ),
        Fault::Io(e) => FileError::io("read", &e.into()),
        Fault::Timeout => FileError::new(
            ErrorCode::LimitExceeded,
            format!(
                "parsing took longer than the per-file time limit of {} (raise --file-timeout to allow it)",
                limits
                    .file_timeout
                    .map_or_else(|| "none".to_string(), |t| format!("{t:?}"))
            ),
        ),
        Fault::Memory => FileError::new(
            ErrorCode::LimitExceeded,
            format!(
                "the scan-wide memory limit of {} bytes for files being parsed at once is used up \
                 (raise --max-memory, or lower --jobs)",
                limits.max_memory.unwrap_or(0)
            ),
        ),
    }
}

pub(super) enum Bad {
    /// Malformed.
    Msg(String),
    /// Over a limit.
    Limit(String),
}

impl From<object::read::Error> for Bad {
    fn from(e: object::read::Error) -> Self {
        Bad::Msg(e.to_string())
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, Bad> {
    Err(Bad::Msg(msg.into()))
}

/// The dynamic-table entries we use.
#[derive(Default)]
struct DynInfo {
    needed: Vec<u64>,
    soname: Option<u64>,
    rpath: Option<u64>,
    runpath: Option<u64>,
    strtab: Option<u64>,
    strsz: Option<u64>,
    flags: Option<u64>,
    flags_1: Option<u64>,
    verneed: Option<u64>,
    verneednum: Option<u64>,
    verdef: Option<u64>,
    verdefnum: Option<u64>,
}

fn facts<Elf: FileHeader<Endian = Endianness>>(data: &FileReader<'_>) -> Result<ElfFacts, Bad> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let class = if header.is_class_64() {
        Class::Elf64
    } else {
        Class::Elf32
    };
    let byte_order = if header.is_big_endian() {
        Endian::Big
    } else {
        Endian::Little
    };
    let e_type = header.e_type(endian);
    let e_type_raw = e_type.0;
    let e_machine = header.e_machine(endian).0;
    let e_flags = header.e_flags(endian).0;
    let ei_osabi = header.e_ident().os_abi.0;

    let phdrs = header.program_headers(endian, data)?;
    let mut interp_ph = None;
    let mut dynamic_ph = None;
    let mut loads = Vec::new();
    let mut notes = Vec::new();
    for ph in phdrs {
        match ph.p_type(endian) {
            // The kernel and the loader use the first PT_INTERP / PT_DYNAMIC.
            elf::PT_INTERP if interp_ph.is_none() => interp_ph = Some(ph),
            elf::PT_DYNAMIC if dynamic_ph.is_none() => dynamic_ph = Some(ph),
            elf::PT_LOAD => loads.push((
                ph.p_vaddr(endian).into(),
                ph.p_filesz(endian).into(),
                ph.p_offset(endian).into(),
            )),
            elf::PT_NOTE => notes.push(ph),
            _ => {}
        }
    }

    // A separate debug-info file keeps the program headers of the real object but not the bytes they
    // describe; reading its "dynamic segment" would report garbage. readelf decides the same way.
    let debug_info = match dynamic_ph.or(interp_ph) {
        Some(ph) => segment_is_nobits(header, endian, data, ph.p_vaddr(endian).into()),
        None => false,
    };

    let mut facts = ElfFacts {
        class,
        endian: byte_order,
        machine: Machine::new(e_machine, class, byte_order),
        e_machine,
        e_flags,
        osabi: osabi_name(ei_osabi),
        ei_osabi,
        e_type: ElfType::new(e_type_raw),
        kind: Kind::Other,
        interp: None,
        needed: Vec::new(),
        soname: None,
        rpath: None,
        runpath: None,
        flags: None,
        flags_1: None,
        version_needs: Vec::new(),
        version_defs: Vec::new(),
        dlopen: Vec::new(),
        note_warnings: Vec::new(),
        has_dynamic: dynamic_ph.is_some() && !debug_info,
        has_load: !loads.is_empty(),
        libc_markers: None,
    };

    if !debug_info {
        if let Some(ph) = interp_ph {
            let bytes = ph
                .data(endian, data)
                .map_err(|()| Bad::Msg("PT_INTERP lies outside the file".into()))?;
            // The kernel stops at the first NUL; a PT_INTERP without one is rejected by execve.
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            facts.interp = Some(ByteStr::from(&bytes[..end]));
        }
        if let Some(ph) = dynamic_ph {
            read_dynamic::<Elf>(&mut facts, ph, endian, data, &loads)?;
        }
        // A core file's notes are process state, not metadata of a program.
        if e_type != elf::ET_CORE {
            read_dlopen_notes::<Elf>(&mut facts, &notes, endian, data);
        }
    }

    let pie_flag = facts.flags_1.is_some_and(|f| f & elf::DF_1_PIE.0 != 0);
    facts.kind = match e_type {
        _ if debug_info => Kind::DebugInfo,
        elf::ET_EXEC if facts.interp.is_some() => Kind::Executable,
        elf::ET_EXEC => Kind::Static,
        elf::ET_DYN if facts.interp.is_some() => {
            if pie_flag || facts.soname.is_none() {
                Kind::Pie
            } else {
                Kind::SharedLibrary
            }
        }
        elf::ET_DYN if pie_flag => Kind::StaticPie,
        elf::ET_DYN => Kind::SharedLibrary,
        elf::ET_REL => Kind::Relocatable,
        elf::ET_CORE => Kind::Core,
        _ => Kind::Other,
    };
    if matches!(facts.kind, Kind::Static | Kind::StaticPie) {
        facts.libc_markers = Some(super::markers::search(header, endian, data));
    }
    // The facts of every object of a root are kept to the end of a scan: not the spare room of
    // the lists grown while reading them (a tenth of what they hold).
    facts.needed.shrink_to_fit();
    facts.version_needs.shrink_to_fit();
    for n in &mut facts.version_needs {
        n.versions.shrink_to_fit();
    }
    facts.version_defs.shrink_to_fit();
    Ok(facts)
}

/// Whether the allocated section at `vaddr` is SHT_NOBITS (the segment's bytes are not in the file).
/// Any failure to read section headers means "no evidence": the file is treated as ordinary.
fn segment_is_nobits<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
    data: &FileReader<'_>,
    vaddr: u64,
) -> bool {
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff == 0 {
        return false;
    }
    let result = header.section_headers(endian, data).ok().and_then(|shdrs| {
        shdrs.iter().find_map(|sh| {
            let addr: u64 = sh.sh_addr(endian).into();
            let flags = sh.sh_flags(endian).0;
            (addr == vaddr && flags & elf::SHF_ALLOC.0 != 0 && sh.sh_type(endian) != elf::SHT_NULL)
                .then(|| sh.sh_type(endian) == elf::SHT_NOBITS)
        })
    });
    // This probe is optional: a failure here must not be blamed for a later, real error.
    data.clear_fault();
    result.unwrap_or(false)
}

fn read_dynamic<Elf: FileHeader<Endian = Endianness>>(
    facts: &mut ElfFacts,
    ph: &Elf::ProgramHeader,
    endian: Endianness,
    data: &FileReader<'_>,
    loads: &[(u64, u64, u64)],
) -> Result<(), Bad> {
    // Real objects have a few dozen dynamic entries. A crafted PT_DYNAMIC of millions would cost
    // memory in proportion (one string per DT_NEEDED), so only the first MAX_DYNAMIC_ENTRIES are read.
    let entsize = std::mem::size_of::<Elf::Dyn>() as u64;
    let filesz: u64 = ph.p_filesz(endian).into();
    let count = (filesz / entsize).min(MAX_DYNAMIC_ENTRIES);
    let dyns: &[Elf::Dyn] = data
        .read_slice_at(ph.p_offset(endian).into(), count as usize)
        .map_err(|()| Bad::Msg("Invalid ELF dynamic segment offset or size".into()))?;
    let terminated = dyns.iter().any(|d| d.d_tag(endian) == elf::DT_NULL);
    if !terminated && filesz / entsize > MAX_DYNAMIC_ENTRIES {
        return Err(Bad::Limit(format!(
            "the dynamic segment has more than {MAX_DYNAMIC_ENTRIES} entries before DT_NULL (a real object has a few dozen)"
        )));
    }
    let mut info = DynInfo::default();
    for d in dyns {
        let tag = d.d_tag(endian);
        let val: u64 = d.d_val(endian).into();
        if tag == elf::DT_NULL {
            break;
        }
        // Last one wins, as in glibc's get-dynamic-info (it stores per tag while scanning).
        match tag {
            elf::DT_NEEDED => info.needed.push(val),
            elf::DT_SONAME => info.soname = Some(val),
            elf::DT_RPATH => info.rpath = Some(val),
            elf::DT_RUNPATH => info.runpath = Some(val),
            elf::DT_STRTAB => info.strtab = Some(val),
            elf::DT_STRSZ => info.strsz = Some(val),
            elf::DT_FLAGS => info.flags = Some(val),
            elf::DT_FLAGS_1 => info.flags_1 = Some(val),
            elf::DT_VERNEED => info.verneed = Some(val),
            elf::DT_VERNEEDNUM => info.verneednum = Some(val),
            elf::DT_VERDEF => info.verdef = Some(val),
            elf::DT_VERDEFNUM => info.verdefnum = Some(val),
            _ => {}
        }
    }
    facts.flags = info.flags;
    facts.flags_1 = info.flags_1;

    let uses_strings = !info.needed.is_empty()
        || info.soname.is_some()
        || info.rpath.is_some()
        || info.runpath.is_some()
        || info.verneed.is_some()
        || info.verdef.is_some();
    if !uses_strings {
        return Ok(());
    }
    let Some(strtab_addr) = info.strtab else {
        return bad("dynamic segment names strings but has no DT_STRTAB");
    };
    let Some(str_off) = vaddr_to_offset(loads, strtab_addr) else {
        return bad(format!(
            "DT_STRTAB address {strtab_addr:#x} is not in any PT_LOAD segment"
        ));
    };
    let str_end = match info.strsz {
        Some(sz) => str_off.saturating_add(sz),
        None => data.len().unwrap_or(0),
    };
    let strings = StringTable::new(data, str_off, str_end);
    let get = |off: u64| -> Result<ByteStr, Bad> {
        let off = u32::try_from(off)
            .map_err(|_| Bad::Msg(format!("string offset {off:#x} is too large")))?;
        let s = strings
            .get(off)
            .map_err(|()| Bad::Msg(format!("string offset {off:#x} is outside DT_STRTAB")))?;
        // The copy is memory too: 65536 DT_NEEDED naming one long string must not multiply it.
        data.charge(s.len() as u64)
            .map_err(|()| Bad::Msg("string copy over budget".into()))?;
        Ok(ByteStr::from(s))
    };

    for &n in &info.needed {
        facts.needed.push(get(n)?);
    }
    facts.soname = info.soname.map(get).transpose()?;
    let split = |v: ByteStr| -> Vec<ByteStr> {
        v.as_bytes()
            .split(|&b| b == b':')
            .map(ByteStr::from)
            .collect()
    };
    facts.rpath = info.rpath.map(get).transpose()?.map(split);
    facts.runpath = info.runpath.map(get).transpose()?.map(split);

    // Every record read counts against one per-file total. Each chain is bounded on its own, but
    // records may overlap (a `vna_next` of 16 inside a run of identical 16-byte records), so
    // 4096 needs of 4096 versions each would be 16 Mi entries from a 64 KiB file.
    let mut records: u64 = 0;
    let mut count_record = || -> Result<(), Bad> {
        records += 1;
        if records > MAX_VERSION_RECORDS {
            return Err(Bad::Limit(format!(
                "the version records (DT_VERNEED, DT_VERDEF) number more than {MAX_VERSION_RECORDS} \
                 (a real object has a few dozen; overlapping or looping records?)"
            )));
        }
        Ok(())
    };
    if let Some(addr) = info.verneed {
        let count = info.verneednum.unwrap_or(0);
        let Some(mut off) = vaddr_to_offset(loads, addr) else {
            return bad(format!(
                "DT_VERNEED address {addr:#x} is not in any PT_LOAD segment"
            ));
        };
        for _ in 0..count.min(MAX_VERSION_RECORDS) {
            count_record()?;
            let vn: &elf::Verneed<Endianness> = data
                .read_at(off)
                .map_err(|()| Bad::Msg("DT_VERNEED record lies outside the file".into()))?;
            let mut needs = VersionNeeds {
                file: get(vn.vn_file.get(endian).into())?,
                versions: Vec::new(),
            };
            let mut aux = off.saturating_add(vn.vn_aux.get(endian).into());
            for _ in 0..u64::from(vn.vn_cnt.get(endian)).min(MAX_VERSION_RECORDS) {
                count_record()?;
                let va: &elf::Vernaux<Endianness> = data
                    .read_at(aux)
                    .map_err(|()| Bad::Msg("Vernaux record lies outside the file".into()))?;
                needs.versions.push(VersionNeed {
                    name: get(va.vna_name.get(endian).into())?,
                    weak: va.vna_flags.get(endian).0 & elf::VER_FLG_WEAK.0 != 0,
                    index: va.vna_other.get(endian).0,
                });
                match va.vna_next.get(endian) {
                    0 => break,
                    next => aux = aux.saturating_add(next.into()),
                }
            }
            facts.version_needs.push(needs);
            match vn.vn_next.get(endian) {
                0 => break,
                next => off = off.saturating_add(next.into()),
            }
        }
    }

    if let Some(addr) = info.verdef {
        let count = info.verdefnum.unwrap_or(0);
        let Some(mut off) = vaddr_to_offset(loads, addr) else {
            return bad(format!(
                "DT_VERDEF address {addr:#x} is not in any PT_LOAD segment"
            ));
        };
        for _ in 0..count.min(MAX_VERSION_RECORDS) {
            count_record()?;
            let vd: &elf::Verdef<Endianness> = data
                .read_at(off)
                .map_err(|()| Bad::Msg("DT_VERDEF record lies outside the file".into()))?;
            let flags = vd.vd_flags.get(endian);
            let mut names = Vec::new();
            let mut aux = off.saturating_add(vd.vd_aux.get(endian).into());
            for _ in 0..u64::from(vd.vd_cnt.get(endian)).min(MAX_VERSION_RECORDS) {
                count_record()?;
                let va: &elf::Verdaux<Endianness> = data
                    .read_at(aux)
                    .map_err(|()| Bad::Msg("Verdaux record lies outside the file".into()))?;
                names.push(get(va.vda_name.get(endian).into())?);
                match va.vda_next.get(endian) {
                    0 => break,
                    next => aux = aux.saturating_add(next.into()),
                }
            }
            let mut names = names.into_iter();
            facts.version_defs.push(VersionDef {
                index: vd.vd_ndx.get(endian).0,
                name: names.next().unwrap_or_default(),
                base: flags.0 & elf::VER_FLG_BASE.0 != 0,
                weak: flags.0 & elf::VER_FLG_WEAK.0 != 0,
                parents: names.collect(),
            });
            match vd.vd_next.get(endian) {
                0 => break,
                next => off = off.saturating_add(next.into()),
            }
        }
    }
    Ok(())
}

/// Fills `facts.dlopen` from the `.note.dlopen` notes in the PT_NOTE segments. Runs after every other
/// read of the file: nothing here fails the file; a segment that cannot be read, or a bad note,
/// becomes a warning.
fn read_dlopen_notes<Elf: FileHeader<Endian = Endianness>>(
    facts: &mut ElfFacts,
    notes: &[&Elf::ProgramHeader],
    endian: Endianness,
    data: &FileReader<'_>,
) {
    let mut found = DlopenNotes::default();
    let mut budget = MAX_NOTE_BYTES;
    for ph in notes {
        let size: u64 = ph.p_filesz(endian).into();
        if size == 0 {
            continue;
        }
        if size > budget {
            found.warn(NoteWarning::TooManyNoteBytes);
            break;
        }
        budget -= size;
        match data.read_bytes_at(ph.p_offset(endian).into(), size) {
            Ok(bytes) => {
                found.add_segment(bytes, endian == Endianness::Big, ph.p_align(endian).into())
            }
            Err(()) => {
                // The facts read so far stand; the fault was about the notes alone.
                data.clear_fault();
                found.warn(NoteWarning::Unreadable);
            }
        }
    }
    facts.note_warnings = found.warning_messages();
    facts.dlopen = found.entries;
}

/// Maps a virtual address to a file offset through the PT_LOAD segments, as the loader sees memory.
fn vaddr_to_offset(loads: &[(u64, u64, u64)], addr: u64) -> Option<u64> {
    loads.iter().find_map(|&(vaddr, filesz, offset)| {
        (addr >= vaddr && addr - vaddr < filesz).then(|| offset.saturating_add(addr - vaddr))
    })
}

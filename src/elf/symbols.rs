/*!
Dynamic symbols with their versions, read on demand (for the GLIBC floor's symbols and for
`check --symbols`), never during the scan itself.

They come from the section headers (`SHT_DYNSYM` and the GNU version sections), which is what
`readelf --dyn-syms` shows; a file whose section headers were stripped gives `None`, and the caller
says it could not tell.
*/

use std::os::fd::BorrowedFd;

use object::Endianness;
use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, ProgramHeader, Sym};

use super::parse::{Bad, fault_error};
use super::reader::{Bounds, FileReader, Source};
use super::{Limits, is_elf_magic};
use crate::error::{ErrorCode, FileError};
use crate::name::ByteStr;

/// The most dynamic symbols read from one file (libLLVM has about 60,000).
const MAX_SYMBOLS: usize = 1 << 20;

/// One dynamic symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynSym {
    /// Its name.
    pub name: ByteStr,
    /// Its version (`GLIBC_2.38`), when versioned.
    pub version: Option<ByteStr>,
    /// Undefined here (an import).
    pub undefined: bool,
    /// STB_WEAK.
    pub weak: bool,
    /// A definition whose version is hidden (`sym@VER`, not the default `sym@@VER`).
    pub hidden: bool,
}

/// The dynamic symbols of the regular file `fd`, or `None` when it has no section headers or no
/// `SHT_DYNSYM` section.
pub fn dynamic_symbols(
    fd: BorrowedFd<'_>,
    len: u64,
    limits: &Limits,
) -> Result<Option<Vec<DynSym>>, FileError> {
    read(
        fd,
        len,
        limits,
        symbols::<FileHeader32<Endianness>>,
        symbols::<FileHeader64<Endianness>>,
    )
}

/// The size of the regular file `fd`'s `PT_GNU_STACK` segment (`p_memsz`, set by
/// `-Wl,-z,stack-size=N`), or `None` when it has none or a size of 0. musl's loader raises its
/// default thread stack size to it.
pub fn gnu_stack_size(
    fd: BorrowedFd<'_>,
    len: u64,
    limits: &Limits,
) -> Result<Option<u64>, FileError> {
    read(
        fd,
        len,
        limits,
        stack_size::<FileHeader32<Endianness>>,
        stack_size::<FileHeader64<Endianness>>,
    )
}

/// Reads `fd` within the limits with `elf32` or `elf64` as its class says; `None` for a file that
/// is not ELF.
fn read<T>(
    fd: BorrowedFd<'_>,
    len: u64,
    limits: &Limits,
    elf32: fn(&FileReader<'_>) -> Result<Option<T>, Bad>,
    elf64: fn(&FileReader<'_>) -> Result<Option<T>, Bad>,
) -> Result<Option<T>, FileError> {
    let bounds = Bounds {
        max_read: limits.max_read,
        deadline: limits
            .file_timeout
            .and_then(|t| std::time::Instant::now().checked_add(t)),
        memory: None,
    };
    let reader =
        FileReader::new(Source::Fd(fd), len, bounds).map_err(|f| fault_error(f, limits))?;
    if !is_elf_magic(reader.head()) {
        return Ok(None);
    }
    let result = match reader.head().get(4) {
        Some(&c) if c == elf::ELFCLASS32.0 => elf32(&reader),
        Some(&c) if c == elf::ELFCLASS64.0 => elf64(&reader),
        _ => Err(Bad::Msg("not a 32-bit or 64-bit ELF file".into())),
    };
    result.map_err(|e| match reader.fault() {
        Some(fault) => fault_error(fault, limits),
        None => match e {
            Bad::Msg(m) => FileError::new(ErrorCode::ElfInvalid, m),
            Bad::Limit(m) => FileError::new(ErrorCode::LimitExceeded, m),
        },
    })
}

fn stack_size<Elf: FileHeader<Endian = Endianness>>(
    data: &FileReader<'_>,
) -> Result<Option<u64>, Bad> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    // musl's loader looks at every PT_GNU_STACK; a linker writes one.
    let size = header
        .program_headers(endian, data)?
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_GNU_STACK)
        .map(|ph| ph.p_memsz(endian).into())
        .max();
    Ok(size.filter(|&s: &u64| s > 0))
}

fn symbols<Elf: FileHeader<Endian = Endianness>>(
    data: &FileReader<'_>,
) -> Result<Option<Vec<DynSym>>, Bad> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    if sections.is_empty() {
        return Ok(None);
    }
    let table = sections.symbols(endian, data, elf::SHT_DYNSYM)?;
    if table.is_empty() {
        return Ok(None);
    }
    if table.len() > MAX_SYMBOLS {
        return Err(Bad::Limit(format!(
            "{} dynamic symbols (more than {MAX_SYMBOLS})",
            table.len()
        )));
    }
    // A broken version section leaves the symbols unversioned rather than failing the file.
    let versions = sections.versions(endian, data).ok().flatten();
    let mut out = Vec::with_capacity(table.len());
    for (index, sym) in table.enumerate().skip(1) {
        let name = sym.name(endian, table.strings())?;
        if name.is_empty() {
            continue;
        }
        let mut version = None;
        let mut hidden = false;
        if let Some(v) = &versions {
            let vi = v.version_index(endian, index);
            hidden = vi.is_hidden();
            if let Ok(Some(ver)) = v.version(vi.index()) {
                version = Some(ByteStr::from(ver.name()));
            }
        }
        out.push(DynSym {
            name: ByteStr::from(name),
            version,
            undefined: sym.st_shndx(endian) == elf::SHN_UNDEF,
            weak: sym.st_bind() == elf::STB_WEAK,
            hidden,
        });
    }
    Ok(Some(out))
}

/*!
The libc markers of a static object: strings only one libc (or Go's runtime) leaves in a program
that has no interpreter, no NEEDED entry and no symbol versions to say so (loader-spec R6.2, R6.3).

They are searched for while the object is open for its facts, so a scan reads each static object
once, and only the sections such strings can be in:
- string literals (`GLIBC_TUNABLES`, `/etc/ld.so.cache`, musl's "No error information") are
  read-only data: allocated `SHT_PROGBITS` sections that are neither executable nor writable;
- symbol names (musl's `__init_libc`) are in `SHT_STRTAB` sections;
- Go's build ID is a note (`SHT_NOTE`), and its build information a writable section of its own
  (`.go.buildinfo`), taken by name.

Machine code, writable data, relocations, symbol records, unwind tables (`.eh_frame`,
`.gcc_except_table`) and debug information are skipped: a static QEMU of 13 MB is searched in its
3 MB of `.rodata`. An object whose section headers cannot be read (stripped with `sstrip`, or
corrupt) is searched whole, as before this module existed. Either way at most
[`MAX_SEARCHED`] bytes are searched, a chunk at a time, so memory stays at one chunk.
*/

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, SectionHeader};

use super::reader::FileReader;

/// Go's build-information header and build ID string (R6.3: other runtimes are ruled out first).
pub const GO: &[&[u8]] = &[b"\xff Go buildinf:", b"Go build ID: \""];
/// The header of Go's `.note.go.buildid` note (n_type 4, name "Go"), either byte order.
pub const GO_NOTE: &[&[u8]] = &[b"\x04\0\0\0Go\0\0", b"\0\0\0\x04Go\0\0"];
/// Strings only a glibc static binary carries (R6.2).
pub const GLIBC: &[&[u8]] = &[
    b"GLIBC_TUNABLES",
    b"GLIBC_PRIVATE",
    b"/etc/ld.so.cache",
    b"DT_RELR without GLIBC_ABI_DT_RELR",
];
/// musl's strerror text for errno 0, and symbol names only musl's start-up code has (present
/// while the symbol table is, R6.3).
pub const MUSL: &[&[u8]] = &[
    b"No error information",
    b"\0__init_libc\0",
    b"\0_start_c\0",
    b"\0__dls2\0",
];

/// Most bytes of one object searched for markers.
pub const MAX_SEARCHED: u64 = 64 * 1024 * 1024;

/// Bytes read and searched at a time.
const CHUNK: usize = 1 << 20;

/// Every marker, in the order of [`MarkerSet`]'s bits.
fn all() -> impl Iterator<Item = &'static [u8]> {
    GO.iter().chain(GO_NOTE).chain(GLIBC).chain(MUSL).copied()
}

/// Which markers a static object holds: those that decide its libc (the search stops looking
/// for musl's once a glibc marker is found, and for anything once a Go marker is, as the
/// verdict's order of precedence makes the rest moot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkerSet {
    bits: u32,
}

impl MarkerSet {
    /// Whether `marker` (one of this module's constants) was found.
    pub fn has(&self, marker: &[u8]) -> bool {
        all()
            .position(|m| m == marker)
            .is_some_and(|i| self.bits & (1 << i) != 0)
    }

    /// Every marker in `bytes`, searched as one buffer.
    pub fn of(bytes: &[u8]) -> MarkerSet {
        let mut scan = MarkerScan::new(all().collect());
        scan.feed(bytes);
        MarkerSet::from_scan(&scan)
    }

    fn from_scan(scan: &MarkerScan) -> MarkerSet {
        let mut bits = 0;
        for (i, m) in all().enumerate() {
            if scan.has(m) {
                bits |= 1 << i;
            }
        }
        MarkerSet { bits }
    }
}

/// What the search of a static object found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibcMarkers {
    /// Searched: these markers are there.
    Found(MarkerSet),
    /// Its bytes could not be read, or there were more than [`MAX_SEARCHED`] to search.
    Unreadable,
}

/// Finds which of `markers` occur in a byte stream given in chunks: each chunk is searched, and
/// so is each boundary (the last bytes before it with the first bytes of the next), so a marker
/// split between two chunks is found as in one buffer.
pub struct MarkerScan {
    markers: Vec<&'static [u8]>,
    found: Vec<bool>,
    /// Markers no longer searched for: their presence cannot change the verdict any more.
    dropped: Vec<bool>,
    /// The last `longest - 1` bytes seen.
    tail: Vec<u8>,
    longest: usize,
}

impl MarkerScan {
    /// A search for `markers`.
    pub fn new(markers: Vec<&'static [u8]>) -> MarkerScan {
        let longest = markers.iter().map(|m| m.len()).max().unwrap_or(1);
        MarkerScan {
            found: vec![false; markers.len()],
            dropped: vec![false; markers.len()],
            markers,
            tail: Vec::new(),
            longest,
        }
    }

    /// Stops searching for `these` (each one memchr pass per chunk saved).
    pub fn drop_markers(&mut self, these: &[&[u8]]) {
        for (m, d) in self.markers.iter().zip(self.dropped.iter_mut()) {
            *d = *d || these.contains(m);
        }
    }

    fn search(&mut self, hay: &[u8]) {
        let pending = self.found.iter_mut().zip(&self.dropped);
        for (m, (f, &dropped)) in self.markers.iter().zip(pending) {
            if !*f && !dropped && contains(hay, m) {
                *f = true;
            }
        }
    }

    /// Searches `chunk`, the bytes following the previous chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        let keep = self.longest.saturating_sub(1);
        let mut edge = std::mem::take(&mut self.tail);
        let seen = edge.len();
        edge.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        // Only the edge's matches that start in the tail are new: the rest lie in the chunk.
        if seen > 0 {
            self.search(&edge);
        }
        self.search(chunk);
        // The new tail: the last `keep` bytes of the tail and the chunk together.
        if chunk.len() >= keep {
            edge.clear();
            edge.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            edge.truncate(seen);
            edge.extend_from_slice(chunk);
            let excess = edge.len().saturating_sub(keep);
            edge.drain(..excess);
        }
        self.tail = edge;
    }

    /// Starts a new stream (the next bytes do not follow the last ones): a marker is not made
    /// of the end of one section and the start of another.
    pub fn restart(&mut self) {
        self.tail.clear();
    }

    /// Whether `m` was found.
    pub fn has(&self, m: &[u8]) -> bool {
        self.markers
            .iter()
            .zip(&self.found)
            .any(|(x, &f)| f && *x == m)
    }

    fn has_go(&self) -> bool {
        GO.iter().chain(GO_NOTE).any(|m| self.has(m))
    }
}

/// Substring search: memchr's SIMD searcher.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// A file range to search.
struct Range {
    offset: u64,
    size: u64,
    /// Searched before the others: Go's note and build information settle the question alone.
    go: bool,
}

/// The sections of a static object that can hold markers, `None` when its section headers
/// cannot be read (then the whole file is searched).
fn sections<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
    data: &FileReader<'_>,
) -> Option<Vec<Range>> {
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff == 0 {
        return None;
    }
    let table = header.sections(endian, data).ok()?;
    let mut out = Vec::new();
    for sh in table.iter() {
        let kind = sh.sh_type(endian);
        let flags = sh.sh_flags(endian).0;
        let name = table.section_name(endian, sh).unwrap_or(b"");
        let alloc = flags & elf::SHF_ALLOC.0 != 0;
        let exec = flags & elf::SHF_EXECINSTR.0 != 0;
        let write = flags & elf::SHF_WRITE.0 != 0;
        let go =
            name == b".go.buildinfo" || (kind == elf::SHT_NOTE && name.starts_with(b".note.go"));
        let wanted = go
            || kind == elf::SHT_STRTAB
            || kind == elf::SHT_NOTE
            || (kind == elf::SHT_PROGBITS
                && alloc
                && !exec
                && !write
                && !matches!(name, b".eh_frame" | b".eh_frame_hdr" | b".gcc_except_table"));
        if !wanted {
            continue;
        }
        let (offset, size): (u64, u64) = (sh.sh_offset(endian).into(), sh.sh_size(endian).into());
        if size > 0 {
            out.push(Range { offset, size, go });
        }
    }
    out.sort_by_key(|r| (!r.go, r.offset));
    Some(out)
}

/// Searches the static object `data` (whose ELF header is `header`) for every marker.
pub(super) fn search<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
    data: &FileReader<'_>,
) -> LibcMarkers {
    let len = data.len_bytes();
    let ranges = match sections(header, endian, data) {
        Some(r) => r,
        None => vec![Range {
            offset: 0,
            size: len,
            go: false,
        }],
    };
    // Reading the section headers is optional here: a fault there is not the object's error.
    data.clear_fault();
    let mut scan = MarkerScan::new(all().collect());
    let mut buf = Vec::new();
    // Go's sections first: when they settle it, the rest (however large) is not read.
    let (go, rest): (Vec<&Range>, Vec<&Range>) = ranges.iter().partition(|r| r.go);
    if search_ranges(data, &go, &mut scan, &mut buf).is_err() {
        return LibcMarkers::Unreadable;
    }
    if !scan.has_go() {
        let total = rest.iter().fold(0u64, |t, r| t.saturating_add(r.size));
        if total > MAX_SEARCHED.min(data.max_read()) {
            return LibcMarkers::Unreadable;
        }
        if search_ranges(data, &rest, &mut scan, &mut buf).is_err() {
            return LibcMarkers::Unreadable;
        }
    }
    LibcMarkers::Found(MarkerSet::from_scan(&scan))
}

/// Feeds the bytes of `ranges` to `scan`, a chunk at a time through `buf`.
fn search_ranges(
    data: &FileReader<'_>,
    ranges: &[&Range],
    scan: &mut MarkerScan,
    buf: &mut Vec<u8>,
) -> Result<(), ()> {
    let len = data.len_bytes();
    for r in ranges {
        scan.restart();
        let Some(end) = r.offset.checked_add(r.size).filter(|&e| e <= len) else {
            // A section header pointing past the end of the file: nothing there to search.
            continue;
        };
        let mut at = r.offset;
        while at < end {
            let want = usize::try_from((end - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let Ok(n) = data.read_into(&mut buf[..want], at) else {
                return Err(());
            };
            if n == 0 {
                break;
            }
            scan.feed(&buf[..n]);
            at += n as u64;
            // Go's markers settle it; a glibc marker settles that musl's do not matter.
            if scan.has_go() {
                return Ok(());
            }
            if GLIBC.iter().any(|m| scan.has(m)) {
                scan.drop_markers(MUSL);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markers are found in a stream of chunks exactly as in the whole buffer, whatever the
    /// chunk size: one straddling a boundary (or several), at the very start and end, and none.
    #[test]
    fn markers_in_chunks_as_in_one_buffer() {
        let all: Vec<&'static [u8]> = all().collect();
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        let mut b = b"GLIBC_TUNABLES".to_vec();
        b.extend_from_slice(&[7u8; 100]);
        b.extend_from_slice(b"\0__init_libc\0");
        b.extend_from_slice(&[9u8; 37]);
        b.extend_from_slice(b"DT_RELR without GLIBC_ABI_DT_RELR");
        bufs.push(b);
        bufs.push(b"No error information".to_vec());
        bufs.push(b"GLIBC_TUNABLE".to_vec());
        bufs.push(Vec::new());
        let mut b = vec![0u8; 3000];
        b.extend_from_slice(b"\xff Go buildinf:");
        b.extend_from_slice(b"/etc/ld.so.cache");
        bufs.push(b);
        for buf in &bufs {
            let whole: Vec<bool> = all.iter().map(|m| contains(buf, m)).collect();
            for size in [1, 2, 3, 7, 13, 32, 33, 34, 64, 1000, 1 << 20] {
                let mut scan = MarkerScan::new(all.clone());
                for c in buf.chunks(size) {
                    scan.feed(c);
                }
                let streamed: Vec<bool> = all.iter().map(|m| scan.has(m)).collect();
                assert_eq!(streamed, whole, "chunks of {size}");
            }
        }
    }

    /// A static ELF64 program: one PT_LOAD, no PT_INTERP, and three sections (null, `.rodata`
    /// holding `rodata` at `rodata_at` with the given size, `.shstrtab`), plus `text` bytes
    /// outside any searched section.
    fn static_elf(
        rodata: &[u8],
        rodata_at: Option<u64>,
        rodata_size: Option<u64>,
        text: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // little-endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        f[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
        // PT_LOAD of the whole file.
        f[64..68].copy_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(text);
        let ro = f.len() as u64;
        f.extend_from_slice(rodata);
        let names = f.len() as u64;
        f.extend_from_slice(b"\0.rodata\0.shstrtab\0");
        let len = f.len() as u64;
        f[64 + 32..64 + 40].copy_from_slice(&len.to_le_bytes()); // p_filesz
        let shoff = f.len() as u64;
        f[40..48].copy_from_slice(&shoff.to_le_bytes());
        let mut sh = |name: u32, kind: u32, flags: u64, off: u64, size: u64| {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[8..16].copy_from_slice(&flags.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&h);
        };
        sh(0, 0, 0, 0, 0);
        sh(
            1,
            elf::SHT_PROGBITS.0,
            elf::SHF_ALLOC.0,
            rodata_at.unwrap_or(ro),
            rodata_size.unwrap_or(rodata.len() as u64),
        );
        sh(9, elf::SHT_STRTAB.0, 0, names, 19);
        f
    }

    fn markers_of(bytes: &[u8]) -> Option<LibcMarkers> {
        crate::elf::parse_bytes(bytes, &crate::elf::Limits::default())
            .expect("parses")
            .expect("is ELF")
            .libc_markers
    }

    #[test]
    fn only_the_data_sections_are_searched() {
        let found = |m: Option<LibcMarkers>| match m {
            Some(LibcMarkers::Found(set)) => set,
            other => panic!("not searched: {other:?}"),
        };
        let set = found(markers_of(&static_elf(
            b"..GLIBC_TUNABLES..",
            None,
            None,
            b"",
        )));
        assert!(set.has(b"GLIBC_TUNABLES"));
        // A marker in bytes no searched section covers (machine code, padding) is not evidence.
        let set = found(markers_of(&static_elf(
            b"nothing",
            None,
            None,
            b"No error information",
        )));
        assert!(!set.has(b"No error information"));
        // The section names themselves are searched (a string table): nothing matches there.
        assert_eq!(set, MarkerSet::default());
    }

    #[test]
    fn hostile_section_headers_cost_nothing() {
        // A section past the end of the file is skipped, not read.
        let past = markers_of(&static_elf(b"x", Some(1 << 40), Some(1 << 20), b""));
        assert_eq!(past, Some(LibcMarkers::Found(MarkerSet::default())));
        // Sections claiming more than can be searched make the object unreadable, at once.
        let huge = markers_of(&static_elf(b"x", None, Some(u64::MAX / 2), b""));
        assert_eq!(huge, Some(LibcMarkers::Unreadable));
    }

    #[test]
    fn a_set_says_which_markers_it_holds() {
        let set = MarkerSet::of(b"..GLIBC_PRIVATE..\0_start_c\0");
        assert!(set.has(b"GLIBC_PRIVATE"));
        assert!(set.has(b"\0_start_c\0"));
        assert!(!set.has(b"GLIBC_TUNABLES"));
        assert!(!set.has(GO[0]));
        assert!(!set.has(b"not a marker"));
    }
}

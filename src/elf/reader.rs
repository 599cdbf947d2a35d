/*!
Bounded, lazy reads of one file, as an `object::ReadRef`.

Why not mmap: a file truncated while it is mapped kills the process with SIGBUS on the next touch
(ripgrep#581), and live roots and images under construction change under us. Why not read the whole
file: a scan only needs the ELF header, the program headers, the dynamic segment and a few strings —
a few KiB out of megabytes — and reading everything would make the scan I/O-bound for no reason.

So this reader serves `object`'s low-level parser with `pread(2)` of exactly the ranges it asks for,
keeps each range in a per-file arena (so the borrowed slices `object` hands back stay valid for the
parse), and enforces a per-file byte budget. A file that shrinks mid-read yields a short read, which
becomes an ordinary per-file error. The first block of the file is read once up front and serves the
header, program headers and usually the interpreter string without further system calls.
*/

use std::cell::{Cell, OnceCell};
use std::ops::Range;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use object::ReadRef;
use typed_arena::Arena;

use super::budget::MemoryBudget;

/// How much of the file start we read in one go: ELF header + program headers + PT_INTERP of typical
/// objects fit.
pub const HEAD_SIZE: usize = 1024;

/// The first read of a file: enough for the ELF identification and header of either class.
const FIRST_READ: usize = 64;

/// Reads of at most this many bytes are served from blocks of [`BLOCK`] bytes: the strings,
/// version records and notes of an object lie close together, and one read of their block
/// replaces dozens of tiny ones (a library's needed names and version strings cost a read each
/// otherwise).
const SMALL_READ: u64 = 4 * 1024;

/// The size (and alignment) of a cached block.
const BLOCK: u64 = 16 * 1024;

/// Most blocks kept per file (then reads go to the file as asked).
const BLOCKS: usize = 8;

/// The longest string we read from a string table. Names longer than any path the kernel accepts
/// (PATH_MAX is 4096) are nonsense; 64 KiB leaves room and still bounds the damage.
pub const MAX_STRING: u64 = 64 * 1024;

/// Why a read failed, beyond `object`'s own message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A range past the end of the file (as `fstat` said), or the file shrank.
    Truncated,
    /// The per-file read budget would be exceeded.
    Budget,
    /// A string longer than [`MAX_STRING`].
    LongString,
    /// The read itself failed.
    Io(rustix::io::Errno),
    /// The per-file time budget ran out (`--file-timeout`).
    Timeout,
    /// The scan-wide memory budget is exhausted (`--max-memory`).
    Memory,
}

/// Where the bytes come from: an open file (the scan), or memory (fuzzing, tests, callers that
/// already hold the bytes). Both go through the same budgets and checks.
#[derive(Clone, Copy)]
pub enum Source<'f> {
    /// A regular file, read with `pread(2)`.
    Fd(BorrowedFd<'f>),
    /// Bytes in memory.
    Bytes(&'f [u8]),
}

/// Everything that bounds one file's parse.
#[derive(Clone, Copy, Default)]
pub struct Bounds<'b> {
    /// Most bytes read from the file (the first block included).
    pub max_read: u64,
    /// When the parse must have ended (`--file-timeout`).
    pub deadline: Option<Instant>,
    /// The scan-wide budget every read reserves from (`--max-memory`).
    pub memory: Option<&'b MemoryBudget>,
}

/// A file being parsed: descriptor, size, first block, and everything read so far.
pub struct FileReader<'f> {
    src: Source<'f>,
    len: u64,
    head: Vec<u8>,
    /// Blocks read whole for small reads, in the order they were read; set once, never moved
    /// or dropped before the reader, so slices of them live as long as the reader.
    blocks: [OnceCell<(u64, Box<[u8]>)>; BLOCKS],
    arena: Arena<Vec<u8>>,
    bounds: Bounds<'f>,
    used: Cell<u64>,
    fault: Cell<Option<Fault>>,
}

impl Drop for FileReader<'_> {
    fn drop(&mut self) {
        if let Some(m) = self.bounds.memory {
            m.release(self.used.get());
        }
    }
}

impl<'f> FileReader<'f> {
    /// Reads the first block of `src` (of size `len` per fstat) and prepares lazy reads of the rest,
    /// within `bounds` (the first block included).
    pub fn new(src: Source<'f>, len: u64, bounds: Bounds<'f>) -> Result<Self, Fault> {
        let want = (len.min(HEAD_SIZE as u64).min(bounds.max_read)) as usize;
        if let Some(m) = bounds.memory
            && !m.reserve(want as u64, 0, bounds.deadline)
        {
            return Err(Fault::Memory);
        }
        // From here on, Drop gives the reservation back.
        let mut reader = FileReader {
            src,
            len,
            used: Cell::new(want as u64),
            head: Vec::new(),
            blocks: Default::default(),
            arena: Arena::new(),
            bounds,
            fault: Cell::new(None),
        };
        // Most files of a root are not ELF: their first bytes say so, and copying a whole block
        // of each would cost more than the read itself. The rest of the block is read only
        // after the magic.
        let mut head = vec![0u8; want];
        let first = want.min(FIRST_READ);
        let mut got = pread_full(src, &mut head[..first], 0)?;
        if got == first && first < want && super::parse::is_elf_magic(&head[..got]) {
            got += pread_full(src, &mut head[first..], first as u64)?;
        }
        head.truncate(got);
        // A file that shrank before we read it is as long as what we could read.
        if got < want {
            reader.len = got as u64;
        }
        reader.head = head;
        Ok(reader)
    }

    /// The first bytes of the file (up to [`HEAD_SIZE`]).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.used.get()
    }

    /// The first fault seen, if a read failed for a reason of ours rather than a bad offset.
    pub fn fault(&self) -> Option<Fault> {
        self.fault.get()
    }

    /// The file's size (as `fstat` said, or less if it shrank before the first read).
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// The per-file read budget (`--max-read`).
    pub fn max_read(&self) -> u64 {
        self.bounds.max_read
    }

    /// Reads into `buf` at `offset` without keeping the bytes (a search that looks at each chunk
    /// once): the number of bytes read (fewer at the end of the file). The buffer is the
    /// caller's, so only the deadline applies, not the byte budget.
    pub fn read_into(&self, buf: &mut [u8], offset: u64) -> Result<usize, Fault> {
        if let Some(d) = self.bounds.deadline
            && Instant::now() >= d
        {
            return Err(Fault::Timeout);
        }
        pread_full(self.src, buf, offset)
    }

    /// Forgets a fault from an optional probe, so a later real error is not blamed on it.
    pub fn clear_fault(&self) {
        self.fault.set(None);
    }

    fn fail<T>(&self, f: Fault) -> Result<T, ()> {
        if self.fault.get().is_none() {
            self.fault.set(Some(f));
        }
        Err(())
    }

    /// Accounts `n` bytes of memory for this file (reads, and copies of what was read) against
    /// the per-file and scan-wide budgets.
    pub(crate) fn charge(&self, n: u64) -> Result<(), ()> {
        self.check_time()?;
        let held = self.used.get();
        let used = held.saturating_add(n);
        if used > self.bounds.max_read {
            return self.fail(Fault::Budget);
        }
        if let Some(m) = self.bounds.memory
            && !m.reserve(n, held, self.bounds.deadline)
        {
            return self.fail(Fault::Memory);
        }
        self.used.set(used);
        Ok(())
    }

    /// Fails once the per-file deadline has passed. Called on every read and between parse steps,
    /// so a parse that loops (a crafted chain of records) stops within one step of the deadline.
    pub(crate) fn check_time(&self) -> Result<(), ()> {
        match self.bounds.deadline {
            Some(d) if Instant::now() >= d => self.fail(Fault::Timeout),
            _ => Ok(()),
        }
    }

    /// The bytes from `offset` to the end of the cached block holding `offset`, reading that
    /// block when it is not cached yet and there is a free slot and budget for it (`None`: read
    /// the range itself).
    fn block_at(&self, offset: u64) -> Result<Option<&[u8]>, ()> {
        let mut free = None;
        for cell in &self.blocks {
            match cell.get() {
                Some((start, data)) => {
                    if (*start..*start + data.len() as u64).contains(&offset) {
                        return Ok(data.get((offset - start) as usize..));
                    }
                }
                None => {
                    free = Some(cell);
                    break;
                }
            }
        }
        let Some(cell) = free else {
            return Ok(None);
        };
        let start = offset - offset % BLOCK;
        let len = BLOCK.min(self.len.saturating_sub(start));
        // A tight --max-read keeps reads exact: a block must not use up what the parse needs.
        if len == 0 || self.used.get().saturating_add(len) > self.bounds.max_read {
            return Ok(None);
        }
        let data = self.read_range(start, len as usize)?.into_boxed_slice();
        let (start, data) = cell.get_or_init(|| (start, data));
        Ok(data.get((offset - start) as usize..))
    }

    fn read_range(&self, offset: u64, size: usize) -> Result<Vec<u8>, ()> {
        self.charge(size as u64)?;
        let mut buf = vec![0u8; size];
        match pread_full(self.src, &mut buf, offset) {
            Ok(n) if n == size => Ok(buf),
            Ok(_) => self.fail(Fault::Truncated),
            Err(f) => self.fail(f),
        }
    }
}

/// `pread` until `buf` is full or the file ends; returns the number of bytes read.
fn pread_full(src: Source<'_>, buf: &mut [u8], offset: u64) -> Result<usize, Fault> {
    let fd = match src {
        Source::Fd(fd) => fd,
        Source::Bytes(bytes) => {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let n = buf.len().min(bytes.len() - start);
            buf[..n].copy_from_slice(&bytes[start..start + n]);
            return Ok(n);
        }
    };
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => continue,
            Err(e) => return Err(Fault::Io(e)),
        }
    }
    Ok(done)
}

impl<'a> ReadRef<'a> for &'a FileReader<'_> {
    fn len(self) -> Result<u64, ()> {
        Ok(self.len)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        if size == 0 {
            return Ok(&[]);
        }
        self.check_time()?;
        let end = offset.checked_add(size).ok_or(())?;
        if end > self.len {
            return self.fail(Fault::Truncated);
        }
        if end <= self.head.len() as u64 {
            return Ok(&self.head[offset as usize..end as usize]);
        }
        if size <= SMALL_READ
            && let Some(block) = self.block_at(offset)?
            && let Some(bytes) = block.get(..size as usize)
        {
            return Ok(bytes);
        }
        let size = usize::try_from(size).map_err(|_| ())?;
        let buf = self.read_range(offset, size)?;
        Ok(self.arena.alloc(buf).as_slice())
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        let end = range.end.min(self.len);
        if range.start >= end {
            return self.fail(Fault::Truncated);
        }
        if end <= self.head.len() as u64 {
            let slice = &self.head[range.start as usize..end as usize];
            return match slice.iter().position(|&b| b == delimiter) {
                Some(n) => Ok(&slice[..n]),
                None => self.fail(Fault::Truncated),
            };
        }
        // Most strings end inside the block that holds their start.
        if let Some(block) = self.block_at(range.start)? {
            let within = &block[..block.len().min((end - range.start) as usize)];
            if let Some(n) = within.iter().position(|&b| b == delimiter) {
                return Ok(&within[..n]);
            }
        }
        // Strings are short: read small chunks until the delimiter, bounded by MAX_STRING.
        let limit = end.min(range.start.saturating_add(MAX_STRING + 1));
        let mut out = Vec::new();
        let mut pos = range.start;
        let mut chunk = 256u64;
        while pos < limit {
            let n = chunk.min(limit - pos) as usize;
            let buf = self.read_range(pos, n)?;
            if let Some(i) = buf.iter().position(|&b| b == delimiter) {
                out.extend_from_slice(&buf[..i]);
                return Ok(self.arena.alloc(out).as_slice());
            }
            out.extend_from_slice(&buf);
            pos += n as u64;
            chunk = (chunk * 2).min(16 * 1024);
        }
        if limit < end {
            self.fail(Fault::LongString)
        } else {
            self.fail(Fault::Truncated)
        }
    }
}

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

use std::cell::Cell;
use std::ops::Range;
use std::os::fd::BorrowedFd;

use object::ReadRef;
use typed_arena::Arena;

/// How much of the file start we read in one go: ELF header + program headers + PT_INTERP of typical
/// objects fit.
pub const HEAD_SIZE: usize = 1024;

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
}

/// A file being parsed: descriptor, size, first block, and everything read so far.
pub struct FileReader<'f> {
    fd: BorrowedFd<'f>,
    len: u64,
    head: Vec<u8>,
    arena: Arena<Vec<u8>>,
    budget: u64,
    used: Cell<u64>,
    fault: Cell<Option<Fault>>,
}

impl<'f> FileReader<'f> {
    /// Reads the first block of `fd` (of size `len` per fstat) and prepares lazy reads of the rest,
    /// at most `budget` bytes in all (the first block included).
    pub fn new(fd: BorrowedFd<'f>, len: u64, budget: u64) -> Result<Self, Fault> {
        let want = (len.min(HEAD_SIZE as u64)) as usize;
        let mut head = vec![0u8; want];
        let got = pread_full(fd, &mut head, 0)?;
        head.truncate(got);
        Ok(FileReader {
            fd,
            // A file that shrank before we read it is as long as what we could read.
            len: if got < want { got as u64 } else { len },
            used: Cell::new(got as u64),
            head,
            arena: Arena::new(),
            budget,
            fault: Cell::new(None),
        })
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

    fn charge(&self, n: u64) -> Result<(), ()> {
        let used = self.used.get().saturating_add(n);
        if used > self.budget {
            return self.fail(Fault::Budget);
        }
        self.used.set(used);
        Ok(())
    }

    fn read_range(&self, offset: u64, size: usize) -> Result<Vec<u8>, ()> {
        self.charge(size as u64)?;
        let mut buf = vec![0u8; size];
        match pread_full(self.fd, &mut buf, offset) {
            Ok(n) if n == size => Ok(buf),
            Ok(_) => self.fail(Fault::Truncated),
            Err(f) => self.fail(f),
        }
    }
}

/// `pread` until `buf` is full or the file ends; returns the number of bytes read.
fn pread_full(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> Result<usize, Fault> {
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
        let end = offset.checked_add(size).ok_or(())?;
        if end > self.len {
            return self.fail(Fault::Truncated);
        }
        if end <= self.head.len() as u64 {
            return Ok(&self.head[offset as usize..end as usize]);
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

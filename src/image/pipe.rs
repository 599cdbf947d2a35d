/*!
The pipes between the stages of a layer (reading the blob, decompressing it, applying it): chunks
of [`PIPE_CHUNK`] bytes through a bounded channel, so memory stays a few MiB whatever the layer's
size.

A layer decompressed ahead of its turn ([`held_pipe`]) cannot go through a bounded channel alone:
nobody reads it until the layers below are applied, and a decompressor blocked on a full channel
gains nothing. Until its reader starts, what it produces is appended to an unnamed temporary file
(in the directory the tree is unpacked in), up to a cap of unread bytes; its reader takes the file
first, freeing what it has read as it goes, then the channel. The producer moves to the channel
for good once the reader has started, once the cap is reached, or when the file cannot take more
(it then waits on the channel, as an ordinary pipe does). Everything written to the file precedes
everything sent on the channel, so the reader sees the stream in order.
*/

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, mpsc};

/// Chunks in flight between two stages of a layer (of [`PIPE_CHUNK`] bytes).
const PIPE_CHUNKS: usize = 8;
/// Chunks in flight to the applying side ([`to_apply`]), which takes a layer's bytes at an uneven
/// pace: fast through a large file's data, slow through thousands of small files. With 2 MiB
/// in flight, reading and hashing an uncompressed layer of 17k files (benches/image.sh) took
/// 0.25 s where its hashing alone takes 0.21 s, the reader waiting on a full pipe; with 16 MiB,
/// 0.22 s (peak RSS of the image scan +4 MiB uncompressed, +9 MiB gzip).
const APPLY_CHUNKS: usize = 64;
/// Bytes per chunk.
const PIPE_CHUNK: usize = 256 << 10;
/// Read bytes of a held layer's file are given back to the system this many at a time.
const PUNCH_STEP: u64 = 8 << 20;

/// The sending end of a pipe (std's bounded channel: a full one blocks the sender, a dropped
/// receiver makes `send` fail).
type Chunks = mpsc::SyncSender<io::Result<Vec<u8>>>;
/// Its receiving end.
type ChunksRx = mpsc::Receiver<io::Result<Vec<u8>>>;

/// The sending end of a pipe: chunks go out on `tx`, and come back on `spare` once read, to be
/// filled again (allocating and zeroing a fresh chunk for every 256 KiB costs a few percent of a
/// layer's time, on the decompressing thread among others).
pub(super) struct PipeTx {
    tx: Chunks,
    spare: mpsc::Receiver<Vec<u8>>,
    /// Where chunks wait while nobody reads them (a held pipe, until it moves to the channel).
    hold: Option<Arc<Hold>>,
}

/// What a held pipe keeps until its reader starts.
struct Hold {
    file: File,
    /// Unread bytes the file may hold.
    cap: u64,
    state: Mutex<HoldState>,
    /// Signalled when the file grows, when the producer moves to the channel and when it ends.
    more: Condvar,
}

#[derive(Default)]
struct HoldState {
    /// Bytes appended to the file.
    written: u64,
    /// Bytes the reader has taken from it.
    read: u64,
    /// Bytes below this offset are given back (punched out).
    freed: u64,
    /// The reader has started.
    reading: bool,
    /// The producer sends on the channel from now on.
    moved: bool,
    /// The producer is done (or gone).
    ended: bool,
    /// The reader is gone.
    hung_up: bool,
}

impl Hold {
    fn lock(&self) -> std::sync::MutexGuard<'_, HoldState> {
        // A thread that panicked holding the lock left only counters behind: use them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What became of a chunk handed to [`PipeTx::send`].
enum Sent {
    /// On the channel (it comes back on `spare` once read).
    Queued,
    /// Written to the held file: the buffer is free again.
    Held(Vec<u8>),
    /// The reader is gone.
    Gone,
}

impl PipeTx {
    /// A buffer to fill: one the reader gave back, or a new one.
    fn buffer(&self) -> Vec<u8> {
        self.spare.try_recv().unwrap_or_default()
    }

    fn send(&mut self, chunk: Vec<u8>) -> Sent {
        if let Some(hold) = &self.hold {
            let at = {
                let st = hold.lock();
                if st.hung_up {
                    return Sent::Gone;
                }
                let unread = st.written - st.read;
                let full = unread.saturating_add(chunk.len() as u64) > hold.cap;
                (!st.reading && !full).then_some(st.written)
            };
            // Only this side appends, past `written`: the reader does not look there yet.
            let held = at.is_some_and(|at| hold.file.write_all_at(&chunk, at).is_ok());
            let mut st = hold.lock();
            if held {
                st.written += chunk.len() as u64;
                hold.more.notify_all();
                return Sent::Held(chunk);
            }
            // Full, read or failing (a full temporary directory): the channel from now on.
            st.moved = true;
            hold.more.notify_all();
            drop(st);
            self.hold = None;
        }
        match self.tx.send(Ok(chunk)) {
            Ok(()) => Sent::Queued,
            Err(_) => Sent::Gone,
        }
    }

    /// Sends a read error on, after everything sent before it.
    fn fail(&mut self, e: &io::Error) {
        // On the channel even while held: the channel's content comes after the file's.
        let _ = self.tx.send(Err(io::Error::new(e.kind(), e.to_string())));
    }
}

impl Drop for PipeTx {
    fn drop(&mut self) {
        if let Some(hold) = &self.hold {
            hold.lock().ended = true;
            hold.more.notify_all();
        }
    }
}

/// A pipe between two stages of a layer: at most [`PIPE_CHUNKS`] chunks queued, so at most a few
/// more than that ever allocated.
pub(super) fn pipe() -> (PipeTx, PipeRx) {
    pipe_of(PIPE_CHUNKS)
}

/// A pipe to the applying side: at most [`APPLY_CHUNKS`] chunks queued.
pub(super) fn to_apply() -> (PipeTx, PipeRx) {
    pipe_of(APPLY_CHUNKS)
}

fn pipe_of(depth: usize) -> (PipeTx, PipeRx) {
    let (tx, rx) = mpsc::sync_channel(depth);
    let (back, spare) = mpsc::channel();
    (
        PipeTx {
            tx,
            spare,
            hold: None,
        },
        PipeRx {
            rx,
            chunk: Vec::new(),
            at: 0,
            back,
            hold: None,
        },
    )
}

/// A pipe whose reader starts later (a layer decompressed while the layers below it are
/// applied): until then, up to `cap` bytes wait in an unnamed file in `dir`. Without such a file
/// (the directory refuses one), an ordinary pipe.
pub(super) fn held_pipe(dir: &Path, cap: u64) -> (PipeTx, PipeRx) {
    let (mut tx, mut rx) = to_apply();
    if let Ok(file) = tempfile::tempfile_in(dir) {
        let hold = Arc::new(Hold {
            file,
            cap,
            state: Mutex::new(HoldState::default()),
            more: Condvar::new(),
        });
        tx.hold = Some(hold.clone());
        rx.hold = Some(hold);
    }
    (tx, rx)
}

/// Copies `r` into `pipe` in chunks of [`PIPE_CHUNK`] bytes (decoders return small pieces; few,
/// large messages keep the channel cheap). `Ok(false)` when the receiving side hung up; a read
/// error is also sent on, so the receiver meets it where the stream breaks off.
pub(super) fn pump(mut r: impl Read, pipe: &mut PipeTx) -> io::Result<bool> {
    let mut chunk = Vec::new();
    loop {
        if chunk.capacity() == 0 {
            chunk = pipe.buffer();
        }
        chunk.resize(PIPE_CHUNK, 0);
        let mut n = 0;
        let res = loop {
            match r.read(&mut chunk[n..]) {
                Ok(0) => break Ok(()),
                Ok(k) => {
                    n += k;
                    if n == chunk.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if n > 0 {
            chunk.truncate(n);
            match pipe.send(std::mem::take(&mut chunk)) {
                Sent::Queued => {}
                Sent::Held(c) => chunk = c,
                Sent::Gone => return Ok(false),
            }
        }
        match res {
            Ok(()) if n == PIPE_CHUNK => {}
            Ok(()) => return Ok(true),
            Err(e) => {
                pipe.fail(&e);
                return Err(e);
            }
        }
    }
}

/// The reading side of a pipe: a `Read` that ends when the producer is done.
pub(super) struct PipeRx {
    rx: ChunksRx,
    chunk: Vec<u8>,
    at: usize,
    /// Where read chunks go back to the sender.
    back: mpsc::Sender<Vec<u8>>,
    /// A held pipe's file, until it is drained and the producer has moved to the channel.
    hold: Option<Arc<Hold>>,
}

impl PipeRx {
    /// The next piece of a held pipe's file into `self.chunk`: `Ok(false)` once the file is
    /// drained and the rest comes on the channel.
    fn take_held(&mut self) -> io::Result<bool> {
        let Some(hold) = self.hold.clone() else {
            return Ok(false);
        };
        let (at, n) = {
            let mut st = hold.lock();
            st.reading = true;
            loop {
                if st.read < st.written {
                    break (st.read, (st.written - st.read).min(PIPE_CHUNK as u64));
                }
                if st.moved || st.ended {
                    drop(st);
                    self.hold = None;
                    return Ok(false);
                }
                st = hold.more.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        // `n` is at most PIPE_CHUNK.
        let len = usize::try_from(n).unwrap_or(PIPE_CHUNK);
        self.chunk.resize(len, 0);
        // Written before `written` moved past it, and not freed before `read` does.
        hold.file.read_exact_at(&mut self.chunk, at)?;
        self.at = 0;
        let mut st = hold.lock();
        st.read += n;
        if st.read - st.freed >= PUNCH_STEP {
            let (from, to) = (st.freed, st.read);
            st.freed = to;
            drop(st);
            // Memory (tmpfs) or disk given back early; where the file system cannot punch holes,
            // the file keeps them until the layer is done.
            let _ = rustix::fs::fallocate(
                &hold.file,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                from,
                to - from,
            );
        }
        Ok(true)
    }
}

impl Read for PipeRx {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let have = self.fill_buf()?;
        let n = buf.len().min(have.len());
        buf[..n].copy_from_slice(&have[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The chunks are the buffer: a decoder reading through `BufRead` takes its input from them
/// without another copy.
impl BufRead for PipeRx {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.chunk.len() {
            if self.hold.is_some() {
                if self.take_held()? {
                    continue;
                }
                // The file's chunk is not the producer's: start the channel with a fresh one.
                self.chunk = Vec::new();
                self.at = 0;
            }
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    let done = std::mem::replace(&mut self.chunk, c);
                    if done.capacity() > 0 {
                        // A sender that is gone has no use for it.
                        let _ = self.back.send(done);
                    }
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The producer is done (or failed, and says so when joined).
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.chunk[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.chunk.len());
    }
}

/// Passing over bytes is consuming them from the chunks, with no copy.
impl super::layer::Skip for PipeRx {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut done = 0u64;
        while done < n {
            let have = self.fill_buf()?.len();
            if have == 0 {
                break;
            }
            let k = usize::try_from(n - done).map_or(have, |w| w.min(have));
            self.consume(k);
            done += k as u64;
        }
        Ok(done)
    }
}

impl Drop for PipeRx {
    fn drop(&mut self) {
        // A producer still holding chunks for this reader stops at its next one.
        if let Some(hold) = &self.hold {
            hold.lock().hung_up = true;
            hold.more.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of `len` bytes that says where each byte is.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// Pumps `data` through a held pipe whose reader starts at once (`read_early`), or once the
    /// producer is done or has moved to the channel; the bytes the reader gets.
    fn through_held(data: &[u8], cap: u64, read_early: bool) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (mut tx, mut rx) = held_pipe(dir.path(), cap);
        assert!(
            tx.hold.is_some(),
            "a temporary directory takes an unnamed file"
        );
        std::thread::scope(|s| {
            let producer = s.spawn(move || pump(data, &mut tx).unwrap());
            if !read_early {
                // Everything held, or the producer waits on the full channel past the cap.
                while !producer.is_finished() {
                    let st = rx.hold.as_ref().unwrap().lock();
                    if st.moved {
                        break;
                    }
                    drop(st);
                    std::thread::yield_now();
                }
            }
            let mut out = Vec::new();
            rx.read_to_end(&mut out).unwrap();
            assert!(producer.join().unwrap());
            out
        })
    }

    #[test]
    fn a_held_stream_arrives_whole_and_in_order() {
        let data = pattern(5 * PIPE_CHUNK + 1234);
        // All of it held, then read.
        assert_eq!(through_held(&data, u64::MAX, false), data);
        // Held up to the cap (two chunks), the rest on the channel.
        assert_eq!(
            through_held(&data, 2 * PIPE_CHUNK as u64, false),
            data,
            "past the cap"
        );
        // Read while it is produced.
        assert_eq!(through_held(&data, u64::MAX, true), data);
        // Nothing held at all.
        assert_eq!(through_held(&data, 0, false), data);
        assert_eq!(through_held(b"", u64::MAX, false), b"");
    }

    #[test]
    fn read_bytes_of_the_held_file_are_given_back() {
        let data = pattern(3 * PUNCH_STEP as usize + 17);
        let dir = tempfile::tempdir().unwrap();
        let (mut tx, mut rx) = held_pipe(dir.path(), u64::MAX);
        pump(&data[..], &mut tx).unwrap();
        drop(tx);
        let hold = rx.hold.clone().unwrap();
        let mut out = Vec::new();
        rx.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        use std::os::unix::fs::MetadataExt;
        let blocks = hold.file.metadata().unwrap().blocks() * 512;
        assert!(
            blocks <= PUNCH_STEP + PIPE_CHUNK as u64,
            "{blocks} bytes still allocated of {}",
            data.len()
        );
    }

    #[test]
    fn a_reader_that_goes_stops_a_held_producer() {
        let dir = tempfile::tempdir().unwrap();
        let (mut tx, rx) = held_pipe(dir.path(), u64::MAX);
        drop(rx);
        let endless = std::io::repeat(7).take(64 * PIPE_CHUNK as u64);
        assert!(
            !pump(endless, &mut tx).unwrap(),
            "the producer sees the reader gone"
        );
    }

    #[test]
    fn an_error_comes_after_the_held_bytes() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("broken"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(1);
                self.0 -= n;
                Ok(n)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let (mut tx, mut rx) = held_pipe(dir.path(), u64::MAX);
        assert!(pump(Broken(3 * PIPE_CHUNK), &mut tx).is_err());
        drop(tx);
        let mut out = Vec::new();
        let e = rx.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.to_string(), "broken");
        assert_eq!(out.len(), 3 * PIPE_CHUNK, "every byte before the error");
    }
}

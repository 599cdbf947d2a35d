//! The image benchmark's floor (benches/image.sh): decompress layer blobs into a sink, nothing
//! else. Whatever `elfdeps scan oci:IMAGE` costs beyond this is the price of verifying digests,
//! applying the layers and scanning the tree.
//!
//! `cargo build --release --example decompress`, then
//! `decompress [--parallel] [--hash] BLOB...`; prints `bytes=N` (decompressed bytes, all blobs).
//!
//! Each blob is decompressed with the decoders elfdeps uses (flate2 with its zlib-rs backend for
//! gzip, ruzstd for zstd; chosen by the blob's first bytes, anything else is copied as is)
//! through a `BufReader` the way elfdeps reads it. `--parallel` decompresses the blobs on one
//! thread each instead of one after the other; `--hash` also takes the sha256 of every blob as
//! stored, as elfdeps must (the blob's digest), on its own thread per blob as elfdeps does.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

use sha2::{Digest as _, Sha256};

fn decompressed(path: &str, hash: bool) -> io::Result<u64> {
    let file = BufReader::with_capacity(256 << 10, File::open(path)?);
    if !hash {
        return inflate(file);
    }
    // A reader thread hashes the blob and hands chunks on, as elfdeps' pipeline does.
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
    let reader = std::thread::spawn(move || -> io::Result<()> {
        let mut f = file;
        let mut h = Sha256::new();
        loop {
            let mut chunk = vec![0u8; 256 << 10];
            let n = f.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            h.update(&chunk);
            if tx.send(chunk).is_err() {
                break;
            }
        }
        std::hint::black_box(h.finalize());
        Ok(())
    });
    let n = inflate(BufReader::with_capacity(
        256 << 10,
        Chunks {
            rx,
            chunk: Vec::new(),
            at: 0,
        },
    ))?;
    reader.join().expect("reader thread")?;
    Ok(n)
}

fn inflate<R: BufRead>(mut r: R) -> io::Result<u64> {
    let head = r.fill_buf()?.to_vec();
    // The `bufread` gzip decoder takes its input from `r`'s buffer in place, as elfdeps' does.
    let mut dec: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(ruzstd::decoding::StreamingDecoder::new(r).map_err(io::Error::other)?)
    } else {
        Box::new(r)
    };
    // Output in 256 KiB pieces, as elfdeps takes it (io::copy's 8 KiB calls the decoder 32 times
    // as often).
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += std::hint::black_box(n) as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

struct Chunks {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn main() {
    let mut parallel = false;
    let mut hash = false;
    let mut blobs = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--parallel" => parallel = true,
            "--hash" => hash = true,
            _ => blobs.push(a),
        }
    }
    if blobs.is_empty() {
        eprintln!("usage: decompress [--parallel] [--hash] BLOB...");
        std::process::exit(2);
    }
    let results: Vec<io::Result<u64>> = if parallel {
        std::thread::scope(|s| {
            let handles: Vec<_> = blobs
                .iter()
                .map(|b| s.spawn(move || decompressed(b, hash)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("decompression thread"))
                .collect()
        })
    } else {
        blobs.iter().map(|b| decompressed(b, hash)).collect()
    };
    let mut total = 0;
    for (b, r) in blobs.iter().zip(results) {
        match r {
            Ok(n) => total += n,
            Err(e) => {
                eprintln!("decompress: {b}: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("bytes={total}");
}

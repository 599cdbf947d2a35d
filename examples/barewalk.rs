//! The benchmark baseline (benches/compare.sh): a bare parallel walk that opens every regular
//! file and reads its first 64 bytes, and nothing else. Whatever elfdeps costs beyond this is
//! the price of parsing, resolving and reporting.
//!
//! `cargo build --release --example barewalk`, then `barewalk [--jobs N] [--exclude PATH]... DIR`
//! (PATH inside DIR, as `elfdeps scan --exclude` takes it: `/root/.cache` skips DIR/root/.cache;
//! a final `*` matches any rest of the last component, `/work/target-*`); prints
//! `files=N elf=M` (regular files seen, and how many of them start with the ELF magic).
//!
//! It walks the way elfdeps does, so the comparison is fair: one rayon task per directory,
//! symlinks never followed (the entry's own type, from d_type or lstat), FIFOs and devices never
//! opened, regular files opened with O_NONBLOCK | O_NOFOLLOW, no other file system entered. Only
//! rayon, std, and libc for the two open flags.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counts {
    /// Host paths not walked (`--exclude`), each with whether it ends in `*` (a prefix).
    exclude: Vec<(PathBuf, bool)>,
    files: AtomicU64,
    elf: AtomicU64,
    errors: AtomicU64,
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let mut jobs: Option<usize> = None;
    let mut dir: Option<PathBuf> = None;
    let mut excluded: Vec<String> = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--jobs" || arg == "-j" {
            let n = args.next().and_then(|n| n.to_str()?.parse().ok());
            jobs = Some(n.filter(|&n| n > 0).unwrap_or_else(|| usage()));
        } else if arg == "--exclude" {
            let p = args.next().and_then(|p| p.into_string().ok());
            excluded.push(p.filter(|p| p.starts_with('/')).unwrap_or_else(|| usage()));
        } else if dir.is_none() && !arg.to_string_lossy().starts_with('-') {
            dir = Some(PathBuf::from(arg));
        } else {
            usage();
        }
    }
    let dir = dir.unwrap_or_else(|| usage());
    // The root itself may be a symlink (as for scanelf, a name given on the command line is
    // followed); nothing below it is.
    let dev = match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => m.dev(),
        Ok(_) => fail(&format!("{}: not a directory", dir.display())),
        Err(e) => fail(&format!("{}: {e}", dir.display())),
    };

    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = jobs {
        pool = pool.num_threads(n);
    }
    let pool = pool
        .build()
        .unwrap_or_else(|e| fail(&format!("thread pool: {e}")));
    let exclude = excluded
        .iter()
        .map(|p| {
            let (p, prefix) = p.strip_suffix('*').map_or((&p[..], false), |p| (p, true));
            (dir.join(p.trim_start_matches('/')), prefix)
        })
        .collect();
    let counts = Counts {
        exclude,
        files: AtomicU64::new(0),
        elf: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    };
    pool.scope(|s| walk(s, &counts, dev, dir));

    let errors = counts.errors.load(Ordering::Relaxed);
    if errors > 0 {
        // Not on stdout: its one line is the result.
        eprintln!("barewalk: {errors} entries could not be read");
    }
    println!(
        "files={} elf={}",
        counts.files.load(Ordering::Relaxed),
        counts.elf.load(Ordering::Relaxed)
    );
}

/// Lists `dir`, hands each subdirectory on the same file system to its own task, then reads the
/// regular files (after handing out the subdirectories, so other threads have work meanwhile).
fn walk<'s>(s: &rayon::Scope<'s>, counts: &'s Counts, dev: u64, dir: PathBuf) {
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(_) => {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let path = entry.path();
        if counts.exclude.iter().any(|(x, prefix)| {
            if *prefix {
                path.as_os_str()
                    .as_encoded_bytes()
                    .starts_with(x.as_os_str().as_encoded_bytes())
            } else {
                path == *x
            }
        }) {
            continue;
        }
        // d_type, or lstat when the file system leaves it unknown: a symlink is a symlink.
        let Ok(ft) = entry.file_type() else {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if ft.is_dir() {
            // lstat (DirEntry::metadata does not follow): a mount point has another st_dev.
            match entry.metadata() {
                Ok(m) if m.dev() == dev => {
                    s.spawn(move |s| walk(s, counts, dev, path));
                }
                Ok(_) => {}
                Err(_) => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if ft.is_file() {
            files.push(path);
        }
        // Symlinks, FIFOs, sockets and devices: not followed, not opened.
    }
    for path in files {
        counts.files.fetch_add(1, Ordering::Relaxed);
        match head(&path) {
            Ok(true) => {
                counts.elf.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(_) => {
                counts.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Opens `path` as elfdeps would (never blocking on a FIFO swapped in after the listing, never
/// following a symlink swapped in) and reads up to 64 bytes: does it start with the ELF magic?
fn head(path: &Path) -> std::io::Result<bool> {
    let mut f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf[..n].starts_with(b"\x7fELF"))
}

fn usage() -> ! {
    fail("usage: barewalk [--jobs N] [--exclude /PATH]... DIR")
}

fn fail(message: &str) -> ! {
    eprintln!("barewalk: {message}");
    std::process::exit(2);
}

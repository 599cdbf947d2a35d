//! Benchmark of the library's scan over a real tree (`cargo bench --bench scan [-- DIR]`).
//!
//! Plain timing, no framework: the tree is scanned once to warm the page cache, then RUNS times
//! (env `RUNS`, default 5); min and median wall time and throughput are printed. The default tree is
//! the machine's /usr (100k+ files on a Debian machine with a toolchain). For the comparison with
//! scanelf and a bare parallel walk, see benches/compare.sh.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use elfdeps::progress::Progress;
use elfdeps::scan::{ScanOptions, scan};

fn main() {
    // `cargo bench` passes `--bench`; the first other argument is the tree.
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr"));
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let opts = ScanOptions::default();
    let warm = scan(&dir, &opts, &Progress::hidden()).unwrap_or_else(|e| {
        eprintln!("bench: {e}");
        std::process::exit(2);
    });
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let r = scan(&dir, &opts, &Progress::hidden());
            let took = t.elapsed();
            assert!(r.is_ok());
            took
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let files = warm.summary.files;
    println!(
        "scan {}: {} files, {} ELF; min {:.1} ms, median {:.1} ms over {runs} runs; {:.0} files/s",
        dir.display(),
        files,
        warm.summary.elf,
        times[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        files as f64 / median.as_secs_f64()
    );
}

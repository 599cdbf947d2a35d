//! A synthetic root filesystem for the scale benchmark (benches/scale.sh), generated at bench time.
//!
//! `cargo build --release --example synthroot`, then
//! `synthroot OUT NFILES [--seed S] [--jobs N] [--force]` (NFILES may end in k or M: 100k, 1M).
//!
//! OUT gets exactly NFILES regular files, deterministically for a given NFILES, seed and host:
//! - a runnable-looking layout: `/bin`, `/sbin`, `/lib`, `/lib64` as symlinks into `/usr`, the
//!   loader's path (e.g. `/lib64/ld-linux-x86-64.so.2`) as a symlink to the loader, `/etc` with
//!   `ld.so.conf` (and `ld.so.cache`, from the host's `ldconfig -X -r OUT` when it can run);
//! - ELF files copied from the host (never committed anywhere): its loader and libc, then
//!   programs of its `/usr/bin` and `/usr/sbin` with the libraries of its multiarch directory they
//!   need (closed: every NEEDED name is there; programs with an RPATH or RUNPATH, and files over
//!   8 MiB, are left out), each under its own name with the host's symlinks to it (sonames), for
//!   up to a third of the ELF files; then copies of the ones up to 512 KiB placed around the tree,
//!   as vendored software is. NFILES/20 ELF files in all, at most 4000;
//! - symlinks, about one per 20 regular files: to sibling files, to programs and libraries by
//!   absolute path, to directories, dangling, and pairs that point at each other;
//! - everything else small non-ELF files (100 bytes to 4 KiB, log-uniform; text, scripts, JSON,
//!   binary data) in directories both wide (a tenth of them in directories of 2,000 to 8,000
//!   entries) and deep (chains of 32 to 48 levels, one of 96), the rest in a random tree of
//!   ordinary directories (a few to a few dozen entries, up to about 13 levels).
//!
//! OUT must be missing, empty, or made by this program: it writes a marker file (`.synthroot`,
//! one of the NFILES), and refuses a non-empty directory without it. A complete root with the same
//! NFILES and seed is kept as it is ("up to date"); any other root it made is emptied first, as
//! with `--force`. The files are written in parallel (rayon; `--jobs`, default one per core); the
//! marker ends with what was made (counts, deepest and widest directory, bytes).
//!
//! Only std, rayon, and `object` for the host files' NEEDED names and loader.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use object::elf;
use object::read::elf::{FileHeader as _, ProgramHeader as _};
use rayon::prelude::*;

const MARKER: &str = ".synthroot";
/// The marker's first line; another generator version makes another root.
const MAGIC: &str = "elfdeps synthroot 1";
/// Largest host file taken as a system program or library (larger ones, and what needs them,
/// are left out).
const MAX_SYSTEM_ELF: u64 = 8 << 20;
/// Largest file copied again as a vendored copy.
const MAX_VENDORED_ELF: u64 = 512 << 10;
/// Most ELF files in a root.
const MAX_ELF: u64 = 4000;
/// The programs taken first, when the host has them: a shell and the usual suspects.
const PREFERRED: [&str; 7] = ["dash", "bash", "ls", "cat", "env", "curl", "ldconfig"];
/// The top-level symlinks of a merged-/usr layout.
const MERGED: [&str; 4] = ["bin", "sbin", "lib", "lib64"];

const WORDS: [&str; 48] = [
    "alpha", "bravo", "cache", "delta", "echo", "fox", "gamma", "hotel", "index", "juliet", "kilo",
    "lima", "mike", "nova", "oscar", "papa", "quartz", "romeo", "sierra", "tango", "umbra",
    "victor", "whiskey", "xray", "yankee", "zulu", "data", "module", "locale", "theme", "icon",
    "schema", "plugin", "vendor", "build", "share", "doc", "man", "config", "static", "asset",
    "report", "record", "table", "layer", "chunk", "blob", "entry",
];
const EXTS: [&str; 16] = [
    "txt", "md", "json", "py", "h", "c", "html", "css", "js", "xml", "conf", "sh", "dat", "bin",
    "mo", "gz",
];
/// Where the bulk of the files go, and in what proportions.
const AREAS: [(&str, u64); 7] = [
    ("usr/share", 35),
    ("usr/lib/python3/dist-packages", 15),
    ("usr/include", 5),
    ("opt", 15),
    ("home", 10),
    ("var/lib", 10),
    ("srv/data", 10),
];
const WIDE_PARENTS: [&str; 4] = [
    "var/cache/wide",
    "usr/share/wide",
    "srv/www/wide",
    "home/wide",
];

fn main() {
    let args = parse_args();
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .unwrap_or_else(|e| fail(&format!("thread pool: {e}")));
    }
    let start = Instant::now();
    if !prepare_out(&args) {
        return;
    }
    let out = fs::canonicalize(&args.out)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", args.out.display())));
    let host = Host::discover().unwrap_or_else(|e| fail(&e));
    let plan = Plan::build(&host, args.nfiles, args.seed);
    let planned = plan.regular_files();
    if planned != args.nfiles {
        fail(&format!(
            "internal error: planned {planned} regular files, not {}",
            args.nfiles
        ));
    }
    write_marker(&out, &args, "incomplete", "");
    let bytes = plan.write(&host, &out).unwrap_or_else(|e| fail(&e));
    let cache = ldconfig(&out);
    let stats = format!(
        "regular files: {} ({} ELF: {} from the host's system, {} vendored copies)\n\
         symlinks: {}\ndirectories: {}\ndeepest directory: {} levels\n\
         widest directory: {} entries\nbytes written: {}\nld.so.cache: {cache}\n\
         host library directory: /{}\n",
        args.nfiles,
        plan.system.len() as u64 + plan.vendored,
        plan.system.len(),
        plan.vendored,
        plan.symlinks(),
        plan.dirs.len(),
        plan.deepest(),
        plan.widest(),
        bytes,
        host.libdir_rel,
    );
    write_marker(&out, &args, "complete", &stats);
    eprint!(
        "synthroot: {} in {:.1} s\n{}",
        out.display(),
        start.elapsed().as_secs_f64(),
        stats
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
}

struct Args {
    out: PathBuf,
    nfiles: u64,
    seed: u64,
    jobs: Option<usize>,
    force: bool,
}

fn parse_args() -> Args {
    let mut args = std::env::args_os().skip(1);
    let mut positional = Vec::new();
    let (mut seed, mut jobs, mut force) = (1, None, false);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--seed") => {
                seed = args
                    .next()
                    .and_then(|s| s.to_str()?.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            Some("--jobs" | "-j") => {
                let n = args.next().and_then(|n| n.to_str()?.parse().ok());
                jobs = Some(n.filter(|&n| n > 0).unwrap_or_else(|| usage()));
            }
            Some("--force") => force = true,
            Some(s) if s.starts_with('-') => usage(),
            _ => positional.push(arg),
        }
    }
    let [out, n] = <[_; 2]>::try_from(positional).unwrap_or_else(|_| usage());
    let nfiles = n.to_str().and_then(parse_count).unwrap_or_else(|| usage());
    if nfiles < 1000 {
        fail("NFILES must be at least 1000");
    }
    Args {
        out: PathBuf::from(out),
        nfiles,
        seed,
        jobs,
        force,
    }
}

/// `1000`, `100k`, `1M`.
fn parse_count(s: &str) -> Option<u64> {
    let (digits, scale) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1_000),
        b'm' | b'M' => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

fn usage() -> ! {
    fail("usage: synthroot OUT NFILES [--seed S] [--jobs N] [--force]   (NFILES >= 1000; 100k, 1M)")
}

fn fail(message: &str) -> ! {
    eprintln!("synthroot: {message}");
    std::process::exit(2);
}

/// Makes OUT ready to be written: false when it already holds the root asked for.
fn prepare_out(args: &Args) -> bool {
    let out = &args.out;
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(out).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
            return true;
        }
        Err(e) => fail(&format!("{}: {e}", out.display())),
        Ok(m) if !m.is_dir() => fail(&format!("{}: not a directory", out.display())),
        Ok(_) => {}
    }
    let entries: Vec<_> = fs::read_dir(out)
        .and_then(|rd| rd.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
    if entries.is_empty() {
        return true;
    }
    let marker = fs::read_to_string(out.join(MARKER)).unwrap_or_default();
    let mut lines = marker.lines();
    if lines.next() != Some(MAGIC) {
        fail(&format!(
            "{}: not empty and not made by synthroot {} (no {MARKER} marker); not writing there",
            out.display(),
            MAGIC.rsplit(' ').next().unwrap_or_default()
        ));
    }
    let fields: HashMap<&str, &str> = lines.filter_map(|l| l.split_once('=')).collect();
    let same = fields.get("nfiles") == Some(&args.nfiles.to_string().as_str())
        && fields.get("seed") == Some(&args.seed.to_string().as_str());
    if same && fields.get("state") == Some(&"complete") && !args.force {
        eprintln!(
            "synthroot: {}: up to date ({} files, seed {})",
            out.display(),
            args.nfiles,
            args.seed
        );
        return false;
    }
    eprintln!("synthroot: {}: emptying the previous root", out.display());
    // The marker goes last: an interrupted removal still leaves a directory we may empty.
    entries
        .par_iter()
        .filter(|e| e.file_name() != MARKER)
        .try_for_each(|e| {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            }
            .map_err(|err| format!("{}: {err}", path.display()))
        })
        .unwrap_or_else(|e| fail(&e));
    fs::remove_file(out.join(MARKER)).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
    true
}

fn write_marker(out: &Path, args: &Args, state: &str, stats: &str) {
    let text = format!(
        "{MAGIC}\nnfiles={}\nseed={}\nstate={state}\n{stats}",
        args.nfiles, args.seed
    );
    fs::write(out.join(MARKER), text)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", out.join(MARKER).display())));
}

/// The host's `ldconfig -X -r OUT` writes OUT/etc/ld.so.cache (from OUT's ld.so.conf). When it
/// cannot (no ldconfig, not root), `etc/ld.so.nocache` says why, so the count stays NFILES.
fn ldconfig(out: &Path) -> String {
    let found = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let why = match found {
        None => "no ldconfig on the host".to_string(),
        Some(ldconfig) => match Command::new(ldconfig).arg("-X").arg("-r").arg(out).output() {
            Ok(o) if o.status.success() && out.join("etc/ld.so.cache").is_file() => {
                // Its auxiliary cache would be a file more than planned.
                let aux = out.join("var/cache/ldconfig");
                let _ = fs::remove_file(aux.join("aux-cache"));
                let _ = fs::remove_dir(aux);
                return format!("written by {ldconfig} -X -r");
            }
            Ok(o) => format!(
                "{ldconfig} -X -r failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("{ldconfig}: {e}"),
        },
    };
    eprintln!("synthroot: no ld.so.cache: {why}");
    let _ = fs::remove_file(out.join("etc/ld.so.cache"));
    fs::write(out.join("etc/ld.so.nocache"), format!("{why}\n"))
        .unwrap_or_else(|e| fail(&format!("etc/ld.so.nocache: {e}")));
    format!("none ({why})")
}

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// In `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// In `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An ELF file of the host.
struct Obj {
    host: PathBuf,
    name: String,
    size: u64,
    needed: Vec<String>,
    interp: Option<String>,
    /// Has an RPATH or RUNPATH (programs with one are left out: they look outside the library
    /// directory).
    search_path: bool,
    /// Where it goes in the synthetic root (a program's directory, or the library directory).
    dir: String,
    program: bool,
}

struct Host {
    objs: Vec<Obj>,
    /// The host's library directory, relative: `usr/lib/x86_64-linux-gnu`.
    libdir_rel: String,
    /// The loader's path, as programs name it: `/lib64/ld-linux-x86-64.so.2`.
    interp: String,
    ldso: usize,
    libc: usize,
    programs: Vec<usize>,
    /// A name of the library directory (a file or a symlink to one) to the object.
    by_name: HashMap<String, usize>,
    /// The library directory's symlinks to each object: (object, link name).
    aliases: Vec<(usize, String)>,
}

impl Host {
    fn discover() -> Result<Host, String> {
        let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib")
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| file_name(p).ends_with("-linux-gnu"))
                    .collect()
            })
            .unwrap_or_default();
        candidates.sort();
        candidates.extend(["/usr/lib64", "/lib64", "/usr/lib"].map(PathBuf::from));
        let libdir = candidates
            .iter()
            .find(|d| d.join("libc.so.6").exists())
            .ok_or("no libc.so.6 on this host (a glibc host is needed for the ELF copies)")?;
        let libdir = fs::canonicalize(libdir).map_err(|e| format!("{}: {e}", libdir.display()))?;
        let libdir_name = file_name(&libdir).to_string();
        let libdir_rel = if libdir_name.ends_with("-linux-gnu") {
            format!("usr/lib/{libdir_name}")
        } else if libdir_name == "lib64" {
            "usr/lib64".to_string()
        } else {
            "usr/lib".to_string()
        };

        let mut objs = Vec::new();
        let mut links = Vec::new();
        for path in sorted_entries(&libdir) {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                if let Ok(target) = fs::canonicalize(&path)
                    && target.parent() == Some(libdir.as_path())
                {
                    links.push((file_name(&path).to_string(), file_name(&target).to_string()));
                }
            } else if let Some(obj) = inspect(&path, &libdir_rel, false) {
                objs.push(obj);
            }
        }
        let find = |objs: &[Obj], name: &str| objs.iter().position(|o| o.name == name);
        let libc_name = fs::canonicalize(libdir.join("libc.so.6"))
            .map(|p| file_name(&p).to_string())
            .map_err(|e| format!("libc.so.6: {e}"))?;
        let libc =
            find(&objs, &libc_name).ok_or("libc.so.6 is not an ELF file of this host's kind")?;
        let interp = objs[libc]
            .interp
            .clone()
            .ok_or("the host's libc.so.6 names no loader (PT_INTERP)")?;
        let ldso_real = fs::canonicalize(&interp).map_err(|e| format!("{interp}: {e}"))?;
        let ldso = match find(&objs, file_name(&ldso_real)) {
            Some(i) if ldso_real.parent() == Some(libdir.as_path()) => i,
            _ => {
                objs.push(
                    inspect(&ldso_real, &libdir_rel, false).ok_or("the loader is unreadable")?,
                );
                objs.len() - 1
            }
        };
        let machine = elf_kind(&objs[libc].host);

        let mut by_name: HashMap<String, usize> = objs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.clone(), i))
            .collect();
        let mut aliases = Vec::new();
        for (link, target) in links {
            if let Some(&i) = by_name.get(&target) {
                by_name.entry(link.clone()).or_insert(i);
                aliases.push((i, link));
            }
        }

        let mut programs = Vec::new();
        for bindir in ["usr/bin", "usr/sbin"] {
            for path in sorted_entries(Path::new(&format!("/{bindir}"))) {
                let Some(obj) = inspect(&path, bindir, true) else {
                    continue;
                };
                let statik = obj.interp.is_none() && obj.needed.is_empty();
                if (statik || obj.interp.as_deref() == Some(&interp))
                    && !obj.search_path
                    && elf_kind(&path) == machine
                {
                    programs.push(objs.len());
                    objs.push(obj);
                }
            }
        }
        Ok(Host {
            objs,
            libdir_rel,
            interp,
            ldso,
            libc,
            programs,
            by_name,
            aliases,
        })
    }

    /// `root` and every library it needs, transitively, or None when one is not in the library
    /// directory (or too large to be taken).
    fn closure(&self, root: usize) -> Option<Vec<usize>> {
        let mut all = vec![root];
        let mut seen: HashSet<usize> = all.iter().copied().collect();
        let mut next = 0;
        while next < all.len() {
            for name in &self.objs[all[next]].needed {
                let &lib = self.by_name.get(name)?;
                if seen.insert(lib) {
                    all.push(lib);
                }
            }
            next += 1;
        }
        Some(all)
    }
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// (class, data, machine) from an ELF header.
fn elf_kind(path: &Path) -> Option<(u8, u8, u16)> {
    let mut head = [0u8; 20];
    File::open(path).ok()?.read_exact(&mut head).ok()?;
    let machine = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    Some((head[4], head[5], machine))
}

/// A regular 64-bit ELF file of at most MAX_SYSTEM_ELF bytes with a name that is plain UTF-8,
/// parsed (with `object`, as elfdeps does) for its NEEDED names and loader.
fn inspect(path: &Path, dir: &str, program: bool) -> Option<Obj> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_SYSTEM_ELF || meta.len() < 64 {
        return None;
    }
    let mut f = File::open(path).ok()?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic).ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    let mut bytes = magic.to_vec();
    f.read_to_end(&mut bytes).ok()?;
    let (needed, interp, search_path) = dynamic_facts(&bytes)?;
    let name = path.file_name()?.to_str()?.to_string();
    Some(Obj {
        host: path.to_path_buf(),
        name,
        size: meta.len(),
        needed,
        interp,
        search_path,
        dir: dir.to_string(),
        program,
    })
}

/// A 64-bit ELF file's NEEDED names, loader (PT_INTERP), and whether it has an RPATH or RUNPATH.
fn dynamic_facts(bytes: &[u8]) -> Option<(Vec<String>, Option<String>, bool)> {
    let header = elf::FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let mut interp = None;
    for ph in header.program_headers(endian, bytes).ok()? {
        if let Some(path) = ph.interpreter(endian, bytes).ok()? {
            interp = Some(std::str::from_utf8(path).ok()?.to_string());
        }
    }
    let table = header
        .sections(endian, bytes)
        .ok()?
        .dynamic_table(endian, bytes)
        .ok()?;
    let mut needed = Vec::new();
    let mut search_path = false;
    for d in table.iter() {
        if d.tag == elf::DT_NEEDED {
            needed.push(std::str::from_utf8(table.string(d).ok()?).ok()?.to_string());
        } else if d.tag == elf::DT_RPATH || d.tag == elf::DT_RUNPATH {
            search_path = true;
        }
    }
    Some((needed, interp, search_path))
}

/// The name of generated file `j` of a directory with seed `seed`: `word_00042.ext`.
fn generated_name(seed: u64, j: u32) -> String {
    let h = mix(seed ^ mix(u64::from(j)));
    let word = WORDS[(h % WORDS.len() as u64) as usize];
    let ext = EXTS[((h >> 32) % EXTS.len() as u64) as usize];
    format!("{word}_{j:05}.{ext}")
}

/// Could `name` be a generated name (so another entry must not take it)?
fn looks_generated(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let Some((word, digits)) = stem.rsplit_once('_') else {
        return false;
    };
    EXTS.contains(&ext)
        && WORDS.contains(&word)
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Default)]
struct Dir {
    /// Relative to the root, '/'-separated; "" is the root.
    rel: String,
    seed: u64,
    /// Generated non-ELF files.
    files: u32,
    elf: Vec<(String, usize)>,
    links: Vec<(String, String)>,
    fixed: Vec<(String, String)>,
    /// Names taken by `elf`, `links` and `fixed`.
    taken: HashSet<String>,
}

struct Plan {
    dirs: Vec<Dir>,
    index: HashMap<String, usize>,
    system: Vec<usize>,
    vendored: u64,
    seed: u64,
}

impl Plan {
    fn build(host: &Host, nfiles: u64, seed: u64) -> Plan {
        let mut rng = Rng(seed);
        let mut plan = Plan {
            dirs: Vec::new(),
            index: HashMap::new(),
            system: Vec::new(),
            vendored: 0,
            seed,
        };
        let root = plan.dir("");

        // The layout.
        for top in MERGED {
            plan.link(root, top, &format!("usr/{top}"));
        }
        for d in [
            "usr/bin",
            "usr/sbin",
            "usr/local/bin",
            "usr/local/lib",
            "etc",
            "tmp",
            "root",
            "dev",
            "proc",
            "sys",
            "run",
            "var/log",
            "var/tmp",
        ] {
            plan.dir(d);
        }
        let libdir = plan.dir(&host.libdir_rel);
        let etc = plan.dir("etc");
        plan.fixed(etc, "ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
        let conf_d = plan.dir("etc/ld.so.conf.d");
        plan.fixed(conf_d, "libc.conf", "/usr/local/lib\n");
        let ma = host.libdir_rel.strip_prefix("usr/lib/");
        match ma {
            Some(ma) => plan.fixed(
                conf_d,
                &format!("{ma}.conf"),
                &format!("/usr/local/lib/{ma}\n/lib/{ma}\n/usr/lib/{ma}\n"),
            ),
            None => plan.fixed(conf_d, "system.conf", &format!("/{}\n", host.libdir_rel)),
        }
        plan.fixed(
            etc,
            "os-release",
            "PRETTY_NAME=\"elfdeps synthetic root\"\nNAME=synthroot\nID=synthroot\n",
        );
        plan.fixed(etc, "hostname", "synthroot\n");
        plan.fixed(etc, "passwd", "root:x:0:0:root:/root:/bin/sh\n");
        plan.fixed(etc, "group", "root:x:0:\n");
        // The marker, and ld.so.cache (or ld.so.nocache), are written outside the plan.
        let outside = 2;

        // The system: the loader, libc, then whole programs with their libraries.
        let elf_total = (nfiles / 20).min(MAX_ELF);
        let system_budget = (elf_total / 3).max(2) as usize;
        let mut chosen: HashSet<usize> = HashSet::new();
        let take = |objs: &[usize], plan: &mut Plan, chosen: &mut HashSet<usize>| {
            let mut new: Vec<usize> = Vec::new();
            for &o in objs {
                if !chosen.contains(&o) && !new.contains(&o) {
                    new.push(o);
                }
            }
            if plan.system.len() + new.len() <= system_budget {
                for o in new {
                    chosen.insert(o);
                    plan.system.push(o);
                }
            }
        };
        let base: Vec<usize> = [host.ldso, host.libc]
            .into_iter()
            .filter_map(|o| host.closure(o))
            .flatten()
            .collect();
        take(&base, &mut plan, &mut chosen);
        let mut order: Vec<usize> = host.programs.clone();
        rng.shuffle(&mut order);
        order.sort_by_key(|&p| {
            PREFERRED
                .iter()
                .position(|&n| n == host.objs[p].name)
                .unwrap_or(PREFERRED.len())
        });
        for p in order {
            if let Some(objs) = host.closure(p) {
                take(&objs, &mut plan, &mut chosen);
            }
        }
        for &o in &plan.system.clone() {
            let d = plan.dir(&host.objs[o].dir);
            plan.elf(d, &host.objs[o].name, o);
        }
        for (o, link) in &host.aliases {
            if chosen.contains(o) {
                plan.link(libdir, link, &host.objs[*o].name);
            }
        }
        // The loader where programs look for it, unless the library directory is that place.
        let interp_rel = in_merged_layout(&host.interp);
        let ldso_rel = format!("{}/{}", host.libdir_rel, host.objs[host.ldso].name);
        if interp_rel != ldso_rel
            && let Some((parent, name)) = interp_rel.rsplit_once('/')
        {
            let d = plan.dir(parent);
            plan.link(d, name, &format!("/{ldso_rel}"));
        }
        let bin = plan.dir("usr/bin");
        for shell in ["dash", "bash"] {
            if plan.dirs[bin].taken.contains(shell) {
                plan.link(bin, "sh", shell);
                break;
            }
        }

        // The generated files: wide directories, deep chains, then the bulk.
        let fixed: u64 = plan.dirs.iter().map(|d| d.fixed.len() as u64).sum::<u64>() + outside;
        let system = plan.system.len() as u64;
        let vendored = elf_total.saturating_sub(system);
        let rest = nfiles - fixed - system - vendored;
        plan.vendored = vendored;

        let wide_budget = if rest >= 20_000 { rest / 10 } else { rest / 5 };
        let mut wide = Vec::new();
        let mut left = wide_budget;
        while left > 0 {
            let n = if left < 4000 {
                left
            } else {
                rng.range(2000, 8001).min(left)
            };
            let k = wide.len();
            let rel = format!(
                "{}-{:02}/{}",
                WIDE_PARENTS[k % 4],
                k / 4,
                WORDS[k % WORDS.len()]
            );
            let d = plan.dir(&rel);
            plan.dirs[d].files = n as u32;
            wide.push(d);
            left -= n;
        }

        let deep_budget = (rest * 3 / 100).max((rest / 10).min(300));
        let mut deep = Vec::new();
        let mut bottoms = Vec::new();
        let mut left = deep_budget;
        let mut chain = 0;
        while left > 0 {
            let depth = if chain == 0 { 96 } else { rng.range(32, 49) };
            let mut rel = format!("srv/deep/chain-{chain:03}");
            for level in 1..=depth {
                let word = WORDS[rng.below(WORDS.len() as u64) as usize];
                rel = format!("{rel}/{word}-{level}");
                let d = plan.dir(&rel);
                let n = rng.below(3).min(left);
                plan.dirs[d].files = n as u32;
                left -= n;
                deep.push(d);
            }
            bottoms.push(deep[deep.len() - 1]);
            chain += 1;
        }

        let bulk_budget = rest - wide_budget - deep_budget;
        let weights: u64 = AREAS.iter().map(|a| a.1).sum();
        let mut bulk = Vec::new();
        let mut given = 0;
        for (i, (area, w)) in AREAS.iter().enumerate() {
            let share = if i == AREAS.len() - 1 {
                bulk_budget - given
            } else {
                bulk_budget * w / weights
            };
            given += share;
            plan.grow(&mut rng, area, share, 0, &mut bulk);
        }

        // Vendored copies of the smaller system files.
        let mut small: Vec<usize> = plan
            .system
            .iter()
            .copied()
            .filter(|&o| host.objs[o].size <= MAX_VENDORED_ELF)
            .collect();
        if small.is_empty() {
            small = plan.system.clone();
        }
        for i in 0..vendored {
            let o = small[rng.below(small.len() as u64) as usize];
            let p = rng.below(100);
            let d = if p < 15 {
                let kind = if host.objs[o].program { "bin" } else { "lib" };
                plan.dir(&format!("opt/vendor-{:03}/{kind}", i / 50))
            } else if p < 25 {
                wide[rng.below(wide.len() as u64) as usize]
            } else if p < 35 {
                bottoms[rng.below(bottoms.len() as u64) as usize]
            } else {
                bulk[rng.below(bulk.len() as u64) as usize]
            };
            plan.elf(d, &host.objs[o].name, o);
        }

        // Symlinks, to about one per 20 regular files.
        let programs: Vec<&str> = plan
            .system
            .iter()
            .filter(|&&o| host.objs[o].program)
            .map(|&o| host.objs[o].name.as_str())
            .collect();
        let libs: Vec<&str> = plan
            .system
            .iter()
            .filter(|&&o| !host.objs[o].program)
            .map(|&o| host.objs[o].name.as_str())
            .collect();
        let mut links = plan.symlinks();
        let mut i = 0u64;
        while links < nfiles / 20 {
            i += 1;
            let p = rng.below(100);
            let d = if p < 70 {
                bulk[rng.below(bulk.len() as u64) as usize]
            } else if p < 80 {
                wide[rng.below(wide.len() as u64) as usize]
            } else {
                deep[rng.below(deep.len() as u64) as usize]
            };
            let name = format!("link-{i}");
            let dir = &plan.dirs[d];
            let target = match rng.below(100) {
                0..45 if dir.files > 0 => {
                    generated_name(dir.seed, rng.below(u64::from(dir.files)) as u32)
                }
                45..60 if !programs.is_empty() => format!(
                    "/usr/bin/{}",
                    programs[rng.below(programs.len() as u64) as usize]
                ),
                60..70 => format!(
                    "/{}/{}",
                    host.libdir_rel,
                    libs[rng.below(libs.len() as u64) as usize]
                ),
                70..78 if !dir.elf.is_empty() => {
                    dir.elf[rng.below(dir.elf.len() as u64) as usize].0.clone()
                }
                88..91 => "..".to_string(),
                91..94 => format!("/{}", host.libdir_rel),
                94..100 => {
                    // A pair pointing at each other.
                    let other = format!("link-{i}-loop");
                    plan.link(d, &other, &name);
                    links += 1;
                    other
                }
                _ => format!("missing-{i}"),
            };
            plan.link(d, &name, &target);
            links += 1;
        }
        plan
    }

    /// The directory `rel` (and its parents), created in the plan when new.
    fn dir(&mut self, rel: &str) -> usize {
        if let Some(&i) = self.index.get(rel) {
            return i;
        }
        if let Some((parent, _)) = rel.rsplit_once('/') {
            self.dir(parent);
        } else if !rel.is_empty() {
            self.dir("");
        }
        let i = self.dirs.len();
        self.dirs.push(Dir {
            rel: rel.to_string(),
            seed: mix(self.seed ^ mix(i as u64 + 1)),
            ..Dir::default()
        });
        self.index.insert(rel.to_string(), i);
        i
    }

    /// A name of directory `d` no other entry has, from `name`.
    fn unique(&mut self, d: usize, name: &str) -> String {
        let dir = &mut self.dirs[d];
        let mut candidate = name.to_string();
        let mut n = 1;
        while looks_generated(&candidate)
            || dir.taken.contains(&candidate)
            || self.index.contains_key(&join(&dir.rel, &candidate))
        {
            n += 1;
            candidate = format!("{name}-{n}");
        }
        dir.taken.insert(candidate.clone());
        candidate
    }

    fn elf(&mut self, d: usize, name: &str, obj: usize) {
        let name = self.unique(d, name);
        self.dirs[d].elf.push((name, obj));
    }

    fn link(&mut self, d: usize, name: &str, target: &str) {
        let name = self.unique(d, name);
        self.dirs[d].links.push((name, target.to_string()));
    }

    fn fixed(&mut self, d: usize, name: &str, text: &str) {
        let name = self.unique(d, name);
        self.dirs[d].fixed.push((name, text.to_string()));
    }

    /// A random tree of ordinary directories holding `budget` generated files under `rel`.
    fn grow(&mut self, rng: &mut Rng, rel: &str, budget: u64, depth: u32, out: &mut Vec<usize>) {
        let d = self.dir(rel);
        out.push(d);
        let leaf = rng.range(8, 64);
        if budget <= leaf || depth >= 9 {
            self.dirs[d].files += budget as u32;
            return;
        }
        let own = rng.below(16).min(budget);
        self.dirs[d].files += own as u32;
        let rest = budget - own;
        let weights: Vec<u64> = (0..rng.range(2, 17)).map(|_| rng.range(1, 100)).collect();
        let total: u64 = weights.iter().sum();
        let mut given = 0;
        for (j, w) in weights.iter().enumerate() {
            let share = if j == weights.len() - 1 {
                rest - given
            } else {
                rest * w / total
            };
            given += share;
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            let name = format!("{word}{j}");
            self.grow(rng, &join(rel, &name), share, depth + 1, out);
        }
    }

    fn regular_files(&self) -> u64 {
        let outside = 2; // the marker, ld.so.cache or ld.so.nocache
        outside
            + self
                .dirs
                .iter()
                .map(|d| u64::from(d.files) + d.elf.len() as u64 + d.fixed.len() as u64)
                .sum::<u64>()
    }

    fn symlinks(&self) -> u64 {
        self.dirs.iter().map(|d| d.links.len() as u64).sum()
    }

    fn deepest(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| {
                if d.rel.is_empty() {
                    0
                } else {
                    d.rel.split('/').count()
                }
            })
            .max()
            .unwrap_or(0)
    }

    fn widest(&self) -> usize {
        let mut subdirs: HashMap<&str, usize> = HashMap::new();
        for d in &self.dirs {
            if let Some((parent, _)) = d.rel.rsplit_once('/') {
                *subdirs.entry(parent).or_default() += 1;
            } else if !d.rel.is_empty() {
                *subdirs.entry("").or_default() += 1;
            }
        }
        self.dirs
            .iter()
            .map(|d| {
                d.files as usize
                    + d.elf.len()
                    + d.links.len()
                    + d.fixed.len()
                    + subdirs.get(d.rel.as_str()).copied().unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }

    /// Writes every directory, in parallel; the bytes written.
    fn write(&self, host: &Host, out: &Path) -> Result<u64, String> {
        let bytes = AtomicU64::new(0);
        self.dirs.par_iter().try_for_each_init(Vec::new, |buf, d| {
            let dir = out.join(&d.rel);
            let err = |what: &str, e: std::io::Error| format!("{}: {e}", dir.join(what).display());
            fs::create_dir_all(&dir).map_err(|e| err("", e))?;
            let mut written = 0;
            for j in 0..d.files {
                let name = generated_name(d.seed, j);
                let executable = content(d.seed, j, name.ends_with(".sh"), buf);
                let mode = if executable { 0o755 } else { 0o644 };
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(dir.join(&name))
                    .map_err(|e| err(&name, e))?;
                f.write_all(buf).map_err(|e| err(&name, e))?;
                written += buf.len() as u64;
            }
            for (name, text) in &d.fixed {
                fs::write(dir.join(name), text).map_err(|e| err(name, e))?;
                written += text.len() as u64;
            }
            for (name, o) in &d.elf {
                written +=
                    fs::copy(&host.objs[*o].host, dir.join(name)).map_err(|e| err(name, e))?;
            }
            for (name, target) in &d.links {
                symlink(target, dir.join(name)).map_err(|e| err(name, e))?;
            }
            bytes.fetch_add(written, Ordering::Relaxed);
            Ok::<_, String>(())
        })?;
        Ok(bytes.into_inner())
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// An absolute path as it lies in a merged-/usr root: `/lib64/x` is `usr/lib64/x`.
fn in_merged_layout(path: &str) -> String {
    let rel = path.trim_start_matches('/');
    match rel.split_once('/') {
        Some((top, _)) if MERGED.contains(&top) => format!("usr/{rel}"),
        _ => rel.to_string(),
    }
}

/// Fills `buf` with generated file `j`'s content (100 bytes to 4 KiB, log-uniform): text, a
/// script, JSON or binary data, never starting with the ELF magic. True for a script.
fn content(seed: u64, j: u32, script: bool, buf: &mut Vec<u8>) -> bool {
    let mut rng = Rng(mix(seed.wrapping_add(0x5EED) ^ mix(u64::from(j) + 7)));
    let size = (100.0 * (4096.0f64 / 100.0).powf(rng.unit())) as usize;
    buf.clear();
    let kind = if script { 0 } else { rng.below(10) };
    match kind {
        0 => buf.extend_from_slice(b"#!/bin/sh\nset -e\n"),
        1 => buf.extend_from_slice(b"{\"synthroot\": ["),
        2 => {
            // Binary data.
            while buf.len() < size {
                buf.extend_from_slice(&rng.next().to_le_bytes());
            }
            buf.truncate(size);
            buf[0] = b'B';
            return false;
        }
        _ => {}
    }
    let mut words = 0;
    while buf.len() < size {
        let word = WORDS[rng.below(WORDS.len() as u64) as usize];
        if kind == 1 {
            buf.extend_from_slice(b"\"");
            buf.extend_from_slice(word.as_bytes());
            buf.extend_from_slice(b"\", ");
        } else {
            buf.extend_from_slice(word.as_bytes());
            words += 1;
            buf.push(if words % 9 == 0 { b'\n' } else { b' ' });
        }
    }
    buf.truncate(size);
    buf.push(b'\n');
    script
}

//! Cases of ../shared/docs/adversarial.md not already exercised by tests/hostile.rs,
//! tests/images.rs and the database readers' unit tests (docs/adversarial.md in this repository maps
//! every case to its test). Each crafted file sits beside an ordinary program, which must still be
//! reported correctly: one bad file never stops the scan.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Elfdeps, elfdeps};

/// A gcc-built program (the ordinary file every test keeps beside its crafted one).
fn program(dir: &Path, name: &str) -> Vec<u8> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write");
    let out = dir.join(name);
    let o = Command::new("gcc")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .expect("gcc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(&src).expect("rm");
    std::fs::read(&out).expect("read")
}

/// Scans `root` (must exit 0) and returns the document.
fn scan(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["scan", root.to_str().expect("utf-8"), "-f", "json", "-q"];
    args.extend_from_slice(extra);
    let out = elfdeps(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn error_code<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    doc["errors"]
        .as_array()?
        .iter()
        .find(|e| e["path"] == path)
        .and_then(|e| e["code"].as_str())
}

fn has_object(doc: &Value, path: &str) -> bool {
    doc["objects"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o["path"] == path))
}

/// A root with the ordinary program `/good` and `crafted` at `/bad`.
fn root_with(crafted: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, Value) {
    let t = tempfile::tempdir().expect("tempdir");
    let good = program(t.path(), "good");
    let mut bad = good.clone();
    crafted(&mut bad);
    std::fs::write(t.path().join("bad"), &bad).expect("write");
    let doc = scan(t.path(), &[]);
    assert!(
        has_object(&doc, "/good"),
        "the ordinary program is still reported"
    );
    (t, doc)
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Case 3: header counts and sizes that claim far more than the file holds (program headers,
/// section headers, the dynamic segment's size): a clean per-file error or facts, never an
/// allocation of what is claimed.
#[test]
fn case_03_counts_claiming_too_much() {
    let (_t, doc) = root_with(|b| {
        // e_phoff stays, e_phnum huge-but-not-XNUM, section header table claims 2^16-1 entries.
        put_u16(b, 56, 0xfff0);
        put_u16(b, 60, 0xffff);
    });
    assert!(
        error_code(&doc, "/bad").is_some() || has_object(&doc, "/bad"),
        "{doc:#}"
    );
}

/// Case 4: e_phnum = 0xffff (PN_XNUM, extended numbering): no abort.
#[test]
fn case_04_pn_xnum() {
    let (_t, doc) = root_with(|b| put_u16(b, 56, 0xffff));
    assert!(error_code(&doc, "/bad").is_some() || has_object(&doc, "/bad"));
}

/// Case 5: offsets that overflow (e_phoff near 2^64): no overflow panic (overflow checks are on
/// in tests), a per-file error.
#[test]
fn case_05_overflowing_offsets() {
    let (_t, doc) = root_with(|b| put_u64(b, 32, u64::MAX - 16));
    let code = error_code(&doc, "/bad");
    assert!(
        matches!(code, Some("elf-invalid" | "elf-truncated")),
        "{code:?}: {doc:#}"
    );
}

/// Case 8: a file cut in half, and ELF magic followed by junk: per-file errors.
#[test]
fn case_08_truncated_and_junk() {
    let t = tempfile::tempdir().expect("tempdir");
    let good = program(t.path(), "good");
    std::fs::write(t.path().join("half"), &good[..good.len() / 2]).expect("w");
    let mut junk = b"\x7fELF".to_vec();
    junk.extend(std::iter::repeat_n(0xa5u8, 4000));
    std::fs::write(t.path().join("junk"), &junk).expect("w");
    std::fs::write(t.path().join("magic-only"), b"\x7fELF").expect("w");
    let doc = scan(t.path(), &[]);
    assert!(has_object(&doc, "/good"));
    for p in ["/half", "/junk", "/magic-only"] {
        assert!(
            error_code(&doc, p).is_some() || has_object(&doc, p),
            "{p}: {doc:#}"
        );
    }
    assert!(error_code(&doc, "/junk").is_some());
}

/// Case 13: a huge (sparse) file with an ELF header is not read whole: the per-file budget
/// (`--max-read`) bounds what is read, and the scan is quick.
#[test]
fn case_13_huge_sparse_file() {
    let t = tempfile::tempdir().expect("tempdir");
    let good = program(t.path(), "good");
    let f = std::fs::File::create(t.path().join("huge")).expect("create");
    use std::io::Write;
    (&f).write_all(&good[..64]).expect("header");
    f.set_len(2 << 30).expect("2 GiB sparse");
    let start = std::time::Instant::now();
    let doc = scan(t.path(), &["--max-read", "1M"]);
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    assert!(has_object(&doc, "/good"));
    assert!(
        error_code(&doc, "/huge").is_some() || has_object(&doc, "/huge"),
        "{doc:#}"
    );
}

/// Case 19: a tree deeper than --max-depth: the walk stops there, and says so, and the scan ends.
#[test]
fn case_19_very_deep_tree() {
    let t = tempfile::tempdir().expect("tempdir");
    let mut d = t.path().to_path_buf();
    for _ in 0..300 {
        d.push("d");
    }
    std::fs::create_dir_all(&d).expect("deep dirs");
    let good = program(t.path(), "good");
    std::fs::write(d.join("deep-elf"), &good).expect("w");
    let doc = scan(t.path(), &["--max-depth", "64"]);
    assert!(has_object(&doc, "/good"));
    let deep = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .any(|o| o["path"].as_str().is_some_and(|p| p.ends_with("/deep-elf")));
    assert!(!deep, "nothing below --max-depth is walked");
}

/// Case 21: a newline and control characters in a file name are escaped in the human output and
/// kept exact (escaped) in JSON: no injected lines.
#[test]
fn case_21_newline_in_a_name() {
    let t = tempfile::tempdir().expect("tempdir");
    let good = program(t.path(), "good");
    std::fs::write(t.path().join("evil\nP:injected"), &good).expect("w");
    let out = elfdeps(&[
        "scan",
        t.path().to_str().expect("utf-8"),
        "-q",
        "--color",
        "never",
    ]);
    assert!(out.status.success());
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        !human.lines().any(|l| l.starts_with("P:injected")),
        "{human}"
    );
    let doc = scan(t.path(), &[]);
    assert!(has_object(&doc, "/evil\nP:injected"), "{doc:#}");
}

/// Case 30: a manifest whose layer count does not match the config's diff_ids: that image fails
/// with a clear message (exit 2).
#[test]
fn case_30_layer_count_mismatch() {
    use sha2::{Digest, Sha256};
    let t = tempfile::tempdir().expect("tempdir");
    let img = t.path().join("img");
    let blobs = img.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let h: String = Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(blobs.join(&h), data).expect("blob");
        h
    };
    let layer = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "a", &b"x"[..]).expect("tar");
        b.into_inner().expect("tar")
    };
    let lh = put(&layer);
    let config = serde_json::to_vec(&serde_json::json!({"rootfs": {"type": "layers",
        "diff_ids": [format!("sha256:{lh}"), format!("sha256:{lh}")]}}))
    .expect("json");
    let ch = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{ch}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{lh}"), "size": layer.len()}]}))
    .expect("json");
    let mh = put(&manifest);
    std::fs::write(
        img.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{mh}"), "size": manifest.len()}]}))
        .expect("json"),
    )
    .expect("index");
    std::fs::write(img.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("w");
    let out = elfdeps(&["scan", &format!("oci:{}", img.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("diff_ids"), "{err}");
}

/// A minimal ELF64 little-endian x86_64 ET_DYN: one PT_LOAD mapping the whole file at address 0
/// and a PT_DYNAMIC with `dynamic` at offset 0x1000, then the `(offset, bytes)` pieces; the
/// file is `len` bytes (sparse where nothing was written).
fn crafted_elf(path: &Path, dynamic: &[(i64, u64)], pieces: &[(u64, Vec<u8>)], len: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let dynb: Vec<u8> = dynamic
        .iter()
        .flat_map(|&(t, v)| t.to_le_bytes().into_iter().chain(v.to_le_bytes()))
        .collect();
    let mut head = Vec::new();
    head.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    head.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    head.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    head.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    head.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    head.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 2, 64, 0, 0] {
        head.extend_from_slice(&v.to_le_bytes());
    }
    let phdr = |ty: u32, off: u64, size: u64| {
        let mut p = Vec::new();
        p.extend_from_slice(&ty.to_le_bytes());
        p.extend_from_slice(&4u32.to_le_bytes()); // PF_R
        for v in [off, off, off, size, size, 0x1000] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p
    };
    head.extend(phdr(1, 0, len)); // PT_LOAD
    head.extend(phdr(2, 0x1000, dynb.len() as u64)); // PT_DYNAMIC
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(&head).expect("write");
    f.seek(SeekFrom::Start(0x1000)).expect("seek");
    f.write_all(&dynb).expect("write");
    for (off, bytes) in pieces {
        f.seek(SeekFrom::Start(*off)).expect("seek");
        f.write_all(bytes).expect("write");
    }
    f.set_len(len).expect("set_len");
}

/// Case 6: loops that never advance. (a) Version records that overlap: 16-byte records that
/// read as a Verneed with 4096 versions *and* as a Vernaux whose `vna_next` is 16, so every
/// chain is short but the nested walk would visit 4096 × 4096 records of a 128 KiB file. One
/// per-file total bounds them: a clear limit-exceeded, quickly, in little memory. (b) The per-file
/// watchdog: 65,000 DT_NEEDED names at distinct offsets of a 64 MiB sparse string table take a
/// measurable time to read, and `--file-timeout 1ms` stops that file and names the flag, while
/// `--file-timeout 0` (none) reads it whole.
#[test]
fn case_06_iterator_that_never_advances() {
    let t = tempfile::tempdir().expect("tempdir");
    program(t.path(), "good");
    let mut rec = Vec::new();
    for v in [1u16, 4096] {
        rec.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, 16, 16] {
        rec.extend_from_slice(&v.to_le_bytes());
    }
    let records: Vec<u8> = rec.iter().copied().cycle().take(16 * 8192).collect();
    crafted_elf(
        &t.path().join("overlap.so"),
        &[
            (5, 0x2000),                // DT_STRTAB
            (10, 0x100),                // DT_STRSZ
            (0x6fff_fffe, 0x3000),      // DT_VERNEED
            (0x6fff_ffff, 0xffff_ffff), // DT_VERNEEDNUM
            (0, 0),
        ],
        &[(0x3000, records)],
        0x3000 + 16 * 8192,
    );
    let root = t.path().to_str().expect("utf-8");
    let run = support::bounded_elfdeps(
        &["scan", root, "-f", "json", "-q", "--no-resolve"].map(std::ffi::OsStr::new),
        t.path(),
        std::time::Duration::from_secs(60),
    );
    let (took, rss) = (run.elapsed, run.maxrss_kib);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let doc: Value = serde_json::from_slice(&run.stdout).expect("json");
    assert!(has_object(&doc, "/good"), "{doc:#}");
    assert_eq!(
        error_code(&doc, "/overlap.so"),
        Some("limit-exceeded"),
        "{doc:#}"
    );
    let msg = doc["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("version records"),
        "the error names what is over the limit: {msg}"
    );
    assert!(took.as_secs() < 10, "took {took:?}");
    assert!(rss < 100 * 1024, "peak RSS {rss} KiB");

    // (b) the watchdog.
    let w = tempfile::tempdir().expect("tempdir");
    program(w.path(), "good");
    const N: u64 = 65_000;
    let mut dynamic: Vec<(i64, u64)> = (0..N).map(|i| (1, i * 1024)).collect();
    dynamic.extend([(5, 0x20_0000), (10, 64 << 20), (0, 0)]);
    let names: Vec<(u64, Vec<u8>)> = (0..N)
        .map(|i| (0x20_0000 + i * 1024, format!("libx{i}.so\0").into_bytes()))
        .collect();
    crafted_elf(
        &w.path().join("slow.so"),
        &dynamic,
        &names,
        0x20_0000 + (64 << 20),
    );
    let wroot = w.path().to_str().expect("utf-8");
    let doc = scan(w.path(), &["--no-resolve", "--file-timeout", "1ms"]);
    assert!(has_object(&doc, "/good"));
    assert_eq!(
        error_code(&doc, "/slow.so"),
        Some("limit-exceeded"),
        "{doc:#}"
    );
    let msg = doc["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("--file-timeout"),
        "the error names the flag: {msg}"
    );
    let doc = scan(w.path(), &["--no-resolve", "--file-timeout", "0"]);
    let slow = doc["objects"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["path"] == "/slow.so"))
        .unwrap_or_else(|| panic!("without a time limit {wroot}/slow.so parses: {doc:#}"));
    assert_eq!(slow["needed"].as_array().map(Vec::len), Some(N as usize));
}

/// Section `name`'s file offset in `bytes` (a trusted file we just built: goblin reads it).
fn section_offset(bytes: &[u8], name: &str) -> usize {
    let elf = goblin::elf::Elf::parse(bytes).expect("goblin parses our own build");
    let sh = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
        .unwrap_or_else(|| panic!("no section {name}"));
    sh.sh_offset as usize
}

/// Case 7: hash tables with zero buckets and broken chains. elfdeps never looks a symbol up
/// through DT_HASH or DT_GNU_HASH (facts come from the dynamic table, the version records and,
/// for `check --symbols`, the dynamic symbol table read in order), so a library whose both
/// tables say 0 buckets, with chains pointing past the end, reports the same facts as the
/// intact one and `check --symbols` still judges its users.
#[test]
fn case_07_hash_tables_with_zero_buckets() {
    let t = tempfile::tempdir().expect("tempdir");
    let lib_c = t.path().join("lib.c");
    std::fs::write(&lib_c, "int hc_fn(void) { return 1; }\n").expect("w");
    let main_c = t.path().join("main.c");
    std::fs::write(
        &main_c,
        "int hc_fn(void);\nint main(void) { return hc_fn(); }\n",
    )
    .expect("w");
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("lib")).expect("mkdir");
    let lib = root.join("lib/libhc.so");
    let ok = |o: Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(Command::new("gcc")
        .args([
            "-shared",
            "-fPIC",
            "-Wl,--hash-style=both",
            "-Wl,-soname,libhc.so",
            "-o",
        ])
        .arg(&lib)
        .arg(&lib_c)
        .output()
        .expect("gcc"));
    ok(Command::new("gcc")
        .arg("-o")
        .arg(root.join("prog"))
        .arg(&main_c)
        .arg(&lib)
        .arg("-Wl,-rpath,/lib")
        .output()
        .expect("gcc"));
    let intact = scan(&root, &[]);
    let mut bytes = std::fs::read(&lib).expect("read");
    // .hash: nbucket, nchain (u32 each); .gnu.hash: nbuckets, symoffset, bloom_size, bloom_shift.
    let h = section_offset(&bytes, ".hash");
    bytes[h..h + 8].copy_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let g = section_offset(&bytes, ".gnu.hash");
    bytes[g..g + 4].copy_from_slice(&0u32.to_le_bytes());
    bytes[g + 4..g + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&lib, &bytes).expect("write");
    let broken = scan(&root, &[]);
    let pick = |doc: &Value, p: &str| {
        doc["objects"]
            .as_array()
            .and_then(|a| a.iter().find(|o| o["path"] == p))
            .cloned()
            .unwrap_or_else(|| panic!("{p} missing: {doc:#}"))
    };
    assert_eq!(
        pick(&intact, "/lib/libhc.so"),
        pick(&broken, "/lib/libhc.so")
    );
    assert_eq!(
        pick(&intact, "/prog")["status"],
        pick(&broken, "/prog")["status"]
    );
    let out = elfdeps(&[
        "check",
        root.to_str().expect("utf-8"),
        "--symbols",
        "-f",
        "json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "check --symbols on a root with broken hash tables: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let unresolved = doc["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "unresolved-symbol" && f["path"] == "/prog")
        .count();
    assert_eq!(unresolved, 0, "hc_fn is defined by /lib/libhc.so: {doc:#}");
}

/// Case 9: a file truncated and rewritten by another process during the scan. elfdeps never
/// maps files (a mapped file that shrinks kills the reader with SIGBUS); every read is a
/// bounded pread, and a short one is a per-file error. 40 scans race a writer that truncates
/// the program to 0 bytes and writes it back in small pieces.
#[test]
fn case_09_file_truncated_during_the_scan() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = tempfile::tempdir().expect("tempdir");
    let good = program(t.path(), "good");
    let victim = t.path().join("victim");
    std::fs::write(&victim, &good).expect("w");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let victim = victim.clone();
        let good = good.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&victim)
                    .expect("open victim");
                f.set_len(0).expect("truncate");
                for chunk in good.chunks(997) {
                    f.write_all(chunk).expect("write");
                }
                // Whole for a moment, then cut after its program headers (the dynamic segment
                // and strings are gone), so scans see it whole, cut, and growing.
                std::thread::sleep(std::time::Duration::from_millis(1));
                f.set_len(600).expect("truncate");
                std::thread::sleep(std::time::Duration::from_millis(1));
                rounds += 1;
            }
            rounds
        })
    };
    let root = t.path().to_str().expect("utf-8");
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let out = elfdeps(&["scan", root, "-f", "json", "-q", "--jobs", "2"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "a scan racing a truncating writer ended with {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(has_object(&doc, "/good"));
        let outcome = if has_object(&doc, "/victim") {
            "object".to_owned()
        } else {
            error_code(&doc, "/victim")
                .unwrap_or("not-elf-at-that-moment")
                .to_owned()
        };
        *outcomes.entry(outcome).or_insert(0u32) += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer");
    support::loud(&format!(
        "case 9: 40 scans raced {rounds} truncate-and-rewrite rounds; /victim outcomes: {outcomes:?}"
    ));
    for k in outcomes.keys() {
        assert!(
            matches!(
                k.as_str(),
                "object" | "elf-truncated" | "elf-invalid" | "not-elf-at-that-moment"
            ),
            "unexpected outcome {k} for a file that changes under the scan"
        );
    }
}

/// Case 11: `/proc` and `/sys` mounted inside the root, device nodes, and symlinks and RUNPATH
/// entries that lead into `/proc` (`/proc/self/root` is the *scanner's* root, the host). Other
/// filesystems are not entered: nothing under them is reported, no symlink through them
/// resolves, devices are counted and never opened, and the scan is quick. Needs root (mount,
/// mknod).
#[test]
fn case_11_proc_and_devices_inside_the_root() {
    if !support::require_root_or_skip("/proc and /sys mounted inside a root") {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    for d in ["proc", "sys", "dev", "usr/lib", "bin"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("bin/good"), program(t.path(), "good")).expect("w");
    // The root's own loader (the host's, copied), so that programs are resolved here; its libc
    // is reachable only through /proc: by RUNPATH and by a symlink in a default directory.
    std::fs::create_dir_all(root.join("lib64")).expect("mkdir");
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .expect("copy the host's ld.so");
    let src = t.path().join("p.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("w");
    let o = Command::new("gcc")
        .arg("-o")
        .arg(root.join("bin/via-proc"))
        .arg(&src)
        .arg("-Wl,--enable-new-dtags,-rpath,/proc/self/root/lib/x86_64-linux-gnu:/proc/1/root/usr/lib/x86_64-linux-gnu")
        .output()
        .expect("gcc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::os::unix::fs::symlink(
        "/proc/self/root/lib/x86_64-linux-gnu/libc.so.6",
        root.join("usr/lib/libc.so.6"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink("/proc/self/exe", root.join("bin/self")).expect("symlink");
    let mknod =
        |name: &str, major, minor| support::mknod_char(&root.join("dev").join(name), major, minor);
    mknod("zero", 1, 5);
    mknod("null", 1, 3);
    mknod("urandom", 1, 9);
    struct Mounts(Vec<std::path::PathBuf>);
    impl Drop for Mounts {
        fn drop(&mut self) {
            for m in self.0.iter().rev() {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
    }
    let mut mounts = Mounts(Vec::new());
    for (fs, at) in [("proc", "proc"), ("sysfs", "sys")] {
        let target = root.join(at);
        let st = Command::new("mount")
            .args(["-t", fs, fs])
            .arg(&target)
            .status()
            .expect("mount");
        assert!(st.success(), "mount -t {fs} at {}", target.display());
        mounts.0.push(target);
    }
    let r = root.to_str().expect("utf-8");
    let run = support::bounded_elfdeps(
        &["scan", r, "-f", "json", "-q"].map(std::ffi::OsStr::new),
        t.path(),
        std::time::Duration::from_secs(60),
    );
    drop(mounts);
    let (took, rss) = (run.elapsed, run.maxrss_kib);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let doc: Value = serde_json::from_slice(&run.stdout).expect("json");
    assert!(took.as_secs() < 20, "took {took:?}");
    assert!(rss < 200 * 1024, "peak RSS {rss} KiB");
    let paths: Vec<&str> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/bin/good") && paths.contains(&"/bin/via-proc"),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/proc") || p.starts_with("/sys")),
        "nothing under a mounted /proc or /sys is reported: {paths:?}"
    );
    let errors = doc["errors"].as_array().expect("errors");
    assert!(
        !errors
            .iter()
            .any(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/dev/"))),
        "device nodes are counted, not opened: {errors:?}"
    );
    assert!(
        doc["summary"]["special"].as_u64() >= Some(3),
        "{}",
        doc["summary"]
    );
    // A walk into /proc or /sys would see tens of thousands of files (and errors).
    assert!(
        doc["summary"]["files"].as_u64() < Some(50),
        "mounted filesystems inside the root are not walked: {}",
        doc["summary"]
    );
    assert!(
        !errors.iter().any(|e| e["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/proc") || p.starts_with("/sys"))),
        "{errors:?}"
    );
    let via = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["path"] == "/bin/via-proc")
        .expect("via-proc");
    let text = via.to_string();
    assert!(
        !text.contains("\"found\":\"/proc") && !text.contains("/lib/x86_64-linux-gnu/libc.so.6\""),
        "libc reachable only through /proc (the host's, not the root's) must not be found: {via:#}"
    );
    assert!(
        via["missing"]
            .as_array()
            .is_some_and(|m| m.iter().any(|n| n == "libc.so.6")),
        "{via:#}"
    );
}

/// Case 9, the other half: a file *replaced* during the scan. Another thread keeps renaming, over
/// one name, a program, a FIFO and a symlink to a FIFO outside the root, so the walk may list a
/// regular file that is a FIFO or a symlink by the time it is opened. elfdeps opens without
/// following symlinks and without blocking, and requires a regular file of the opened handle
/// (fstat): a FIFO opened by mistake would hang the scan, which a 30 s limit turns into a
/// failure.
#[test]
fn case_09_file_replaced_during_the_scan() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let good = program(t.path(), "good");
    std::fs::write(root.join("good"), &good).expect("w");
    let mkfifo = support::mkfifo;
    let outside = t.path().join("outside-fifo");
    mkfifo(&outside);
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, root, good, outside) =
            (stop.clone(), root.clone(), good.clone(), outside.clone());
        std::thread::spawn(move || {
            let target = root.join("swap");
            let staging = root.join(".stage");
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for kind in 0..3 {
                    let _ = std::fs::remove_file(&staging);
                    match kind {
                        0 => std::fs::write(&staging, &good).expect("stage program"),
                        1 => support::mkfifo(&staging),
                        _ => std::os::unix::fs::symlink(&outside, &staging).expect("symlink"),
                    }
                    // rename(2) replaces atomically: the name is always one of the three.
                    let _ = std::fs::rename(&staging, &target);
                }
                rounds += 1;
            }
            rounds
        })
    };
    let r = root.to_str().expect("utf-8");
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let out = Elfdeps::new(["scan", r, "-f", "json", "-q", "--jobs", "2"])
            .timeout(std::time::Duration::from_secs(30))
            .output();
        assert_eq!(
            out.status.code(),
            Some(0),
            "a scan racing a replacing writer ended with {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(has_object(&doc, "/good"));
        let outcome = if has_object(&doc, "/swap") {
            "object"
        } else {
            error_code(&doc, "/swap").unwrap_or("counted as fifo or symlink")
        };
        if let Some(e) = doc["errors"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["path"] == "/swap"))
        {
            let msg = e["message"].as_str().unwrap_or_default();
            assert!(
                e["code"] != "not-regular" || msg.contains("replaced during the scan"),
                "a replaced file says so: {e}"
            );
        }
        *outcomes.entry(outcome.to_owned()).or_insert(0u32) += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = racer.join().expect("racer");
    support::loud(&format!(
        "case 9: 40 scans raced {rounds} rounds of program/FIFO/symlink renames; /swap outcomes: \
         {outcomes:?}"
    ));
    for k in outcomes.keys() {
        assert!(
            matches!(
                k.as_str(),
                "object"
                    | "not-regular"
                    | "vanished"
                    | "elf-truncated"
                    | "counted as fifo or symlink"
            ),
            "unexpected outcome {k} for a name replaced under the scan"
        );
    }
}

/// A root whose ld.so.conf is hostile (issue 12): an include pattern that makes a backtracking
/// matcher exponential (`*a*a*…*b` beside a 200-byte name of `a`), an include cycle, an include of
/// a 2 GiB (sparse) file, and 10,000 included files. The root's own loader (the host's, copied)
/// makes resolution run, which is what reads ld.so.conf. Every command that resolves finishes
/// in well under 5 s of CPU time (rusage of the child, not wall time: the machine is shared), and
/// the scan says which bound stopped the expansion.
#[test]
fn hostile_ld_so_conf_is_expanded_in_bounded_time() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    for d in [
        "bin",
        "lib64",
        "etc/ld.so.conf.d",
        "etc/cycle",
        "etc/many",
        "opt/lib",
        "var/lib/dpkg/info",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("bin/good"), program(t.path(), "good")).expect("w");
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .expect("copy the host's ld.so");
    std::fs::write(
        root.join("etc/ld.so.conf"),
        "include /etc/ld.so.conf.d/*a*a*a*a*a*a*a*a*a*a*a*a*b\n\
         include /etc/cycle/a.conf\n\
         include /etc/huge.conf\n\
         include /etc/many/*.conf\n\
         /opt/lib\n",
    )
    .expect("w");
    std::fs::write(
        root.join("etc/ld.so.conf.d").join("a".repeat(200)),
        "/opt/a\n",
    )
    .expect("w");
    // Relative includes, relative to the including file's directory (as ldconfig reads them).
    std::fs::write(
        root.join("etc/cycle/a.conf"),
        "include b.conf\n/opt/cycle-a\n",
    )
    .expect("w");
    std::fs::write(
        root.join("etc/cycle/b.conf"),
        "include a.conf\n/opt/cycle-b\n",
    )
    .expect("w");
    let huge = std::fs::File::create(root.join("etc/huge.conf")).expect("create");
    std::io::Write::write_all(&mut &huge, b"/opt/huge\n").expect("w");
    huge.set_len(2 << 30).expect("2 GiB sparse");
    drop(huge);
    for i in 0..10_000 {
        std::fs::write(
            root.join(format!("etc/many/{i:05}.conf")),
            format!("/opt/many/{i:05}\n"),
        )
        .expect("w");
    }
    // A package database, for `packages`.
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: good\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n",
    )
    .expect("w");
    std::fs::write(
        root.join("var/lib/dpkg/info/good.list"),
        "/bin\n/bin/good\n",
    )
    .expect("w");
    let r = root.to_str().expect("utf-8");
    let runs: [&[&str]; 4] = [
        &["scan", r, "-f", "json", "-q"],
        &["check", r, "-q"],
        &["packages", r, "-q"],
        &["tree", r, "/bin/good", "-q"],
    ];
    for args in runs {
        let run = support::bounded_elfdeps(
            &args.iter().map(std::ffi::OsStr::new).collect::<Vec<_>>(),
            t.path(),
            std::time::Duration::from_secs(120),
        );
        eprintln!(
            "{}: {:?} CPU, {:?} wall, peak RSS {} KiB, exit {:?}",
            args[0],
            run.cpu,
            run.elapsed,
            run.maxrss_kib,
            run.status.code()
        );
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{args:?}: {:?}\n{}",
            run.status,
            run.stderr
        );
        assert!(
            run.cpu < std::time::Duration::from_secs(5),
            "{args:?} took {:?} of CPU time",
            run.cpu
        );
        if args[0] == "scan" {
            let doc: Value = serde_json::from_slice(&run.stdout).expect("json");
            let good = doc["objects"]
                .as_array()
                .expect("objects")
                .iter()
                .find(|o| o["path"] == "/bin/good")
                .expect("/bin/good");
            let notes = good["notes"].to_string();
            for what in ["include cycle", "huge.conf", "files"] {
                assert!(notes.contains(what), "a note says {what:?}: {notes}");
            }
        }
    }
}

/// Resolution work is bounded per object (issue 12): a program whose 220 NEEDED libraries are
/// all missing, each searched through a RUNPATH of 1,000 directories (and glibc's legacy
/// subdirectories under each), would take over a million candidate lookups. Each of two copies is
/// reported unfinished (`limit`, a `limit-exceeded` error naming the bound), the ordinary program
/// beside them resolves, and the scan stays within a CPU bound. (The bound per scan, 50 times
/// this much work, is held by the unit test `resolve::tests::the_scan_bound_stops_later_sessions`:
/// reaching it here would cost minutes of a debug build.)
#[test]
fn resolution_work_is_bounded() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    for d in ["bin", "lib64", "stubs"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("bin/good"), program(t.path(), "good")).expect("w");
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .expect("copy the host's ld.so");
    // Stub libraries to link against, outside the root: in the root every NEEDED is missing.
    let stubs = t.path().join("stubs");
    std::fs::create_dir_all(&stubs).expect("mkdir");
    let stub_src = t.path().join("stub.c");
    std::fs::write(&stub_src, "int stub;\n").expect("w");
    let o = Command::new("gcc")
        .args(["-shared", "-o"])
        .arg(stubs.join("libm000.so"))
        .arg(&stub_src)
        .output()
        .expect("gcc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut libs = Vec::new();
    for i in 1..220 {
        std::fs::copy(
            stubs.join("libm000.so"),
            stubs.join(format!("libm{i:03}.so")),
        )
        .expect("cp");
    }
    for i in 0..220 {
        libs.push(format!("-lm{i:03}"));
    }
    let runpath: Vec<String> = (0..1000).map(|i| format!("/r/{i}")).collect();
    let src = t.path().join("p.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("w");
    let o = Command::new("gcc")
        .arg("-o")
        .arg(t.path().join("heavy"))
        .arg(&src)
        .arg("-L")
        .arg(&stubs)
        .arg("-Wl,--no-as-needed")
        .args(&libs)
        .arg(format!(
            "-Wl,--enable-new-dtags,-rpath,{}",
            runpath.join(":")
        ))
        .output()
        .expect("gcc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for i in 0..2 {
        std::fs::copy(
            t.path().join("heavy"),
            root.join(format!("bin/heavy{i:02}")),
        )
        .expect("cp");
    }
    let r = root.to_str().expect("utf-8");
    let run = support::bounded_elfdeps(
        &["scan", r, "-f", "json", "-q"].map(std::ffi::OsStr::new),
        t.path(),
        std::time::Duration::from_secs(300),
    );
    eprintln!(
        "scan: {:?} CPU, {:?} wall, peak RSS {} KiB",
        run.cpu, run.elapsed, run.maxrss_kib
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let doc: Value = serde_json::from_slice(&run.stdout).expect("json");
    let objects = doc["objects"].as_array().expect("objects");
    let good = objects
        .iter()
        .find(|o| o["path"] == "/bin/good")
        .expect("good");
    assert!(good.get("limit").is_none(), "{good:#}");
    let mut bounds = std::collections::BTreeMap::new();
    for o in objects.iter().filter(|o| {
        o["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/bin/heavy"))
    }) {
        let bound = o["limit"].as_str().unwrap_or("none").to_string();
        assert_eq!(o["status"], "error", "{}", o["path"]);
        assert!(
            o["missing"].as_array().is_some_and(|m| m.is_empty()),
            "an unfinished session claims nothing missing: {}",
            o["missing"]
        );
        *bounds.entry(bound).or_insert(0) += 1;
        let path = o["path"].as_str().expect("path");
        assert_eq!(error_code(&doc, path), Some("limit-exceeded"), "{path}");
    }
    eprintln!("bounds hit: {bounds:?}");
    assert_eq!(bounds.get("object"), Some(&2), "{bounds:?}");
    let msg = doc["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find_map(|e| {
            e["message"]
                .as_str()
                .filter(|m| m.contains("for one object"))
        })
        .expect("an object-bound message");
    assert!(msg.contains("1000000 steps"), "{msg}");
    assert!(
        run.cpu < std::time::Duration::from_secs(30),
        "took {:?} of CPU time",
        run.cpu
    );
}

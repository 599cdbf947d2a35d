//! Cases of ../shared/docs/adversarial.md not already exercised by tests/hostile.rs,
//! tests/images.rs and the database readers' unit tests (docs/adversarial.md in this repository maps
//! every case to its test). Each crafted file sits beside an ordinary program, which must still be
//! reported correctly: one bad file never stops the scan.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn elfdeps(args: &[&str]) -> Output {
    Command::new(support::elfdeps_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run elfdeps")
}

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

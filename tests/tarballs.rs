//! Root filesystem tarballs as ROOT: the real Alpine minirootfs `.tar.gz`, and `.tar`, `.tar.xz`
//! and `.tar.zst` made here from its unpacked directory, must scan like that directory, for every
//! command that takes ROOT; a `docker save` archive compressed whole is read as the archive it
//! is; hostile tarballs are refused or applied safely, as hostile layers are (tests/images.rs).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Elfdeps, describe, elfdeps};

/// The real minirootfs tarball the unpacked `alpine-x86_64` test root comes from.
fn alpine_tarball() -> PathBuf {
    let shared = std::env::var_os("ELFDEPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    shared.join("fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz")
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `elfdeps ARGS -f json -q`, which must exit `code`; its document.
fn json(args: &[&str], code: i32) -> Value {
    let out = Elfdeps::new(args).args(["-f", "json", "-q"]).output();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// What must be equal between two scans of the same tree: the objects, their resolutions and
/// their packages.
fn essence(doc: &Value) -> Vec<Value> {
    doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            serde_json::json!({
                "path": o["path"], "kind": o["kind"], "needed": o["needed"],
                "status": o["status"], "closure": o["closure"], "missing": o["missing"],
                "version_errors": o["version_errors"], "libc": o["libc"],
                "package": o["package"],
            })
        })
        .collect()
}

/// A document with the root's name (and what only an image has) taken out, to compare the output
/// of a command on a tarball with that on the directory.
fn without_root(mut doc: Value) -> Value {
    if let Some(m) = doc.as_object_mut() {
        for k in ["root", "image", "elapsed_ms", "timing"] {
            m.remove(k);
        }
        if let Some(objects) = m.get_mut("objects").and_then(Value::as_array_mut) {
            for o in objects {
                if let Some(o) = o.as_object_mut() {
                    o.remove("layer");
                }
            }
        }
    }
    doc
}

/// Runs `sh -c SCRIPT` (a pipe of tar and a compressor), which must succeed.
fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alpine_minirootfs_tarballs_scan_like_the_directory() {
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let real = alpine_tarball();
    assert!(real.is_file(), "{} is missing", real.display());
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let dir = alpine.to_str().expect("utf-8");
    let reference = json(&["scan", dir], 0);
    let want = essence(&reference);
    assert!(want.len() >= 17, "{} objects", want.len());
    assert!(
        want.iter().any(|o| o["package"]["name"] == "musl"),
        "the directory's objects have apk packages"
    );

    let mut tarballs = vec![real.clone()];
    let tar = d.join("root.tar");
    sh(&format!(
        "tar -C '{dir}' --numeric-owner -cf '{}' .",
        tar.display()
    ));
    tarballs.push(tar.clone());
    for (tool, ext) in [("xz", "xz"), ("zstd", "zst")] {
        if !support::require_tool_or_skip(
            tool,
            if tool == "xz" { "xz-utils" } else { "zstd" },
            "compressed root tarballs",
        ) {
            continue;
        }
        let p = d.join(format!("root.tar.{ext}"));
        sh(&format!(
            "{tool} -c < '{}' > '{}'",
            tar.display(),
            p.display()
        ));
        tarballs.push(p);
    }
    // Several zstd frames, as pzstd writes them, and several gzip members, as pigz can: each
    // decoded in turn, none left out.
    let half = std::fs::metadata(&tar).expect("tar").len() / 2;
    for (tool, ext) in [("zstd", "zst"), ("gzip", "gz")] {
        if !support::require_tool_or_skip(tool, tool, "compressed root tarballs") {
            continue;
        }
        let p = d.join(format!("frames.tar.{ext}"));
        let t = tar.display();
        sh(&format!(
            "(head -c {half} '{t}' | {tool} -c; tail -c +{} '{t}' | {tool} -c) > '{}'",
            half + 1,
            p.display()
        ));
        tarballs.push(p);
    }
    // Detected by its magic bytes, not its name.
    let misnamed = d.join("root.img");
    std::fs::copy(&real, &misnamed).expect("copy");
    tarballs.push(misnamed);

    for tb in &tarballs {
        let shown = tb.to_str().expect("utf-8");
        let doc = json(&["scan", shown], 0);
        assert_eq!(
            essence(&doc),
            want,
            "scan of {shown} differs from the directory"
        );
        assert_eq!(doc["root"], shown, "the report names the tarball");
        let bytes = std::fs::read(tb).expect("read");
        let digest = format!("sha256:{}", sha(&bytes));
        assert_eq!(doc["image"]["reference"], shown);
        assert_eq!(
            doc["image"]["layers"],
            serde_json::json!([digest]),
            "{shown}"
        );
        assert_eq!(doc["image"]["manifest"], Value::Null, "{shown}");
        assert_eq!(doc["image"]["config"], "", "{shown}");
        for o in doc["objects"].as_array().expect("objects") {
            assert_eq!(o["layer"], digest.as_str(), "{shown}: {}", o["path"]);
        }
    }

    // Every command that takes ROOT answers on the tarball as on the directory.
    let gz = real.to_str().expect("utf-8");
    for (args, code) in [
        (vec!["tree", "ROOT", "/bin/busybox"], 0),
        (vec!["why", "ROOT", "libc.musl-x86_64.so.1"], 0),
        (vec!["check", "ROOT"], 0),
        (vec!["packages", "ROOT"], 0),
        (vec!["packages", "ROOT", "/bin/busybox"], 0),
    ] {
        let on = |root: &str| {
            let a: Vec<&str> = args
                .iter()
                .map(|&x| if x == "ROOT" { root } else { x })
                .collect();
            let out = Elfdeps::new(&a).args(["-f", "json", "-q"]).output();
            (out.status.code(), out)
        };
        let (dc, dout) = on(dir);
        assert_eq!(
            dc,
            Some(code),
            "{args:?} on the directory: {}",
            describe(&dout)
        );
        let (tc, tout) = on(gz);
        assert_eq!(tc, dc, "{args:?} on the tarball: {}", describe(&tout));
        let dv: Value = serde_json::from_slice(&dout.stdout).expect("json");
        let tv: Value = serde_json::from_slice(&tout.stdout).expect("json");
        assert_eq!(
            without_root(tv),
            without_root(dv),
            "{args:?}: the tarball and the directory differ"
        );
    }
}

/// A `docker save` archive of one layer (what `tests/images.rs` builds as well): the layer's
/// `layer.tar`, the config named by its digest, `manifest.json` last, as docker writes it.
fn docker_archive(path: &Path, layer: &[u8]) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(layer))]}}))
    .expect("json");
    let config_name = format!("{}.json", sha(&config));
    let layer_name = format!("{}/layer.tar", sha(layer));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["test/img:1"], "Layers": [layer_name]}]))
    .expect("json");
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (layer_name.as_str(), layer),
        (config_name.as_str(), &config[..]),
        ("manifest.json", &manifest[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    }
    std::fs::write(path, b.into_inner().expect("tar")).expect("write");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn a_gzipped_docker_save_is_read_as_the_archive() {
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let layer = d.join("layer.tar");
    sh(&format!(
        "tar -C '{}' --numeric-owner -cf '{}' .",
        alpine.display(),
        layer.display()
    ));
    let archive = d.join("image.tar");
    docker_archive(&archive, &std::fs::read(&layer).expect("layer"));
    let gz = d.join("image.tar.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&archive).expect("archive"))).expect("write");
    let plain = json(&["scan", archive.to_str().expect("utf-8")], 0);
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let shown = gz.to_str().expect("utf-8");
    let out = Elfdeps::new(["scan", shown, "-f", "json", "-q"])
        .env("TMPDIR", &tmp)
        .output();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(essence(&doc), essence(&plain));
    assert_eq!(doc["root"], shown);
    assert_eq!(doc["image"]["config"], plain["image"]["config"]);
    assert_eq!(doc["image"]["layers"], plain["image"]["layers"]);
    assert_eq!(
        std::fs::read_dir(&tmp).expect("tmp").count(),
        0,
        "the decompressed copy and the tree are removed"
    );
    // The image's entrypoint is what `packages` answers for, as for the archive itself.
    let p = json(&["packages", shown], 0);
    let q = json(&["packages", archive.to_str().expect("utf-8")], 0);
    assert_eq!(without_root(p), without_root(q));
    // Its config's platform is checked, as for the archive.
    let out = elfdeps(&["scan", shown, "-q", "--platform", "linux/arm64"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A root tarball has no images for --platform to choose from.
    let out = elfdeps(&[
        "scan",
        alpine_tarball().to_str().expect("utf-8"),
        "-q",
        "--platform",
        "linux/amd64",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("root filesystem tarball"),
        "{}",
        describe(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile tarballs
// ---------------------------------------------------------------------------------------------

/// One tar member with raw header fields (the tar crate's builder refuses `..` and absolute
/// names).
fn member(name: &str, kind: tar::EntryType, data: &[u8], link: &str) -> (tar::Header, Vec<u8>) {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    (h, data.to_vec())
}

fn tar_of(members: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (h, data) in members {
        b.append(h, &data[..]).expect("append");
    }
    b.into_inner().expect("tar")
}

fn file(name: &str, data: &[u8]) -> (tar::Header, Vec<u8>) {
    member(name, tar::EntryType::Regular, data, "")
}

/// A directory that must stay empty (nothing written outside the unpack directory), the TMPDIR
/// the runs unpack in, and a place for the tarballs.
struct Hostile {
    _t: tempfile::TempDir,
    sentinel: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
}

impl Hostile {
    fn new() -> Self {
        let t = tempfile::tempdir().expect("tempdir");
        let sentinel = t.path().join("sentinel");
        let tmp = t.path().join("tmp");
        for d in [&sentinel, &tmp] {
            std::fs::create_dir(d).expect("mkdir");
        }
        let dir = t.path().to_path_buf();
        Hostile {
            _t: t,
            sentinel,
            tmp,
            dir,
        }
    }

    /// Scans `tar`, gzipped, in the private TMPDIR: the output, with the sentinel and TMPDIR
    /// checked to be empty after it.
    fn scan(&self, name: &str, tar: &[u8], extra: &[&str]) -> std::process::Output {
        let p = self.dir.join(name);
        std::fs::write(&p, gzip(tar)).expect("write");
        let out = Elfdeps::new(["scan", p.to_str().expect("utf-8"), "-f", "json", "-q"])
            .args(extra)
            .env("TMPDIR", &self.tmp)
            .output();
        for d in [&self.sentinel, &self.tmp] {
            let left: Vec<_> = std::fs::read_dir(d)
                .expect("read")
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            assert!(left.is_empty(), "{name}: left in {}: {left:?}", d.display());
        }
        out
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn hostile_tarballs_are_refused_or_applied_safely() {
    let h = Hostile::new();
    let s = h.sentinel.display().to_string();

    // `../` names: tar slip, refused.
    let escape = format!("../../../../../../../..{s}/pwned");
    let out = h.scan(
        "slip.tar.gz",
        &tar_of(&[file("ok", b"x"), file(&escape, b"evil")]),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let e = stderr(&out);
    assert!(e.contains("tar slip"), "{e}");
    assert!(e.contains("cannot use the tarball"), "{e}");
    assert!(
        !e.contains("layer 1"),
        "a tarball has no layers to number: {e}"
    );

    // Absolute names land inside the unpack directory.
    let out = h.scan(
        "abs.tar.gz",
        &tar_of(&[file(&format!("{s}/abs"), b"data")]),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        doc["summary"]["files"], 1,
        "the file is inside the tarball's root"
    );

    // A device node and a FIFO are counted, never created.
    let out = h.scan(
        "dev.tar.gz",
        &tar_of(&[
            member("dev/sda", tar::EntryType::Block, b"", ""),
            member("dev/null", tar::EntryType::Char, b"", ""),
            member("run/fifo", tar::EntryType::Fifo, b"", ""),
            file("etc/hostname", b"box\n"),
        ]),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["image"]["applied"]["special_skipped"], 3);

    // A symlink that escapes, then a file written through it: refused.
    let out = h.scan(
        "through.tar.gz",
        &tar_of(&[
            member("out", tar::EntryType::Symlink, b"", &s),
            file("out/pwned", b"evil"),
        ]),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("is a symlink"), "{}", describe(&out));

    // Cut short: named by its compression, in our words.
    let p = h.dir.join("cut.tar.gz");
    let whole = gzip(&tar_of(&[file("a", &[7u8; 100_000])]));
    std::fs::write(&p, &whole[..whole.len() / 2]).expect("write");
    let out = elfdeps(&["scan", p.to_str().expect("utf-8"), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let e = stderr(&out);
    assert!(e.contains("gzip data is damaged or cut short"), "{e}");
    assert!(!e.contains("deflate"), "a decoder's own words: {e}");
}

#[test]
fn a_decompression_bomb_hits_the_caps() {
    let h = Hostile::new();
    // Small enough to build quickly in a debug test, far past the caps given.
    let bomb = tar_of(&[file("bomb", &vec![0u8; 24 << 20])]);
    let p = h.dir.join("bomb.tar.gz");
    let gz = gzip(&bomb);
    assert!(
        gz.len() < 1 << 20,
        "the bomb is small compressed: {}",
        gz.len()
    );
    std::fs::write(&p, &gz).expect("write");
    for (flag, size) in [("--max-image-size", "4M"), ("--max-layer-size", "6M")] {
        let args = ["scan", p.to_str().expect("utf-8"), "-q", flag, size].map(std::ffi::OsStr::new);
        let run = support::bounded_elfdeps(&args, &h.dir, std::time::Duration::from_secs(120));
        assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
        assert!(
            run.maxrss_kib < 200 * 1024,
            "memory stays bounded: {} KiB",
            run.maxrss_kib
        );
    }
    // A bomb inside a gzipped docker save: the decompressed copy is capped too.
    let archive = h.dir.join("image.tar");
    docker_archive(&archive, &bomb);
    let out = h.scan(
        "image.tar.gz",
        &std::fs::read(&archive).expect("archive"),
        &["--max-image-size", "40M", "--max-layer-size", "6M"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("--max-"), "{}", describe(&out));
}

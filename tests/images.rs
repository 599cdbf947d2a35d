//! Images as roots: an OCI layout built with umoci from the Alpine fixture (plus a layer with
//! whiteouts and a glibc program), converted by skopeo to docker-archive and oci-archive, must scan
//! exactly like the root `umoci unpack` produces; hostile layers are rejected or applied correctly
//! without anything written outside the private directory.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Elfdeps, describe, elfdeps};

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What must be equal between two scans of the same tree.
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
            })
        })
        .collect()
}

fn scan(root: &str) -> Value {
    let out = elfdeps(&["scan", root, "-f", "json", "-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "scan {root}: {}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// A new layout under `d` with an image `base` unpacked into the bundle `d/b1`, its rootfs
/// holding a copy of the Alpine root (repack it to make that the first layer).
fn alpine_bundle(d: &Path, alpine: &Path) -> (Umoci, PathBuf) {
    let img = Umoci::init(&d.join("img"));
    img.new_image("base");
    let r1 = img.unpack("base", &d.join("b1"));
    run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", alpine.display()))
            .arg(&r1),
        "cp the Alpine root",
    );
    (img, r1)
}

/// True when umoci can run here (`umoci unpack` needs uid 0). Otherwise: a failure in CI, a loud
/// skip elsewhere.
fn umoci_or_skip(what: &str) -> bool {
    support::require_root_or_skip(&format!("{what} (umoci unpack needs root)"))
        && support::require_tool_or_skip("umoci", "umoci", what)
}

/// An OCI layout handled by umoci, the image spec's reference tool: the oracle for what an image
/// holds and the writer of the layouts that the image tests scan.
struct Umoci {
    layout: PathBuf,
}

impl Umoci {
    /// An existing layout (written by umoci or by hand).
    fn at(layout: &Path) -> Self {
        Umoci {
            layout: layout.to_path_buf(),
        }
    }

    /// `umoci init`: a new, empty layout at `layout`.
    fn init(layout: &Path) -> Self {
        run(
            Command::new("umoci").args(["init", "--layout"]).arg(layout),
            "umoci init",
        );
        Umoci::at(layout)
    }

    /// The image reference `LAYOUT:TAG`.
    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.layout.to_str().expect("utf-8 layout path"))
    }

    /// `umoci new`: an image `tag` without layers.
    fn new_image(&self, tag: &str) {
        self.umoci(&["new", "--image", &self.image(tag)], &format!("new {tag}"));
    }

    /// `umoci unpack` of image `tag` into the bundle `bundle`; returns the bundle's rootfs.
    fn unpack(&self, tag: &str, bundle: &Path) -> PathBuf {
        let b = bundle.to_str().expect("utf-8 bundle path");
        self.umoci(
            &["unpack", "--image", &self.image(tag), b],
            &format!("unpack {tag}"),
        );
        bundle.join("rootfs")
    }

    /// `umoci repack`: the changes made to `bundle`'s rootfs become a new layer, tagged `tag`.
    fn repack(&self, tag: &str, bundle: &Path) {
        let b = bundle.to_str().expect("utf-8 bundle path");
        self.umoci(
            &["repack", "--image", &self.image(tag), b],
            &format!("repack {tag}"),
        );
    }

    fn umoci(&self, args: &[&str], what: &str) {
        run(Command::new("umoci").args(args), &format!("umoci {what}"));
    }
}

/// `skopeo copy FROM TO` (image references with their transports).
fn skopeo_copy(from: &str, to: &str) {
    run(
        Command::new("skopeo").args(["copy", from, to]),
        &format!("skopeo copy {from} {to}"),
    );
}

#[test]
fn oci_layout_docker_archive_and_oci_archive_equal_the_unpacked_root() {
    if !umoci_or_skip("image scans")
        || !support::require_tool_or_skip("skopeo", "skopeo", "image scans")
    {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    // Layer 1: the Alpine root.
    let (img, _) = alpine_bundle(d, alpine);
    img.repack("base", &d.join("b1"));
    // Layer 2: deletions (whiteouts: a file and a whole directory) and a glibc program.
    let r2 = img.unpack("base", &d.join("b2"));
    std::fs::remove_file(r2.join("etc/motd")).expect("rm motd");
    std::fs::remove_dir_all(r2.join("etc/apk/keys")).expect("rm keys");
    std::fs::remove_file(r2.join("lib/libz.so.1.3.1")).expect("rm libz");
    let src = d.join("main.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write");
    run(
        Command::new("gcc")
            .arg("-o")
            .arg(r2.join("usr/bin/glibc-hello"))
            .arg(&src),
        "gcc",
    );
    img.repack("v2", &d.join("b2"));
    // The reference tree: what umoci itself unpacks.
    let r3 = img.unpack("v2", &d.join("b3"));
    let docker = d.join("docker.tar");
    let ociar = d.join("oci.tar");
    let oci = format!("oci:{}", img.image("v2"));
    skopeo_copy(
        &oci,
        &format!("docker-archive:{}:test/img:v2", docker.display()),
    );
    skopeo_copy(&oci, &format!("oci-archive:{}:v2", ociar.display()));

    let reference = scan(r3.to_str().expect("utf-8"));
    let want = essence(&reference);
    assert!(want.len() >= 17, "{} objects", want.len());
    assert!(
        want.iter().any(|o| o["path"] == "/usr/bin/glibc-hello"),
        "the glibc program is in the unpacked root"
    );
    assert!(
        !want.iter().any(|o| o["path"] == "/lib/libz.so.1.3.1"),
        "the whiteout removed libz"
    );
    for r in [
        oci.clone(),
        format!("docker-archive:{}", docker.display()),
        format!("oci-archive:{}:v2", ociar.display()),
        // Detected by content, without a transport prefix.
        docker.display().to_string(),
    ] {
        let doc = scan(&r);
        assert_eq!(
            essence(&doc),
            want,
            "scan of {r} differs from the unpacked root"
        );
        assert_eq!(
            doc["image"]["layers"].as_array().map(Vec::len),
            Some(2),
            "{r}"
        );
        // Every object names the layer that brought it: the glibc program the second one.
        let layers = doc["image"]["layers"].as_array().expect("layers");
        let prog = doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["path"] == "/usr/bin/glibc-hello")
            .expect("glibc-hello");
        assert_eq!(prog["layer"], layers[1], "{r}");
        let busybox = doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["path"] == "/bin/busybox")
            .expect("busybox");
        assert_eq!(busybox["layer"], layers[0], "{r}");
    }
    // check works on images too, and finds the glibc program on musl.
    let out = elfdeps(&["check", &oci, "-f", "json", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "interpreter-missing" && f["path"] == "/usr/bin/glibc-hello")
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-made layouts with hostile layers
// ---------------------------------------------------------------------------------------------

/// One tar member, written with raw header fields (the tar crate's builder refuses `..`).
struct Member<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    data: &'a [u8],
    link: &'a [u8],
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        name: name.as_bytes(),
        kind: tar::EntryType::Regular,
        data,
        link: b"",
    }
}

fn tar_of(members: &[Member<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..m.name.len()].copy_from_slice(m.name);
        h.as_old_mut().linkname[..m.link.len()].copy_from_slice(m.link);
        h.set_entry_type(m.kind);
        h.set_size(m.data.len() as u64);
        h.set_mode(if m.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_cksum();
        b.append(&h, m.data).expect("append");
    }
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes an OCI layout at `dir` whose image has these layers (uncompressed tars), gzipped.
fn layout(dir: &Path, layers: &[Vec<u8>]) {
    layout_of(dir, &[(Some("t"), None, layers)]);
}

/// One image of a layout: its tag, its platform (`os/arch`: in the index's descriptor and the
/// config; without one the config says linux/amd64 and the descriptor nothing), its layers.
type ImageSpec<'a> = (Option<&'a str>, Option<&'a str>, &'a [Vec<u8>]);

/// Writes an OCI layout at `dir` with these images, listed in its index.json.
fn layout_of(dir: &Path, images: &[ImageSpec<'_>]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let h = sha(data);
        std::fs::write(blobs.join(&h), data).expect("blob");
        h
    };
    let mut manifests = Vec::new();
    for (tag, platform, layers) in images {
        let mut descs = Vec::new();
        let mut diffs = Vec::new();
        for l in *layers {
            diffs.push(format!("sha256:{}", sha(l)));
            let gz = gzip(l);
            let h = put(&gz);
            descs.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{h}"), "size": gz.len()}));
        }
        let (os, arch) = platform
            .unwrap_or("linux/amd64")
            .split_once('/')
            .expect("os/arch");
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": os,
            "rootfs": {"type": "layers", "diff_ids": diffs}}))
        .expect("json");
        let ch = put(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": format!("sha256:{ch}"), "size": config.len()},
            "layers": descs}))
        .expect("json");
        let mh = put(&manifest);
        let mut desc = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{mh}"), "size": manifest.len()});
        if let Some(t) = tag {
            desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": t});
        }
        if platform.is_some() {
            desc["platform"] = serde_json::json!({"os": os, "architecture": arch});
        }
        manifests.push(desc);
    }
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

/// A directory outside every image, which must stay empty.
fn sentinel() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("tempdir");
    let s = t.path().join("sentinel");
    std::fs::create_dir(&s).expect("mkdir");
    (t, s)
}

fn assert_empty(dir: &Path) {
    let n = std::fs::read_dir(dir).expect("read sentinel").count();
    assert_eq!(
        n,
        0,
        "something was written outside the image into {}",
        dir.display()
    );
}

/// No `elfdeps-image-*` directory is left in TMPDIR by a run.
fn scan_in(tmp: &Path, args: &[&str]) -> Output {
    Elfdeps::new(args).env("TMPDIR", tmp).output()
}

fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .expect("tmp")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("elfdeps-image-"))
        .collect()
}

#[test]
fn tar_slip_is_refused() {
    let (t, s) = sentinel();
    let img = t.path().join("img");
    let escape = format!("../../../../../../../..{}/pwned", s.display());
    layout(&img, &[tar_of(&[file("ok", b"x"), file(&escape, b"evil")])]);
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let out = scan_in(&tmp, &["scan", &format!("oci:{}:t", img.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tar slip"),
        "{}",
        describe(&out)
    );
    assert_empty(&s);
    assert!(
        leftovers(&tmp).is_empty(),
        "temporary directory left: {:?}",
        leftovers(&tmp)
    );
}

#[test]
fn absolute_names_land_inside_the_image() {
    let (t, s) = sentinel();
    let img = t.path().join("img");
    let abs = format!("{}/abs", s.display());
    layout(&img, &[tar_of(&[file(&abs, b"data")])]);
    let doc = scan(&format!("oci:{}:t", img.display()));
    assert_eq!(
        doc["summary"]["files"], 1,
        "the file exists inside the image"
    );
    assert_empty(&s);
}

#[test]
fn symlink_then_write_is_refused() {
    let (t, s) = sentinel();
    let img = t.path().join("img");
    let target = s.display().to_string();
    layout(
        &img,
        &[tar_of(&[
            Member {
                name: b"link",
                kind: tar::EntryType::Symlink,
                data: b"",
                link: target.as_bytes(),
            },
            file("link/pwned", b"evil"),
        ])],
    );
    let out = elfdeps(&["scan", &format!("oci:{}:t", img.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symlink"),
        "{}",
        describe(&out)
    );
    assert_empty(&s);
    // The same through a symlink laid down by a lower layer.
    let img2 = t.path().join("img2");
    layout(
        &img2,
        &[
            tar_of(&[Member {
                name: b"etc",
                kind: tar::EntryType::Symlink,
                data: b"",
                link: target.as_bytes(),
            }]),
            tar_of(&[file("etc/passwd", b"evil")]),
        ],
    );
    let out = elfdeps(&["scan", &format!("oci:{}:t", img2.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_empty(&s);
}

#[test]
fn whiteouts_follow_the_oci_spec() {
    let t = tempfile::tempdir().expect("tempdir");
    let img = t.path().join("img");
    let dir = |n: &'static str| Member {
        name: n.as_bytes(),
        kind: tar::EntryType::Directory,
        data: b"",
        link: b"",
    };
    layout(
        &img,
        &[
            tar_of(&[
                dir("d/"),
                file("d/a", b"1"),
                dir("d/sub/"),
                file("d/sub/x", b"1"),
                file("gone", b"1"),
                file("f2d", b"file"),
                dir("keep/"),
                file("keep/y", b"1"),
            ]),
            // Layer 2: d/c written BEFORE the opaque marker must survive it (the marker hides
            // lower layers only); gone is whited out; f2d becomes a directory.
            tar_of(&[
                file("d/c", b"2"),
                file("d/.wh..wh..opq", b""),
                file(".wh.gone", b""),
                dir("f2d/"),
                file("f2d/inside", b"2"),
            ]),
        ],
    );
    let doc = scan(&format!("oci:{}:t", img.display()));
    // The walk's counts tell what is left: d/c, f2d/inside, keep/y.
    assert_eq!(doc["summary"]["files"], 3, "{}", doc["summary"]);
    assert_eq!(
        doc["summary"]["directories"], 3,
        "d, f2d, keep: {}",
        doc["summary"]
    );
    // A malformed whiteout is refused.
    let bad = t.path().join("bad");
    layout(&bad, &[tar_of(&[file(".wh.", b"")])]);
    let out = elfdeps(&["scan", &format!("oci:{}:t", bad.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed whiteout"));
}

#[test]
fn decompression_bomb_hits_the_cap() {
    let t = tempfile::tempdir().expect("tempdir");
    let img = t.path().join("img");
    let zeros = vec![0u8; 64 << 20];
    let layer = tar_of(&[file("bomb", &zeros)]);
    layout(&img, &[layer]);
    let gz_size: u64 = std::fs::read_dir(img.join("blobs/sha256"))
        .expect("blobs")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    assert!(gz_size < 1 << 20, "the bomb is small compressed: {gz_size}");
    let image = format!("oci:{}:t", img.display());
    let args = ["scan", &image, "-q", "--max-layer-size", "16M"].map(std::ffi::OsStr::new);
    let run = support::bounded_elfdeps(&args, t.path(), std::time::Duration::from_secs(120));
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--max-layer-size"), "{}", run.stderr);
    let rss = run.maxrss_kib;
    assert!(rss < 200 * 1024, "memory stays bounded: {rss} KiB");
    // The whole-image cap too.
    let out = elfdeps(&[
        "scan",
        &format!("oci:{}:t", img.display()),
        "-q",
        "--max-image-size",
        "8M",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-image-size"));
}

/// A bomb in a layer above a refused one costs nothing (layers are read one at a time, and the
/// failure named is the lower layer's), and the image's cap is counted in layer order: the layer
/// that passes it is the one named, even with little room left by the layer below.
#[test]
fn layers_above_a_refused_one_and_the_image_cap_go_in_layer_order() {
    // Small buffers: a spawned child's peak RSS includes this test process's (vfork), so this
    // test keeps its own memory low for the RSS bounds of the others.
    let t = tempfile::tempdir().expect("tempdir");
    let bomb = tar_of(&[file("bomb", &vec![0u8; 16 << 20])]);
    // Layer 1 is refused (a malformed whiteout); layer 2 is a bomb, never decompressed.
    let img = t.path().join("img");
    layout(&img, &[tar_of(&[file(".wh.", b"")]), bomb.clone()]);
    let image = format!("oci:{}:t", img.display());
    let args = ["scan", &image, "-q", "--max-layer-size", "1M"].map(std::ffi::OsStr::new);
    let run = support::bounded_elfdeps(&args, t.path(), std::time::Duration::from_secs(120));
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("layer 1: ") && run.stderr.contains("malformed whiteout"),
        "{}",
        run.stderr
    );
    // Layer 1 (8 MiB and its tar headers) fits `--max-image-size` 9M with less room left than
    // a layer's channels hold (a few MiB), and layer 2 (16 MiB) passes what is left: the cap
    // names layer 2.
    let img2 = t.path().join("img2");
    layout(&img2, &[tar_of(&[file("big", &vec![1u8; 8 << 20])]), bomb]);
    let image = format!("oci:{}:t", img2.display());
    let args = ["scan", &image, "-q", "--max-image-size", "9M"].map(std::ffi::OsStr::new);
    let run = support::bounded_elfdeps(&args, t.path(), std::time::Duration::from_secs(120));
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("layer 2: ") && run.stderr.contains("--max-image-size"),
        "{}",
        run.stderr
    );
    // Within the cap, both layers are applied.
    let args = ["scan", &image, "-q", "--max-image-size", "25M"].map(std::ffi::OsStr::new);
    let run = support::bounded_elfdeps(&args, t.path(), std::time::Duration::from_secs(120));
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
}

#[test]
fn tampered_blobs_are_refused() {
    let t = tempfile::tempdir().expect("tempdir");
    let img = t.path().join("img");
    layout(&img, &[tar_of(&[file("a", b"original")])]);
    // Replace the layer blob's content (keeping its name, the digest).
    let index: Value =
        serde_json::from_slice(&std::fs::read(img.join("index.json")).expect("index"))
            .expect("json");
    let mh = index["manifests"][0]["digest"].as_str().expect("digest")[7..].to_string();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(img.join("blobs/sha256").join(&mh)).expect("m"))
            .expect("json");
    let lh = manifest["layers"][0]["digest"].as_str().expect("digest")[7..].to_string();
    std::fs::write(
        img.join("blobs/sha256").join(&lh),
        gzip(&tar_of(&[file("a", b"tampered")])),
    )
    .expect("tamper");
    let out = elfdeps(&["scan", &format!("oci:{}:t", img.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tampered"),
        "{}",
        describe(&out)
    );
    // A digest that is not sha256:<64 hex> is refused before any path is built from it.
    let mut bad = manifest.clone();
    bad["layers"][0]["digest"] = Value::from("sha256:../../../etc/passwd");
    let bytes = serde_json::to_vec(&bad).expect("json");
    let bh = sha(&bytes);
    std::fs::write(img.join("blobs/sha256").join(&bh), &bytes).expect("write");
    let mut idx = index.clone();
    idx["manifests"][0]["digest"] = Value::from(format!("sha256:{bh}"));
    std::fs::write(
        img.join("index.json"),
        serde_json::to_vec(&idx).expect("json"),
    )
    .expect("w");
    let out = elfdeps(&["scan", &format!("oci:{}:t", img.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("64 lower-case hex"),
        "{}",
        describe(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Oracles for layer application (adversarial cases 25-27)
// ---------------------------------------------------------------------------------------------

/// One line per path of a tree, never following a symlink: `dir`, `symlink -> T`, or
/// `file SIZE SHA` (the hash only of files that start with the ELF magic: elfdeps writes the bytes
/// of those and gives the others their size only). A path sharing its inode with an earlier one
/// (a hard link) says `=FIRST`.
type Tree = std::collections::BTreeMap<String, String>;

fn tree(root: &Path) -> Tree {
    use std::os::unix::fs::MetadataExt;
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut Tree,
        inodes: &mut std::collections::HashMap<(u64, u64), String>,
    ) {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .collect();
        names.sort();
        for p in names {
            let rel = format!("/{}", p.strip_prefix(root).expect("below").display());
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let mut line = if m.is_dir() {
                "dir".to_string()
            } else if m.file_type().is_symlink() {
                format!(
                    "symlink -> {}",
                    std::fs::read_link(&p).expect("readlink").display()
                )
            } else if m.is_file() {
                let data = std::fs::read(&p).expect("read");
                let h = if data.starts_with(b"\x7fELF") {
                    sha(&data)[..12].to_string()
                } else {
                    "-".to_string()
                };
                format!("file {} {h}", m.len())
            } else {
                "special".to_string()
            };
            if !m.is_dir() && m.nlink() > 1 {
                let first = inodes
                    .entry((m.dev(), m.ino()))
                    .or_insert_with(|| rel.clone());
                if *first != rel {
                    line = format!("{line} ={first}");
                }
            }
            let is_dir = m.is_dir();
            out.insert(rel, line);
            if is_dir {
                walk(root, &p, out, inodes);
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out, &mut Default::default());
    out
}

/// Applies `layers` (uncompressed tars) in order with elfdeps' own layer code into `root` (a
/// directory under /tmp: on the same filesystem as /etc, so that a hard link to a host file would
/// succeed if the confinement failed). The error of the first layer that fails, if any.
fn apply_layers(
    root: &Path,
    layers: &[Vec<u8>],
) -> (elfdeps::image::layer::ApplyStats, Option<String>) {
    use elfdeps::image::layer;
    use std::os::fd::AsFd;
    std::fs::create_dir_all(root).expect("mkdir root");
    let dir = std::fs::File::open(root).expect("open root");
    let mut origins = layer::Origins::new();
    let mut stats = layer::ApplyStats::default();
    for (i, l) in layers.iter().enumerate() {
        let r = layer::Capped::new(&l[..], 1 << 30, 1 << 30);
        if let Err(e) = layer::apply(dir.as_fd(), r, i, &mut origins, &mut stats) {
            return (stats, Some(e.to_string()));
        }
    }
    (stats, None)
}

/// What GNU tar extracts from `layers`, one after the other, into `dir` (it honours PAX size and
/// path, GNU long names and hard links; it has no notion of whiteouts). Returns its stderr.
fn gnu_tar_extract(dir: &Path, layers: &[Vec<u8>], extra: &[&str]) -> String {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut err = String::new();
    for l in layers {
        let mut child = Command::new("tar")
            .args(["-x", "-f", "-", "--no-same-owner", "-C"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run GNU tar");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(l)
            .expect("feed tar");
        let out = child.wait_with_output().expect("tar");
        err.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    err
}

/// What `umoci unpack` makes of the image at `img` (tag `t`), as a tree.
fn umoci_tree(d: &Path, img: &Path) -> Tree {
    tree(&Umoci::at(img).unpack("t", &d.join("umoci-bundle")))
}

/// A small real ELF shared object whose soname is `lib<tag>.so`, so that its path shows up in a
/// scan with a soname telling which content it has.
fn elf_so(dir: &Path, tag: &str) -> Vec<u8> {
    let src = dir.join("empty.c");
    std::fs::write(&src, "int x;\n").expect("write");
    let out = dir.join(format!("lib{tag}.so"));
    run(
        Command::new("gcc")
            .args(["-shared", "-nostdlib", "-s", "-o"])
            .arg(&out)
            .arg(format!("-Wl,-soname,lib{tag}.so"))
            .arg(&src),
        "gcc -shared",
    );
    std::fs::read(&out).expect("read so")
}

/// The scan's objects as path -> soname.
fn objects_of(doc: &Value) -> std::collections::BTreeMap<String, String> {
    doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["path"].as_str().expect("path").to_string(),
                o["soname"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn member<'a>(name: &'a str, kind: tar::EntryType, link: &'a str) -> Member<'a> {
    Member {
        name: name.as_bytes(),
        kind,
        data: b"",
        link: link.as_bytes(),
    }
}

fn dir(name: &str) -> Member<'_> {
    member(name, tar::EntryType::Directory, "")
}

fn symlink<'a>(name: &'a str, target: &'a str) -> Member<'a> {
    member(name, tar::EntryType::Symlink, target)
}

fn hardlink<'a>(name: &'a str, target: &'a str) -> Member<'a> {
    member(name, tar::EntryType::Link, target)
}

/// Adversarial case 25: duplicate entries for one path inside a layer (the later one wins; a
/// symlink laid down by the earlier one is replaced, never written through), and file <-> directory
/// replacement between layers in both directions, with children. The OCI layer spec says to
/// unlink and recreate: the tree must equal what `umoci unpack` makes of the same layers, and
/// nothing may land outside.
#[test]
fn case_25_duplicates_and_file_dir_replacement() {
    if !umoci_or_skip("case 25")
        || !support::require_tool_or_skip("tar", "tar", "case 25")
        || !support::require_tool_or_skip("gcc", "gcc", "case 25")
    {
        return;
    }
    let (t, s) = sentinel();
    let d = t.path();
    let a = elf_so(d, "a");
    let b = elf_so(d, "b");
    // A path outside every image that a write through a replaced symlink would create.
    let victim = format!("{}/victim", s.display());
    let l1 = tar_of(&[
        // Becomes a file in layer 2, with everything below it (a symlink out among them).
        dir("d/"),
        file("d/a", &a),
        dir("d/sub/"),
        file("d/sub/b", &b),
        symlink("d/esc", "/etc"),
        // Becomes a directory with a child in layer 2.
        file("f", &a),
        // A hard-linked pair: layer 2 replaces one name; the other must keep its content (a
        // replacement opened with O_TRUNC instead of unlinked would rewrite both).
        file("h", &a),
        hardlink("h2", "h"),
        // RUSTSEC-2018-0002: a symlink entry, then a regular file entry of the same name.
        symlink("s", &victim),
        file("s", &b),
        // Plain duplicates: the later one wins.
        file("dup", &a),
        file("dup", &b),
        // A directory twice: a merge, its child stays.
        dir("dd/"),
        file("dd/x", &a),
        dir("dd/"),
        // A symlink to a directory, replaced by a real directory in layer 2.
        symlink("lnk", "d"),
        // A directory replaced by a symlink in layer 2.
        dir("dl/"),
        file("dl/y", &a),
    ]);
    let l2 = tar_of(&[
        file("d", &b),
        dir("f/"),
        file("f/x", &b),
        file("h2", &b),
        dir("lnk/"),
        file("lnk/c", &a),
        symlink("dl", "dd"),
        // A duplicate across layers of a file replaced twice in this layer.
        file("dup", &a),
    ]);
    let layers = vec![l1, l2];

    // elfdeps' own application.
    let root = d.join("elfdeps-root");
    let (stats, err) = apply_layers(&root, &layers);
    assert_eq!(err, None, "the layers apply");
    assert!(stats.notes.is_empty(), "nothing skipped: {:?}", stats.notes);
    let got = tree(&root);

    // Oracle 1: umoci, from the same layers as an OCI layout.
    let img = d.join("img");
    layout(&img, &layers);
    let want = umoci_tree(d, &img);
    assert_eq!(got, want, "elfdeps' tree differs from umoci's");

    // GNU tar is no oracle here: it is not an OCI layer applier. With --recursive-unlink it also
    // empties a directory on a duplicate directory entry (dd/x would go), without it a file cannot
    // replace a non-empty directory, and it re-creates an absolute symlink (s) after the regular
    // file that replaced it (its delayed-symlink protection). umoci implements the spec.

    // What the test is about, spelled out (so that a change of both oracles cannot hide it).
    let sha_a = sha(&a)[..12].to_string();
    let sha_b = sha(&b)[..12].to_string();
    let f = |data: &[u8], h: &str| format!("file {} {h}", data.len());
    assert_eq!(got["/d"], f(&b, &sha_b), "the directory became a file");
    assert!(!got.contains_key("/d/a") && !got.contains_key("/d/esc"));
    assert_eq!(got["/f"], "dir");
    assert_eq!(got["/f/x"], f(&b, &sha_b));
    assert_eq!(got["/h"], f(&a, &sha_a), "h kept its content");
    assert_eq!(
        got["/h2"],
        f(&b, &sha_b),
        "h2 is a new file, not h rewritten"
    );
    assert_eq!(got["/s"], f(&b, &sha_b), "the symlink was replaced");
    assert_eq!(got["/dup"], f(&a, &sha_a));
    assert_eq!(got["/dd/x"], f(&a, &sha_a));
    assert_eq!(got["/lnk"], "dir");
    assert_eq!(got["/lnk/c"], f(&a, &sha_a));
    assert_eq!(got["/dl"], "symlink -> dd");
    assert_empty(&s);

    // The scan reports the same files with the same contents.
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let out = scan_in(
        &tmp,
        &[
            "scan",
            &format!("oci:{}:t", img.display()),
            "-q",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let soname = |data: &[u8]| if *data == a { "liba.so" } else { "libb.so" };
    let want_objects: std::collections::BTreeMap<String, String> = [
        ("/d", &b),
        ("/f/x", &b),
        ("/h", &a),
        ("/h2", &b),
        ("/s", &b),
        ("/dup", &a),
        ("/dd/x", &a),
        ("/lnk/c", &a),
        ("/dl", &b),
    ]
    .iter()
    .filter(|(p, _)| *p != "/dl")
    .map(|(p, data)| (p.to_string(), soname(data).to_string()))
    .collect();
    assert_eq!(objects_of(&doc), want_objects, "{}", describe(&out));
    assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
    assert_empty(&s);

    // A file, then a symlink of the same name out of the image, then a write through it: the
    // symlink replaced the file, and the write below it is refused (never followed).
    let img2 = d.join("img2");
    let out_dir = s.display().to_string();
    layout(
        &img2,
        &[tar_of(&[
            file("x", &a),
            symlink("x", &out_dir),
            file("x/pwned", &b),
        ])],
    );
    let out = scan_in(&tmp, &["scan", &format!("oci:{}:t", img2.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("layer 1") && e.contains("/x is a symlink") && e.contains("refused"),
        "the error names the layer, the path and the refusal: {}",
        describe(&out)
    );
    assert_empty(&s);
    assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
}

/// The walk of an unpacked image does not open the files the layers wrote as plain (four bytes
/// or more, no ELF magic): what it skips must be what the last layer left at each path. A plain
/// file replaced by an ELF one (directly, after a whiteout, by a directory holding one), an ELF
/// file replaced by a plain one, hard links to either and a short file are all scanned as the same
/// tree scanned as a directory is.
#[test]
fn plain_files_known_from_the_layers_follow_later_layers() {
    if !support::require_tool_or_skip("gcc", "gcc", "plain files known from the layers") {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let a = elf_so(d, "a");
    let b = elf_so(d, "b");
    let text = b"not an ELF file\n";
    let layers = vec![
        tar_of(&[
            dir("usr/"),
            dir("usr/lib/"),
            file("usr/lib/libp.so", text),
            file("usr/lib/libq.so", &b),
            file("usr/lib/short", b"ab"),
            file("usr/lib/t.txt", text),
            file("usr/lib/libe.so", &a),
            file("usr/lib/dir", text),
            file("usr/lib/w", text),
            file("usr/lib/elf-head", b"\x7fELx and more"),
        ]),
        tar_of(&[
            file("usr/lib/libp.so", &a),
            file("usr/lib/libq.so", text),
            hardlink("usr/lib/libh.so", "usr/lib/t.txt"),
            hardlink("usr/lib/libe2.so", "usr/lib/libe.so"),
            dir("usr/lib/dir/"),
            file("usr/lib/dir/libc.so", &b),
            file("usr/lib/.wh.w", b""),
        ]),
        tar_of(&[file("usr/lib/w", &b)]),
    ];
    let img = d.join("img");
    layout(&img, &layers);
    let doc = scan(&format!("oci:{}:t", img.display()));
    let want: std::collections::BTreeMap<String, String> = [
        ("/usr/lib/dir/libc.so", "libb.so"),
        ("/usr/lib/libe.so", "liba.so"),
        ("/usr/lib/libe2.so", "liba.so"),
        ("/usr/lib/libp.so", "liba.so"),
        ("/usr/lib/w", "libb.so"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    assert_eq!(objects_of(&doc), want, "{}", doc["objects"]);
    // libp, libq, short, t.txt, libh, libe, libe2, dir/libc, w, elf-head.
    assert_eq!(doc["summary"]["files"], 10, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["errors"], 0, "{}", doc["summary"]);
    // The layer that last wrote each object.
    let layer_digest = |i: usize| {
        doc["image"]["layers"][i]
            .as_str()
            .expect("digest")
            .to_string()
    };
    let layer_of = |path: &str| {
        let objects = doc["objects"].as_array().expect("objects");
        let o = objects.iter().find(|o| o["path"] == path).expect("object");
        o["layer"].as_str().expect("layer").to_string()
    };
    assert_eq!(layer_of("/usr/lib/libp.so"), layer_digest(1));
    assert_eq!(layer_of("/usr/lib/libe2.so"), layer_digest(1));
    assert_eq!(layer_of("/usr/lib/w"), layer_digest(2));

    // The same tree, applied by elfdeps' own layer code and scanned as a directory (every file
    // opened), says the same.
    let root = d.join("root");
    let (_, err) = apply_layers(&root, &layers);
    assert_eq!(err, None, "the layers apply");
    let plain = scan(root.to_str().expect("utf-8 path"));
    assert_eq!(objects_of(&plain), want);
    assert_eq!(plain["summary"], doc["summary"]);
}

fn nlink(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).expect("stat").nlink()
}

/// Adversarial case 26: hard-link entries. To an earlier member and to a lower layer's file
/// (applied: both names, one inode), to a later member, to a path not in the tree, to a
/// directory (claircore#744), to itself, in a cycle (claircore#713), through a symlink, and to an
/// absolute host path (skipped with a note naming the entry, never linking a host file); to a
/// symlink (a second name of the symlink, as link(2) and GNU tar make it); with `..` (refused, tar
/// slip). The tree equals what GNU tar extracts from the same layers, in order.
#[test]
fn case_26_hard_link_entries() {
    if !support::require_tool_or_skip("tar", "tar", "case 26")
        || !support::require_tool_or_skip("gcc", "gcc", "case 26")
    {
        return;
    }
    let (t, s) = sentinel();
    let d = t.path();
    let a = elf_so(d, "a");
    let b = elf_so(d, "b");
    let p = elf_so(d, "p");
    // A host file on the same filesystem as the unpack directory (both under /tmp), so a link to
    // it would succeed if the confinement failed.
    let host = d.join("host");
    std::fs::create_dir(&host).expect("mkdir");
    let secret = host.join("secret");
    std::fs::write(&secret, &a).expect("write");
    let secret_s = secret.display().to_string();
    let host_s = host.display().to_string();
    let l1 = tar_of(&[dir("etc/"), file("etc/passwd", &p), file("lower", &a)]);
    let l2 = tar_of(&[
        // To an earlier member: applied.
        file("a", &a),
        hardlink("a_link", "a"),
        // To a later member (not there yet): skipped.
        hardlink("early", "later"),
        file("later", &b),
        // To nothing in the tree: skipped, and no directory made on the way.
        hardlink("out", "nowhere/x"),
        // To a directory: skipped.
        hardlink("todir", "etc"),
        // To itself (the file exists): the file stays as it is.
        file("self", &b),
        hardlink("self", "self"),
        hardlink("./self", "self"),
        // A cycle of names that do not exist: both skipped.
        hardlink("c1", "c2"),
        hardlink("c2", "c1"),
        // Absolute: inside the image, to the image's own file.
        hardlink("abs", "/etc/passwd"),
        // Absolute, to a host file the image does not have: skipped.
        hardlink("abs_host", &secret_s),
        // To a file of a lower layer: applied.
        hardlink("lowerlink", "lower"),
        // To a symlink: a second name of the symlink (never of what it points to).
        symlink("sym", "a"),
        hardlink("symhard", "sym"),
        // Through a symlink out of the image: skipped, the host file is not linked.
        symlink("viasym", &host_s),
        hardlink("through", "viasym/secret"),
    ]);
    let layers = vec![l1, l2];
    let secret_links = nlink(&secret);

    let root = d.join("elfdeps-root");
    let (stats, err) = apply_layers(&root, &layers);
    assert_eq!(err, None, "the layers apply");
    let got = tree(&root);
    let gnu = d.join("gnu");
    let gnu_err = gnu_tar_extract(&gnu, &layers, &[]);
    assert_eq!(
        got,
        tree(&gnu),
        "elfdeps' tree differs from GNU tar's ({gnu_err})"
    );

    // Spelled out.
    let sha_a = sha(&a)[..12].to_string();
    assert_eq!(got["/a_link"], format!("file {} {sha_a} =/a", a.len()));
    assert_eq!(
        got["/lowerlink"],
        format!("file {} {sha_a} =/lower", a.len())
    );
    // The walk meets /abs before /etc/passwd: the second name points back at the first.
    assert!(
        got["/etc/passwd"].ends_with("=/abs"),
        "{}",
        got["/etc/passwd"]
    );
    assert_eq!(got["/symhard"], "symlink -> a =/sym");
    assert!(got["/self"].starts_with(&format!("file {} ", b.len())));
    for p in [
        "/early",
        "/out",
        "/nowhere",
        "/todir",
        "/c1",
        "/c2",
        "/abs_host",
        "/through",
    ] {
        assert!(!got.contains_key(p), "{p} must not exist: {got:?}");
    }
    assert_eq!(nlink(&secret), secret_links, "the host file was not linked");
    assert_eq!(std::fs::read(&secret).expect("read"), a, "nor changed");
    assert_empty(&s);
    // Every skipped entry has a note naming it, its target and why.
    let notes = stats.notes.join("\n");
    for (name, target) in [
        ("/early", "later"),
        ("/out", "nowhere/x"),
        ("/todir", "etc"),
        ("/c1", "c2"),
        ("/c2", "c1"),
        ("/abs_host", secret_s.as_str()),
        ("/through", "viasym/secret"),
    ] {
        assert!(
            stats
                .notes
                .iter()
                .any(|n| n.contains(&format!("hard link {name} "))
                    && n.contains(target)
                    && n.contains("skipped")),
            "no note for {name} -> {target}:\n{notes}"
        );
    }

    // The host's own /etc/passwd (same filesystem as /tmp): an absolute hard link, and one through
    // a symlink to /etc, link nothing and bring none of its content in.
    let passwd = Path::new("/etc/passwd");
    let passwd_links = nlink(passwd);
    let passwd_data = std::fs::read(passwd).expect("read /etc/passwd");
    let root2 = d.join("root2");
    let (stats2, err) = apply_layers(
        &root2,
        &[tar_of(&[
            hardlink("pw", "/etc/passwd"),
            symlink("etc", "/etc"),
            hardlink("pw2", "etc/passwd"),
        ])],
    );
    assert_eq!(err, None);
    assert_eq!(
        tree(&root2),
        Tree::from([("/etc".to_string(), "symlink -> /etc".to_string())])
    );
    assert_eq!(stats2.notes.len(), 2, "{:?}", stats2.notes);
    assert_eq!(nlink(passwd), passwd_links, "/etc/passwd was not linked");
    assert_eq!(std::fs::read(passwd).expect("read"), passwd_data);

    // `..` in the link name: the image is refused (tar slip), whatever is above.
    for target in ["../../../../../../../../etc/passwd", "a/../../etc/passwd"] {
        let root3 = d.join("root3");
        let _ = std::fs::remove_dir_all(&root3);
        let (_, err) = apply_layers(&root3, &[tar_of(&[file("a", &a), hardlink("x", target)])]);
        let err = err.expect("refused");
        assert!(
            err.contains("layer 1") && err.contains("hard link /x") && err.contains("tar slip"),
            "{err}"
        );
        assert!(!root3.join("x").exists());
        assert_eq!(nlink(passwd), passwd_links);
    }

    // End to end: the scan reports both names of each applied link, the notes, and exits 0.
    let img = d.join("img");
    layout(&img, &layers);
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let out = scan_in(
        &tmp,
        &[
            "scan",
            &format!("oci:{}:t", img.display()),
            "-q",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let objects = objects_of(&doc);
    for (path, soname) in [
        ("/a", "liba.so"),
        ("/a_link", "liba.so"),
        ("/lower", "liba.so"),
        ("/lowerlink", "liba.so"),
        ("/etc/passwd", "libp.so"),
        ("/abs", "libp.so"),
        ("/later", "libb.so"),
        ("/self", "libb.so"),
    ] {
        assert_eq!(
            objects.get(path).map(String::as_str),
            Some(soname),
            "{path}: {objects:?}"
        );
    }
    assert_eq!(objects.len(), 8, "{objects:?}");
    let notes = doc["image"]["applied"]["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 7, "{notes:?}");
    // The human report shows them too.
    let out = scan_in(&tmp, &["scan", &format!("oci:{}:t", img.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hard link /early "),
        "{}",
        describe(&out)
    );
    assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
    assert_eq!(nlink(&secret), secret_links);
    assert_empty(&s);
}

/// A raw ustar header block: the size field says `size`, whatever data follows.
fn raw_header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    d.resize(data.len().div_ceil(512) * 512, 0);
    d
}

/// A member: header (size `size`, or the data's length) and the data, padded.
fn raw_entry(name: &[u8], kind: u8, data: &[u8], size: Option<u64>, link: &[u8]) -> Vec<u8> {
    let mut e = raw_header(name, kind, size.unwrap_or(data.len() as u64), link);
    e.extend(padded(data));
    e
}

/// One PAX record, `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = [b" ", key, b"=", value, b"\n"].concat();
    let mut n = body.len() + 1;
    while n.to_string().len() + body.len() != n {
        n += 1;
    }
    [n.to_string().as_bytes(), &body].concat()
}

/// A local PAX extended header (`x`) with these raw record bytes.
fn pax(records: &[u8]) -> Vec<u8> {
    raw_entry(b"PaxHeaders/x", b'x', records, None, b"")
}

fn tar_end() -> Vec<u8> {
    vec![0u8; 1024]
}

/// Adversarial case 27: PAX and GNU headers that make tar readers disagree (CVE-2026-33055
/// class). Layers crafted byte by byte; where the stream has one meaning, the tree elfdeps applies
/// equals what GNU tar extracts (it honours PAX size, path and linkpath, and GNU long names);
/// where the tar crate and GNU tar would see different members, the layer is refused with an error
/// saying why. Truncated records and sizes beyond the end are errors, never a panic or a hang.
#[test]
fn case_27_pax_gnu_header_desync() {
    if !support::require_tool_or_skip("tar", "tar", "case 27")
        || !support::require_tool_or_skip("gcc", "gcc", "case 27")
    {
        return;
    }
    let (t, s) = sentinel();
    let d = t.path();
    let elf = elf_so(d, "smuggled");
    // A complete tar member hidden in another member's data: a reader that frames by the wrong
    // size sees it as a member of its own.
    let smuggled = raw_entry(b"smuggled", b'0', &elf, None, b"");
    let after = || raw_entry(b"after", b'0', b"\x7fELF after", None, b"");
    let size_rec = |n: usize| pax_record(b"size", n.to_string().as_bytes());
    let long: String = format!("{}/{}", "d".repeat(120), "n".repeat(120));
    let long_target: String = "t".repeat(150);
    let escape = format!("../../../../../../../..{}/pwned", s.display());

    // Streams with one meaning: the tree equals GNU tar's.
    let agreed: Vec<(&str, Vec<u8>)> = vec![
        // PAX size larger than the header's: the hidden member is data.
        (
            "pax size > ustar size",
            [
                pax(&size_rec(smuggled.len())),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
        ),
        // PAX size smaller than the header's: the member after it is real.
        (
            "pax size < ustar size",
            [
                pax(&size_rec(9)),
                raw_header(b"f", b'0', 9 + 1024, b""),
                padded(b"\x7fELF nine"),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
        ),
        // PAX path over the ustar name, also over one that would be a tar slip.
        (
            "pax path",
            [
                pax(&pax_record(b"path", b"paxname")),
                raw_entry(b"ustarname", b'0', b"\x7fELF x", None, b""),
            ]
            .concat(),
        ),
        (
            "pax path over a `..` name",
            [
                pax(&pax_record(b"path", b"inside")),
                raw_entry(escape.as_bytes(), b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
        ),
        (
            "pax linkpath",
            [
                pax(&pax_record(b"linkpath", b"pax-target")),
                raw_entry(b"sym", b'2', b"", None, b"ustar-target"),
                tar_end(),
            ]
            .concat(),
        ),
        // GNU long name and long link name.
        (
            "gnu long names",
            [
                raw_entry(
                    b"././@LongLink",
                    b'L',
                    format!("{long}\0").as_bytes(),
                    None,
                    b"",
                ),
                raw_entry(b"truncated-name", b'0', b"\x7fELF long", None, b""),
                raw_entry(
                    b"././@LongLink",
                    b'K',
                    format!("{long_target}\0").as_bytes(),
                    None,
                    b"",
                ),
                raw_entry(b"longsym", b'2', b"", None, b"truncated-target"),
                tar_end(),
            ]
            .concat(),
        ),
        // GNU long name and PAX path, in both orders: GNU tar takes the PAX path.
        (
            "long name, then pax path",
            [
                raw_entry(b"././@LongLink", b'L', b"longname\0", None, b""),
                pax(&pax_record(b"path", b"paxname")),
                raw_entry(b"ustarname", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
        ),
        (
            "pax path, then long name",
            [
                pax(&pax_record(b"path", b"paxname")),
                raw_entry(b"././@LongLink", b'L', b"longname\0", None, b""),
                raw_entry(b"ustarname", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
        ),
        // A header that starts with an empty line: both readers stop reading its records, and
        // both frame by the ustar size (GNU tar complains, the tar crate is silent).
        (
            "empty first record",
            [
                pax(&[b"\n".to_vec(), size_rec(smuggled.len())].concat()),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
        ),
    ];
    for (what, layer) in &agreed {
        let case = d.join(what.replace(' ', "_"));
        let root = case.join("elfdeps");
        let (stats, err) = apply_layers(&root, std::slice::from_ref(layer));
        assert_eq!(err, None, "{what}: applies");
        assert!(stats.notes.is_empty(), "{what}: {:?}", stats.notes);
        let gnu = case.join("gnu");
        let gnu_err = gnu_tar_extract(&gnu, std::slice::from_ref(layer), &[]);
        assert_eq!(
            tree(&root),
            tree(&gnu),
            "{what}: elfdeps differs from GNU tar ({gnu_err})"
        );
        assert!(!tree(&root).is_empty(), "{what}");
    }
    // Spelled out for the smuggling ones.
    let tree_of = |what: &str| tree(&d.join(what.replace(' ', "_")).join("elfdeps"));
    let t1 = tree_of("pax size > ustar size");
    assert_eq!(t1.keys().collect::<Vec<_>>(), ["/after", "/f"], "{t1:?}");
    assert_eq!(
        t1["/f"],
        format!("file {} -", smuggled.len()),
        "the PAX size counts"
    );
    let t2 = tree_of("pax size < ustar size");
    assert_eq!(t2.keys().collect::<Vec<_>>(), ["/after", "/f", "/smuggled"]);
    assert_eq!(tree_of("pax path").keys().collect::<Vec<_>>(), ["/paxname"]);
    assert_eq!(
        tree_of("pax path over a `..` name")
            .keys()
            .collect::<Vec<_>>(),
        ["/inside"]
    );
    assert_eq!(tree_of("pax linkpath")["/sym"], "symlink -> pax-target");
    let tl = tree_of("gnu long names");
    assert!(tl.contains_key(&format!("/{long}")), "{tl:?}");
    assert_eq!(tl["/longsym"], format!("symlink -> {long_target}"));
    assert_eq!(
        tree_of("long name, then pax path")
            .keys()
            .collect::<Vec<_>>(),
        ["/paxname"]
    );
    assert_eq!(
        tree_of("pax path, then long name")
            .keys()
            .collect::<Vec<_>>(),
        ["/paxname"]
    );
    assert_empty(&s);

    // Streams the tar crate and GNU tar read differently, and broken ones: refused, with why.
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "two size records",
            [
                pax(&[size_rec(0), size_rec(smuggled.len())].concat()),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
            "two different PAX `size` records",
        ),
        (
            "newline in a value",
            [
                pax(&[pax_record(b"path", b"a\nb"), size_rec(smuggled.len())].concat()),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
            "malformed PAX extended header record",
        ),
        (
            "truncated record",
            [
                pax(b"30 path=abc\n"),
                raw_entry(b"f", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
            "malformed PAX extended header record",
        ),
        (
            "bad record before size",
            [
                pax(&[b"99 junk=1\n".to_vec(), size_rec(smuggled.len())].concat()),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
            "malformed PAX extended header record",
        ),
        (
            "size not a number",
            [
                pax(&pax_record(b"size", b"12x")),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                tar_end(),
            ]
            .concat(),
            "is not a number",
        ),
        (
            "size beyond u64",
            [
                pax(&pax_record(b"size", b"99999999999999999999")),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                tar_end(),
            ]
            .concat(),
            "is not a number",
        ),
        (
            "global size",
            [
                raw_entry(b"g", b'g', &size_rec(smuggled.len()), None, b""),
                raw_header(b"f", b'0', 0, b""),
                smuggled.clone(),
                after(),
                tar_end(),
            ]
            .concat(),
            "global PAX header sets `size`",
        ),
        (
            "global path",
            [
                raw_entry(b"g", b'g', &pax_record(b"path", b"gpath"), None, b""),
                raw_entry(b"f", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
            "global PAX header sets `path`",
        ),
        (
            "directory with data",
            [
                raw_header(b"dir/", b'5', smuggled.len() as u64, b""),
                smuggled.clone(),
                tar_end(),
            ]
            .concat(),
            "tar readers disagree on where the next entry starts",
        ),
        (
            "symlink with a pax size",
            [
                pax(&size_rec(smuggled.len())),
                raw_header(b"sym", b'2', 0, b"target"),
                smuggled.clone(),
                tar_end(),
            ]
            .concat(),
            "tar readers disagree on where the next entry starts",
        ),
        (
            "hard link with data",
            [
                raw_entry(b"f", b'0', b"\x7fELF f", None, b""),
                raw_header(b"lnk", b'1', smuggled.len() as u64, b"f"),
                smuggled.clone(),
                tar_end(),
            ]
            .concat(),
            "tar readers disagree on where the next entry starts",
        ),
        (
            "pax size beyond the end (ELF data)",
            [
                pax(&size_rec(1 << 20)),
                raw_header(b"f", b'0', 0, b""),
                padded(b"\x7fELF short"),
                tar_end(),
            ]
            .concat(),
            "the layer ends inside its data",
        ),
        (
            "pax size beyond the end (other data)",
            [
                pax(&size_rec(1 << 20)),
                raw_header(b"f", b'0', 0, b""),
                padded(b"short"),
                tar_end(),
            ]
            .concat(),
            "the layer is truncated",
        ),
        (
            "pax header cut short",
            [
                raw_header(b"PaxHeaders/x", b'x', 4096, b""),
                padded(&size_rec(10)),
            ]
            .concat(),
            "the layer is truncated",
        ),
        (
            "two pax headers",
            [
                pax(&pax_record(b"path", b"one")),
                pax(&pax_record(b"path", b"two")),
                raw_entry(b"u", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
            "not a valid tar archive: its first entry cannot be read",
        ),
        (
            "pax path with `..`",
            [
                pax(&pax_record(b"path", escape.as_bytes())),
                raw_entry(b"benign", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
            "tar slip",
        ),
        (
            "long name with `..`",
            [
                raw_entry(
                    b"././@LongLink",
                    b'L',
                    format!("{escape}\0").as_bytes(),
                    None,
                    b"",
                ),
                raw_entry(b"benign", b'0', b"\x7fELF x", None, b""),
                tar_end(),
            ]
            .concat(),
            "tar slip",
        ),
    ];
    for (what, layer, why) in refused {
        let root = d.join(format!("refused-{}", what.replace(' ', "_")));
        // In a thread, so that a hang is a failure rather than a stuck test.
        let (tx, rx) = std::sync::mpsc::channel();
        let r = root.clone();
        let l = layer.clone();
        std::thread::spawn(move || {
            let _ = tx.send(apply_layers(&r, &[l]).1);
        });
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what}: no answer in 30 s (a hang or a panic)"));
        let err =
            err.unwrap_or_else(|| panic!("{what}: applied, should be refused: {:?}", tree(&root)));
        assert!(
            err.starts_with("layer 1: ") && err.contains(why),
            "{what}: {err}"
        );
        assert!(!tree(&root).contains_key("/smuggled"), "{what}");
    }
    assert_empty(&s);

    // End to end: the smuggled ELF file is no object of the scan; a refused layer fails the image
    // with the reason, leaving no temporary directory.
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let img = d.join("img");
    layout(&img, std::slice::from_ref(&agreed[0].1));
    let out = scan_in(
        &tmp,
        &[
            "scan",
            &format!("oci:{}:t", img.display()),
            "-q",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        !objects_of(&doc).contains_key("/smuggled"),
        "{}",
        describe(&out)
    );
    assert_eq!(doc["summary"]["files"], 2);
    let bad = d.join("bad");
    layout(
        &bad,
        &[[
            pax(&[size_rec(0), size_rec(smuggled.len())].concat()),
            raw_header(b"f", b'0', 0, b""),
            smuggled.clone(),
            tar_end(),
        ]
        .concat()],
    );
    let out = scan_in(&tmp, &["scan", &format!("oci:{}:t", bad.display()), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("layer 1: f: two different PAX `size` records"),
        "{}",
        describe(&out)
    );
    assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
    assert_empty(&s);
}

// ---------------------------------------------------------------------------------------------
// Messages in our own words: what the input is and what elfdeps accepts, never a parser's text
// ---------------------------------------------------------------------------------------------

/// Runs elfdeps, which must refuse the input (exit 2); its standard error.
fn refused(args: &[&str]) -> String {
    let out = elfdeps(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No text of the tar or JSON parsers, and no raw bytes of the input, in a message.
fn assert_own_words(err: &str) {
    for raw in [
        "numeric field",
        "cksum",
        "failed to read entire block",
        "unexpected EOF",
        "invalid type",
        "expected a",
        "expected value",
        "line 1 column",
        "EOF while parsing",
        "missing field",
        "root:x:0:0",
    ] {
        assert!(!err.contains(raw), "parser text `{raw}` in: {err}");
    }
    assert!(
        !err.chars()
            .any(|c| c == '\u{fffd}' || (c.is_control() && c != '\n')),
        "raw bytes in: {err:?}"
    );
}

#[test]
fn files_that_are_not_images_are_named_for_what_they_are() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let at = |n: &str| d.join(n).display().to_string();
    // A text file such as /etc/passwd.
    std::fs::write(
        d.join("passwd"),
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            .repeat(20),
    )
    .expect("write");
    let e = refused(&["scan", &at("passwd"), "-q"]);
    assert!(e.contains("not a directory or a tar archive"), "{e}");
    assert!(
        e.contains("ROOT must be the directory of a root filesystem"),
        "{e}"
    );
    assert_own_words(&e);
    // A root filesystem tarball, plain or gzipped, is a root (tests/tarballs.rs); cut short, it is
    // named by its compression; behind a transport, which names uncompressed archives, the
    // message says to give the path alone.
    let rootfs = tar_of(&[dir("etc/"), file("etc/os-release", b"ID=test\n")]);
    std::fs::write(d.join("rootfs.tar"), &rootfs).expect("write");
    let gz = gzip(&rootfs);
    std::fs::write(d.join("rootfs.tar.gz"), &gz).expect("write");
    for r in [at("rootfs.tar"), at("rootfs.tar.gz")] {
        let out = elfdeps(&["scan", &r, "-q"]);
        assert_eq!(out.status.code(), Some(0), "{r}: {}", describe(&out));
    }
    std::fs::write(d.join("cut.tar.gz"), &gz[..gz.len() / 2]).expect("write");
    let e = refused(&["scan", &at("cut.tar.gz"), "-q"]);
    assert!(e.contains("gzip data is damaged or cut short"), "{e}");
    assert_own_words(&e);
    for r in [
        format!("docker-archive:{}", at("rootfs.tar.gz")),
        format!("oci-archive:{}", at("rootfs.tar.gz")),
    ] {
        let e = refused(&["scan", &r, "-q"]);
        assert!(e.contains("gzip-compressed"), "{r}: {e}");
        assert!(e.contains("give the path alone"), "{r}: {e}");
        assert_own_words(&e);
    }
    // A tar cut short, and one whose second header is damaged.
    let image = tar_of(&[
        file("manifest.json", b"[]"),
        file("blob", &[7u8; 2048]),
        file("tail", b"x"),
    ]);
    std::fs::write(d.join("cut.tar"), &image[..1200]).expect("write");
    let e = refused(&["scan", &at("cut.tar"), "-q"]);
    assert!(e.contains("ends early: truncated"), "{e}");
    assert_own_words(&e);
    let mut damaged = image.clone();
    damaged[1024 + 124] = b'x'; // the size field of the second header
    std::fs::write(d.join("damaged.tar"), &damaged).expect("write");
    let e = refused(&[
        "scan",
        &format!("docker-archive:{}", at("damaged.tar")),
        "-q",
    ]);
    assert!(e.contains("damaged entry header at byte 1024"), "{e}");
    assert_own_words(&e);
    // An ELF file, and an empty one.
    let e = refused(&[
        "scan",
        support::elfdeps_bin().to_str().expect("utf-8"),
        "-q",
    ]);
    assert!(e.contains("is an ELF file, not a root"), "{e}");
    assert!(e.contains("check --files"), "{e}");
    std::fs::write(d.join("empty"), b"").expect("write");
    let e = refused(&["scan", &at("empty"), "-q"]);
    assert!(e.contains("is an empty file"), "{e}");
}

#[test]
fn broken_layouts_are_described_in_our_words() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let good = d.join("good");
    layout(&good, &[tar_of(&[file("a", b"x")])]);
    let copy = |name: &str| {
        let p = d.join(name);
        run(Command::new("cp").arg("-a").arg(&good).arg(&p), "cp");
        p
    };
    let oci = |p: &Path| format!("oci:{}", p.display());
    // Not JSON, cut short, and JSON of another form.
    for (name, content, want) in [
        (
            "garbage",
            &b"{]"[..],
            "index.json is not valid JSON (line 1, column 2)",
        ),
        ("open", b"[[[[", "index.json ends in the middle of its JSON"),
        (
            "form",
            br#"{"manifests": [{"digest": 5}]}"#,
            "index.json is JSON, but not an OCI image index",
        ),
        (
            "seq",
            b"[[[[]]]]",
            "index.json is JSON, but not an OCI image index",
        ),
    ] {
        let p = copy(name);
        std::fs::write(p.join("index.json"), content).expect("write");
        let e = refused(&["scan", &oci(&p), "-q"]);
        assert!(e.contains(want), "{name}: {e}");
        assert_own_words(&e);
    }
    // No index.json: the layout is incomplete, nothing changed during the scan.
    let p = copy("noindex");
    std::fs::remove_file(p.join("index.json")).expect("rm");
    let e = refused(&["scan", &oci(&p), "-q"]);
    assert!(e.contains("the layout has no index.json"), "{e}");
    assert!(!e.contains("changed during the scan"), "{e}");
    assert!(!e.contains("os error"), "{e}");
    // A FIFO named index.json is a FIFO, not a file replaced during the scan (and never blocks).
    let p = copy("fifo");
    std::fs::remove_file(p.join("index.json")).expect("rm");
    support::mkfifo(&p.join("index.json"));
    let e = refused(&["scan", &oci(&p), "-q"]);
    assert!(e.contains("index.json in the layout is a FIFO"), "{e}");
    assert!(!e.contains("replaced during the scan"), "{e}");
    // A blob the index names is missing.
    let p = copy("noblob");
    let index: Value =
        serde_json::from_slice(&std::fs::read(p.join("index.json")).expect("index")).expect("json");
    let mh = &index["manifests"][0]["digest"].as_str().expect("digest")[7..];
    std::fs::remove_file(p.join("blobs/sha256").join(mh)).expect("rm");
    let e = refused(&["scan", &oci(&p), "-q"]);
    assert!(e.contains("the layout is incomplete"), "{e}");
    assert!(!e.contains("changed during the scan"), "{e}");
    // Not a layout at all, a missing one, a file.
    let e = refused(&["scan", &oci(d), "-q"]);
    assert!(e.contains("is not an OCI image layout"), "{e}");
    let e = refused(&["scan", &oci(&d.join("nothing")), "-q"]);
    assert!(e.contains("does not exist"), "{e}");
    std::fs::write(d.join("f"), b"x").expect("write");
    let e = refused(&["scan", &oci(&d.join("f")), "-q"]);
    assert!(e.contains("is not a directory"), "{e}");
    assert!(e.contains("oci-archive:"), "{e}");
}

/// Writes a docker-archive (`docker save` form) at `path` whose image has these layers
/// (uncompressed tars).
fn docker_archive(path: &Path, layers: &[Vec<u8>]) {
    let names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/layer.tar", sha(l)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers",
                   "diff_ids": layers.iter().map(|l| format!("sha256:{}", sha(l))).collect::<Vec<_>>()}}))
    .expect("json");
    let config_name = format!("{}.json", sha(&config));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["test/img:1"], "Layers": names}]))
    .expect("json");
    let mut members: Vec<Member<'_>> = names.iter().zip(layers).map(|(n, l)| file(n, l)).collect();
    members.push(file(&config_name, &config));
    members.push(file("manifest.json", &manifest));
    std::fs::write(path, tar_of(&members)).expect("write the archive");
}

#[test]
fn docker_archive_caps_are_named_as_for_oci_layouts() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let big = tar_of(&[file("big", &vec![1u8; 3 << 20])]);
    let half = tar_of(&[file("half", &vec![2u8; 1536 << 10])]);
    let small = tar_of(&[file("small", b"x")]);
    let docker = d.join("docker.tar");
    docker_archive(&docker, &[big.clone(), small.clone()]);
    let oci = d.join("oci");
    layout(&oci, &[big, small]);
    let two = d.join("two.tar");
    docker_archive(&two, &[half.clone(), half]);
    for (root, flag, size, want) in [
        (
            &docker,
            "--max-layer-size",
            "1M",
            "layer 1: the layer decompresses",
        ),
        (
            &docker,
            "--max-image-size",
            "2M",
            "layer 1: the image decompresses",
        ),
        (
            &oci,
            "--max-layer-size",
            "1M",
            "layer 1: the layer decompresses",
        ),
        (
            &oci,
            "--max-image-size",
            "2M",
            "layer 1: the image decompresses",
        ),
        // Each layer within the image's cap, both together above it.
        (
            &two,
            "--max-image-size",
            "2M",
            "layer 2: the image decompresses",
        ),
    ] {
        let r = root.display().to_string();
        let e = refused(&["scan", &r, "-q", flag, size]);
        assert!(e.contains(want), "{r} {flag} {size}: {e}");
        assert!(
            e.contains(&format!("raise {flag}")),
            "{r} {flag} {size}: {e}"
        );
        assert!(!e.contains("no file of the archive"), "{r}: {e}");
    }
    // Without the caps the same images scan.
    for r in [&docker, &oci, &two] {
        let out = elfdeps(&["scan", r.to_str().expect("utf-8"), "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    // A layer file whose content is damaged: the message says so, in our words.
    let mut bytes = std::fs::read(&docker).expect("read");
    bytes[512 + 512 + 100] ^= 0x41; // inside the data of the first layer's first member
    std::fs::write(&docker, &bytes).expect("write");
    let e = refused(&["scan", docker.to_str().expect("utf-8"), "-q"]);
    assert!(
        e.contains("layer 1: no file of the archive has its content"),
        "{e}"
    );
    assert!(e.contains("damaged"), "{e}");
}

#[test]
fn several_images_without_a_choice_are_listed_by_tag() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let a = [tar_of(&[file("a", b"a")])];
    let b = [tar_of(&[file("b", b"b")])];
    let two = d.join("two");
    layout_of(&two, &[(Some("v1"), None, &a), (Some("v2"), None, &b)]);
    let r = format!("oci:{}", two.display());
    let e = refused(&["scan", &r, "-q"]);
    assert!(e.contains("holds 2 images"), "{e}");
    assert!(
        e.contains("`v1`") && e.contains("`v2`"),
        "the tags are listed: {e}"
    );
    assert!(e.contains(&format!("{r}:TAG")), "how to name one: {e}");
    assert!(!e.contains("0 manifests match"), "{e}");
    assert!(!e.contains("sha256:"), "tags, not digests: {e}");
    // Naming one by its tag works.
    let out = elfdeps(&["scan", &format!("{r}:v2"), "-q", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // Platforms of which none is the one asked for: listed with their tags.
    let multi = d.join("multi");
    layout_of(
        &multi,
        &[
            (Some("x"), Some("linux/arm64"), &a),
            (Some("y"), Some("linux/ppc64le"), &b),
        ],
    );
    let e = refused(&[
        "scan",
        &format!("oci:{}", multi.display()),
        "-q",
        "--platform",
        "linux/s390x",
    ]);
    assert!(
        e.contains("none of the layout's 2 images is for linux/s390x"),
        "{e}"
    );
    assert!(
        e.contains("`x` (linux/arm64)") && e.contains("`y` (linux/ppc64le)"),
        "{e}"
    );
    assert!(e.contains("--platform"), "{e}");
}

#[test]
fn platform_is_refused_where_it_cannot_choose() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let amd = [tar_of(&[file("amd", b"a")])];
    let arm = [tar_of(&[file("arm", b"b")])];
    // One amd64 image whose index does not say its platform (its config does), as umoci and
    // skopeo write layouts.
    let one = d.join("one");
    layout(&one, &amd);
    let r = format!("oci:{}", one.display());
    let e = refused(&["scan", &r, "-q", "--platform", "linux/arm64"]);
    assert!(e.contains("--platform linux/arm64"), "{e}");
    assert!(e.contains("is for linux/amd64"), "says why: {e}");
    assert!(e.contains("drop --platform"), "says what to do: {e}");
    // The same with the platform in the index, and for a docker-archive.
    let said = d.join("said");
    layout_of(&said, &[(Some("t"), Some("linux/amd64"), &amd)]);
    let e = refused(&[
        "scan",
        &format!("oci:{}", said.display()),
        "-q",
        "--platform",
        "linux/arm64",
    ]);
    assert!(
        e.contains("`t` (linux/amd64)") && e.contains("drop --platform"),
        "{e}"
    );
    let docker = d.join("docker.tar");
    docker_archive(&docker, &amd);
    let e = refused(&[
        "scan",
        docker.to_str().expect("utf-8"),
        "-q",
        "--platform",
        "linux/arm64",
    ]);
    assert!(
        e.contains("is for linux/amd64") && e.contains("drop --platform"),
        "{e}"
    );
    // A plain directory has no images to choose from; nor have build artifacts.
    let dir = d.join("dir");
    std::fs::create_dir(&dir).expect("mkdir");
    for cmd in ["scan", "check", "tree"] {
        let mut args = vec![
            cmd,
            dir.to_str().expect("utf-8"),
            "-q",
            "--platform",
            "linux/arm64",
        ];
        if cmd == "tree" {
            args.push("/x");
        }
        let e = refused(&args);
        assert!(e.contains("is a directory, not an image"), "{cmd}: {e}");
        assert!(e.contains("drop --platform"), "{cmd}: {e}");
    }
    let e = refused(&[
        "check",
        "--files",
        dir.to_str().expect("utf-8"),
        "--platform",
        "linux/arm64",
    ]);
    assert!(
        e.contains("--files judges build artifacts") && e.contains("drop it"),
        "{e}"
    );
    // Where it applies, it still works: the platform the image is for, and a choice in a
    // multi-platform index.
    let out = elfdeps(&["scan", &r, "-q", "--platform", "linux/amd64"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = elfdeps(&[
        "scan",
        docker.to_str().expect("utf-8"),
        "-q",
        "--platform",
        "linux/amd64",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let multi = d.join("multi");
    layout_of(
        &multi,
        &[
            (None, Some("linux/amd64"), &amd),
            (None, Some("linux/arm64"), &arm),
        ],
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(multi.join("index.json")).expect("index"))
            .expect("json");
    for (platform, i) in [("linux/amd64", 0), ("linux/arm64", 1)] {
        let out = elfdeps(&[
            "scan",
            &format!("oci:{}", multi.display()),
            "-q",
            "-f",
            "json",
            "--platform",
            platform,
        ]);
        assert_eq!(out.status.code(), Some(0), "{platform}: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            doc["image"]["manifest"], index["manifests"][i]["digest"],
            "--platform {platform} chose its image"
        );
    }
}

/// Writes an OCI layout at `dir` whose one layer is the blob `blob` as stored (any bytes), of
/// media type `media`, whose config claims the diff_id of `diff`.
fn raw_layout(dir: &Path, blob: &[u8], diff: &[u8], media: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let h = sha(data);
        std::fs::write(blobs.join(&h), data).expect("blob");
        h
    };
    let lh = put(blob);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(diff))]}}))
    .expect("json");
    let ch = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{ch}"), "size": config.len()},
        "layers": [{"mediaType": media, "digest": format!("sha256:{lh}"), "size": blob.len()}]}))
    .expect("json");
    let mh = put(&manifest);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{mh}"), "size": manifest.len()}]}))
        .expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

#[test]
fn broken_layers_are_described_in_our_words() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    const ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    // Incompressible data, so that half of the gzip stream is half of the layer.
    let mut noise = Vec::with_capacity(100_000);
    let mut x: u32 = 1;
    while noise.len() < 100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let layer = tar_of(&[file("a", &noise)]);
    let gz = gzip(&layer);
    let junk = b"root:x:0:0:\xff\xfe\x15 not a tar at all\n".repeat(40);
    let mut flipped = gz.clone();
    flipped[200] ^= 0xff;
    flipped[300] ^= 0xff;
    // (name, blob, uncompressed content, media type, message)
    type Case<'a> = (&'a str, Vec<u8>, Vec<u8>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "cut-gzip",
            gz[..gz.len() / 2].to_vec(),
            layer.clone(),
            GZ,
            "its gzip data is damaged or cut short",
        ),
        (
            "flipped-gzip",
            flipped,
            layer.clone(),
            GZ,
            "its gzip data is damaged or cut short",
        ),
        (
            "gzip-magic-then-junk",
            [&[0x1f, 0x8b][..], &[0x15; 64]].concat(),
            layer.clone(),
            GZ,
            "its gzip data is damaged",
        ),
        (
            "zstd-bad-header",
            [&[0x28, 0xb5, 0x2f, 0xfd][..], &[0xff; 64]].concat(),
            layer.clone(),
            ZST,
            "its zstd data is damaged",
        ),
        (
            "not-tar",
            gzip(&junk),
            junk.clone(),
            GZ,
            "the layer's content is not a valid tar archive: its first entry cannot be read",
        ),
        (
            "cut-tar",
            gzip(&layer[..5000]),
            layer[..5000].to_vec(),
            GZ,
            "the layer is truncated: it ends inside a tar entry (after 1 entry)",
        ),
    ];
    for (name, blob, diff, media, want) in cases {
        let img = d.join(name);
        raw_layout(&img, &blob, &diff, media);
        let e = refused(&["scan", &format!("oci:{}", img.display()), "-q"]);
        assert!(e.contains(&format!("layer 1: {want}")), "{name}: {e}");
        assert_own_words(&e);
        for raw in [
            "deflate",
            "invalid gzip header",
            "window_size",
            "during skip",
        ] {
            assert!(!e.contains(raw), "{name}: decoder text `{raw}` in {e}");
        }
    }
    // A damaged blob that is not the one its digest names: tampered, whatever its decoder says.
    let img = d.join("tampered");
    raw_layout(&img, &gz, &layer, GZ);
    std::fs::write(img.join("blobs/sha256").join(sha(&gz)), &gz[..gz.len() / 2]).expect("tamper");
    let e = refused(&["scan", &format!("oci:{}", img.display()), "-q"]);
    assert!(e.contains("corrupt or tampered"), "{e}");
}

#[test]
fn a_fifo_as_an_image_is_never_opened_for_reading() {
    let t = tempfile::tempdir().expect("tempdir");
    let fifo = t.path().join("image.tar");
    support::mkfifo(&fifo);
    let f = fifo.display().to_string();
    for r in [
        f.clone(),
        format!("docker-archive:{f}"),
        format!("oci-archive:{f}"),
    ] {
        // Under a time limit: opening a FIFO for reading waits for a writer that never comes.
        let out = Elfdeps::new(["scan", &r, "-q"])
            .timeout(std::time::Duration::from_secs(30))
            .output();
        assert_eq!(out.status.code(), Some(2), "{r}: {}", describe(&out));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("FIFO"), "{r}: {e}");
    }
}

/// `packages` on an image without paths answers for the program its containers start: the
/// config's entrypoint through the config's PATH, and for a script its `#!` interpreter.
#[test]
fn packages_of_an_image_are_those_of_its_entrypoint() {
    if !umoci_or_skip("packages of an image's entrypoint") {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let (img, r1) = alpine_bundle(d, alpine);
    std::fs::write(
        r1.join("usr/local/bin/start.sh"),
        "#!/bin/sh\nexec ssl_client\n",
    )
    .expect("script");
    img.repack("base", &d.join("b1"));
    let set_for = |args: &[&str]| -> Vec<String> {
        img.umoci(
            &[
                &["config", "--image", &img.image("base"), "--tag", "e"],
                args,
            ]
            .concat(),
            "config",
        );
        let out = support::Elfdeps::new(["packages", "-f", "json"])
            .arg(format!("oci:{}", img.image("e")))
            .output();
        assert!(out.status.success(), "{}", support::describe(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let programs: Vec<String> = doc["programs"]
            .as_array()
            .expect("programs")
            .iter()
            .map(|p| p.as_str().unwrap_or_default().to_string())
            .collect();
        programs
    };
    // By name through PATH.
    assert_eq!(
        set_for(&["--config.entrypoint", "ssl_client"]),
        ["/usr/bin/ssl_client"]
    );
    // A script: its interpreter (busybox, which /bin/sh links to).
    assert_eq!(
        set_for(&["--config.entrypoint", "/usr/local/bin/start.sh"]),
        ["/bin/busybox"]
    );
}

/// Noise that gzip cannot shrink: a layer of it takes as long to decompress as its size says.
fn incompressible(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 4);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Layers are decompressed ahead of their turn when there is a core to spare (their stream held
/// in a temporary file until the layers below are applied): the tree, each object's layer and
/// every refusal must be those of applying one layer at a time (`--jobs 1`).
#[test]
fn layers_decompressed_ahead_give_what_one_at_a_time_gives() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let (a, b, c) = (elf_so(d, "a"), elf_so(d, "b"), elf_so(d, "c"));
    let noise = incompressible(3 << 20, 7);
    let layers = [
        tar_of(&[
            file("lib/liba.so", &a),
            file("lib/libb.so", &b),
            file("data/one", &noise),
        ]),
        // Replaces liba.so, removes libb.so, adds libc.so.
        tar_of(&[
            file("data/two", &noise),
            file("lib/liba.so", &c),
            file("lib/.wh.libb.so", b""),
            file("lib/libc.so", &c),
        ]),
        tar_of(&[
            file("data/three", &noise[..1 << 20]),
            file("lib/libd.so", &a),
        ]),
    ];
    let img = d.join("img");
    layout(&img, &layers);
    let image = format!("oci:{}:t", img.display());
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    let mut docs = Vec::new();
    for jobs in ["2", "1"] {
        let out = scan_in(&tmp, &["scan", &image, "-q", "-f", "json", "--jobs", jobs]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--jobs {jobs}: {}",
            describe(&out)
        );
        assert!(
            leftovers(&tmp).is_empty(),
            "--jobs {jobs}: {:?}",
            leftovers(&tmp)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        let layer_of: Vec<(String, String)> = doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| (o["path"].to_string(), o["layer"].to_string()))
            .collect();
        docs.push((objects_of(&doc), layer_of));
    }
    assert_eq!(
        docs[0], docs[1],
        "decompressed ahead vs one layer at a time"
    );
    let (objects, _) = &docs[0];
    let want: Vec<(&str, &str)> = vec![
        ("/lib/liba.so", "libc.so"),
        ("/lib/libc.so", "libc.so"),
        ("/lib/libd.so", "liba.so"),
    ];
    let got: Vec<(&str, &str)> = objects
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    assert_eq!(got, want);

    // A later layer's blob that is not what its digest says, or whose data is damaged, is
    // refused with that layer's number, whichever way it was decompressed.
    let index: Value =
        serde_json::from_slice(&std::fs::read(img.join("index.json")).expect("index"))
            .expect("json");
    let mh = index["manifests"][0]["digest"].as_str().expect("digest")[7..].to_string();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(img.join("blobs/sha256").join(&mh)).expect("m"))
            .expect("json");
    let blob = |n: usize| {
        img.join("blobs/sha256")
            .join(&manifest["layers"][n]["digest"].as_str().expect("digest")[7..])
    };
    let (second, third) = (blob(1), blob(2));
    let (second_bytes, third_bytes) = (
        std::fs::read(&second).expect("read"),
        std::fs::read(&third).expect("read"),
    );
    std::fs::write(&second, gzip(&layers[0])).expect("tamper");
    for jobs in ["2", "1"] {
        let e = refused(&["scan", &image, "-q", "--jobs", jobs]);
        assert!(e.contains("layer 2: blob sha256:"), "--jobs {jobs}: {e}");
        assert!(e.contains("tampered"), "--jobs {jobs}: {e}");
    }
    std::fs::write(&second, &second_bytes).expect("restore");
    // Cut short: its decompression fails, and the blob, hashed again, is not the one named.
    std::fs::write(&third, &third_bytes[..third_bytes.len() / 2]).expect("cut");
    for jobs in ["2", "1"] {
        let out = scan_in(&tmp, &["scan", &image, "-q", "--jobs", jobs]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--jobs {jobs}: {}",
            describe(&out)
        );
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("layer 3: blob sha256:"), "--jobs {jobs}: {e}");
        assert!(e.contains("tampered"), "--jobs {jobs}: {e}");
        assert!(
            leftovers(&tmp).is_empty(),
            "--jobs {jobs}: {:?}",
            leftovers(&tmp)
        );
    }
}

/// An uncompressed layer is applied from its blob's chunks as they are read (no decompressing
/// thread), and checked by the blob's digest: a docker-archive's layers by their diff_ids.
#[test]
fn uncompressed_layers_are_applied_as_read_and_checked() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let layers = [
        tar_of(&[file("one", b"1")]),
        tar_of(&[file("two", &incompressible(1 << 20, 3))]),
    ];
    let good = d.join("good.tar");
    docker_archive(&good, &layers);
    let out = elfdeps(&["scan", good.to_str().expect("utf-8"), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // The second layer's file replaced by other bytes of the same length: the archive's index
    // still finds it, and only its content is wrong.
    let mut bytes = std::fs::read(&good).expect("read");
    let at = bytes
        .windows(8)
        .rposition(|w| w == &layers[1][512..520])
        .expect("the second layer's data");
    bytes[at] ^= 0x55;
    let bad = d.join("bad.tar");
    std::fs::write(&bad, &bytes).expect("write");
    let e = refused(&["scan", bad.to_str().expect("utf-8"), "-q"]);
    assert!(
        e.contains("layer 2: no file of the archive has its content"),
        "{e}"
    );
    // An OCI layout's uncompressed layers, checked by their blob digests.
    let img = d.join("img");
    raw_layout(
        &img,
        &layers[1],
        &layers[1],
        "application/vnd.oci.image.layer.v1.tar",
    );
    let doc = scan(&format!("oci:{}", img.display()));
    assert_eq!(doc["image"]["layers"].as_array().map(Vec::len), Some(1));
    let blob = img.join("blobs/sha256").join(sha(&layers[1]));
    let mut cut = layers[1].clone();
    cut[600] ^= 0x55;
    std::fs::write(&blob, &cut).expect("tamper");
    let e = refused(&["scan", &format!("oci:{}", img.display()), "-q"]);
    assert!(e.contains("layer 1: blob sha256:"), "{e}");
    assert!(e.contains("tampered"), "{e}");
}

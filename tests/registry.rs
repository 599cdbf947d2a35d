//! `docker://` roots pulled from a registry: Debian's docker-registry (the distribution project's
//! registry) started here on 127.0.0.1, images pushed to it with `skopeo copy` from OCI layouts
//! made of the real Alpine minirootfs fixtures. The scan of a pulled image must equal the scan of
//! the layout that was pushed (but for the names of the reference); TLS with a CA made here
//! (openssl), basic auth through htpasswd, credentials from --creds and from auth files, and
//! --platform on a multi-platform index. A hostile registry (a small HTTP server in this file)
//! answering oversized or mismatched manifests, wrong digests, redirect loops and slow drips
//! must yield a clear error (exit 2, our words) in bounded time.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Elfdeps, describe};

fn fixture(arch: &str) -> PathBuf {
    let shared = std::env::var_os("ELFDEPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    shared.join(format!("fixtures/alpine-minirootfs-3.20.3-{arch}.tar.gz"))
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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

/// True when `tool ARGS` runs; otherwise a failure in CI, a loud skip elsewhere.
fn have(tool: &str, args: &[&str], package: &str, what: &str) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        support::skip(
            what,
            &format!("`{tool}` is not installed (apt-get install {package}, or run scripts/test)"),
        );
    }
    ok
}

/// The tools of the registry tests.
fn registry_tools(what: &str) -> bool {
    have("docker-registry", &["--version"], "docker-registry", what)
        && have("skopeo", &["--version"], "skopeo", what)
}

/// elfdeps with no credentials of the developer's own (HOME and the auth file variables point
/// into `home`).
fn el(home: &Path, args: &[&str]) -> Elfdeps {
    Elfdeps::new(args)
        .env("HOME", home)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("DOCKER_CONFIG")
        .timeout(Duration::from_secs(120))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Debian's docker-registry on 127.0.0.1, with the config written here; killed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `tls`: (cert, key) files; `htpasswd`: a bcrypt htpasswd file.
    fn start(tls: Option<(&Path, &Path)>, htpasswd: Option<&Path>) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some(h) = htpasswd {
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: elfdeps-test\n    path: {}\n",
                h.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OCI layout at `dir` whose tag `t` is one image per fixture architecture (an index of them
/// when there are several), each layer the real minirootfs tarball as it is (gzip).
fn alpine_layout(dir: &Path, arches: &[(&str, &str)]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let h = sha(data);
        std::fs::write(blobs.join(&h), data).expect("blob");
        h
    };
    let mut manifests = Vec::new();
    for (fixture_arch, oci_arch) in arches {
        let gz = std::fs::read(fixture(fixture_arch)).expect("the Alpine fixture");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .expect("gunzip");
        let lh = put(&gz);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": oci_arch, "os": "linux",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&raw))]}}))
        .expect("json");
        let ch = put(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": format!("sha256:{ch}"), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": format!("sha256:{lh}"), "size": gz.len()}]}))
        .expect("json");
        let mh = put(&manifest);
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{mh}"), "size": manifest.len(),
            "platform": {"os": "linux", "architecture": oci_arch}}));
    }
    let top = if manifests.len() == 1 {
        let mut m = manifests.pop().expect("one");
        m.as_object_mut().expect("object").remove("platform");
        m
    } else {
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests}))
        .expect("json");
        let ih = put(&index);
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{ih}"), "size": index.len()})
    };
    let mut top = top;
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "t"});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]}))
            .expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

/// `skopeo copy oci:LAYOUT:t docker://DEST` (all platforms), with `extra` flags.
fn push(layout: &Path, dest: &str, extra: &[&str]) {
    run(
        Command::new("skopeo")
            .args(["copy", "--all", "--quiet"])
            .args(extra)
            .arg(format!("oci:{}:t", layout.display()))
            .arg(format!("docker://{dest}")),
        &format!("skopeo copy to {dest}"),
    );
}

/// A scan document without the fields that name the reference.
fn unnamed(mut doc: Value) -> Value {
    doc["root"] = Value::Null;
    doc["image"]["reference"] = Value::Null;
    doc
}

fn scan_json(home: &Path, root: &str, extra: &[&str]) -> Value {
    let out = el(home, &["scan", root, "-f", "json", "-q"])
        .args(extra)
        .output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "scan {root}: {}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_pulled_image_scans_like_the_layout_pushed() {
    if !registry_tools("registry pulls") {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let home = t.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let layout = t.path().join("layout");
    alpine_layout(&layout, &[("x86_64", "amd64")]);
    let reg = Registry::start(None, None);
    let dest = format!("{}/elfdeps/alpine:3.20", reg.host());
    push(&layout, &dest, &["--dest-tls-verify=false"]);

    let local = scan_json(&home, &format!("oci:{}:t", layout.display()), &[]);
    let pulled = scan_json(&home, &format!("docker://{dest}"), &["--tls-verify=false"]);
    assert_eq!(pulled["root"], format!("docker://{dest}"));
    // The pulled layout and the unpacked tree live under $TMPDIR while elfdeps runs, and go.
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let out = el(
        &home,
        &[
            "scan",
            &format!("docker://{dest}"),
            "--tls-verify=false",
            "-q",
        ],
    )
    .env("TMPDIR", &tmp)
    .output();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "left in $TMPDIR: {left:?}");
    assert_eq!(pulled["image"]["reference"], format!("docker://{dest}"));
    assert!(
        pulled["objects"].as_array().is_some_and(|o| o.len() >= 17),
        "the Alpine root's objects"
    );
    let manifest = local["image"]["manifest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert_eq!(unnamed(pulled), unnamed(local.clone()));

    // By digest, into a blob cache; then from the cache alone (the registry stopped).
    let cache = t.path().join("cache");
    let by_digest = format!("docker://{}/elfdeps/alpine@{manifest}", reg.host());
    let cache_s = cache.display().to_string();
    let first = scan_json(
        &home,
        &by_digest,
        &["--tls-verify=false", "--blob-cache", &cache_s],
    );
    assert_eq!(unnamed(first), unnamed(local.clone()));
    let cached = std::fs::read_dir(cache.join("sha256"))
        .expect("cache")
        .count();
    assert_eq!(cached, 2, "the config and the layer are cached by digest");

    // Every command that takes ROOT.
    let tree = el(
        &home,
        &[
            "tree",
            &format!("docker://{dest}"),
            "/bin/busybox",
            "--tls-verify=false",
        ],
    )
    .output();
    assert_eq!(tree.status.code(), Some(0), "{}", describe(&tree));
    assert!(String::from_utf8_lossy(&tree.stdout).contains("ld-musl-x86_64.so.1"));
    let pk = el(
        &home,
        &[
            "packages",
            &format!("docker://{dest}"),
            "/bin/busybox",
            "--tls-verify=false",
            "--no-verify",
        ],
    )
    .output();
    assert_eq!(pk.status.code(), Some(0), "{}", describe(&pk));
    assert!(
        String::from_utf8_lossy(&pk.stdout)
            .lines()
            .any(|l| l == "busybox")
    );
    let check = el(
        &home,
        &[
            "check",
            &format!("docker://{dest}"),
            "--tls-verify=false",
            "-q",
        ],
    )
    .output();
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let why = el(
        &home,
        &[
            "why",
            &format!("docker://{dest}"),
            "libz.so.1",
            "--tls-verify=false",
            "-q",
        ],
    )
    .output();
    assert_eq!(why.status.code(), Some(0), "{}", describe(&why));

    // A tag the registry does not have.
    let missing = el(
        &home,
        &[
            "scan",
            &format!("docker://{}/elfdeps/alpine:nope", reg.host()),
            "--tls-verify=false",
            "-q",
        ],
    )
    .output();
    assert_eq!(missing.status.code(), Some(2), "{}", describe(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("the manifest `nope` is not in the registry (HTTP 404)"),
        "{}",
        describe(&missing)
    );

    // Plain HTTP is refused without --tls-verify=false.
    let strict = el(&home, &["scan", &format!("docker://{dest}"), "-q"]).output();
    assert_eq!(strict.status.code(), Some(2), "{}", describe(&strict));
    assert!(
        String::from_utf8_lossy(&strict.stderr).contains("cannot connect to 127.0.0.1"),
        "{}",
        describe(&strict)
    );

    drop(reg);
    let offline = el(
        &home,
        &[
            "scan",
            &by_digest,
            "--tls-verify=false",
            "--blob-cache",
            &cache_s,
            "-q",
            "-f",
            "json",
        ],
    )
    .output();
    // The manifest is never cached (a tag moves); with the registry gone the pull fails, in
    // our words.
    assert_eq!(offline.status.code(), Some(2), "{}", describe(&offline));
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("cannot connect"),
        "{}",
        describe(&offline)
    );
    // --clear-blob-cache empties it.
    let _ = el(
        &home,
        &[
            "scan",
            &by_digest,
            "--tls-verify=false",
            "--blob-cache",
            &cache_s,
            "--clear-blob-cache",
            "-q",
        ],
    )
    .output();
    assert!(!cache.join("sha256").exists(), "the cache was cleared");
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl), in `dir`: (ca.crt, cert, key).
fn make_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ossl = |args: &[&str], what: &str| {
        run(Command::new("openssl").current_dir(dir).args(args), what);
    };
    ossl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=elfdeps test CA",
        ],
        "openssl: the CA",
    );
    ossl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        "openssl: the server key",
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    ossl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
        "openssl: the server certificate",
    );
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

#[test]
fn tls_and_basic_auth_with_cert_dir_creds_and_auth_files() {
    if !registry_tools("registry pulls over TLS with basic auth")
        || !have(
            "openssl",
            &["version"],
            "openssl",
            "registry pulls over TLS",
        )
        || !have(
            "htpasswd",
            &["-nbB", "u", "p"],
            "apache2-utils",
            "registry basic auth",
        )
    {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let home = d.join("home");
    std::fs::create_dir(&home).expect("home");
    let certs = d.join("certs");
    std::fs::create_dir(&certs).expect("certs");
    let (ca, cert, key) = make_ca(&certs);
    // --cert-dir reads *.crt: a directory holding the CA alone.
    let cert_dir = d.join("trusted");
    std::fs::create_dir(&cert_dir).expect("cert dir");
    std::fs::copy(&ca, cert_dir.join("ca.crt")).expect("copy");
    let htpasswd = d.join("htpasswd");
    let out = Command::new("htpasswd")
        .args(["-nbB", "alice", "s3cret"])
        .output()
        .expect("htpasswd");
    std::fs::write(&htpasswd, out.stdout).expect("htpasswd file");
    let reg = Registry::start(Some((&cert, &key)), Some(&htpasswd));

    let layout = d.join("layout");
    alpine_layout(&layout, &[("x86_64", "amd64")]);
    let dest = format!("{}/secure/alpine:1", reg.host());
    push(
        &layout,
        &dest,
        &[
            "--dest-cert-dir",
            cert_dir.to_str().expect("utf-8"),
            "--dest-creds",
            "alice:s3cret",
        ],
    );
    let local = unnamed(scan_json(
        &home,
        &format!("oci:{}:t", layout.display()),
        &[],
    ));
    let root = format!("docker://{dest}");
    let cd = cert_dir.to_str().expect("utf-8");

    // --cert-dir and --creds.
    let got = scan_json(&home, &root, &["--cert-dir", cd, "--creds", "alice:s3cret"]);
    assert_eq!(unnamed(got), local);

    // An auth file, by --authfile and by $REGISTRY_AUTH_FILE.
    use base64::Engine;
    let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let auth = d.join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.host(),
            encode(b"alice:s3cret")
        ),
    )
    .expect("auth.json");
    let got = scan_json(
        &home,
        &root,
        &[
            "--cert-dir",
            cd,
            "--authfile",
            auth.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(unnamed(got), local);
    let out = el(
        &home,
        &["scan", &root, "--cert-dir", cd, "-q", "-f", "json"],
    )
    .env("REGISTRY_AUTH_FILE", &auth)
    .output();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // ~/.docker/config.json.
    std::fs::create_dir_all(home.join(".docker")).expect("mkdir");
    std::fs::copy(&auth, home.join(".docker/config.json")).expect("copy");
    let got = scan_json(&home, &root, &["--cert-dir", cd]);
    assert_eq!(unnamed(got), local);
    std::fs::remove_file(home.join(".docker/config.json")).expect("rm");
    // A credential helper named by credHelpers (docker-credential-NAME get: the registry on
    // stdin, JSON on stdout), and the same helper as credsStore.
    let bin = d.join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let helper = bin.join("docker-credential-elfdepstest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = {} ] || exit 1\n\
             echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}'\n",
            reg.host()
        ),
    )
    .expect("helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for config in [
        format!(r#"{{"credHelpers":{{"{}":"elfdepstest"}}}}"#, reg.host()),
        r#"{"credsStore":"elfdepstest"}"#.to_string(),
    ] {
        std::fs::write(home.join(".docker/config.json"), &config).expect("config.json");
        let out = el(
            &home,
            &["scan", &root, "--cert-dir", cd, "-q", "-f", "json"],
        )
        .env("PATH", &path)
        .output();
        assert_eq!(out.status.code(), Some(0), "{config}: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(unnamed(doc), local, "{config}");
    }
    std::fs::remove_file(home.join(".docker/config.json")).expect("rm");

    // --tls-verify=false: the certificate is not checked (HTTPS still).
    let got = scan_json(
        &home,
        &root,
        &["--tls-verify=false", "--creds", "alice:s3cret"],
    );
    assert_eq!(unnamed(got), local);

    // Refusals, each in our words.
    let fails = |args: &[&str], words: &str| {
        let out = el(&home, args).output();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    };
    fails(
        &["scan", &root, "--creds", "alice:s3cret", "-q"],
        "certificate is not trusted",
    );
    fails(
        &["scan", &root, "--cert-dir", cd, "-q"],
        "refused an anonymous pull",
    );
    fails(
        &[
            "scan",
            &root,
            "--cert-dir",
            cd,
            "--creds",
            "alice:wrong",
            "-q",
        ],
        "refused the credentials of --creds",
    );
    fails(
        &["scan", &root, "--cert-dir", cd, "--creds", "alice", "-q"],
        "USER:PASSWORD",
    );
}

#[test]
fn platform_picks_from_a_multi_platform_index() {
    if !registry_tools("multi-platform registry pulls") {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let home = t.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let layout = t.path().join("layout");
    alpine_layout(&layout, &[("x86_64", "amd64"), ("aarch64", "arm64")]);
    let reg = Registry::start(None, None);
    let dest = format!("{}/multi/alpine:3.20", reg.host());
    push(&layout, &dest, &["--dest-tls-verify=false"]);
    let root = format!("docker://{dest}");
    let machines = |doc: &Value| -> Vec<String> {
        let mut m: Vec<String> = doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o["machine"].as_str().unwrap_or_default().to_string())
            .collect();
        m.dedup();
        m
    };
    for (platform, machine, tag) in [
        ("linux/arm64", "aarch64", "linux/arm64"),
        ("linux/amd64", "x86_64", "linux/amd64"),
    ] {
        let pulled = scan_json(
            &home,
            &root,
            &["--tls-verify=false", "--platform", platform],
        );
        assert_eq!(machines(&pulled), vec![machine.to_string()], "{platform}");
        let local = scan_json(
            &home,
            &format!("oci:{}:t", layout.display()),
            &["--platform", tag],
        );
        assert_eq!(unnamed(pulled), unnamed(local), "{platform}");
    }
    // No --platform: the host's, when the index has it.
    let host = match std::env::consts::ARCH {
        "x86_64" => Some("x86_64"),
        "aarch64" => Some("aarch64"),
        _ => None,
    };
    let out = el(
        &home,
        &["scan", &root, "--tls-verify=false", "-q", "-f", "json"],
    )
    .output();
    match host {
        Some(m) => {
            assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
            let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(machines(&doc), vec![m.to_string()]);
        }
        None => assert_eq!(out.status.code(), Some(2), "{}", describe(&out)),
    }
    let out = el(
        &home,
        &[
            "scan",
            &root,
            "--tls-verify=false",
            "-q",
            "--platform",
            "linux/s390x",
        ],
    )
    .output();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no image for linux/s390x") && err.contains("linux/amd64, linux/arm64"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// A hostile registry
// ---------------------------------------------------------------------------------------------

/// What the hostile server answers to a path.
enum Answer {
    /// Status line, headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// 200 with these headers, then `body` one byte per second.
    Drip(Vec<(String, String)>, Vec<u8>),
    /// 200 with these headers and no length, then bytes without end (until the client leaves).
    Endless(Vec<(String, String)>),
}

/// A plain-HTTP server on 127.0.0.1 answering each request by `route(path, its port)`; stops on
/// drop.
struct Hostile {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    fn start(route: impl Fn(&str, u16) -> Answer + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let route = Arc::new(route);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let route = Arc::clone(&route);
                        let flag = Arc::clone(&flag);
                        std::thread::spawn(move || serve(s, &*route, port, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Hostile { port, stop }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    s: TcpStream,
    route: &(dyn Fn(&str, u16) -> Answer + Send + Sync),
    port: u16,
    stop: &AtomicBool,
) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(match s.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut w = s;
    loop {
        // A TLS hello (the HTTPS probe of --tls-verify=false) is not HTTP: closed at once, as a
        // plain HTTP server's garbage answer would end it.
        match r.fill_buf() {
            Ok(b) if b.first() == Some(&b'G') => {}
            _ => return,
        }
        // The request line and headers.
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || !line.starts_with("GET ") {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
        }
        let head = |status: u16, headers: &[(String, String)], len: Option<usize>| {
            let mut t = format!("HTTP/1.1 {status} X\r\n");
            for (k, v) in headers {
                t.push_str(&format!("{k}: {v}\r\n"));
            }
            match len {
                Some(n) => t.push_str(&format!("Content-Length: {n}\r\n\r\n")),
                None => t.push_str("Connection: close\r\n\r\n"),
            }
            t
        };
        match route(&path, port) {
            Answer::Full(status, headers, body) => {
                let t = head(status, &headers, Some(body.len()));
                if w.write_all(t.as_bytes())
                    .and_then(|()| w.write_all(&body))
                    .is_err()
                {
                    return;
                }
            }
            Answer::Drip(headers, body) => {
                let t = head(200, &headers, Some(body.len()));
                if w.write_all(t.as_bytes()).is_err() {
                    return;
                }
                for b in body {
                    if stop.load(Ordering::Relaxed)
                        || w.write_all(&[b]).and_then(|()| w.flush()).is_err()
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Answer::Endless(headers) => {
                let t = head(200, &headers, None);
                if w.write_all(t.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 << 10];
                // Bounded on our side too: at most 1 GiB, then the connection closes.
                for _ in 0..(1 << 14) {
                    if stop.load(Ordering::Relaxed) || w.write_all(&chunk).is_err() {
                        return;
                    }
                }
                return;
            }
        }
    }
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn ct(v: &str) -> Vec<(String, String)> {
    vec![("Content-Type".into(), v.into())]
}

/// A small valid image: (manifest, config, layer) bytes.
fn tiny_image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "etc/hostname", &b"box\n"[..])
        .expect("tar");
    let layer = b.into_inner().expect("tar");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&layer))]}}))
    .expect("json");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", sha(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{}", sha(&layer)), "size": layer.len()}]}))
    .expect("json");
    (manifest, config, layer)
}

/// `elfdeps scan docker://127.0.0.1:PORT/hostile/img:t` against `route`: exit 2 within
/// `limit`, stderr containing `words` and none of the HTTP stack's or parsers' own text.
fn hostile_case(
    route: impl Fn(&str, u16) -> Answer + Send + Sync + 'static,
    limit: Duration,
    words: &str,
    extra: &[&str],
) {
    let server = Hostile::start(route);
    let home = tempfile::tempdir().expect("tempdir");
    let root = format!("docker://127.0.0.1:{}/hostile/img:t", server.port);
    let start = Instant::now();
    let out = el(
        home.path(),
        &[
            "scan",
            &root,
            "--tls-verify=false",
            "--read-timeout",
            "2s",
            "--connect-timeout",
            "2s",
            "-q",
        ],
    )
    .args(extra)
    .output();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(words), "expected {words:?}: {err}");
    for raw in [
        "reqwest",
        "hyper",
        "error decoding",
        "serde",
        "invalid type",
        "panicked",
        "os error",
    ] {
        assert!(!err.contains(raw), "raw text {raw:?} in: {err}");
    }
    assert!(took < limit, "took {took:?} (limit {limit:?}): {err}");
    eprintln!("{took:.1?}: {}", err.trim());
}

fn is_manifest(p: &str) -> bool {
    p.starts_with("/v2/hostile/img/manifests/")
}

#[test]
fn hostile_registry_oversized_manifest() {
    // Without a length, 1 GiB of spaces: read up to the 4 MiB bound, then abandoned.
    hostile_case(
        |p, _| {
            if is_manifest(p) {
                Answer::Endless(ct(OCI_MANIFEST))
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(20),
        "larger than 4194304 bytes",
        &[],
    );
    // With a length that says so: refused before the body.
    hostile_case(
        |p, _| {
            if is_manifest(p) {
                let mut h = ct(OCI_MANIFEST);
                h.push(("X-Pad".into(), "1".into()));
                Answer::Full(200, h, vec![b' '; 5 << 20])
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(20),
        "larger than 4194304 bytes",
        &[],
    );
}

#[test]
fn hostile_registry_mismatched_manifest_media_type() {
    let (manifest, _, _) = tiny_image();
    hostile_case(
        move |p, _| {
            if is_manifest(p) {
                // The answer says index; the document says manifest.
                Answer::Full(200, ct(OCI_INDEX), manifest.clone())
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(20),
        "the media types disagree",
        &[],
    );
}

#[test]
fn hostile_registry_wrong_blob_digest() {
    let (manifest, config, layer) = tiny_image();
    let layer_path = format!("/v2/hostile/img/blobs/sha256:{}", sha(&layer));
    hostile_case(
        move |p, _| {
            if is_manifest(p) {
                Answer::Full(200, ct(OCI_MANIFEST), manifest.clone())
            } else if p == layer_path {
                // Same size, other bytes.
                let mut bad = layer.clone();
                bad[600] ^= 1;
                Answer::Full(200, vec![], bad)
            } else if p.starts_with("/v2/hostile/img/blobs/") {
                Answer::Full(200, vec![], config.clone())
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(20),
        "corrupt or tampered",
        &[],
    );
}

#[test]
fn hostile_registry_redirect_loop() {
    hostile_case(
        |p, _| {
            if is_manifest(p) {
                Answer::Full(302, vec![("Location".into(), p.to_string())], Vec::new())
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(20),
        "redirected more than 5 times",
        &[],
    );
}

#[test]
fn hostile_registry_slow_drip() {
    let (manifest, _, _) = tiny_image();
    // One byte a second: abandoned after one --read-timeout span (2 s) moved under 16 KiB.
    hostile_case(
        move |p, _| {
            if is_manifest(p) {
                Answer::Drip(ct(OCI_MANIFEST), manifest.clone())
            } else {
                Answer::Full(200, vec![], b"{}".to_vec())
            }
        },
        Duration::from_secs(15),
        "came too slowly",
        &[],
    );
}

#[test]
fn hostile_registry_oversized_blob() {
    let (manifest, config, layer) = tiny_image();
    let layer_path = format!("/v2/hostile/img/blobs/sha256:{}", sha(&layer));
    let route = move |p: &str, _| {
        if is_manifest(p) {
            Answer::Full(200, ct(OCI_MANIFEST), manifest.clone())
        } else if p == layer_path {
            // More than the descriptor's 2048 bytes, without end.
            Answer::Endless(vec![])
        } else if p.starts_with("/v2/hostile/img/blobs/") {
            Answer::Full(200, vec![], config.clone())
        } else {
            Answer::Full(200, vec![], b"{}".to_vec())
        }
    };
    let route = std::sync::Arc::new(route);
    let r = std::sync::Arc::clone(&route);
    hostile_case(
        move |p, port| r(p, port),
        Duration::from_secs(20),
        "larger than its descriptor's 2048 bytes",
        &[],
    );
    // A descriptor over --max-layer-size: nothing downloaded.
    hostile_case(
        move |p, port| route(p, port),
        Duration::from_secs(20),
        "more than --max-layer-size (1024): not downloaded",
        &["--max-layer-size", "1K"],
    );
}

#[test]
fn hostile_registry_token_service() {
    // The challenge names a token service on the same server that answers without end, then
    // one that drips.
    for (path, words) in [
        ("/token-endless", "answered more than 1048576 bytes"),
        ("/token-drip", "came too slowly"),
    ] {
        hostile_case(
            move |p, port| {
                if p == "/v2/" {
                    let realm = format!(
                        "Bearer realm=\"http://127.0.0.1:{port}{path}\",service=\"hostile\""
                    );
                    Answer::Full(401, vec![("WWW-Authenticate".into(), realm)], Vec::new())
                } else if p.starts_with("/token-endless") {
                    Answer::Endless(ct("application/json"))
                } else if p.starts_with("/token-drip") {
                    Answer::Drip(ct("application/json"), br#"{"token":"abcdef"}"#.to_vec())
                } else {
                    Answer::Full(401, vec![], Vec::new())
                }
            },
            Duration::from_secs(15),
            words,
            &[],
        );
    }
}

//! Package ownership and minimal package sets, against the package managers themselves:
//! `dpkg-query -S` on the Debian root, `apk info --who-owns` (run in the Alpine root), and the real
//! loader's closure (tests/ground_truth) for the package sets.

mod ground_truth;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
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

fn scan(root: &Path) -> Value {
    let out = elfdeps(&["scan", root.to_str().expect("utf-8"), "-f", "json", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// `dpkg-query -S` for each path (and, for merged /usr, its `/usr`-less alias): path → package.
fn dpkg_owners(root: &Path, paths: &[String]) -> BTreeMap<String, String> {
    let admindir = root.join("var/lib/dpkg");
    // Merged /usr: the database may list /lib/x for the file at /usr/lib/x.
    let alias = |p: &str| -> Option<String> {
        ["/usr/lib/", "/usr/bin/", "/usr/sbin/", "/usr/lib64/"]
            .iter()
            .any(|pre| p.starts_with(pre))
            .then(|| p["/usr".len()..].to_string())
    };
    let mut queries: Vec<String> = paths.to_vec();
    queries.extend(paths.iter().filter_map(|p| alias(p)));
    let mut owners = BTreeMap::new();
    for chunk in queries.chunks(400) {
        let out = Command::new("dpkg-query")
            .arg(format!("--admindir={}", admindir.display()))
            .arg("-S")
            .args(chunk)
            .output()
            .expect("dpkg-query");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with("diversion ") {
                continue;
            }
            let Some((pkgs, path)) = line.split_once(": ") else {
                continue;
            };
            let pkg = pkgs.split(", ").next().unwrap_or(pkgs);
            let pkg = pkg.split(':').next().unwrap_or(pkg).to_string();
            owners.insert(path.to_string(), pkg);
        }
    }
    paths
        .iter()
        .filter_map(|p| {
            let o = owners
                .get(p)
                .or_else(|| alias(p).and_then(|a| owners.get(&a)))?;
            Some((p.clone(), o.clone()))
        })
        .collect()
}

#[test]
fn debian_owners_equal_dpkg_query() {
    if !support::require_tool_or_skip("dpkg-query", "dpkg", "package ownership on Debian") {
        return;
    }
    let Some(root) = support::root("debian") else {
        return;
    };
    let doc = scan(root);
    assert_eq!(doc["packages"]["database"], "dpkg");
    let objects = doc["objects"].as_array().expect("objects");
    let paths: Vec<String> = objects
        .iter()
        .map(|o| o["path"].as_str().expect("path").to_string())
        .collect();
    let truth = dpkg_owners(root, &paths);
    let mut agree = 0;
    let mut bad = Vec::new();
    for o in objects {
        let p = o["path"].as_str().expect("path");
        let ours = o["package"]["name"].as_str();
        let theirs = truth.get(p).map(String::as_str);
        if ours == theirs {
            agree += 1;
        } else {
            bad.push(format!("{p}: elfdeps {ours:?}, dpkg-query {theirs:?}"));
        }
    }
    support::loud(&format!(
        "debian package owners: agree {agree}/{}",
        objects.len()
    ));
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// `apk info --who-owns` run inside the root (x86_64: natively, in a chroot done by this process).
fn apk_owners(root: &Path, paths: &[String]) -> BTreeMap<String, String> {
    apk_owners_arch(root, None, paths)
}

/// The same, for a foreign architecture: the host's qemu-ARCH-static, opened before the chroot,
/// runs the root's /sbin/apk, executed by descriptor (nothing is copied into the root). The fork,
/// chroot and fexecve are done by a few lines of Python.
fn apk_owners_arch(root: &Path, qemu: Option<&str>, paths: &[String]) -> BTreeMap<String, String> {
    let root_c = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).expect("cstring");
    let mut cmd = match qemu {
        None => {
            let mut c = Command::new("/sbin/apk");
            c.args(["info", "--who-owns"]).args(paths);
            // SAFETY: chroot and chdir are async-signal-safe and touch only this child.
            unsafe {
                c.pre_exec(move || {
                    if libc::chroot(root_c.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            c
        }
        Some(q) => {
            let mut c = Command::new("/usr/bin/python3");
            c.arg("-c")
                .arg(
                    "import os, sys\n\
                     fd = os.open(sys.argv[1], os.O_RDONLY)\n\
                     os.chroot(sys.argv[2]); os.chdir('/')\n\
                     os.execve(fd, ['qemu', '/sbin/apk', 'info', '--who-owns'] + sys.argv[3:], {})",
                )
                .arg(q)
                .arg(root)
                .args(paths);
            c
        }
    };
    let out = cmd.output().expect("apk info --who-owns in the root");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (p, who) = l.split_once(" is owned by ")?;
            Some((p.to_string(), who.to_string()))
        })
        .collect()
}

#[test]
fn alpine_owners_equal_apk_who_owns() {
    alpine_owners("alpine-x86_64", None);
}

#[test]
fn alpine_aarch64_owners_equal_apk_who_owns_under_qemu() {
    alpine_owners("alpine-aarch64", Some("/usr/bin/qemu-aarch64-static"));
}

#[test]
fn alpine_s390x_owners_equal_apk_who_owns_under_qemu() {
    alpine_owners("alpine-s390x", Some("/usr/bin/qemu-s390x-static"));
}

fn alpine_owners(key: &str, qemu: Option<&str>) {
    if !support::require_root_or_skip("apk info --who-owns (chroot)") {
        return;
    }
    let Some(root) = support::root(key) else {
        return;
    };
    let doc = scan(root);
    assert_eq!(doc["packages"]["database"], "apk");
    let objects = doc["objects"].as_array().expect("objects");
    let paths: Vec<String> = objects
        .iter()
        .map(|o| o["path"].as_str().expect("path").to_string())
        .collect();
    let truth = apk_owners_arch(root, qemu, &paths);
    assert!(
        truth.len() >= 10,
        "apk answered for too few files: {truth:?}"
    );
    for o in objects {
        let p = o["path"].as_str().expect("path");
        let ours = format!(
            "{}-{}",
            o["package"]["name"].as_str().unwrap_or("?"),
            o["package"]["version"].as_str().unwrap_or("?")
        );
        assert_eq!(Some(&ours), truth.get(p), "{p}");
    }
    support::loud(&format!(
        "{key} package owners: agree {}/{}",
        objects.len(),
        objects.len()
    ));
}

fn package_lines(root: &Path, program: &str) -> BTreeSet<String> {
    let out = elfdeps(&["packages", root.to_str().expect("utf-8"), program, "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn postgres_package_set_equals_owners_of_the_real_closure() {
    if !support::require_root_or_skip("package set vs the real loader") {
        return;
    }
    let Some(root) = support::root("debian") else {
        return;
    };
    let prog = "/usr/lib/postgresql/15/bin/postgres".to_string();
    let truth = ground_truth::glibc_truth(root, std::slice::from_ref(&prog));
    let t = &truth[&prog];
    let mut files: Vec<String> = t.closure.iter().cloned().collect();
    files.push(prog.clone());
    files.push("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".into());
    let want: BTreeSet<String> = dpkg_owners(root, &files).into_values().collect();
    assert!(
        want.contains("postgresql-15") && want.contains("libc6"),
        "{want:?}"
    );
    assert_eq!(package_lines(root, &prog), want);
}

#[test]
fn apk_package_set_equals_owners_of_the_real_closure() {
    if !support::require_root_or_skip("package set vs the real loader") {
        return;
    }
    let Some(root) = support::root("alpine-x86_64") else {
        return;
    };
    let prog = "/sbin/apk".to_string();
    let truth = ground_truth::musl_truth(root, "x86_64", std::slice::from_ref(&prog));
    let mut files: Vec<String> = truth[&prog].closure.iter().cloned().collect();
    files.push(prog.clone());
    files.push("/lib/ld-musl-x86_64.so.1".into());
    let owners = apk_owners(root, &files);
    // apk prints NAME-VERSION; the set lists names.
    let doc = scan(root);
    let versions: BTreeMap<String, String> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| {
            Some((
                format!(
                    "{}-{}",
                    o["package"]["name"].as_str()?,
                    o["package"]["version"].as_str()?
                ),
                o["package"]["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let want: BTreeSet<String> = owners
        .values()
        .map(|v| versions.get(v).cloned().unwrap_or_else(|| v.clone()))
        .collect();
    assert_eq!(
        want,
        ["apk-tools", "libcrypto3", "libssl3", "musl", "zlib"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    assert_eq!(package_lines(root, &prog), want);
    let out = elfdeps(&[
        "packages",
        root.to_str().expect("utf-8"),
        &prog,
        "-q",
        "-f",
        "apk",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "apk add --no-cache apk-tools libcrypto3 libssl3 musl zlib"
    );
    let out = elfdeps(&[
        "packages",
        root.to_str().expect("utf-8"),
        &prog,
        "-q",
        "-f",
        "apko",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("contents:\n  packages:\n    - apk-tools\n")
    );
    let out = elfdeps(&[
        "packages",
        root.to_str().expect("utf-8"),
        &prog,
        "-q",
        "-f",
        "json",
    ]);
    let j: Value = serde_json::from_slice(&out.stdout).expect("json");
    let musl = j["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "musl")
        .expect("musl");
    assert!(
        musl["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r["role"] == "interpreter")
    );
}

#[test]
fn sample_rootfs_subpackages_and_unneeded() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = t.path().join("sample");
    let build = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-rootfs/build.sh"))
        .arg(&out)
        .output()
        .expect("sample-rootfs/build.sh");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let r = out.to_str().expect("utf-8");
    let doc = scan(&out);
    let owner = |p: &str| {
        doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["path"] == p)
            .map(|o| o["package"]["name"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(owner("/usr/bin/greet"), "greet");
    assert_eq!(owner("/usr/lib/greet/libgreet.so.1.2.0"), "libgreet");
    assert_eq!(owner("/usr/lib/x86_64-linux-gnu/libc.so.6"), "glibc");
    let set = package_lines(&out, "/usr/bin/greet");
    assert_eq!(
        set,
        ["glibc", "greet", "libgreet"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let un = elfdeps(&["packages", r, "--unneeded", "-q"]);
    let text = String::from_utf8_lossy(&un.stdout);
    let names: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(names, ["greet-dev", "greet-doc"], "{text}");
    // --for: the programs of one package.
    let f = elfdeps(&["packages", r, "--for", "vers-tools", "-q"]);
    let set: Vec<String> = String::from_utf8_lossy(&f.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(set, ["glibc", "libvers", "vers-tools"]);
}

/// Writes an APKINDEX.tar.gz as apk-tools does: a signature tar and the index tar (DESCRIPTION,
/// APKINDEX), each gzipped on its own and concatenated.
fn write_apkindex(path: &Path, records: &str) {
    use std::io::Write;
    let tar_member = |name: &str, data: &[u8]| {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
        // apk-tools strips the end-of-archive blocks of the signature part; keep them here on the
        // index part only, as abuild does.
        b.into_inner().expect("tar")
    };
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gz");
        e.finish().expect("gz")
    };
    let mut sig = tar_member(".SIGN.RSA.test.rsa.pub", b"not a real signature");
    sig.truncate(sig.len() - 1024); // no end-of-archive blocks in the signature stream
    let mut index = tar_member("DESCRIPTION", b"test repository");
    index.truncate(index.len() - 1024);
    index.extend(tar_member("APKINDEX", records.as_bytes()));
    let mut out = gz(&sig);
    out.extend(gz(&index));
    std::fs::write(path, out).expect("write APKINDEX.tar.gz");
}

#[test]
fn apk_index_names_the_subpackage_for_a_missing_soname() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = t.path().join("sample");
    let build = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-rootfs/build.sh"))
        .arg(&out)
        .output()
        .expect("sample-rootfs/build.sh");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let index = t.path().join("APKINDEX.tar.gz");
    write_apkindex(
        &index,
        "C:Q1aaaa=\nP:absent\nV:1.0-r0\nA:x86_64\nS:100\nI:200\nT:the library\no:absent\np:cmd:absent=1.0-r0\n\n\
         C:Q1bbbb=\nP:libabsent1\nV:1.0-r0\nA:x86_64\nS:100\nI:200\nT:the library\no:absent\np:so:libabsent.so.1=1.0.0\n\n\
         C:Q1cccc=\nP:absent-dev\nV:1.0-r0\nA:x86_64\no:absent\nD:libabsent1=1.0-r0\np:pc:absent=1.0\n\n",
    );
    let r = out.to_str().expect("utf-8");
    let o = elfdeps(&[
        "packages",
        r,
        "/usr/bin/needs-missing",
        "--apk-index",
        index.to_str().expect("utf-8"),
        "-f",
        "json",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).expect("json");
    let gap = j["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .find(|g| g["what"] == "libabsent.so.1")
        .expect("a gap for libabsent.so.1");
    assert_eq!(gap["providers"], serde_json::json!(["libabsent1"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("provided by libabsent1"));
}

/// An RPM root made with Debian's rpm: two packages built by rpmbuild from spec files written
/// here (a library and a program linked against it), installed with `rpm --root`.
#[test]
fn rpm_root_maps_files_to_rpm_packages() {
    if !support::require_tool_or_skip("rpmbuild", "rpm", "RPM ownership")
        || !support::require_root_or_skip("RPM ownership (rpm --root)")
    {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let src = d.join("src");
    let root = d.join("root");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(d.join("lib.c"), "int greet(void) { return 42; }\n").expect("w");
    std::fs::write(
        d.join("main.c"),
        "int greet(void);\nint main(void) { return greet() - 42; }\n",
    )
    .expect("w");
    let run = |cmd: &mut Command, what: &str| {
        let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o"])
            .arg(src.join("libgreet.so.1"))
            .arg(d.join("lib.c")),
        "gcc lib",
    );
    run(
        Command::new("gcc")
            .arg("-o")
            .arg(src.join("greet"))
            .arg(d.join("main.c"))
            .arg(src.join("libgreet.so.1")),
        "gcc prog",
    );
    let spec = |name: &str, file: &str, dest: &str, requires: &str| {
        format!(
            "%define debug_package %{{nil}}\n%define __os_install_post %{{nil}}\n\
             Name: {name}\nVersion: 1.0\nRelease: 3\nSummary: test\nLicense: MIT\nSource0: {file}\n{requires}\
             %description\ntest\n%install\nmkdir -p %{{buildroot}}{dir}\ncp %{{SOURCE0}} %{{buildroot}}{dest}\n\
             %files\n{dest}\n",
            dir = Path::new(dest).parent().expect("dir").display()
        )
    };
    std::fs::write(
        d.join("lib.spec"),
        spec("libgreet1", "libgreet.so.1", "/usr/lib/libgreet.so.1", ""),
    )
    .expect("w");
    std::fs::write(
        d.join("prog.spec"),
        spec(
            "greet-tools",
            "greet",
            "/usr/bin/greet",
            "Requires: libgreet1\n",
        ),
    )
    .expect("w");
    for s in ["lib.spec", "prog.spec"] {
        run(
            Command::new("rpmbuild")
                .args(["-bb", "--nodeps", "--define"])
                .arg(format!("_topdir {}", d.join("rpmbuild").display()))
                .arg("--define")
                .arg(format!("_sourcedir {}", src.display()))
                .arg(d.join(s)),
            "rpmbuild",
        );
    }
    let rpms: Vec<std::path::PathBuf> = std::fs::read_dir(d.join("rpmbuild/RPMS/x86_64"))
        .expect("RPMS")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(rpms.len(), 2, "{rpms:?}");
    let rpm = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args);
        c
    };
    run(&mut rpm(&["--initdb"]), "rpm --initdb");
    let mut install = rpm(&["-i", "--nodeps", "--noscripts"]);
    install.args(&rpms);
    run(&mut install, "rpm -i");
    // The root needs a loader for resolution: the host's glibc runtime, unowned by any RPM.
    for (from, to) in [
        (
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "lib64/ld-linux-x86-64.so.2",
        ),
        ("/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/libc.so.6"),
    ] {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().expect("dir")).expect("mkdir");
        std::fs::copy(from, &to).expect("copy the glibc runtime");
    }
    let doc = scan(&root);
    assert_eq!(doc["packages"]["database"], "rpm", "{}", doc["packages"]);
    for o in doc["objects"].as_array().expect("objects") {
        let p = o["path"].as_str().expect("path");
        let q = rpm(&["-qf", "--qf", "%{NAME}", p])
            .output()
            .expect("rpm -qf");
        let theirs = String::from_utf8_lossy(&q.stdout).trim().to_string();
        let ours = o["package"]["name"].as_str().unwrap_or("");
        if q.status.success() {
            assert_eq!(ours, theirs, "{p}");
        } else {
            assert!(
                o["package"].is_null(),
                "{p}: rpm says unowned, elfdeps {}",
                o["package"]
            );
        }
    }
    let greet = package_lines(&root, "/usr/bin/greet");
    assert_eq!(
        greet,
        ["greet-tools", "libgreet1"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let r = root.to_str().expect("utf-8");
    let o = elfdeps(&["packages", r, "/usr/bin/greet", "-f", "json", "-q"]);
    let j: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        j["gaps"]
            .as_array()
            .expect("gaps")
            .iter()
            .any(|g| g["kind"] == "unowned" && g["what"] == "/usr/lib/libc.so.6"),
        "the copied glibc is reported as unowned: {}",
        j["gaps"]
    );
}

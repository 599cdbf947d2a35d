//! Package ownership and minimal package sets, against the package managers themselves:
//! `dpkg-query -S` on the Debian root, `apk info --who-owns` (run in the Alpine root), and the real
//! loader's closure (tests/ground_truth) for the package sets.

mod ground_truth;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{Elfdeps, elfdeps};

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

/// The set of the loader closure alone (`--elf-only`): the owners of what the loader loads.
fn package_lines(root: &Path, program: &str) -> BTreeSet<String> {
    let out = elfdeps(&[
        "packages",
        root.to_str().expect("utf-8"),
        program,
        "-q",
        "--elf-only",
    ]);
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
    // The default set adds what apk-tools declares (D:ca-certificates-bundle) to the owners of
    // the loader closure.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "apk add --no-cache apk-tools ca-certificates-bundle libcrypto3 libssl3 musl zlib"
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
    // Declared dependencies: each package's requires as `rpm -q --requires` lists them (without
    // rpmlib() and config()), its architecture and size, and greet-tools' closure.
    {
        use elfdeps::pkgdb::{self, DbKind};
        let rootfs = elfdeps::rootfs::RootFs::open(&root).expect("root");
        let limits = elfdeps::scan::ScanOptions::default().limits;
        let view = elfdeps::resolve::LazyView::new(&rootfs, limits);
        let db = pkgdb::detect(&rootfs, &view, DbKind::Rpm).expect("rpm database");
        assert_eq!(db.packages.len(), 2, "{:?}", db.warnings);
        for p in &db.packages {
            let name = p.name.escaped();
            let q = rpm(&["-q", "--requires", &name]).output().expect("rpm -q");
            let theirs: Vec<String> = String::from_utf8_lossy(&q.stdout)
                .lines()
                .filter(|l| !l.starts_with("rpmlib(") && !l.starts_with("config("))
                .map(String::from)
                .collect();
            let ours: Vec<String> = p
                .depends
                .iter()
                .map(|g| pkgdb::declared::group_text(g))
                .collect();
            assert_eq!(ours, theirs, "{name}");
            let q = rpm(&["-q", "--qf", "%{ARCH} %{SIZE}", &name])
                .output()
                .expect("rpm -q");
            let size = p.installed_size.map(|s| s.to_string()).unwrap_or_default();
            let arch = p.arch.as_ref().map(|a| a.escaped()).unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(&q.stdout), format!("{arch} {size}"));
        }
        let tools = db
            .packages
            .iter()
            .position(|p| p.name.as_bytes() == b"greet-tools")
            .expect("greet-tools");
        let closure = db.declared_closure(&[tools]);
        let names: Vec<String> = closure
            .packages
            .keys()
            .map(|&i| db.packages[i].name.escaped())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().any(|n| n == "libgreet1"), "{names:?}");
        // glibc is no RPM here: what greet-tools needs of it is unsatisfied.
        assert!(
            closure
                .unsatisfied
                .iter()
                .any(|u| u.relation.starts_with("libc.so.6")),
            "{:?}",
            closure.unsatisfied
        );
    }
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

// ---------------------------------------------------------------------------------------------
// Case 33: control characters and non-UTF-8 bytes in package databases
// ---------------------------------------------------------------------------------------------

/// A small statically linked program (so that `elfdeps packages` targets it without a loader in
/// the root), built once per test into `dir`.
fn tiny_static_program(dir: &Path) -> Vec<u8> {
    let src = dir.join("tiny.c");
    let bin = dir.join("tiny");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write tiny.c");
    let o = Command::new("gcc")
        .args(["-static", "-s", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "gcc -static: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&bin).expect("read tiny")
}

/// `root` joined with the in-root byte path `p` (leading `/`).
fn in_root(root: &Path, p: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    root.join(std::ffi::OsStr::from_bytes(
        p.strip_prefix(b"/").unwrap_or(p),
    ))
}

fn put_file(root: &Path, p: &[u8], data: &[u8]) {
    let host = in_root(root, p);
    std::fs::create_dir_all(host.parent().expect("parent")).expect("mkdir");
    std::fs::write(&host, data).expect("write file");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Terminal-significant bytes in human output: C0 controls other than `\n` and `\t` (which the
/// renderers write themselves, as line ends and the `--unneeded` separator), DEL, and the UTF-8
/// form of the C1 controls (U+0080..U+009F; U+009B is a one-character CSI for many terminals).
fn raw_control_bytes(out: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, &b) in out.iter().enumerate() {
        let c1 = b == 0xc2 && out.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n));
        if (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || c1 {
            let from = i.saturating_sub(20);
            found.push(format!(
                "byte 0x{b:02x} at {i}: {:?}",
                String::from_utf8_lossy(&out[from..(i + 20).min(out.len())])
            ));
        }
    }
    found
}

/// Runs elfdeps with human output and asserts that neither stdout nor stderr carries a raw
/// control byte. Returns (stdout, stderr).
fn human_output_is_escaped(args: &[&std::ffi::OsStr], what: &str) -> (Vec<u8>, String) {
    let out = Elfdeps::new(args).env_remove("CLICOLOR_FORCE").output();
    assert!(
        out.status.success(),
        "{what}: exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let raw = raw_control_bytes(bytes);
        assert!(
            raw.is_empty(),
            "{what}: raw control bytes on {stream} (terminal-escape injection):\n  {}",
            raw.join("\n  ")
        );
    }
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `path (escaped, as JSON has it) -> package name (decoded JSON string, or None)` of a scan.
fn json_owners(doc: &Value) -> BTreeMap<String, Option<String>> {
    doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["path"].as_str().expect("path").to_string(),
                o["package"]["name"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Checks one hostile root: every object's owner (by raw path bytes) in the JSON report, the JSON
/// escaping of names, and the human output of `scan` and `packages`.
fn check_hostile_names_root(
    root: &Path,
    kind: &str,
    expected: &[(&[u8], Option<&[u8]>)],
    forbidden_names: &[&str],
) -> String {
    let doc = support::scan_json(root);
    assert_eq!(doc["packages"]["database"], kind, "{}", doc["packages"]);
    let owners = json_owners(&doc);
    for (path, pkg) in expected {
        let key = support::escape_name(path);
        let got = owners
            .get(&key)
            .unwrap_or_else(|| panic!("{kind}: no object {key:?} in {owners:?}"));
        assert_eq!(
            got.as_deref(),
            pkg.map(support::escape_name).as_deref(),
            "{kind}: owner of {key:?} (JSON names: valid UTF-8 as is, other bytes as \\xNN)"
        );
    }
    assert_eq!(owners.len(), expected.len(), "{kind}: objects {owners:?}");
    for n in forbidden_names {
        assert!(
            !owners.values().any(|o| o.as_deref() == Some(*n)),
            "{kind}: a file is attributed to the injected package {n:?}: {owners:?}"
        );
    }
    let r = root.as_os_str();
    let (scan_out, _) = human_output_is_escaped(
        &[std::ffi::OsStr::new("scan"), r],
        &format!("{kind}: elfdeps scan"),
    );
    assert!(
        String::from_utf8_lossy(&scan_out).contains(&format!("{kind} database")),
        "{}",
        String::from_utf8_lossy(&scan_out)
    );
    let (lines, _) = human_output_is_escaped(
        &[std::ffi::OsStr::new("packages"), r],
        &format!("{kind}: elfdeps packages"),
    );
    // Every owner appears once, as its terminal form (controls and invalid UTF-8 as \xNN).
    let shown: BTreeSet<String> = String::from_utf8_lossy(&lines)
        .lines()
        .map(str::to_string)
        .collect();
    let want: BTreeSet<String> = expected
        .iter()
        .filter_map(|(_, p)| *p)
        .map(terminal_form)
        .collect();
    assert_eq!(shown, want, "{kind}: elfdeps packages ROOT");
    let (un, _) = human_output_is_escaped(
        &[
            std::ffi::OsStr::new("packages"),
            r,
            std::ffi::OsStr::new("--unneeded"),
        ],
        &format!("{kind}: elfdeps packages --unneeded"),
    );
    for l in String::from_utf8_lossy(&un).lines() {
        assert_eq!(l.matches('\t').count(), 1, "{kind}: --unneeded line {l:?}");
    }
    String::from_utf8_lossy(&scan_out).into_owned()
}

/// How the human renderers write a name: like JSON, and every control character as `\xNN` of its
/// UTF-8 bytes.
fn terminal_form(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() {
                let mut b = [0; 4];
                for x in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("\\x{x:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[test]
fn case_33_control_chars_and_non_utf8_in_package_dbs() {
    if !support::require_tool_or_skip("gcc", "gcc", "case 33 (test programs)")
        || !support::require_tool_or_skip("dpkg-deb", "dpkg", "case 33 (dpkg root)")
        || !support::require_root_or_skip("case 33 (dpkg --root installs as root)")
    {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let elf = tiny_static_program(t.path());

    // --- APK: an installed database with hostile names, written as a naive writer would (apko
    // before #2507 rendered names into `K:value` lines verbatim).
    let apk = t.path().join("apk");
    let esc_name: &[u8] = b"\x1b]0;pwned\x07ev\xc2\x9bil";
    let tab_name: &[u8] = b"tab\tpkg\xfe";
    let files: &[&[u8]] = &[
        b"/usr/bin/plain",
        b"/usr/bin/esc\x1b[2Jclear",
        b"/usr/bin/tab\there\xff",
        b"/usr/bin/tool\r",
        b"/usr/bin/tool",
        b"/usr/bin/nlfriend",
        b"/usr/bin/nl\nP:fake",
        b"/usr/bin/inj",
    ];
    for f in files {
        put_file(&apk, f, &elf);
    }
    let mut db: Vec<u8> = Vec::new();
    db.extend_from_slice(b"C:Q1aaa=\nP:plain\nV:1.0-r0\nF:usr/bin\nR:plain\n\n");
    db.extend_from_slice(b"C:Q1bbb=\nP:");
    db.extend_from_slice(esc_name);
    db.extend_from_slice(
        b"\nV:1.0\r-r0\x1b[8m\no:\xff\xfeorigin\nF:usr/bin\nR:esc\x1b[2Jclear\n\n",
    );
    db.extend_from_slice(b"C:Q1ccc=\nP:");
    db.extend_from_slice(tab_name);
    db.extend_from_slice(b"\nV:2\x7f\nF:usr/bin\nR:tab\there\xff\n\n");
    // A name ending in a carriage return is its own file, listed before the plain one: a reader
    // that takes `\r\n` for a line end gives /usr/bin/tool to the wrong package.
    db.extend_from_slice(b"C:Q1ddd=\nP:cr-pkg\nV:1\nF:usr/bin\nR:tool\r\n\n");
    db.extend_from_slice(b"C:Q1eee=\nP:plain-tool\nV:1\nF:usr/bin\nR:tool\n\n");
    // The file named "nl\nP:fake" rendered verbatim: its record gains a second P: line, which
    // must not rename the package (or hand its files to "fake").
    db.extend_from_slice(b"C:Q1fff=\nP:nl-pkg\nV:1\nF:usr/bin\nR:nlfriend\nR:nl\nP:fake\n\n");
    std::fs::create_dir_all(apk.join("lib/apk/db")).expect("mkdir");
    std::fs::write(apk.join("lib/apk/db/installed"), &db).expect("write installed");
    let human = check_hostile_names_root(
        &apk,
        "apk",
        &[
            (b"/usr/bin/plain", Some(b"plain")),
            (b"/usr/bin/esc\x1b[2Jclear", Some(esc_name)),
            (b"/usr/bin/tab\there\xff", Some(tab_name)),
            (b"/usr/bin/tool\r", Some(b"cr-pkg")),
            (b"/usr/bin/tool", Some(b"plain-tool")),
            // The record with two P: lines is skipped whole: its files belong to no package.
            (b"/usr/bin/nlfriend", None),
            (b"/usr/bin/nl\nP:fake", None),
            (b"/usr/bin/inj", None),
        ],
        &["fake"],
    );
    assert!(
        human.contains("warning") && human.contains("a second P: line"),
        "elfdeps scan shows the skipped record: {human}"
    );
    let doc = support::scan_json(&apk);
    let warnings = doc["packages"]["warnings"].to_string();
    assert!(
        warnings.contains("P:"),
        "the record with two P: lines is reported: {warnings}"
    );
    let versions: BTreeSet<String> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["package"]["version"].as_str().map(str::to_string))
        .collect();
    assert!(
        versions.contains("1.0\r-r0\x1b[8m") && versions.contains("2\x7f"),
        "versions are kept byte for byte: {versions:?}"
    );
    let origin = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find_map(|o| {
            o["package"]["origin"]
                .as_str()
                .filter(|s| s.contains("origin"))
        })
        .map(str::to_string);
    assert_eq!(origin.as_deref(), Some("\\xff\\xfeorigin"));

    // --- dpkg: packages installed by real dpkg, whose file names and version carry control bytes
    // and invalid UTF-8 (dpkg accepts them; it refuses only newlines and bad package names).
    let deb = t.path().join("dpkg");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(deb.join(d)).expect("mkdir");
    }
    std::fs::write(deb.join("var/lib/dpkg/status"), "").expect("status");
    let build = |name: &str, version: &[u8], files: &[&[u8]]| {
        let pkg = t.path().join(format!("pkg-{name}"));
        std::fs::create_dir_all(pkg.join("DEBIAN")).expect("mkdir");
        let mut control = format!("Package: {name}\nVersion: ").into_bytes();
        control.extend_from_slice(version);
        control.extend_from_slice(
            b"\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n",
        );
        std::fs::write(pkg.join("DEBIAN/control"), control).expect("control");
        for f in files {
            put_file(&pkg, f, &elf);
        }
        let debfile = t.path().join(format!("{name}.deb"));
        let o = Command::new("dpkg-deb")
            .args(["--nocheck", "--root-owner-group", "--build"])
            .arg(&pkg)
            .arg(&debfile)
            .output()
            .expect("dpkg-deb");
        assert!(
            o.status.success(),
            "dpkg-deb --build {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new("dpkg")
            .arg(format!("--root={}", deb.display()))
            .args(["--force-all", "-i"])
            .arg(&debfile)
            .output()
            .expect("dpkg -i");
        assert!(
            o.status.success(),
            "dpkg -i {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    build(
        "a-ctl",
        b"1.0\x1b[31m",
        &[
            b"/usr/bin/esc\x1b[2Jclear",
            b"/usr/bin/tab\there\xff",
            b"/usr/bin/tool\r",
        ],
    );
    build("z-plain", b"2.0", &[b"/usr/bin/tool"]);
    // A name dpkg itself would refuse, written into status and info/ the way dpkg writes them (a
    // hostile image is not made by dpkg).
    let evil_name: &[u8] = b"b\x1b[1mevil\xff";
    let mut status = std::fs::read(deb.join("var/lib/dpkg/status")).expect("status");
    status.extend_from_slice(b"Package: ");
    status.extend_from_slice(evil_name);
    status.extend_from_slice(
        b"\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3\x1b[0m\nDescription: x\n\n",
    );
    std::fs::write(deb.join("var/lib/dpkg/status"), &status).expect("status");
    let mut list_name = evil_name.to_vec();
    list_name.extend_from_slice(b".list");
    std::fs::write(
        in_root(
            &deb,
            &[b"/var/lib/dpkg/info/", list_name.as_slice()].concat(),
        ),
        b"/.\n/usr\n/usr/bin\n/usr/bin/evil\x9b31m\n/usr/bin/nl\nname\n",
    )
    .expect("list");
    // A file whose name has a newline exists on disk (dpkg refuses to install one; a maintainer
    // script or a later layer can still create it). Its .list line above is split in two by
    // whatever wrote it: neither half is this file.
    put_file(&deb, b"/usr/bin/evil\x9b31m", &elf);
    put_file(&deb, b"/usr/bin/nl\nname", &elf);
    let human = check_hostile_names_root(
        &deb,
        "dpkg",
        &[
            (b"/usr/bin/esc\x1b[2Jclear", Some(b"a-ctl")),
            (b"/usr/bin/tab\there\xff", Some(b"a-ctl")),
            (b"/usr/bin/tool\r", Some(b"a-ctl")),
            (b"/usr/bin/tool", Some(b"z-plain")),
            (b"/usr/bin/evil\x9b31m", Some(evil_name)),
            (b"/usr/bin/nl\nname", None),
        ],
        &[],
    );
    // The warning quotes the hostile name in its terminal form.
    assert!(
        human.contains("b\\x1b[1mevil\\xff.list line 6"),
        "elfdeps scan shows the skipped .list line, escaped: {human}"
    );
    let doc = support::scan_json(&deb);
    let warnings = doc["packages"]["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("line 6"))),
        "the half-line `name` of the split file name is reported: {warnings:?}"
    );
    let a_ctl = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["package"]["name"] == "a-ctl")
        .expect("an a-ctl object");
    assert_eq!(a_ctl["package"]["version"], "1.0\x1b[31m");
}

// ---------------------------------------------------------------------------------------------
// Case 34: a hostile rpmdb.sqlite
// ---------------------------------------------------------------------------------------------

/// Every file of `dir` with its length, a hash of its bytes and its mtime. Hashed while read in
/// chunks: holding a large file here would raise this process's high-water RSS, which Linux
/// folds into the next child's ru_maxrss at exec (see tests/hostile.rs rss_floor).
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, u64, std::time::SystemTime)> {
    use std::hash::Hasher;
    use std::io::Read;
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let e = e.expect("entry");
            let m = e.metadata().expect("metadata");
            let mut f = std::fs::File::open(e.path()).expect("open");
            let mut h = std::collections::hash_map::DefaultHasher::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                h.write(&buf[..n]);
            }
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.len(), h.finish(), m.modified().expect("mtime")),
            )
        })
        .collect()
}

/// An RPM header blob: `(tag, type, count, data)` entries, data laid out in order (int32 data
/// aligned to 4, as rpm does).
fn rpm_header(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, ty, count, bytes) in entries {
        if *ty == 4 {
            while !data.len().is_multiple_of(4) {
                data.push(0);
            }
        }
        index.extend_from_slice(&tag.to_be_bytes());
        index.extend_from_slice(&ty.to_be_bytes());
        index.extend_from_slice(&(data.len() as u32).to_be_bytes());
        index.extend_from_slice(&count.to_be_bytes());
        data.extend_from_slice(bytes);
    }
    let mut out = (entries.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend(index);
    out.extend(data);
    out
}

/// Builds one RPM per `(name, /usr/bin/NAME)` from a static program with rpmbuild and installs
/// them all with `rpm --root` into `root`.
fn rpm_root(d: &Path, root: &Path, names: &[&str], elf: &[u8]) {
    let src = d.join("rpmsrc");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::create_dir_all(root).expect("mkdir");
    let run = |cmd: &mut Command, what: &str| {
        let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    for n in names {
        std::fs::write(src.join(n), elf).expect("write program");
        let spec = format!(
            "%define debug_package %{{nil}}\n%define __os_install_post %{{nil}}\n\
             Name: {n}\nVersion: 1.0\nRelease: 3\nSummary: test\nLicense: MIT\nSource0: {n}\n\
             %description\ntest\n%install\nmkdir -p %{{buildroot}}/usr/bin\n\
             cp %{{SOURCE0}} %{{buildroot}}/usr/bin/{n}\n%files\n/usr/bin/{n}\n"
        );
        let spec_path = d.join(format!("{n}.spec"));
        std::fs::write(&spec_path, spec).expect("spec");
        run(
            Command::new("rpmbuild")
                .args(["-bb", "--nodeps", "--define"])
                .arg(format!("_topdir {}", d.join("rpmbuild").display()))
                .arg("--define")
                .arg(format!("_sourcedir {}", src.display()))
                .arg(&spec_path),
            "rpmbuild",
        );
    }
    let rpms: Vec<std::path::PathBuf> = std::fs::read_dir(d.join("rpmbuild/RPMS/x86_64"))
        .expect("RPMS")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(rpms.len(), names.len(), "{rpms:?}");
    let rpm = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args);
        c
    };
    run(&mut rpm(&["--initdb"]), "rpm --initdb");
    let mut install = rpm(&["-i", "--nodeps", "--noscripts"]);
    install.args(&rpms);
    run(&mut install, "rpm -i");
}

/// A copy of `base` (an RPM root) at `to`.
fn copy_root(base: &Path, to: &Path) {
    let o = Command::new("cp")
        .arg("-a")
        .arg(base)
        .arg(to)
        .output()
        .expect("cp -a");
    assert!(
        o.status.success(),
        "cp -a: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Changes the copied root's database with SQLite itself (as an attacker would).
fn tamper(root: &Path, sql: impl FnOnce(&rusqlite::Connection)) {
    let conn = rusqlite::Connection::open(root.join("var/lib/rpm/rpmdb.sqlite")).expect("open");
    // rpm's index tables reference Packages; the attacker does not care.
    conn.execute_batch("PRAGMA foreign_keys = OFF;")
        .expect("foreign_keys");
    sql(&conn);
    // Leave no write-ahead log behind: the scan sees one file.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    conn.close().expect("close");
}

/// The hnum of the package whose header names `NAME-1.0-3.src.rpm` as its source.
fn hnum_of(conn: &rusqlite::Connection, name: &str) -> i64 {
    let want = format!("{name}-1.0-3.src.rpm");
    let mut st = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .expect("prepare");
    let rows: Vec<(i64, Vec<u8>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.into_iter()
        .find(|(_, b)| b.windows(want.len()).any(|w| w == want.as_bytes()))
        .unwrap_or_else(|| panic!("no header for {name}"))
        .0
}

/// Peak RSS and wall time any hostile database may cost (the real database is a few hundred KiB;
/// the largest test file here is about 130 MiB, which is read into memory once).
const RPMDB_MAX_RSS_KIB: i64 = 300 * 1024;
const RPMDB_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// Scans `root` (JSON and human, bounded), checks exit 0, bounds, that the root's database files
/// are untouched, that the owners are `expected` (name per /usr/bin/NAME, None: unowned) and
/// that the warnings name the database and contain every `warn` string. Returns the warnings.
fn check_hostile_rpmdb(
    tmp: &Path,
    case: &str,
    root: &Path,
    expected: &[(&str, Option<&str>)],
    warn: &[&str],
) -> Vec<String> {
    let dbdir = root.join("var/lib/rpm");
    let before = snapshot(&dbdir);
    let r = root.as_os_str();
    let run = support::bounded_elfdeps(
        &[
            "scan".as_ref(),
            r,
            "--format".as_ref(),
            "json".as_ref(),
            "-q".as_ref(),
        ],
        tmp,
        std::time::Duration::from_secs(180),
    );
    support::loud(&format!(
        "case 34 {case}: scan took {:?}, peak RSS {} MiB",
        run.elapsed,
        run.maxrss_kib / 1024
    ));
    assert!(
        run.status.success(),
        "{case}: elfdeps scan exited {} (a hostile rpmdb must not fail the scan):\n{}",
        run.status,
        run.stderr
    );
    assert!(
        run.elapsed < RPMDB_MAX_TIME,
        "{case}: the scan took {:?}",
        run.elapsed
    );
    assert!(
        run.maxrss_kib < RPMDB_MAX_RSS_KIB,
        "{case}: peak RSS {} KiB (bound {RPMDB_MAX_RSS_KIB} KiB)",
        run.maxrss_kib
    );
    let doc: Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!(
        doc["packages"]["database"], "rpm",
        "{case}: {}",
        doc["packages"]
    );
    let owners = json_owners(&doc);
    for (name, pkg) in expected {
        let p = format!("/usr/bin/{name}");
        assert_eq!(
            owners
                .get(&p)
                .unwrap_or_else(|| panic!("{case}: no object {p}: {owners:?}")),
            &pkg.map(str::to_string),
            "{case}: owner of {p}; warnings: {}",
            doc["packages"]["warnings"]
        );
    }
    let warnings: Vec<String> = doc["packages"]["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| w.as_str().expect("str").to_string())
                .collect()
        })
        .unwrap_or_default();
    for w in warn {
        assert!(
            warnings.iter().any(|x| x.contains(w)),
            "{case}: no warning says {w:?}: {warnings:#?}"
        );
    }
    for w in &warnings {
        assert!(
            w.contains("/var/lib/rpm/rpmdb.sqlite"),
            "{case}: the warning names the database file: {w}"
        );
    }
    // People see it too, escaped.
    let (human, _) = human_output_is_escaped(&["scan".as_ref(), r], &format!("{case}: scan"));
    let human = String::from_utf8_lossy(&human);
    if !warnings.is_empty() {
        assert!(
            human.contains("warning") && human.contains("rpmdb.sqlite"),
            "{case}: elfdeps scan shows the warning:\n{human}"
        );
    }
    let after = snapshot(&dbdir);
    assert_eq!(
        before, after,
        "{case}: the root's database files (length, hash, mtime) changed"
    );
    warnings
}

#[test]
fn case_34_hostile_rpmdb_sqlite() {
    if !support::require_tool_or_skip("rpmbuild", "rpm", "case 34 (hostile rpmdb)")
        || !support::require_tool_or_skip("gcc", "gcc", "case 34 (test programs)")
        || !support::require_root_or_skip("case 34 (rpm --root)")
    {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let elf = tiny_static_program(d);
    let base = d.join("base");
    rpm_root(d, &base, &["alpha", "beta", "gamma"], &elf);
    let all = [
        ("alpha", Some("alpha")),
        ("beta", Some("beta")),
        ("gamma", Some("gamma")),
    ];
    let none = [("alpha", None), ("beta", None), ("gamma", None)];
    let db_of = |root: &Path| root.join("var/lib/rpm/rpmdb.sqlite");
    let fresh = |case: &str| {
        let r = d.join(case);
        copy_root(&base, &r);
        r
    };
    check_hostile_rpmdb(d, "intact", &fresh("intact"), &all, &[]);

    // (a) Not SQLite at all, a truncated copy of a real one, and a file over the size cap.
    let r = fresh("random");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(db_of(&r), random).expect("write");
    check_hostile_rpmdb(
        d,
        "random bytes",
        &r,
        &none,
        &["not a database", "rebuilddb"],
    );

    let r = fresh("truncated");
    let real = std::fs::read(db_of(&r)).expect("read");
    std::fs::write(db_of(&r), &real[..real.len() / 3]).expect("write");
    let w = check_hostile_rpmdb(d, "truncated", &r, &[], &[]);
    assert!(!w.is_empty(), "a truncated database is reported");
    // Whatever was readable maps to the right package; nothing maps to a wrong one.
    let doc = support::scan_json(&r);
    for (p, o) in json_owners(&doc) {
        if let Some(o) = o {
            assert_eq!(p, format!("/usr/bin/{o}"), "truncated: {p} given to {o}");
        }
    }

    let r = fresh("oversized");
    std::fs::File::options()
        .write(true)
        .open(db_of(&r))
        .expect("open")
        .set_len(300 << 20)
        .expect("set_len (sparse)");
    check_hostile_rpmdb(
        d,
        "over the size cap",
        &r,
        &none,
        &["cannot read the RPM database"],
    );

    // (b) One garbage header and one truncated header: the third package still maps
    // (syft#1231: one bad RPM must not abort the scan).
    let r = fresh("bad-blob");
    tamper(&r, |c| {
        let beta = hnum_of(c, "beta");
        let gamma = hnum_of(c, "gamma");
        c.execute(
            "UPDATE Packages SET blob = X'DEADBEEF0001020304' WHERE hnum = ?1",
            [beta],
        )
        .expect("garbage");
        c.execute(
            "UPDATE Packages SET blob = substr(blob, 1, length(blob) / 2) WHERE hnum = ?1",
            [gamma],
        )
        .expect("truncate");
    });
    let w = check_hostile_rpmdb(
        d,
        "bad blobs",
        &r,
        &[("alpha", Some("alpha")), ("beta", None), ("gamma", None)],
        &["bad header"],
    );
    assert_eq!(
        w.iter().filter(|w| w.contains("bad header")).count(),
        2,
        "one warning per bad package: {w:#?}"
    );

    // (c) Headers claiming enormous counts and sizes, added next to the good ones; the last one
    // is small but names 100,000 files under one 8 KiB directory (800 MB of paths).
    let r = fresh("enormous");
    let s = |v: &str| {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    };
    let mut huge_dir = vec![b'/'];
    huge_dir.extend(std::iter::repeat_n(b'd', 8192));
    huge_dir.extend_from_slice(b"/\0");
    let n = 100_000u32;
    let hostile: Vec<Vec<u8>> = vec![
        [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0].to_vec(),
        {
            let mut h = rpm_header(&[(1000, 6, 1, s("big"))]);
            h[4..8].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
            h
        },
        rpm_header(&[(1000, 6, 1, s("many")), (1117, 8, u32::MAX, s("x"))]),
        rpm_header(&[(1000, 6, 1, s("ints")), (1116, 4, 1 << 20, vec![0; 8])]),
        rpm_header(&[
            (1000, 6, 1, s("amplified")),
            (1118, 8, 1, huge_dir),
            (1117, 8, n, vec![0; n as usize]),
            (1116, 4, n, vec![0; 4 * n as usize]),
        ]),
    ];
    tamper(&r, |c| {
        for h in &hostile {
            c.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
                .expect("insert");
        }
    });
    let w = check_hostile_rpmdb(d, "enormous counts", &r, &all, &["bad header"]);
    assert_eq!(
        w.iter().filter(|w| w.contains("bad header")).count(),
        hostile.len(),
        "one warning per hostile header: {w:#?}"
    );

    // (d) Hostile schema objects. A view named Packages that yields rows forever.
    let r = fresh("view");
    tamper(&r, |c| {
        c.execute_batch(
            "ALTER TABLE Packages RENAME TO Real;
             CREATE VIEW Packages AS SELECT hnum, blob FROM Real UNION ALL
               SELECT * FROM (WITH RECURSIVE n(x) AS (SELECT 1000 UNION ALL SELECT x + 1 FROM n)
                              SELECT x, zeroblob(16) FROM n);",
        )
        .expect("view");
    });
    check_hostile_rpmdb(d, "a view", &r, &none, &["view"]);
    // Triggers and an extra table: never run by a read, and the packages map.
    let r = fresh("trigger");
    tamper(&r, |c| {
        c.execute_batch(
            "CREATE TABLE Evil (x);
             CREATE TRIGGER t1 AFTER UPDATE ON Packages BEGIN DELETE FROM Packages; END;
             CREATE TRIGGER t2 BEFORE INSERT ON Evil BEGIN DELETE FROM Packages; END;
             CREATE VIEW V AS SELECT * FROM Packages;",
        )
        .expect("trigger");
    });
    check_hostile_rpmdb(d, "triggers", &r, &all, &[]);
    // A generated column that makes beta's header a gigabyte: beta alone is skipped.
    let r = fresh("generated");
    tamper(&r, |c| {
        let beta = hnum_of(c, "beta");
        c.execute_batch(&format!(
            "ALTER TABLE Packages RENAME TO Real;
             CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, stored BLOB,
               blob BLOB GENERATED ALWAYS AS
                 (CASE WHEN hnum = {beta} THEN zeroblob(1000000000) ELSE stored END) VIRTUAL);
             INSERT INTO Packages (hnum, stored) SELECT hnum, blob FROM Real;
             DROP TABLE Real;"
        ))
        .expect("generated column");
    });
    check_hostile_rpmdb(
        d,
        "a generated gigabyte",
        &r,
        &[
            ("alpha", Some("alpha")),
            ("beta", None),
            ("gamma", Some("gamma")),
        ],
        &["too big"],
    );
    // A malformed schema entry whose name carries terminal escapes (SQLite quotes it in its
    // error message, which must reach the terminal escaped).
    let r = fresh("malformed");
    tamper(&r, |c| {
        c.execute_batch("PRAGMA writable_schema = ON;")
            .expect("writable_schema");
        c.execute(
            "INSERT INTO sqlite_schema VALUES ('table', ?1, ?1, 0, 'CREATE TABLE x(')",
            ["evil\x1b]0;pwned\x07\x1b[2J"],
        )
        .expect("schema row");
    });
    check_hostile_rpmdb(d, "a malformed schema", &r, &none, &["malformed"]);

    // (e) Many rows and one large blob: 1,500,000 small valid headers after the real ones (each
    // names a file, so keeping them all would take hundreds of MiB) and a 120 MB blob.
    let r = fresh("many-rows");
    let tiny = rpm_header(&[
        (1000, 6, 1, s("tiny")),
        (1118, 8, 1, s("/")),
        (1117, 8, 1, s("t")),
        (1116, 4, 1, vec![0; 4]),
    ]);
    tamper(&r, |c| {
        c.execute(
            "INSERT INTO Packages (blob)
             WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500000)
             SELECT ?1 FROM n",
            [&tiny],
        )
        .expect("rows");
    });
    check_hostile_rpmdb(d, "many rows", &r, &all, &["more than 100000 packages"]);
    let r = fresh("large-blob");
    tamper(&r, |c| {
        c.execute(
            "INSERT INTO Packages (blob) VALUES (zeroblob(120000000))",
            [],
        )
        .expect("large blob");
    });
    check_hostile_rpmdb(d, "a large blob", &r, &all, &["120000000 bytes"]);
}

/// The names of the set in every `-f` format that fits the root (lines, json, and apk and apko
/// or apt), checked to agree; and the
/// JSON document and standard error of the json run.
fn set_in_every_format(args: &[&str]) -> (Vec<String>, Value, String) {
    let run = |f: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-q", "-f", f]);
        let out = elfdeps(&a);
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let lines: Vec<String> = run("lines").0.lines().map(String::from).collect();
    // The install command of the root's package manager.
    let (json, stderr) = run("json");
    let doc: Value = serde_json::from_str(&json).expect("json");
    if doc["database"] == "apk" {
        let apk = run("apk").0;
        let apk: Vec<String> = apk
            .trim()
            .strip_prefix("apk add --no-cache ")
            .unwrap_or_else(|| panic!("not an apk command: {apk}"))
            .split(' ')
            .map(String::from)
            .collect();
        let apko = run("apko").0;
        let apko: Vec<String> = apko
            .strip_prefix("contents:\n  packages:\n")
            .unwrap_or_else(|| panic!("not apko YAML: {apko}"))
            .lines()
            .map(|l| l.strip_prefix("    - ").expect("an apko entry").to_string())
            .collect();
        assert_eq!(lines, apk, "lines vs apk");
        assert_eq!(lines, apko, "lines vs apko");
    } else if doc["database"] == "dpkg" {
        let apt = run("apt").0;
        let apt: Vec<String> = apt
            .trim()
            .strip_prefix("apt-get install --no-install-recommends ")
            .unwrap_or_else(|| panic!("not an apt-get command: {apt}"))
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(lines, apt, "lines vs apt");
    }
    let from_json: Vec<String> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(lines, from_json, "lines vs json");
    (lines, doc, stderr)
}

fn build_sample(t: &Path) -> std::path::PathBuf {
    let out = t.join("sample");
    let build = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-rootfs/build.sh"))
        .arg(&out)
        .output()
        .expect("sample-rootfs/build.sh");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    out
}

/// hello-musl's interpreter is not in the sample (glibc) root: it cannot start, so its set is its
/// own package and an interpreter-missing gap, not the glibc loader another program would get.
#[test]
fn musl_program_without_its_interpreter_needs_no_glibc() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = build_sample(t.path());
    let r = out.to_str().expect("utf-8");
    let (names, doc, stderr) = set_in_every_format(&[
        "packages",
        r,
        "/usr/bin/hello-musl",
        "--elf-only",
        "--no-verify",
    ]);
    assert_eq!(names, ["hello"]);
    let gaps = doc["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["kind"], "interpreter-missing");
    assert_eq!(gaps[0]["what"], "/lib/ld-musl-x86_64.so.1");
    assert!(
        stderr.contains("/usr/bin/hello-musl cannot start: its interpreter /lib/ld-musl-x86_64.so.1 is not in the root"),
        "{stderr}"
    );
}

/// A fresh Alpine x86_64 minirootfs from ../shared/fixtures in a tempdir, to break.
fn fresh_alpine(t: &Path) -> std::path::PathBuf {
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let root = t.join("alpine");
    std::fs::create_dir(&root).expect("mkdir");
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .arg("--no-same-owner")
        .status()
        .expect("tar");
    assert!(st.success(), "unpack {}", tarball.display());
    root
}

/// Alpine with /lib/libssl.so.3 deleted (libssl3 still in the database): the set used to leave
/// libssl3 out while the warning named it as the provider. It lists it in every format, the
/// installed provider before a package of the index that sorts first.
#[test]
fn broken_alpine_set_lists_the_installed_provider_in_every_format() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = fresh_alpine(t.path());
    std::fs::remove_file(root.join("lib/libssl.so.3")).expect("delete /lib/libssl.so.3");
    let index = t.path().join("APKINDEX.tar.gz");
    write_apkindex(
        &index,
        "C:Q1aaaa=\nP:aaa-ssl\nV:1.0-r0\nA:x86_64\no:aaa\np:so:libssl.so.3=3\n\n",
    );
    let r = root.to_str().expect("utf-8");
    let (names, doc, stderr) = set_in_every_format(&[
        "packages",
        r,
        "/sbin/apk",
        "--elf-only",
        "--no-verify",
        "--apk-index",
        index.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        names,
        ["apk-tools", "libcrypto3", "libssl3", "musl", "zlib"],
        "{stderr}"
    );
    let gap = doc["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .find(|g| g["what"] == "libssl.so.3")
        .expect("a gap for libssl.so.3");
    assert_eq!(gap["kind"], "missing");
    assert_eq!(gap["providers"], serde_json::json!(["aaa-ssl", "libssl3"]));
    assert_eq!(
        gap["chosen"],
        serde_json::json!({"name": "libssl3", "source": "installed"})
    );
    let libssl3 = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "libssl3")
        .expect("libssl3");
    assert_eq!(libssl3["installed"], true);
    assert_eq!(
        libssl3["reasons"],
        serde_json::json!([{"program": "/sbin/apk", "file": "libssl.so.3", "role": "provider"}])
    );
    assert!(
        stderr.contains("/sbin/apk needs libssl.so.3, which the loader does not find; provided by libssl3 (also provided by aaa-ssl), which the set lists: libssl3 is installed"),
        "{stderr}"
    );
}

/// Several providers in the index, none installed: the first by name is listed in every format,
/// with its index version, and the others are named.
#[test]
fn several_index_providers_the_first_by_name_in_every_format() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = build_sample(t.path());
    let index = t.path().join("APKINDEX.tar.gz");
    write_apkindex(
        &index,
        "C:Q1bbbb=\nP:libabsent1\nV:1.0-r0\nA:x86_64\no:absent\np:so:libabsent.so.1=1.0.0\n\n\
         C:Q1cccc=\nP:absent-compat\nV:2.0-r1\nA:x86_64\no:compat\np:so:libabsent.so.1=2.0.0\n\n",
    );
    let r = out.to_str().expect("utf-8");
    let (names, doc, stderr) = set_in_every_format(&[
        "packages",
        r,
        "/usr/bin/needs-missing",
        "--apk-index",
        index.to_str().expect("utf-8"),
    ]);
    assert_eq!(names, ["absent-compat", "glibc", "needs-missing"]);
    let gap = &doc["gaps"].as_array().expect("gaps")[0];
    assert_eq!(
        gap["providers"],
        serde_json::json!(["absent-compat", "libabsent1"])
    );
    assert_eq!(
        gap["chosen"],
        serde_json::json!({"name": "absent-compat", "source": "index"})
    );
    let p = &doc["packages"].as_array().expect("packages")[0];
    assert_eq!(p["installed"], false);
    assert_eq!(p["version"], "2.0-r1");
    assert_eq!(p["origin"], "compat");
    assert!(
        stderr.contains("/usr/bin/needs-missing needs libabsent.so.1, which the loader does not find; provided by absent-compat (also provided by libabsent1), which the set lists: from the APK index, not installed"),
        "{stderr}"
    );
    // No provider at all: nothing is added, and the note says so.
    let (names, doc, stderr) = set_in_every_format(&["packages", r, "/usr/bin/needs-missing"]);
    assert_eq!(names, ["glibc", "needs-missing"]);
    assert!(doc["gaps"][0].get("chosen").is_none());
    assert!(
        stderr.contains("no package of the database or of an --apk-index provides it"),
        "{stderr}"
    );
}

/// The JDK's libraries need libjvm.so, which is installed (lib/server/) and loaded by the java
/// launcher before them: they are not broken (it used to warn 24 times "libjava.so needs
/// libjvm.so, which is not installed"), and libjvm.so's package is in the set.
#[test]
fn jdk_libraries_loaded_after_libjvm_are_not_gaps() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let r = root.to_str().expect("utf-8");
    let (names, doc, stderr) =
        set_in_every_format(&["packages", r, "--for", "openjdk-17-jre-headless"]);
    assert!(!stderr.contains("libjvm.so"), "{stderr}");
    assert!(
        !doc["gaps"]
            .as_array()
            .expect("gaps")
            .iter()
            .any(|g| g["what"] == "libjvm.so"),
        "{:#}",
        doc["gaps"]
    );
    assert!(names.iter().any(|n| n == "openjdk-17-jre-headless"));
    // One of them alone: libjvm.so's file is in its set, as the library the process already has.
    let lib = "/usr/lib/jvm/java-17-openjdk-amd64/lib/libjava.so";
    let (names, doc, stderr) =
        set_in_every_format(&["packages", r, lib, "--elf-only", "--no-verify"]);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(names, ["libc6", "openjdk-17-jre-headless"]);
    let jdk = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "openjdk-17-jre-headless")
        .expect("openjdk-17-jre-headless");
    assert!(
        jdk["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&serde_json::json!({
                "program": lib,
                "file": "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
                "role": "in-process"
            })),
        "{jdk:#}"
    );
}

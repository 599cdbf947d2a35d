//! The loader environment (`--env`, an image config's `Env` and `WorkingDir`): what elfdeps says
//! each loader loads with `LD_LIBRARY_PATH` and `LD_PRELOAD` set must equal what the root's real
//! loader loads with them, run in the root (tests/ground_truth with `loader_env` and `cwd`).
//!
//! Roots: copies of the cached Debian root (hard links, glibc 2.36's ld.so) and of the Alpine
//! x86_64 root (musl), with programs and libraries built here (gcc, musl-gcc) whose libraries
//! live in directories only the environment reaches; and an OCI image (umoci) of the Alpine root
//! whose config sets `Env` and `WorkingDir`, scanned as an image.

mod ground_truth;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use elfdeps::resolve::runenv::LoaderEnv;
use elfdeps::resolve::{self, LazyView, ResolveOptions, Status};
use elfdeps::rootfs::RootFs;

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

/// Builds with `cc` (gcc or musl-gcc) the libraries and programs of the tests into `root`:
/// - `libenva.so` three times, in /opt/llp (reachable only through LD_LIBRARY_PATH), /opt/rp
///   (an RPATH) and /opt/rnp (a RUNPATH); `libenvw.so` in /opt/wd only (a working directory);
///   `libenvp.so` in /opt/pre (an LD_PRELOAD path) and `libenvq.so` in /opt/llp (an LD_PRELOAD
///   name);
/// - /opt/bin/plain (needs libenva.so), /opt/bin/rpath (RPATH /opt/rp), /opt/bin/runpath
///   (RUNPATH /opt/rnp), /opt/bin/wd (needs libenvw.so and libenva.so).
fn build(cc: &str, root: &Path, src: &Path) {
    let c = |name: &str, text: &str| {
        let p = src.join(name);
        std::fs::write(&p, text).expect("write source");
        p
    };
    let lib = c("lib.c", "int envlib(void) { return 1; }\n");
    let main_a = c(
        "main.c",
        "int envlib(void);\nint main(void) { return envlib() - 1; }\n",
    );
    for d in [
        "opt/llp", "opt/rp", "opt/rnp", "opt/wd", "opt/pre", "opt/bin",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let shared = |dir: &str, name: &str| {
        let out = root.join(dir).join(name);
        run(
            Command::new(cc)
                .args(["-shared", "-fPIC", "-o"])
                .arg(&out)
                .arg(format!("-Wl,-soname,{name}"))
                .arg(&lib),
            &format!("{cc} {name}"),
        );
    };
    for d in ["opt/llp", "opt/rp", "opt/rnp"] {
        shared(d, "libenva.so");
    }
    shared("opt/wd", "libenvw.so");
    shared("opt/pre", "libenvp.so");
    shared("opt/llp", "libenvq.so");
    // Link-time copies outside the root.
    let link = src.join("link");
    std::fs::create_dir_all(&link).expect("mkdir");
    for n in ["libenva.so", "libenvw.so"] {
        let from = if n == "libenvw.so" {
            "opt/wd"
        } else {
            "opt/llp"
        };
        std::fs::copy(root.join(from).join(n), link.join(n)).expect("copy");
    }
    let prog = |name: &str, libs: &[&str], extra: &[&str]| {
        run(
            Command::new(cc)
                .arg("-o")
                .arg(root.join("opt/bin").join(name))
                .arg(&main_a)
                .arg(format!("-L{}", link.display()))
                .args(libs)
                .args(extra),
            &format!("{cc} {name}"),
        );
    };
    prog("plain", &["-lenva"], &[]);
    prog(
        "rpath",
        &["-lenva"],
        &["-Wl,--disable-new-dtags,-rpath,/opt/rp"],
    );
    prog(
        "runpath",
        &["-lenva"],
        &["-Wl,--enable-new-dtags,-rpath,/opt/rnp"],
    );
    prog("wd", &["-Wl,--no-as-needed", "-lenvw", "-lenva"], &[]);
}

/// A copy of `src` at `dst`: hard links for a large root (the test never writes into its
/// files), a real copy otherwise.
fn copy_root(src: &Path, dst: &Path, hard_links: bool) {
    run(
        Command::new("cp")
            .arg(if hard_links { "-al" } else { "-a" })
            .arg(src)
            .arg(dst),
        "copy the root",
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Glibc,
    Musl,
}

/// One case: `program` started with `vars` in `cwd`.
#[derive(Clone, Copy)]
struct Case {
    program: &'static str,
    vars: &'static [(&'static str, &'static str)],
    cwd: &'static str,
}

/// What elfdeps says: the closure (canonical paths) and the missing names, with `env`.
fn elfdeps_says(
    root: &Path,
    program: &str,
    env: &LoaderEnv,
    hwcaps: Option<&[String]>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let rootfs = RootFs::open(root).expect("open root");
    let view = LazyView::new(&rootfs, Default::default());
    let id = view.object_at(program.as_bytes()).expect("the program");
    let opts = ResolveOptions {
        env: env.clone(),
        hwcaps: hwcaps.map(|h| h.iter().map(|l| l.as_str().into()).collect()),
        ..Default::default()
    };
    let r = resolve::resolve(&view, &[id], &opts)
        .pop()
        .expect("a session");
    assert_ne!(r.status, Status::InterpMissing, "{program}: {r:?}");
    let closure = r.closure.iter().map(|p| p.to_string()).collect();
    let missing = r.missing.iter().map(|p| p.to_string()).collect();
    (closure, missing)
}

fn loader_env(c: &Case) -> LoaderEnv {
    let mut env = LoaderEnv {
        workdir: c.cwd.into(),
        ..Default::default()
    };
    for (n, v) in c.vars {
        assert!(env.set(n, v.as_bytes()));
    }
    env
}

/// Runs every case through the real loader and elfdeps; returns the closures elfdeps gave.
/// `hwcaps`: the glibc-hwcaps levels the root's ld.so searches on this CPU (`ld.so --help`).
fn compare(
    root: &Path,
    flavor: Flavor,
    cases: &[Case],
    hwcaps: Option<&[String]>,
) -> Vec<BTreeSet<String>> {
    let mut out = Vec::new();
    for c in cases {
        let options = ground_truth::Options {
            cache: false,
            loader_env: c
                .vars
                .iter()
                .map(|(n, v)| format!("{n}={v}").into_bytes())
                .collect(),
            cwd: c.cwd.as_bytes().to_vec(),
            ..ground_truth::Options::default()
        };
        let files = vec![c.program.to_string()];
        let truth = match flavor {
            Flavor::Glibc => ground_truth::try_glibc_truth_with(root, &files, &options),
            Flavor::Musl => ground_truth::try_musl_truth_with(root, "x86_64", &files, &options),
        }
        .unwrap_or_else(|e| panic!("ground truth: {e}"));
        let t = &truth[c.program];
        assert!(t.fatal.is_none() && !t.timed_out, "{}: {t:?}", c.program);
        let (closure, missing) = elfdeps_says(root, c.program, &loader_env(c), hwcaps);
        let want_closure: BTreeSet<String> = t.closure.clone();
        assert_eq!(
            (&closure, &missing),
            (&want_closure, &t.missing),
            "{} with {:?} in {}: elfdeps (left) vs the loader (right); loader output: {t:?}",
            c.program,
            c.vars,
            c.cwd
        );
        support::loud(&format!(
            "loader env: {} with {:?} (cwd {}): agree, {} loaded, {} missing",
            c.program,
            c.vars,
            c.cwd,
            closure.len(),
            missing.len()
        ));
        out.push(closure);
    }
    out
}

/// The cases both loaders are asked (the expectations differ where the loaders do).
const CASES: &[Case] = &[
    // Without the environment libenva.so is nowhere the loader looks.
    Case {
        program: "/opt/bin/plain",
        vars: &[],
        cwd: "/",
    },
    Case {
        program: "/opt/bin/plain",
        vars: &[("LD_LIBRARY_PATH", "/nonexistent:/opt/llp")],
        cwd: "/",
    },
    // glibc: RPATH before LD_LIBRARY_PATH; musl: LD_LIBRARY_PATH first.
    Case {
        program: "/opt/bin/rpath",
        vars: &[("LD_LIBRARY_PATH", "/opt/llp")],
        cwd: "/",
    },
    // Both: LD_LIBRARY_PATH before RUNPATH.
    Case {
        program: "/opt/bin/runpath",
        vars: &[("LD_LIBRARY_PATH", "/opt/llp")],
        cwd: "/",
    },
    // An empty element (glibc: the working directory; musl: skipped), ';' (glibc only).
    Case {
        program: "/opt/bin/wd",
        vars: &[("LD_LIBRARY_PATH", "/opt/rnp;/opt/llp::/opt/llp")],
        cwd: "/opt/wd",
    },
    Case {
        program: "/opt/bin/wd",
        vars: &[("LD_LIBRARY_PATH", "/opt/llp:")],
        cwd: "/opt/wd",
    },
    // A relative element, against the working directory.
    Case {
        program: "/opt/bin/wd",
        vars: &[("LD_LIBRARY_PATH", "../llp:.")],
        cwd: "/opt/wd",
    },
    // LD_PRELOAD: a path, and a name searched like a NEEDED (here through LD_LIBRARY_PATH).
    Case {
        program: "/opt/bin/runpath",
        vars: &[
            ("LD_PRELOAD", "/opt/pre/libenvp.so libenvq.so"),
            ("LD_LIBRARY_PATH", "/opt/llp"),
        ],
        cwd: "/",
    },
    Case {
        program: "/opt/bin/rpath",
        vars: &[("LD_PRELOAD", "libenvp.so:../pre/libenvp.so:libenvq.so")],
        cwd: "/opt/wd",
    },
];

fn has(closure: &BTreeSet<String>, path: &str) -> bool {
    closure.contains(path)
}

#[test]
fn glibc_loads_what_ld_so_loads_with_the_environment() {
    let what = "LD_LIBRARY_PATH/LD_PRELOAD against glibc's ld.so";
    if !support::require_root_or_skip(what) || !support::require_tool_or_skip("gcc", "gcc", what) {
        return;
    }
    let Some(debian) = support::root("debian") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    copy_root(debian, &root, true);
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    build("gcc", &root, &src);
    let mut cases: Vec<Case> = CASES.to_vec();
    // glibc only: $ORIGIN in LD_LIBRARY_PATH is the program's directory.
    cases.push(Case {
        program: "/opt/bin/plain",
        vars: &[("LD_LIBRARY_PATH", "$ORIGIN/../llp")],
        cwd: "/",
    });
    // glibc-hwcaps subdirectories apply to LD_LIBRARY_PATH directories too: /opt/hw has the
    // library in its best level this CPU supports (if any) and in itself.
    // (The listing is read from an x86-64 loader; elsewhere glibc 2.36 has no levels.)
    let levels = match ground_truth::glibc_cpu_listing(&root, &Default::default()) {
        Ok(l) => l.hwcaps,
        Err(e) if std::env::consts::ARCH != "x86_64" => {
            support::loud(&format!("loader env: no glibc-hwcaps levels here ({e})"));
            Vec::new()
        }
        Err(e) => panic!("ld.so --help: {e}"),
    };
    support::loud(&format!(
        "loader env: glibc-hwcaps levels of this CPU (ld.so --help): {levels:?}"
    ));
    let hw = root.join("opt/hw");
    let level_dir = match levels.first() {
        Some(l) => hw.join("glibc-hwcaps").join(l),
        None => hw.clone(),
    };
    std::fs::create_dir_all(&level_dir).expect("mkdir");
    for d in [&hw, &level_dir] {
        std::fs::copy(root.join("opt/llp/libenva.so"), d.join("libenva.so")).expect("copy");
    }
    cases.push(Case {
        program: "/opt/bin/plain",
        vars: &[("LD_LIBRARY_PATH", "/opt/hw")],
        cwd: "/",
    });
    let got = compare(&root, Flavor::Glibc, &cases, Some(&levels));
    let want_hw = match levels.first() {
        Some(l) => format!("/opt/hw/glibc-hwcaps/{l}/libenva.so"),
        None => "/opt/hw/libenva.so".to_string(),
    };
    assert!(has(&got[10], &want_hw), "{:?} vs {want_hw}", got[10]);
    // The precedence the comparison established, spelled out.
    assert!(!has(&got[0], "/opt/llp/libenva.so"));
    assert!(has(&got[1], "/opt/llp/libenva.so"));
    assert!(has(&got[2], "/opt/rp/libenva.so"), "RPATH first");
    assert!(has(&got[3], "/opt/llp/libenva.so"), "before RUNPATH");
    assert!(has(&got[4], "/opt/wd/libenvw.so"), "empty element: cwd");
    assert!(has(&got[7], "/opt/pre/libenvp.so") && has(&got[7], "/opt/llp/libenvq.so"));
    assert!(has(&got[9], "/opt/llp/libenva.so"), "$ORIGIN");
}

#[test]
fn musl_loads_what_ld_musl_loads_with_the_environment() {
    let what = "LD_LIBRARY_PATH/LD_PRELOAD against musl's loader";
    if !support::require_root_or_skip(what)
        || !support::require_tool_or_skip("musl-gcc", "musl-tools", what)
    {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    copy_root(alpine, &root, false);
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    build("musl-gcc", &root, &src);
    let got = compare(&root, Flavor::Musl, CASES, None);
    assert!(has(&got[2], "/opt/llp/libenva.so"), "musl: before RPATH");
    assert!(has(&got[3], "/opt/llp/libenva.so"));
    assert!(
        !has(&got[5], "/opt/wd/libenvw.so"),
        "musl skips empty elements"
    );
    assert!(has(&got[7], "/opt/pre/libenvp.so") && has(&got[7], "/opt/llp/libenvq.so"));
}

/// `--env` on the command line: the same as the library, shown in the report; a variable the
/// loaders do not read is refused.
#[test]
fn env_flag_on_a_directory_root() {
    let what = "--env on a directory root";
    if !support::require_tool_or_skip("musl-gcc", "musl-tools", what) {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    copy_root(alpine, &root, false);
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    build("musl-gcc", &root, &src);
    let r = root.to_str().expect("utf-8");
    let out = support::elfdeps(&["scan", r, "-f", "json", "--env", "LD_LIBRARY_PATH=/opt/llp"]);
    assert!(out.status.success(), "{}", support::describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        doc["loader_env"]["LD_LIBRARY_PATH"], "/opt/llp",
        "{}",
        doc["loader_env"]
    );
    let objs = support::objects_by_path(&doc);
    let plain = objs["/opt/bin/plain"];
    assert_eq!(plain["status"], "ok", "{plain}");
    assert_eq!(plain["deps"][0]["via"], "ld-library-path", "{plain}");
    // Human output names it.
    let out = support::elfdeps(&["scan", r, "--env", "LD_PRELOAD=/opt/pre/libenvp.so"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("LD_PRELOAD=/opt/pre/libenvp.so (from --env)"),
        "{text}"
    );
    // tree and packages take it too.
    let out = support::elfdeps(&[
        "tree",
        r,
        "/opt/bin/plain",
        "--env",
        "LD_LIBRARY_PATH=/opt/llp",
    ]);
    assert!(out.status.success(), "{}", support::describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/opt/llp/libenva.so"), "{text}");
    assert!(
        text.contains("loader environment: LD_LIBRARY_PATH=/opt/llp (from --env)"),
        "{text}"
    );
    let out = support::elfdeps(&["tree", r, "/opt/bin/plain"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("/opt/llp/libenva.so"));
    let out = support::elfdeps(&["check", r, "--env", "LD_LIBRARY_PATH=/opt/llp"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("LD_LIBRARY_PATH=/opt/llp (from --env)"),
        "{text}"
    );
    // Anything else is refused, with what to do.
    let out = support::elfdeps(&["check", r, "--env", "PATH=/bin"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("LD_LIBRARY_PATH and LD_PRELOAD") && err.contains("drop it"),
        "{err}"
    );
    let out = support::elfdeps(&["scan", r, "--env", "LD_PRELOAD"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
}

/// An OCI image whose config sets `Env` (LD_LIBRARY_PATH with an empty element, LD_PRELOAD) and
/// `WorkingDir`: the image scan's verdicts are the loader's, run in the unpacked image with that
/// environment in that directory; the report shows the environment.
#[test]
fn an_image_config_env_takes_part() {
    let what = "an image config's Env";
    if !support::require_root_or_skip(&format!("{what} (umoci unpack needs root)"))
        || !support::require_tool_or_skip("umoci", "umoci", what)
        || !support::require_tool_or_skip("musl-gcc", "musl-tools", what)
    {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let layout = d.join("img");
    let umoci = |args: &[&str]| {
        run(
            Command::new("umoci").args(args),
            &format!("umoci {}", args.join(" ")),
        )
    };
    let image = |tag: &str| format!("{}:{tag}", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &image("base")]);
    let bundle = d.join("bundle");
    umoci(&[
        "unpack",
        "--image",
        &image("base"),
        bundle.to_str().unwrap(),
    ]);
    let rootfs = bundle.join("rootfs");
    run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", alpine.display()))
            .arg(&rootfs),
        "cp the Alpine root",
    );
    let src = d.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    build("musl-gcc", &rootfs, &src);
    umoci(&["repack", "--image", &image("app"), bundle.to_str().unwrap()]);
    let llp = "/nonexistent::/opt/llp";
    let pre = "/opt/pre/libenvp.so";
    umoci(&[
        "config",
        "--image",
        &image("app"),
        "--config.env",
        &format!("LD_LIBRARY_PATH={llp}"),
        "--config.env",
        &format!("LD_PRELOAD={pre}"),
        "--config.workingdir",
        "/opt/wd",
        "--config.entrypoint",
        "/opt/bin/wd",
    ]);
    let reference = format!("oci:{}", image("app"));
    let out = support::elfdeps(&["scan", &reference, "-f", "json"]);
    assert!(out.status.success(), "{}", support::describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let env = &doc["loader_env"];
    assert_eq!(env["LD_LIBRARY_PATH"], llp, "{env}");
    assert_eq!(env["LD_PRELOAD"], pre, "{env}");
    assert_eq!(env["workdir"], "/opt/wd", "{env}");
    // The loader's verdicts in the unpacked image, with the config's environment.
    let unpacked = d.join("check");
    umoci(&[
        "unpack",
        "--image",
        &image("app"),
        unpacked.to_str().unwrap(),
    ]);
    let programs = [
        "/opt/bin/plain",
        "/opt/bin/rpath",
        "/opt/bin/runpath",
        "/opt/bin/wd",
    ];
    let files: Vec<String> = programs.iter().map(|p| p.to_string()).collect();
    let options = ground_truth::Options {
        cache: false,
        loader_env: vec![
            format!("LD_LIBRARY_PATH={llp}").into_bytes(),
            format!("LD_PRELOAD={pre}").into_bytes(),
        ],
        cwd: b"/opt/wd".to_vec(),
        ..ground_truth::Options::default()
    };
    let truth =
        ground_truth::try_musl_truth_with(&unpacked.join("rootfs"), "x86_64", &files, &options)
            .unwrap_or_else(|e| panic!("ground truth: {e}"));
    let objs = support::objects_by_path(&doc);
    for p in programs {
        let o = objs[p];
        let closure: BTreeSet<String> = o["closure"]
            .as_array()
            .expect("closure")
            .iter()
            .map(|v| v.as_str().expect("path").to_string())
            .collect();
        let missing: BTreeSet<String> = o["missing"]
            .as_array()
            .expect("missing")
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect();
        assert_eq!(
            (&closure, &missing),
            (&truth[p].closure, &truth[p].missing),
            "{p}: the image scan (left) vs the loader (right)"
        );
        assert!(closure.contains(pre), "{p}: the preload is loaded");
    }
    // musl skips the empty element: libenvw.so (only in the working directory) stays missing.
    assert_eq!(objs["/opt/bin/wd"]["status"], "error");
    // An --env value overrides the config's, as docker run -e does.
    let out = support::elfdeps(&[
        "tree",
        &reference,
        "/opt/bin/wd",
        "--env",
        "LD_LIBRARY_PATH=/opt/wd:/opt/llp",
    ]);
    assert!(out.status.success(), "{}", support::describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/opt/wd/libenvw.so"), "{text}");
    assert!(
        text.contains("(from the image config's Env and --env)"),
        "{text}"
    );
    // packages of the entrypoint (no walk) takes the config's Env: the libraries found through
    // it belong to no package, and the set still names musl's.
    let out = support::elfdeps(&["packages", &reference, "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["programs"][0], "/opt/bin/wd", "{doc}");
    let gaps: Vec<&str> = doc["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .filter_map(|g| g["what"].as_str())
        .collect();
    assert!(
        gaps.contains(&"/opt/llp/libenva.so") && gaps.contains(&"/opt/pre/libenvp.so"),
        "what the config's Env reaches is in the set's closure: {gaps:?}"
    );
    assert!(
        doc["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .any(|p| p["name"] == "musl"),
        "{doc}"
    );
}

//! Ground truth for "this package set runs the program": each program of the `debian-run` root
//! (scripts/prepare-roots) is run under chroot in roots reduced to a package set
//! (support::reduced::reduced_root): the full root, the set `dpkg` would install for the
//! program's package, and the set `elfdeps packages` computes. The same for a musl program of the
//! Alpine minirootfs.
//!
//! Both directions of the harness are checked: every program runs in the full root rebuilt
//! through it, and in the anchor root where dpkg's closure suffices (the harness is not stricter
//! than an image); a program does not run in a root holding its own package only (nothing of the
//! host leaks in). Every program runs in a root of the set elfdeps computes, which `--verify`
//! verifies; without a package of the set the run needs, the program fails and `--verify` says
//! why.
//!
//! The elfdeps binary is Cargo's `CARGO_BIN_EXE_elfdeps`: with a target directory shared between
//! checkouts it is whichever checkout built it last, so the table says which sets it gave.

mod support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use support::reduced::{ReducedStats, installed_packages, owners, reduced_root, run_in_root};

/// Long enough for a JVM's start on a loaded 2-core machine, short enough that a hang is seen.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// One program with real work, and how to tell that it did it.
struct ProgramSpec {
    name: &'static str,
    argv: &'static [&'static str],
    /// True when the run did the program's work (exit status and output).
    expect: fn(&Output) -> bool,
    /// The program's path in the root: what `elfdeps packages` is asked about, and whose owner
    /// package (the end of its symlink chain's) is the anchor's start.
    owner_path: &'static str,
    /// Whether the program runs in the anchor root (dpkg's closure of that package): a fact of
    /// Debian's packaging, measured, which keeps the harness honest in the other direction (a
    /// dependency-closed set that runs the program must run it in a reduced root too).
    anchor_runs: bool,
    /// A package of elfdeps's set the run needs for a reason the loader model sees (a NEEDED
    /// library, a dlopened module, an NSS module, the standard library): without it the program
    /// does not run, and `--verify` says so.
    needed: &'static str,
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const PROGRAMS: &[ProgramSpec] = &[
    ProgramSpec {
        name: "python3",
        // Each of these modules is an extension module (or needs one) that no ELF file names.
        argv: &[
            "python3",
            "-c",
            "import ssl, sqlite3, ctypes, json, lzma, bz2; print('ok')",
        ],
        expect: |o| o.status.success() && stdout(o).trim() == "ok",
        owner_path: "/usr/bin/python3",
        // /usr/bin/python3 is python3-minimal's, which does not depend on the standard library
        // (libpython3.11-stdlib: lzma, bz2, sqlite3...); the `python3` package does.
        anchor_runs: false,
        needed: "libpython3.11-stdlib",
    },
    ProgramSpec {
        name: "java",
        // /usr/bin/java is an alternatives symlink to the JDK's launcher, which dlopens libjvm.so.
        argv: &["/usr/bin/java", "-version"],
        expect: |o| o.status.success() && stderr(o).contains("openjdk version"),
        owner_path: "/usr/bin/java",
        anchor_runs: true,
        needed: "libstdc++6",
    },
    ProgramSpec {
        name: "nginx",
        // Reads /etc/nginx/nginx.conf (nginx-common) and the files it includes.
        argv: &["nginx", "-t"],
        expect: |o| o.status.success() && stderr(o).contains("test is successful"),
        owner_path: "/usr/sbin/nginx",
        anchor_runs: true,
        needed: "libssl3",
    },
    ProgramSpec {
        name: "git https",
        // git execs git-remote-https for the URL; nothing listens on port 9 (discard), so a
        // working helper fails to connect, and a missing one says so instead.
        argv: &["git", "ls-remote", "https://127.0.0.1:9/x"],
        expect: |o| {
            let e = stderr(o);
            (e.contains("Failed to connect") || e.contains("Connection refused"))
                && !e.contains("remote helper")
                && !e.contains("not found")
                && !e.contains("cannot run")
        },
        owner_path: "/usr/bin/git",
        anchor_runs: true,
        needed: "libcurl3-gnutls",
    },
    ProgramSpec {
        name: "getent nss",
        // Only libnss-myhostname (named by nsswitch.conf's hosts line, no ELF file) resolves
        // *.localhost: /etc/hosts does not name it and resolv.conf is empty.
        argv: &["getent", "hosts", "foo.localhost"],
        expect: |o| {
            let out = stdout(o);
            o.status.success() && (out.contains("127.0.0.1") || out.contains("::1"))
        },
        owner_path: "/usr/bin/getent",
        // Nothing depends on an NSS module: nsswitch.conf names it, and libc-bin's closure lacks it.
        anchor_runs: false,
        needed: "libnss-myhostname",
    },
    ProgramSpec {
        name: "curl",
        // Needs nothing at run time that its ELF files do not name.
        argv: &["curl", "--version"],
        expect: |o| o.status.success() && stdout(o).starts_with("curl "),
        owner_path: "/usr/bin/curl",
        anchor_runs: true,
        needed: "libcurl4",
    },
];

/// How one run ended, reduced to what a table row needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunOutcome {
    /// It did its work ([`ProgramSpec::expect`]).
    Runs,
    /// chroot could not execute it: the program or its interpreter is not in the root.
    NotExecutable(String),
    /// The dynamic loader stopped: a library is missing.
    Loader(String),
    /// Killed by [`RUN_TIMEOUT`].
    Timeout,
    /// Killed by a signal.
    Signal(i32),
    /// It ran and failed or printed something else; the last line of stderr (or stdout).
    Failed(Option<i32>, String),
}

impl RunOutcome {
    fn runs(&self) -> bool {
        *self == RunOutcome::Runs
    }

    /// A failure the harness can name: it says which kind it is and carries the program's own
    /// words (or is a timeout or a signal, which carry none).
    fn recognisable(&self) -> bool {
        match self {
            RunOutcome::Runs | RunOutcome::Timeout | RunOutcome::Signal(_) => true,
            RunOutcome::NotExecutable(s) | RunOutcome::Loader(s) => !s.trim().is_empty(),
            // A failing exit status speaks for itself (getent's 2 is "not found", silently).
            RunOutcome::Failed(code, s) => code.is_some_and(|c| c != 0) || !s.trim().is_empty(),
        }
    }

    fn short(&self) -> String {
        let cut = |s: &str| s.chars().take(110).collect::<String>();
        match self {
            RunOutcome::Runs => "runs".into(),
            RunOutcome::NotExecutable(s) => format!("NOT EXECUTABLE: {}", cut(s)),
            RunOutcome::Loader(s) => format!("LOADER: {}", cut(s)),
            RunOutcome::Timeout => "TIMEOUT".into(),
            RunOutcome::Signal(n) => format!("SIGNAL {n}"),
            RunOutcome::Failed(code, s) => format!("FAILS (exit {code:?}): {}", cut(s)),
        }
    }
}

/// Runs `spec` in `root` and classifies the outcome.
fn check_program(root: &Path, spec: &ProgramSpec) -> RunOutcome {
    check(root, spec.argv, spec.expect)
}

/// Runs `argv` in `root` and classifies the outcome (`expect`: it did its work).
fn check(root: &Path, argv: &[&str], expect: fn(&Output) -> bool) -> RunOutcome {
    use std::os::unix::process::ExitStatusExt as _;
    let o = run_in_root(root, argv, RUN_TIMEOUT);
    if expect(&o) {
        return RunOutcome::Runs;
    }
    let err = stderr(&o);
    let last = |text: &str| {
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned()
    };
    if err.contains("[run_in_root: killed after") {
        return RunOutcome::Timeout;
    }
    if let Some(line) = err
        .lines()
        .find(|l| l.contains("error while loading shared libraries"))
    {
        return RunOutcome::Loader(line.to_owned());
    }
    // chroot(8) exits 127 when execvp fails (ENOENT: the file, or its ELF interpreter, is absent).
    if o.status.code() == Some(127) && err.contains("chroot: failed to run command") {
        return RunOutcome::NotExecutable(last(&err));
    }
    if let Some(sig) = o.status.signal() {
        return RunOutcome::Signal(sig);
    }
    // The line that says why: nginx's `[emerg]` comes before its summary line, Python's
    // exception after its traceback.
    let why = err
        .lines()
        .find(|l| l.contains("[emerg]") || l.contains("fatal:"))
        .map(str::to_owned);
    let words = why.unwrap_or_else(|| {
        if last(&err).is_empty() {
            last(&stdout(&o))
        } else {
            last(&err)
        }
    });
    RunOutcome::Failed(o.status.code(), words)
}

// ---------------------------------------------------------------------------------------------
// What dpkg would install: an independent reading of var/lib/dpkg/status
// ---------------------------------------------------------------------------------------------

/// The installed packages of a dpkg status file: name -> (Essential, Depends + Pre-Depends as
/// groups of alternatives), and virtual name -> providers.
struct Status {
    packages: BTreeMap<String, (bool, Vec<Vec<String>>)>,
    provides: BTreeMap<String, Vec<String>>,
}

fn read_status(full: &Path) -> Status {
    let path = full.join("var/lib/dpkg/status");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut status = Status {
        packages: BTreeMap::new(),
        provides: BTreeMap::new(),
    };
    for stanza in text.split("\n\n") {
        // Continuation lines (a leading space) belong to the field before them.
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let mut last: Option<&str> = None;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(f) = last {
                    fields.get_mut(f).expect("field seen").push_str(line);
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim().to_owned());
                last = Some(k);
            }
        }
        let (Some(name), Some(state)) = (fields.get("Package"), fields.get("Status")) else {
            continue;
        };
        if !state.ends_with(" installed") {
            continue;
        }
        let names = |field: &str| -> Vec<Vec<String>> {
            fields.get(field).map_or_else(Vec::new, |v| {
                v.split(',')
                    .filter(|g| !g.trim().is_empty())
                    .map(|group| group.split('|').map(dep_name).collect())
                    .collect()
            })
        };
        let mut depends = names("Pre-Depends");
        depends.extend(names("Depends"));
        for virt in names("Provides").into_iter().flatten() {
            status.provides.entry(virt).or_default().push(name.clone());
        }
        let essential = fields.get("Essential").is_some_and(|v| v == "yes");
        status.packages.insert(name.clone(), (essential, depends));
    }
    status
}

/// `libfoo1:any (>= 1.2)` -> `libfoo1`.
fn dep_name(alternative: &str) -> String {
    let word = alternative.split_whitespace().next().unwrap_or("");
    let word = word.split('(').next().unwrap_or("");
    word.split(':').next().unwrap_or("").to_owned()
}

/// `start` plus every Essential package, closed over Depends and Pre-Depends: of each group of
/// alternatives the first installed one (or an installed provider), which is what dpkg found
/// satisfied when it installed them. Versions are not checked: every package is installed.
fn dpkg_closure(status: &Status, start: &str) -> BTreeSet<String> {
    let mut todo: VecDeque<String> = status
        .packages
        .iter()
        .filter(|(_, (essential, _))| *essential)
        .map(|(n, _)| n.clone())
        .collect();
    todo.push_back(start.to_owned());
    let mut set = BTreeSet::new();
    while let Some(name) = todo.pop_front() {
        if !set.insert(name.clone()) {
            continue;
        }
        let (_, depends) = status
            .packages
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not installed"));
        for group in depends {
            let pick = group
                .iter()
                .find(|alt| status.packages.contains_key(*alt))
                .or_else(|| {
                    group
                        .iter()
                        .find_map(|alt| status.provides.get(alt).and_then(|p| p.first()))
                });
            if let Some(p) = pick {
                todo.push_back(p.clone());
            }
        }
    }
    set
}

/// The package owning `path`, or the end of its symlink chain (/usr/bin/java is an unowned
/// alternatives symlink; the JDK owns what it points to).
fn owner_package(full: &Path, path: &str) -> String {
    let mut at = PathBuf::from(path);
    for _ in 0..10 {
        let found = owners(full, &at).unwrap_or_else(|e| panic!("owners of {path}: {e}"));
        if let Some(first) = found.first() {
            // dpkg's `name:arch` list names; the status file says `name`.
            return first.split(':').next().unwrap_or(first).to_owned();
        }
        let phys = support::reduced::physical(full, &at)
            .unwrap_or_else(|| panic!("{} is not in {}", at.display(), full.display()));
        let target = std::fs::read_link(full.join(&phys))
            .unwrap_or_else(|_| panic!("no package owns {} (not a symlink)", at.display()));
        at = if target.is_absolute() {
            target
        } else {
            Path::new("/")
                .join(phys.parent().unwrap_or(Path::new("")))
                .join(target)
        };
    }
    panic!("{path}: no owner within 10 symlinks")
}

/// `elfdeps packages ROOT PROGRAM --format json ARGS...`: the package names, and what its
/// verification found unresolved in a root of them.
fn elfdeps_set(full: &Path, program: &str, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let out = support::Elfdeps::new(["packages"])
        .arg(full)
        .args([program, "--format", "json"])
        .args(args)
        .timeout(Duration::from_secs(120))
        .output();
    assert!(
        out.status.success(),
        "elfdeps packages {} {program} {args:?}:\n{}",
        full.display(),
        support::describe(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("elfdeps packages --format json: not JSON: {e}"));
    let names: Vec<String> = doc["packages"]
        .as_array()
        .expect("packages is an array")
        .iter()
        .map(|p| p["name"].as_str().expect("package name").to_owned())
        .collect();
    assert!(!names.is_empty(), "elfdeps gave no package for {program}");
    let failures: Vec<String> = doc["verify"]["failures"]
        .as_array()
        .expect("verify.failures is an array")
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect();
    (names, failures)
}

/// Builds a reduced root, panicking with the harness's reason when it cannot.
fn build(
    full: &Path,
    packages: &[String],
    extra: &[&Path],
    out: &Path,
) -> (ReducedStats, Duration) {
    let start = Instant::now();
    let stats = reduced_root(full, packages, extra, out)
        .unwrap_or_else(|e| panic!("reduced root {} from {packages:?}: {e}", out.display()));
    (stats, start.elapsed())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The harness's preconditions; false after a loud skip (a failure in CI).
fn can_run(what: &str) -> bool {
    support::require_root_or_skip(what)
        && support::require_tool_or_skip("unshare", "util-linux", what)
        && support::require_tool_or_skip("chroot", "coreutils", what)
}

fn scratch(prefix: &str) -> tempfile::TempDir {
    // Beside Cargo's other test files, which is on the cache's filesystem here, so /usr's files
    // are hard links (support::reduced documents when they are copies).
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
}

#[test]
fn debian_programs_in_reduced_roots() {
    let what = "runtime_sets: Debian programs in reduced roots";
    if !can_run(what) {
        return;
    }
    let Some(full) = support::root("debian-run") else {
        return;
    };
    let tmp = scratch("runtime-sets-debian");
    let t0 = Instant::now();

    // The NSS case means something only when nsswitch.conf names the module (libnss-myhostname's
    // postinst adds it).
    let nss = std::fs::read_to_string(full.join("etc/nsswitch.conf")).expect("nsswitch.conf");
    let hosts = nss.lines().find(|l| l.starts_with("hosts:"));
    assert!(
        hosts.is_some_and(|l| l.split_whitespace().any(|w| w == "myhostname")),
        "{}: nsswitch.conf's hosts line does not name myhostname: {hosts:?}",
        full.display()
    );

    // (a) The full root, rebuilt through the harness (every installed package): every program
    // runs. Run in a copy, not the cached root, which the programs would write into.
    let all = installed_packages(full).expect("installed packages");
    let full_copy = tmp.path().join("full");
    let (stats, took) = build(full, &all, &[], &full_copy);
    support::loud(&format!(
        "runtime_sets: full root: {} packages, {} package files, {} unowned, {} ({took:.1?})",
        all.len(),
        stats.package_files,
        stats.unowned_files,
        mib(stats.bytes)
    ));
    for spec in PROGRAMS {
        let start = Instant::now();
        let outcome = check_program(&full_copy, spec);
        support::loud(&format!(
            "runtime_sets: full root: {:<10} {} ({:.1?})",
            spec.name,
            outcome.short(),
            start.elapsed()
        ));
        assert!(
            outcome.runs(),
            "{} does not run in the full root rebuilt by the harness: {outcome:?}\n{}",
            spec.name,
            support::describe(&run_in_root(&full_copy, spec.argv, RUN_TIMEOUT))
        );
    }
    std::fs::remove_dir_all(&full_copy).expect("remove the full copy");

    // The other direction: a root of curl's own package only has no libc and no loader, so curl
    // cannot run there. Were the host's files reachable, it would.
    let curl = PROGRAMS.iter().find(|s| s.name == "curl").expect("curl");
    let bare = tmp.path().join("curl-only");
    build(full, &["curl".to_owned()], &[], &bare);
    let outcome = check_program(&bare, curl);
    support::loud(&format!(
        "runtime_sets: curl's package alone: {}",
        outcome.short()
    ));
    assert!(
        !outcome.runs() && outcome.recognisable(),
        "curl ran in a root of its own package only: the harness leaks ({outcome:?})"
    );
    std::fs::remove_dir_all(&bare).expect("remove");

    // (b) the anchor (dpkg's closure of the owner) and (c) elfdeps's set, per program.
    let status = read_status(full);
    struct Row {
        name: &'static str,
        anchor: (usize, ReducedStats, RunOutcome),
        elfdeps: (usize, ReducedStats, RunOutcome, Vec<String>),
    }
    let mut rows = Vec::new();
    for spec in PROGRAMS {
        let stage = Instant::now();
        let owner = owner_package(full, spec.owner_path);
        let anchor: Vec<String> = dpkg_closure(&status, &owner).into_iter().collect();
        let dir = tmp.path().join("anchor");
        let (a_stats, a_build) = build(full, &anchor, &[], &dir);
        let a_run = Instant::now();
        let a_outcome = check_program(&dir, spec);
        let a_ran = a_run.elapsed();
        // Removed now, outside the build's time (reduced_root would remove it first otherwise).
        std::fs::remove_dir_all(&dir).expect("remove the anchor root");

        let e_start = Instant::now();
        let (set, failures) = elfdeps_set(full, spec.owner_path, &[]);
        let e_took = e_start.elapsed();
        let dir = tmp.path().join("elfdeps");
        let (e_stats, e_build) = build(full, &set, &[], &dir);
        let e_run = Instant::now();
        let e_outcome = check_program(&dir, spec);
        std::fs::remove_dir_all(&dir).expect("remove the elfdeps root");
        // --verify agrees: the set it verifies runs (asserted below), and without a package the
        // run needs, it neither verifies nor runs.
        assert!(
            failures.is_empty(),
            "{}: --verify fails the set elfdeps computed: {failures:?}",
            spec.name
        );
        let (cut, cut_failures) = elfdeps_set(full, spec.owner_path, &["--drop", spec.needed]);
        assert!(
            !cut_failures.is_empty(),
            "{}: --verify passes the set without {}",
            spec.name,
            spec.needed
        );
        build(full, &cut, &[], &dir);
        let cut_outcome = check_program(&dir, spec);
        std::fs::remove_dir_all(&dir).expect("remove the cut root");
        assert!(
            !cut_outcome.runs(),
            "{} runs without {}, which --verify says it needs ({cut_failures:?})",
            spec.name,
            spec.needed
        );
        support::loud(&format!(
            "runtime_sets: {:<10} without {}: --verify: {}; run: {}",
            spec.name,
            spec.needed,
            cut_failures.first().map_or("", String::as_str),
            cut_outcome.short()
        ));
        support::loud(&format!(
            "runtime_sets: {:<10} anchor (dpkg closure of {owner}): build {a_build:.1?}, run \
             {a_ran:.1?}; elfdeps: packages {e_took:.1?}, build {e_build:.1?}, run {:.1?}; \
             total {:.1?}",
            spec.name,
            e_run.elapsed(),
            stage.elapsed()
        ));
        rows.push(Row {
            name: spec.name,
            anchor: (anchor.len(), a_stats, a_outcome),
            elfdeps: (set.len(), e_stats, e_outcome, set),
        });
    }

    let mut table = String::from(
        "\nruntime_sets (debian-run): does the program run in a root of the set?\n\
         (anchor: dpkg's Depends/Pre-Depends closure of the program's package, plus Essential)\n\
         program    set      pkgs       size  outcome\n",
    );
    for r in &rows {
        for (set, count, stats, outcome) in [
            ("anchor", r.anchor.0, &r.anchor.1, &r.anchor.2),
            ("elfdeps", r.elfdeps.0, &r.elfdeps.1, &r.elfdeps.2),
        ] {
            table.push_str(&format!(
                "{:<10} {set:<8} {count:>4} {:>10}  {}\n",
                r.name,
                mib(stats.bytes),
                outcome.short(),
            ));
        }
    }
    for r in &rows {
        table.push_str(&format!(
            "  {}: elfdeps set {}\n",
            r.name,
            r.elfdeps.3.join(" ")
        ));
    }
    table.push_str(&format!("total {:.1?}\n", t0.elapsed()));
    support::loud(&table);

    for (r, spec) in rows.iter().zip(PROGRAMS) {
        assert_eq!(
            r.anchor.2.runs(),
            spec.anchor_runs,
            "{}: in the anchor root (dpkg's closure) the program {} where it was measured to {}: \
             {:?}",
            r.name,
            if r.anchor.2.runs() { "runs" } else { "fails" },
            if spec.anchor_runs { "run" } else { "fail" },
            r.anchor.2
        );
        assert!(
            r.anchor.2.recognisable() && r.elfdeps.2.recognisable(),
            "{}: a failure the harness cannot name: anchor {:?}, elfdeps {:?}",
            r.name,
            r.anchor.2,
            r.elfdeps.2
        );
        // The set elfdeps computes runs the program.
        assert!(
            r.elfdeps.2.runs(),
            "{} does not run in a root of elfdeps's set {:?}: {:?}",
            r.name,
            r.elfdeps.3,
            r.elfdeps.2
        );
    }
}

#[test]
fn musl_busybox_in_reduced_root() {
    let what = "runtime_sets: Alpine busybox in a reduced root";
    if !can_run(what) {
        return;
    }
    let Some(full) = support::root("alpine-x86_64") else {
        return;
    };
    let tmp = scratch("runtime-sets-alpine");
    let spec = ProgramSpec {
        name: "busybox",
        argv: &["/bin/busybox", "true"],
        expect: |o| o.status.success(),
        owner_path: "/bin/busybox",
        anchor_runs: true,
        needed: "musl",
    };

    let start = Instant::now();
    let (set, failures) = elfdeps_set(full, spec.owner_path, &[]);
    assert!(
        failures.is_empty(),
        "--verify fails busybox's set: {failures:?}"
    );
    let dir = tmp.path().join("elfdeps");
    let (stats, took) = build(full, &set, &[], &dir);
    let outcome = check_program(&dir, &spec);
    support::loud(&format!(
        "runtime_sets: alpine busybox: elfdeps set {set:?} ({} files, {} unowned, {}; built in \
         {took:.1?}): {} ({:.1?} in all)",
        stats.package_files,
        stats.unowned_files,
        mib(stats.bytes),
        outcome.short(),
        start.elapsed()
    ));
    assert!(
        outcome.runs(),
        "busybox does not run in a root of elfdeps's set {set:?}: {outcome:?}"
    );

    // The other direction: busybox's package alone lacks musl's loader.
    let bare = tmp.path().join("busybox-only");
    build(full, &["busybox".to_owned()], &[], &bare);
    let outcome = check_program(&bare, &spec);
    assert!(
        !outcome.runs() && outcome.recognisable(),
        "busybox ran without musl: the harness leaks ({outcome:?})"
    );
}

/// An unowned program built here (tests/runtime_src/dlopen_note.c) that dlopens the library its
/// `.note.dlopen` note declares as required (libz.so.1) and, on glibc, resolves a name through
/// NSS: put into a copy of `full` (hard links), its set holds the note's library and the NSS
/// module, runs it in a reduced root with the program, and verifies; without the library's
/// package it neither verifies nor runs.
fn unowned_note_program(
    full: &Path,
    compiler: &str,
    lib_package: &str,
    argv: &[&str],
    expect: fn(&Output) -> bool,
) {
    let tmp = scratch("runtime-sets-unowned");
    let copy = tmp.path().join("root");
    let out = std::process::Command::new("cp")
        .arg("-al")
        .arg(full)
        .arg(&copy)
        .output()
        .expect("cp");
    assert!(out.status.success(), "cp -al: {}", support::describe(&out));
    let program = "/usr/local/bin/noteprog";
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime_src/dlopen_note.c");
    let out = std::process::Command::new(compiler)
        .arg("-o")
        .arg(copy.join(&program[1..]))
        .arg(&src)
        .output()
        .expect(compiler);
    assert!(
        out.status.success(),
        "{compiler}: {}",
        support::describe(&out)
    );
    let (set, failures) = elfdeps_set(&copy, program, &[]);
    assert!(
        failures.is_empty(),
        "--verify fails the set of the unowned program: {failures:?}"
    );
    assert!(
        set.iter().any(|p| p == lib_package),
        "the set of a program whose required dlopen note names libz lacks {lib_package}: {set:?}"
    );
    let extra = [Path::new(program)];
    let dir = tmp.path().join("reduced");
    build(&copy, &set, &extra, &dir);
    let outcome = check(&dir, argv, expect);
    support::loud(&format!(
        "runtime_sets: unowned {compiler} program with a dlopen note: set {set:?}: {}",
        outcome.short()
    ));
    assert!(
        outcome.runs(),
        "the unowned program does not run in a root of its set: {outcome:?}"
    );
    let (cut, cut_failures) = elfdeps_set(&copy, program, &["--drop", lib_package]);
    assert!(
        !cut_failures.is_empty(),
        "--verify passes the set without {lib_package}"
    );
    build(&copy, &cut, &extra, &dir);
    let outcome = check(&dir, argv, expect);
    assert!(
        !outcome.runs(),
        "the unowned program runs without {lib_package}: {outcome:?}"
    );
}

#[test]
fn unowned_glibc_program_with_a_dlopen_note_and_nss() {
    let what = "runtime_sets: an unowned glibc program with a dlopen note";
    if !can_run(what) || !support::require_tool_or_skip("gcc", "gcc", what) {
        return;
    }
    let Some(full) = support::root("debian-run") else {
        return;
    };
    unowned_note_program(
        full,
        "gcc",
        "zlib1g",
        &["/usr/local/bin/noteprog", "foo.localhost"],
        |o| {
            let out = stdout(o);
            o.status.success()
                && out.contains("loaded libz.so.1")
                && (out.contains("is 127.0.0.1") || out.contains("is ::1"))
        },
    );
}

#[test]
fn unowned_musl_program_with_a_dlopen_note() {
    let what = "runtime_sets: an unowned musl program with a dlopen note";
    if !can_run(what) || !support::require_tool_or_skip("musl-gcc", "musl-tools", what) {
        return;
    }
    let Some(full) = support::root("alpine-x86_64") else {
        return;
    };
    unowned_note_program(
        full,
        "musl-gcc",
        "zlib",
        &["/usr/local/bin/noteprog"],
        |o| o.status.success() && stdout(o).contains("loaded libz.so.1"),
    );
}

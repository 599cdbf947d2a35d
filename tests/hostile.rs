//! A hostile root: everything a malicious image can put in front of the scanner, scanned by the
//! real binary in a child process.
//!
//! The root (`TMP/root`) holds FIFOs, a device node, a socket, symlink loops, symlinks that escape
//! the root (`..`-chains, absolute host paths, a `up -> ..` directory link), an unreadable file and
//! directory, truncated ELF files, non-UTF-8 names, string tables of 64 MiB of zeros, and ordinary
//! gcc-built programs and libraries (one reached through a hard link) whose facts must come out
//! right. Programs whose interpreter, NEEDED names and RUNPATH entries lead (only when resolved
//! naively on the host) to a FIFO *outside* the root (`TMP/canary`) check that resolution stays
//! inside the root too.
//!
//! The FIFOs double as traps: a thread blocks in `open(fifo, O_WRONLY)`, which returns only when
//! someone opens the FIFO for reading. If it returns during the scan, the scanner opened it.
//!
//! Needs uid 0 for the device node (mknod) and to check permission errors with
//! CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH dropped (setpriv). Without root the device node is
//! skipped loudly (a failure when CI is set) and the rest still runs.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{errors_by_path, escape_name, goblin_facts, objects_by_path};

/// A scan of this small root takes well under a second; 30 s means it hangs (on a FIFO, say).
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);
/// Peak RSS allowed for the scanner. The string-table bombs below hold 5 × 64 MiB; a scanner that
/// reads whole tables (with 4 workers) would need well over this.
const MAX_RSS_KIB: i64 = 200 * 1024;
/// The size of the zero-filled string tables.
const BOMB: u64 = 64 << 20;
/// Workers for the scan: enough that whole-table reads of the bombs would overlap.
const JOBS: &str = "4";
/// Capabilities that let uid 0 read a mode-000 file; dropped so permission errors are real.
const DROP_CAPS: &str = "--bounding-set=-dac_override,-dac_read_search";

/// The tests that measure a child's peak RSS run one at a time: a child's ru_maxrss includes
/// this test process's RSS (see `rss_floor`), and the other tests' fixtures hold tens of MiB
/// while they are written.
static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn memory_lock() -> std::sync::MutexGuard<'static, ()> {
    MEMORY.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn hostile_root_is_scanned_safely() {
    let _serial = memory_lock();
    let is_root = support::euid() == 0;
    if is_root
        && !support::require_tool_or_skip("setpriv", "util-linux", "hostile-root scan as uid 0")
    {
        return;
    }
    if !support::require_tool_or_skip("gcc", "gcc libc6-dev", "hostile-root fixtures") {
        return;
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let fx = Fixture::build(tmp.path(), is_root);

    // Traps: the canary outside the root and the FIFO inside it. Armed before the scan starts.
    let canary_trap = FifoTrap::arm(&fx.canary);
    let fifo_trap = FifoTrap::arm(&fx.root.join("fifo"));

    let floor = rss_floor(is_root);
    let run = run_scan(&fx.tmp, &fx.root, is_root);
    support::loud(&format!(
        "hostile root: scan took {:.2?}, peak RSS {} KiB (floor of a child of this test: {floor} \
         KiB), exit {:?}",
        run.elapsed, run.maxrss_kib, run.code
    ));

    // Checked before anything else: once released, the traps prove nothing.
    let canary_opened = canary_trap.release();
    let fifo_opened = fifo_trap.release();
    assert!(
        !canary_opened,
        "the scanner opened the canary FIFO {} OUTSIDE the root (reached through a symlink or `..`)",
        fx.canary.display()
    );
    assert!(
        !fifo_opened,
        "the scanner opened the FIFO /fifo inside the root (FIFOs must never be opened)"
    );
    fx.socket.set_nonblocking(true).expect("nonblocking socket");
    match fx.socket.accept() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Ok(_) => panic!("the scanner connected to the socket /sock inside the root"),
        Err(e) => panic!("accept on the root's socket: {e}"),
    }

    assert!(
        matches!(run.code, Some(0 | 1)),
        "elfdeps scan exited with {:?} (signal {:?}); stderr:\n{}",
        run.code,
        run.signal,
        run.stderr
    );
    assert!(
        floor < MAX_RSS_KIB / 4,
        "the test process itself is too big ({floor} KiB) to measure the scanner's peak RSS"
    );
    assert!(
        run.maxrss_kib < MAX_RSS_KIB,
        "peak RSS of the scanner was {} KiB, over the {} KiB bound (string tables of 64 MiB of \
         zeros must not be read whole)",
        run.maxrss_kib,
        MAX_RSS_KIB
    );
    let doc: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr:\n{}\nstdout starts: {:?}",
            run.stderr,
            String::from_utf8_lossy(&run.stdout[..run.stdout.len().min(500)])
        )
    });
    assert_eq!(doc["schema"], "elfdeps/1", "schema");
    check_report(&fx, &doc);

    // `tree` walks nothing and looks up only what the loader would: the programs that need the
    // FIFO (by absolute name, through a RUNPATH symlink) and the one whose needs lead out of the
    // root, under the same traps. The FIFO is a candidate that fails, never opened.
    let canary_trap = FifoTrap::arm(&fx.canary);
    let fifo_trap = FifoTrap::arm(&fx.root.join("fifo"));
    let mut trees = Vec::new();
    for (path, soname) in &fx.fifo_programs {
        trees.push((
            run_elfdeps(&fx.tmp, &["tree", "--format", "json"], &fx.root, Some(path)),
            Some(soname),
        ));
    }
    trees.push((
        run_elfdeps(
            &fx.tmp,
            &["tree", "--format", "json"],
            &fx.root,
            Some("/opt/evil/bin/evil"),
        ),
        None,
    ));
    assert!(
        !canary_trap.release(),
        "tree opened the canary FIFO outside the root"
    );
    assert!(
        !fifo_trap.release(),
        "tree opened the FIFO /fifo inside the root"
    );
    for (run, soname) in trees {
        // tree exits 1 when something is missing (a FIFO is never a library), 0 otherwise.
        let want = if soname.is_some() {
            1
        } else {
            run.code.unwrap_or(-1).min(1)
        };
        assert_eq!(run.code, Some(want), "tree: {}", run.stderr);
        let t: Value = serde_json::from_slice(&run.stdout).expect("tree JSON");
        if let Some(soname) = soname {
            let need = t["needs"]
                .as_array()
                .expect("needs")
                .iter()
                .find(|n| n["name"] == soname.as_str())
                .unwrap_or_else(|| panic!("no need {soname} in {t}"));
            assert!(
                need["found"].is_null(),
                "the FIFO was taken as {soname}: {need}"
            );
        }
    }
}

/// Memory must not grow with what a hostile file *claims*: four 32 MiB libraries, each with two
/// million DT_NEEDED entries (all "libc.so.6"), within every per-file limit.
#[test]
fn needed_bomb_memory_is_bounded() {
    let _serial = memory_lock();
    if !support::require_tool_or_skip("gcc", "gcc libc6-dev", "NEEDED-bomb fixtures") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (root, build) = (tmp.path().join("root"), tmp.path().join("build"));
    fs::create_dir(&root).unwrap();
    fs::create_dir(&build).unwrap();
    let src = build.join("good.c");
    fs::write(
        &src,
        "#include <stdlib.h>\nint good(void) { return getenv(\"GOOD\") ? 1 : 42; }\n",
    )
    .unwrap();
    let lib = build.join("libgood.so");
    gcc(&[
        "-shared".as_ref(),
        "-fPIC".as_ref(),
        "-Wl,--no-as-needed,-soname,libgood.so.1".as_ref(),
        "-o".as_ref(),
        lib.as_os_str(),
        src.as_os_str(),
    ]);
    let good = fs::read(&lib).unwrap();
    for i in 0..4 {
        write_needed_bomb(&good, &root.join(format!("needed-bomb-{i}.so")), 2_000_000);
    }
    let run = run_scan(tmp.path(), &root, false);
    support::loud(&format!(
        "needed bomb: scan took {:.2?}, peak RSS {} KiB, exit {:?}",
        run.elapsed, run.maxrss_kib, run.code
    ));
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert!(
        run.maxrss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB for 4 files of 2,000,000 DT_NEEDED entries each (bound {} KiB)",
        run.maxrss_kib,
        MAX_RSS_KIB
    );
}

/// The FIFO trap itself: it must notice a reader's open by another process (even a
/// non-blocking open that is closed at once), and must not fire when nobody opens the FIFO.
#[test]
fn fifo_trap_notices_an_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fifo = tmp.path().join("trap");
    support::mkfifo(&fifo);

    let quiet = FifoTrap::arm(&fifo);
    std::thread::sleep(Duration::from_millis(50));
    assert!(!quiet.release(), "the trap fired with no reader");

    let trap = FifoTrap::arm(&fifo);
    // What a careless scanner would do: open O_RDONLY|O_NONBLOCK (never blocks) and close.
    let reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO for reading");
    drop(reader);
    // The woken writer may not have run yet; the trap must notice regardless.
    assert!(trap.release(), "the trap missed an open of the FIFO");
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

fn check_report(fx: &Fixture, doc: &Value) {
    let objects = objects_by_path(doc);
    let errors = errors_by_path(doc);
    let context = || format!("objects: {:?}\nerrors: {errors:#?}", objects.keys());

    // Exactly the ELF files that can be read, each once: nothing from outside the root, nothing
    // reached through a symlink, nothing from the unreadable directory.
    let got: BTreeSet<String> = objects.keys().cloned().collect();
    let want: BTreeSet<String> = fx.objects.keys().cloned().collect();
    if let Some(diff) = support::diff_path_sets("elfdeps", &got, "expected", &want, &|p| {
        errors.get(p).map(|e| e.to_string())
    }) {
        panic!("{diff}\n{}", context());
    }

    // Exactly the expected per-file errors, with their codes. FIFOs, sockets, device nodes and
    // symlinks are counted, not errors (docs/json.md).
    let got_errors: BTreeMap<&str, &str> = errors
        .iter()
        .map(|(p, e)| (p.as_str(), e.code.as_str()))
        .collect();
    let want_errors: BTreeMap<&str, &str> =
        fx.errors.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    assert_eq!(
        got_errors, want_errors,
        "per-file errors (path -> code) differ; full errors: {errors:#?}"
    );

    let summary = &doc["summary"];
    let count = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("summary.{k}"));
    assert_eq!(count("special"), fx.special, "summary.special: {summary}");
    assert_eq!(
        count("symlinks"),
        fx.symlinks,
        "summary.symlinks: {summary}"
    );
    // "Regular files seen": elfdeps counts the files it could open; a regular file that fails
    // to open is an error instead. Either reading of docs/json.md is accepted.
    let unopenable = fx
        .errors
        .keys()
        .filter(|p| fx.unopenable_files.contains(*p))
        .count();
    assert!(
        count("files") == fx.files || count("files") == fx.files - unopenable as u64,
        "summary.files: expected {} regular files ({} of them unopenable): {summary}",
        fx.files,
        unopenable
    );
    assert_eq!(count("elf"), objects.len() as u64, "summary.elf: {summary}");
    assert_eq!(count("errors"), errors.len() as u64, "summary.errors");

    // The facts of every object that has expected facts.
    for (path, want) in &fx.objects {
        let Some(want) = want else { continue };
        let o = objects[path];
        for (field, value) in want {
            assert_eq!(&o[field], value, "{path}: {field} (object: {o:#})");
        }
    }

    // The hard link: two paths, one inode, the same report but for the path.
    let strip_path = |o: &Value| {
        let mut o = o.clone();
        o.as_object_mut().unwrap().remove("path");
        o
    };
    assert_eq!(
        strip_path(objects["/usr/bin/prog"]),
        strip_path(objects["/usr/bin/prog-link"]),
        "a hard link must be reported like the file it links"
    );

    // Resolution: the good library is found inside the root; libc.so.6 (whose every candidate
    // is a symlink out of the root or a loop) and the canary names are not found at all.
    let dep = |path: &str, name: &str| -> &Value {
        objects[path]["deps"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: deps is not an array"))
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{path}: no dep named {name}: {:#}", objects[path]))
    };
    let good = dep("/usr/bin/prog", "libgood.so.1");
    assert_eq!(good["found"], "/usr/lib/libgood.so.1", "{good}");
    assert_eq!(good["via"], "runpath", "{good}");
    let bad_name = escape_name(BAD_SONAME);
    let bad = dep("/usr/bin/uses-bad", &bad_name);
    assert_eq!(
        bad["found"],
        format!("/usr/lib/{bad_name}").as_str(),
        "a non-UTF-8 NEEDED resolves to its non-UTF-8 file: {bad}"
    );
    for path in ["/usr/bin/prog", "/usr/bin/uses-bad", "/opt/evil/bin/evil"] {
        let libc = dep(path, "libc.so.6");
        assert!(
            libc["found"].is_null(),
            "{path}: libc.so.6 can only be reached through symlinks that leave the root, yet \
             it was found: {libc}"
        );
    }
    for name in &fx.canary_needed {
        let d = dep("/opt/evil/bin/evil", name);
        assert!(
            d["found"].is_null(),
            "NEEDED {name} leads out of the root only, yet it was found: {d}"
        );
    }
    // A NEEDED that resolves to a FIFO: the candidate the loader would fail on (it would block in
    // open), decided without opening it (the trap checks that), and the object fails to load.
    for (path, name) in &fx.fifo_programs {
        let d = dep(path, name);
        let err = d["error"].as_str().unwrap_or_default();
        assert!(
            d["found"].is_null() && err.contains("FIFO") && err.contains("not a regular file"),
            "{path}: NEEDED {name} is the FIFO /fifo: {d}"
        );
        assert_eq!(objects[path.as_str()]["status"], "error", "{path}");
    }
    for path in fx.objects.keys().filter(|p| p.contains("/evil-interp-")) {
        let o = objects[path.as_str()];
        // It cannot start; what is listed is what the root's own loader (if any) would do with
        // it, as ldd would show, and the first note names the missing interpreter.
        assert!(
            o["status"] == "interp-missing"
                && o["notes"][0]
                    .as_str()
                    .is_some_and(|n| n.starts_with("interpreter ")),
            "{path}: its interpreter lies outside the root only, yet: status {} notes {}",
            o["status"],
            o["notes"]
        );
    }

    // Every path elfdeps names is an in-root path without `..`; the canonical ones (loader,
    // closure, found) are regular files reached without any symlink.
    for (path, o) in &objects {
        let mut canonical = vec![path.clone()];
        if let Some(p) = o["loader"]["path"].as_str() {
            canonical.push(p.to_owned());
        }
        for p in o["closure"].as_array().into_iter().flatten() {
            canonical.push(p.as_str().expect("closure entry").to_owned());
        }
        for d in o["deps"].as_array().into_iter().flatten() {
            if let Some(p) = d["found"].as_str() {
                canonical.push(p.to_owned());
            }
            // "As opened": `$ORIGIN/../lib/x` stays as the loader would open it, `..` and all.
            if let Some(p) = d["path"].as_str() {
                assert!(p.starts_with('/'), "{path}: dep path {p:?} is not absolute");
            }
        }
        for p in &canonical {
            assert_in_root_syntax(path, p);
            assert_real_file_in_root(&fx.root, path, p);
        }
    }
}

/// `p` is absolute and has no `..` (nor `.`) component.
fn assert_in_root_syntax(object: &str, p: &str) {
    assert!(
        p.starts_with('/')
            && p.split('/')
                .skip(1)
                .all(|c| c != ".." && c != "." && !c.is_empty()),
        "{object}: path {p:?} is not a plain absolute in-root path"
    );
}

/// `p` (an in-root JSON path) is a regular file under `root`, reached through no symlink.
fn assert_real_file_in_root(root: &Path, object: &str, p: &str) {
    let host = support::host_path(root, p);
    let mut at = root.to_path_buf();
    for c in host
        .strip_prefix(root)
        .expect("host path under root")
        .components()
    {
        let Component::Normal(c) = c else {
            panic!("{object}: {p:?} has a component {c:?}")
        };
        at.push(c);
        let meta = fs::symlink_metadata(&at)
            .unwrap_or_else(|e| panic!("{object}: {p:?}: {} does not exist: {e}", at.display()));
        assert!(
            !meta.file_type().is_symlink(),
            "{object}: {p:?} passes through the symlink {}",
            at.display()
        );
    }
    assert!(
        fs::symlink_metadata(&host).is_ok_and(|m| m.is_file()),
        "{object}: {p:?} is not a regular file in the root"
    );
}

// ---------------------------------------------------------------------------------------------
// Running the scanner: timeout, exit status, peak RSS
// ---------------------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    elapsed: Duration,
    maxrss_kib: i64,
    stdout: Vec<u8>,
    stderr: String,
}

/// `elfdeps scan ROOT --format json -q --jobs JOBS`, its output kept in files under `tmp`.
fn run_scan(tmp: &Path, root: &Path, is_root: bool) -> Run {
    let bin = support::elfdeps_bin();
    let mut cmd = maybe_setpriv(bin.as_os_str(), is_root);
    cmd.arg("scan")
        .arg(root)
        .args(["--format", "json", "-q", "--jobs", JOBS]);
    run_bounded(tmp, root, cmd)
}

/// `elfdeps ARGS ROOT [PATH]`, bounded in time like the scan.
fn run_elfdeps(tmp: &Path, args: &[&str], root: &Path, path: Option<&str>) -> Run {
    let mut cmd = Command::new(support::elfdeps_bin());
    cmd.args(args).arg(root).args(path);
    run_bounded(tmp, root, cmd)
}

/// Runs `cmd` (an elfdeps command on `root`) killed after [`SCAN_TIMEOUT`], with its output in
/// files under `tmp`.
fn run_bounded(tmp: &Path, root: &Path, mut cmd: Command) -> Run {
    // Files, not pipes: nothing to drain while we poll for the exit.
    let out_path = tmp.join("scan.json");
    let err_path = tmp.join("scan.stderr");
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout file"))
        .stderr(File::create(&err_path).expect("create stderr file"));
    let (status, elapsed, maxrss_kib) = wait_with_timeout(cmd, || {
        format!(
            "elfdeps hung on {}: {shown} did not finish in {SCAN_TIMEOUT:?} (killed); stderr:\n{}",
            root.display(),
            fs::read_to_string(&err_path).unwrap_or_default()
        )
    });
    Run {
        code: status.code(),
        signal: status.signal(),
        elapsed,
        maxrss_kib,
        stdout: fs::read(&out_path).expect("read scan stdout"),
        stderr: String::from_utf8_lossy(&fs::read(&err_path).unwrap_or_default()).into_owned(),
    }
}

/// `program`, run through setpriv with the DAC capabilities dropped when we are uid 0.
fn maybe_setpriv(program: &OsStr, is_root: bool) -> Command {
    if is_root {
        // setpriv execs the program in the same process, so wait4's rusage is the program's.
        let mut c = Command::new("setpriv");
        c.args([DROP_CAPS, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The ru_maxrss of a child that does nothing (`true`), spawned like the scanner. A child's
/// ru_maxrss is not only its own: at exec, Linux folds in the high-water RSS of the memory it
/// had before, and std spawns with posix_spawn (CLONE_VM), so that is this test process's. The
/// scanner's figure is therefore max(this floor, its own peak); the floor must stay well below
/// the bound for the check to mean anything.
fn rss_floor(is_root: bool) -> i64 {
    let mut cmd = maybe_setpriv(OsStr::new("true"), is_root);
    cmd.stdin(Stdio::null());
    let (status, _, maxrss) = wait_with_timeout(cmd, || "`true` hung".to_owned());
    assert!(status.success(), "`true` failed: {status}");
    maxrss
}

/// Spawns `cmd` and reaps it with wait4 on its own pid (so the rusage is that child's and no
/// other's), polling so a hang is noticed: after SCAN_TIMEOUT it is killed, and the test fails
/// with the message `hung` makes.
/// Returns the exit status, the wall time and the peak RSS in KiB.
fn wait_with_timeout(
    mut cmd: Command,
    hung: impl FnOnce() -> String,
) -> (std::process::ExitStatus, Duration, i64) {
    let start = Instant::now();
    // Reaped by wait4 below, not by Child::wait (which would discard the rusage).
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("spawn child");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "wait4: {e}");
        }
        if start.elapsed() > SCAN_TIMEOUT {
            let _ = child.kill();
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!("{}", hung());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::process::ExitStatus::from_raw(status);
    (status, start.elapsed(), usage.ru_maxrss)
}

// ---------------------------------------------------------------------------------------------
// FIFO traps
// ---------------------------------------------------------------------------------------------

/// A thread blocked in `open(path, O_WRONLY)`: the open returns only once a reader opens the
/// FIFO (the kernel counts reader opens, so even an open and close while the writer sleeps wakes
/// it). Whether it returned during the scan is read from /proc: the thread is either still in the
/// openat syscall or it is not.
struct FifoTrap {
    path: PathBuf,
    tid: libc::pid_t,
    done: Arc<AtomicBool>,
    opened_early: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FifoTrap {
    fn arm(path: &Path) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let opened_early = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let (path, done, opened_early) = (path.to_owned(), done.clone(), opened_early.clone());
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tx.send(unsafe { libc::gettid() }).unwrap();
                let f = OpenOptions::new().write(true).open(&path);
                if !done.load(Ordering::SeqCst) {
                    opened_early.store(true, Ordering::SeqCst);
                }
                drop(f);
            })
        };
        let tid = rx.recv().expect("trap thread id");
        let trap = FifoTrap {
            path: path.to_owned(),
            tid,
            done,
            opened_early,
            thread: Some(thread),
        };
        // Only a writer already asleep in open() proves anything, so wait for it: in the
        // syscall, and sleeping there (not still on its way in).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match trap.in_open() {
                Ok(true) if trap.state() == Some('S') => break,
                Ok(true) => assert!(
                    Instant::now() < deadline,
                    "the trap thread never went to sleep in open({})",
                    path.display()
                ),
                Ok(false) => assert!(
                    Instant::now() < deadline,
                    "the trap thread never blocked in open({})",
                    path.display()
                ),
                Err(e) => {
                    support::loud(&format!(
                        "hostile: {e}; the FIFO trap on {} relies on timing alone",
                        path.display()
                    ));
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        trap
    }

    /// Whether the thread sits in the openat syscall (`/proc/.../syscall` starts with its
    /// number; it reads `running` for a thread in user space). An error when /proc cannot tell.
    fn in_open(&self) -> Result<bool, String> {
        let file = format!("/proc/self/task/{}/syscall", self.tid);
        match fs::read_to_string(&file) {
            Ok(text) => Ok(text
                .split_whitespace()
                .next()
                .and_then(|nr| nr.parse::<i64>().ok())
                == Some(libc::SYS_openat)),
            // The thread has exited: its open returned.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("cannot read {file}: {e}")),
        }
    }

    /// Unblocks the thread and says whether its open had completed before (the FIFO was opened
    /// for reading by someone else: the scanner).
    ///
    /// A reader's open wakes the writer, but on a busy machine the woken thread may not have run
    /// yet: it is still "in openat", only runnable instead of asleep. So a writer that is not
    /// asleep is waited for (up to 5 s) until it either leaves the syscall (opened) or sleeps
    /// again (a spurious wake-up: not opened); still runnable after that, it was woken: opened.
    fn release(mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        let opened = loop {
            if self.opened_early.load(Ordering::SeqCst) {
                break true;
            }
            match self.in_open() {
                Ok(false) => break true,
                Err(_) => break false,
                Ok(true) if self.state() == Some('S') => break false,
                Ok(true) if Instant::now() >= deadline => break true,
                Ok(true) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        self.unblock();
        opened
    }

    /// The scheduler state of the thread (`S`: asleep, `R`: runnable), from
    /// `/proc/self/task/TID/stat` (the field after the parenthesised name).
    fn state(&self) -> Option<char> {
        let text = fs::read_to_string(format!("/proc/self/task/{}/stat", self.tid)).ok()?;
        let after = &text[text.rfind(')')? + 1..];
        after.trim_start().chars().next()
    }

    fn unblock(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.done.store(true, Ordering::SeqCst);
        // Our own reader open (non-blocking, so it never waits for a writer) wakes the writer.
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path);
        let _ = thread.join();
        drop(reader);
    }
}

impl Drop for FifoTrap {
    /// A failing assertion must not leave the thread blocked forever.
    fn drop(&mut self) {
        self.unblock();
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

/// DT_SONAME of the library with a non-UTF-8 name (also its file name in the root).
const BAD_SONAME: &[u8] = b"lib\xffbad.so.1";
/// A file name with a backslash and a non-UTF-8 byte: escaped as `\\` and `\xfe`.
const ODD_NAME: &[u8] = b"odd\\name\xfe.so";

struct Fixture {
    tmp: PathBuf,
    root: PathBuf,
    canary: PathBuf,
    /// Kept open (and bound) for the scan; checked for connections afterwards.
    socket: UnixListener,
    /// Expected objects by JSON path, with the fields that must have exactly these values.
    objects: BTreeMap<String, Option<Vec<(&'static str, Value)>>>,
    /// Expected per-file errors: JSON path -> code.
    errors: BTreeMap<String, &'static str>,
    /// NEEDED names of /opt/evil/bin/evil that lead out of the root (JSON form).
    canary_needed: Vec<String>,
    /// Programs whose first NEEDED resolves to the FIFO /fifo: (path, NEEDED name).
    fifo_programs: Vec<(String, String)>,
    /// Regular files that cannot be opened (JSON paths).
    unopenable_files: Vec<String>,
    special: u64,
    symlinks: u64,
    files: u64,
    /// Restores the unreadable directory's mode, so the tempdir can be removed.
    /// Unmounts the /proc inside the root before the tempdir goes.
    _proc: Option<Unmount>,
    _locked: Unlock,
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Unlock(PathBuf);

impl Drop for Unlock {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
    }
}

impl Fixture {
    fn build(tmp: &Path, is_root: bool) -> Fixture {
        let root = tmp.join("root");
        let build = tmp.join("build");
        let canary = tmp.join("canary");
        for d in [&root, &build] {
            fs::create_dir(d).unwrap();
        }
        support::mkfifo(&canary);
        let r = |p: &str| root.join(p);
        let canary_abs = canary.to_str().expect("UTF-8 tempdir path").to_owned();

        // --- Ordinary ELF files, built here with gcc ---------------------------------------
        let src = |name: &str, code: &str| {
            let p = build.join(name);
            fs::write(&p, code).unwrap();
            p
        };
        // The libraries call into libc, so they have a NEEDED and version needs of their own.
        let good_c = src(
            "good.c",
            "#include <stdlib.h>\nint good(void) { return getenv(\"GOOD\") ? 1 : 42; }\n",
        );
        let bad_c = src(
            "bad.c",
            "#include <stdlib.h>\nint bad(void) { return getenv(\"BAD\") ? 1 : 7; }\n",
        );
        let prog_c = src(
            "prog.c",
            "#include <stdio.h>\nint good(void);\nint main(void) { printf(\"%d\\n\", good()); return 0; }\n",
        );
        let uses_bad_c = src(
            "uses_bad.c",
            "int bad(void);\nint main(void) { return bad(); }\n",
        );
        let empty_c = src("empty.c", "int main(void) { return 0; }\n");

        let libgood = build.join("libgood.so");
        gcc(&[
            "-shared".as_ref(),
            "-fPIC".as_ref(),
            "-Wl,-soname,libgood.so.1".as_ref(),
            "-o".as_ref(),
            libgood.as_os_str(),
            good_c.as_os_str(),
        ]);
        let libbad = build.join("libbad.so");
        let mut soname_arg = b"-Wl,-soname,".to_vec();
        soname_arg.extend_from_slice(BAD_SONAME);
        gcc(&[
            "-shared".as_ref(),
            "-fPIC".as_ref(),
            OsStr::from_bytes(&soname_arg),
            "-o".as_ref(),
            libbad.as_os_str(),
            bad_c.as_os_str(),
        ]);
        let prog = build.join("prog");
        gcc(&[
            "-o".as_ref(),
            prog.as_os_str(),
            prog_c.as_os_str(),
            "-Wl,--no-as-needed,--enable-new-dtags,-rpath,$ORIGIN/../lib".as_ref(),
            libgood.as_os_str(),
        ]);
        let uses_bad = build.join("uses-bad");
        gcc(&[
            "-o".as_ref(),
            uses_bad.as_os_str(),
            uses_bad_c.as_os_str(),
            "-Wl,--no-as-needed,--enable-new-dtags,-rpath,$ORIGIN/../lib".as_ref(),
            libbad.as_os_str(),
        ]);

        // The fixtures are what we think they are (the oracle is goblin, and readelf for the
        // raw soname bytes).
        let prog_bytes = fs::read(&prog).unwrap();
        let good_bytes = fs::read(&libgood).unwrap();
        let prog_facts = goblin_facts(&prog_bytes).expect("goblin parses prog");
        let interp = prog_facts
            .interp
            .clone()
            .expect("gcc's program has PT_INTERP");
        assert_eq!(
            prog_facts.needed,
            ["libgood.so.1", "libc.so.6"],
            "fixture prog"
        );
        let bad_facts = goblin_facts(&fs::read(&libbad).unwrap()).expect("goblin parses libbad");
        assert_eq!(
            bad_facts.soname,
            Some(escape_name(BAD_SONAME)),
            "fixture libbad"
        );
        let readelf = Command::new("readelf")
            .args(["-dW"])
            .arg(&libbad)
            .output()
            .expect("run readelf");
        let mut shown = b"Library soname: [".to_vec();
        shown.extend_from_slice(BAD_SONAME);
        assert!(
            readelf.stdout.windows(shown.len()).any(|w| w == shown),
            "readelf does not show the raw soname bytes:\n{}",
            String::from_utf8_lossy(&readelf.stdout)
        );

        fs::create_dir_all(r("usr/bin")).unwrap();
        fs::create_dir_all(r("usr/lib")).unwrap();
        fs::copy(&prog, r("usr/bin/prog")).unwrap();
        fs::hard_link(r("usr/bin/prog"), r("usr/bin/prog-link")).unwrap();
        fs::copy(&uses_bad, r("usr/bin/uses-bad")).unwrap();
        fs::copy(&libgood, r("usr/lib/libgood.so.1")).unwrap();
        fs::copy(&libbad, r("usr/lib").join(OsStr::from_bytes(BAD_SONAME))).unwrap();
        fs::copy(&libgood, r("usr/lib").join(OsStr::from_bytes(ODD_NAME))).unwrap();
        // The real loader, so that resolution runs (a glibc root needs its ld.so).
        let ld_host = fs::canonicalize(&interp).expect("the host has gcc's interpreter");
        let ld_in_root = r(interp.trim_start_matches('/'));
        fs::create_dir_all(ld_in_root.parent().unwrap()).unwrap();
        fs::copy(&ld_host, &ld_in_root).unwrap();

        // --- Special files --------------------------------------------------------------------
        support::mkfifo(&r("fifo"));
        let socket = UnixListener::bind(r("sock")).expect("bind a socket in the root");
        let mut special = 2;
        if support::require_root_or_skip("device node (mknod) in the hostile root") {
            // Same numbers as /dev/null.
            support::mknod_char(&r("null"), 1, 3);
            special += 1;
        }

        // --- Symlinks: loops and escapes --------------------------------------------------------
        let multiarch = Command::new("gcc")
            .arg("-print-multiarch")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|m| !m.is_empty());
        let mut links: Vec<(String, String)> = vec![
            ("loop1".into(), "loop2".into()),
            ("loop2".into(), "loop1".into()),
            ("x".into(), "/../../..".into()),
            ("y".into(), "../../..".into()),
            ("esc".into(), "../canary".into()),
            ("absesc".into(), canary_abs.clone()),
            ("up".into(), "..".into()),
            // Every place a loader looks for libc.so.6 leads out of the root (on the host: to
            // the canary) or into a loop.
            ("lib64/libc.so.6".into(), "../up/canary".into()),
            ("usr/lib64/libc.so.6".into(), "../../esc".into()),
            ("lib/libc.so.6".into(), "/loop1".into()),
            ("usr/lib/libc.so.6".into(), "libc.so.6".into()),
        ];
        if let Some(ma) = &multiarch {
            links.push((format!("lib/{ma}/libc.so.6"), "../../../canary".into()));
            links.push((format!("usr/lib/{ma}/libc.so.6"), canary_abs.clone()));
        }
        for (link, target) in &links {
            let at = r(link);
            fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, &at)
                .unwrap_or_else(|e| panic!("symlink {link} -> {target}: {e}"));
        }

        // --- Programs whose resolution, done naively on the host, opens the canary -------------
        // NEEDED names: bare (found through RUNPATH entries that escape), relative, and absolute.
        let canary_sonames = [
            "canary".to_owned(),
            "../canary".to_owned(),
            "/../canary".to_owned(),
            canary_abs.clone(),
        ];
        let mut evil_args: Vec<std::ffi::OsString> = vec![
            "-o".into(),
            build.join("evil").into(),
            empty_c.clone().into(),
            "-Wl,--no-as-needed,--enable-new-dtags,-rpath,$ORIGIN/../../../..:/up:/x:/y:/loop1:/esc:/absesc:/up/up".into(),
        ];
        for (i, soname) in canary_sonames.iter().enumerate() {
            let lib = build.join(format!("libcanary{i}.so"));
            gcc(&[
                "-shared".as_ref(),
                "-fPIC".as_ref(),
                format!("-Wl,-soname,{soname}").as_ref(),
                "-o".as_ref(),
                lib.as_os_str(),
                good_c.as_os_str(),
            ]);
            evil_args.push(lib.into());
        }
        let evil_args: Vec<&OsStr> = evil_args.iter().map(|a| a.as_os_str()).collect();
        gcc(&evil_args);
        fs::create_dir_all(r("opt/evil/bin")).unwrap();
        fs::copy(build.join("evil"), r("opt/evil/bin/evil")).unwrap();
        let evil_needed: Vec<String> = canary_sonames
            .iter()
            .cloned()
            .chain(["libc.so.6".to_owned()])
            .collect();

        // Programs that NEED the FIFO /fifo (the armed trap): by absolute name, and by a bare name
        // found on the RUNPATH as a symlink to it. A loader would block in open(); the scanner
        // must decide from the walk that it is no regular file, without opening it.
        fs::create_dir_all(r("opt/evil/fifolib")).unwrap();
        std::os::unix::fs::symlink("../../../fifo", r("opt/evil/fifolib/libfifo.so")).unwrap();
        let mut fifo_programs = Vec::new();
        for (tag, soname, runpath) in [
            ("abs", "/fifo", None),
            ("link", "libfifo.so", Some("/opt/evil/fifolib")),
        ] {
            let lib = build.join(format!("libfifo-{tag}.so"));
            gcc(&[
                "-shared".as_ref(),
                "-fPIC".as_ref(),
                format!("-Wl,-soname,{soname}").as_ref(),
                "-o".as_ref(),
                lib.as_os_str(),
                good_c.as_os_str(),
            ]);
            let out = r(&format!("opt/evil/bin/needs-fifo-{tag}"));
            let mut args: Vec<std::ffi::OsString> = vec![
                "-o".into(),
                out.into(),
                empty_c.clone().into(),
                "-Wl,--no-as-needed".into(),
                lib.into(),
            ];
            if let Some(rp) = runpath {
                args.push(format!("-Wl,--enable-new-dtags,-rpath,{rp}").into());
            }
            let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            gcc(&args);
            fifo_programs.push((format!("/opt/evil/bin/needs-fifo-{tag}"), soname.to_owned()));
        }

        // Interpreters outside the root, directly or through the escaping symlinks.
        let interps = [
            ("abs", canary_abs.clone()),
            ("up", "/up/canary".to_owned()),
            ("absesc", "/absesc".to_owned()),
            ("esc", "/esc".to_owned()),
            ("loop", "/loop1".to_owned()),
        ];
        let mut evil_interps = Vec::new();
        for (tag, interp) in &interps {
            let out = r(&format!("opt/evil/bin/evil-interp-{tag}"));
            gcc(&[
                "-o".as_ref(),
                out.as_os_str(),
                empty_c.as_os_str(),
                format!("-Wl,--dynamic-linker={interp}").as_ref(),
            ]);
            evil_interps.push((format!("/opt/evil/bin/evil-interp-{tag}"), interp.clone()));
        }

        // --- Unreadable, truncated, bombs -------------------------------------------------------
        fs::create_dir_all(r("bad")).unwrap();
        let unreadable = r("bad/unreadable");
        fs::copy(&prog, &unreadable).unwrap();
        fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o000)).unwrap();
        let locked = r("bad/locked");
        fs::create_dir(&locked).unwrap();
        fs::copy(&prog, locked.join("prog")).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let unlock = Unlock(locked.clone());
        if is_root {
            // The scanner runs with these capabilities dropped: check that this really makes
            // the file unreadable for uid 0, or the permission errors below would be vacuous;
            // and that a readable file still reads, or a failing setpriv would pass for it.
            let head = |file: &Path| {
                Command::new("setpriv")
                    .args([DROP_CAPS, "--", "head", "-c", "1"])
                    .arg(file)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("run setpriv")
                    .success()
            };
            assert!(
                head(&prog),
                "setpriv {DROP_CAPS} -- head cannot read a readable file: setpriv does not work"
            );
            assert!(
                !head(&unreadable),
                "setpriv {DROP_CAPS} does not make a mode-000 file unreadable for uid 0"
            );
        }

        fs::write(r("bad/trunc-half"), &prog_bytes[..prog_bytes.len() / 2]).unwrap();
        fs::write(r("bad/trunc-100"), &prog_bytes[..100]).unwrap();

        write_section_bomb(&good_bytes, &r("bad/strtab-sections.so"));
        let bombs: Vec<String> = (0..4)
            .map(|i| format!("bad/strtab-dynamic-{i}.so"))
            .collect();
        for b in &bombs {
            write_dynamic_bomb(&good_bytes, &r(b));
        }
        // The dynamic bomb still reads as libgood to an independent parser. readelf, in its
        // own process: goblin would index the 64 MiB of zeros as 64 Mi empty strings (a GiB of
        // heap), and this process must stay small (see `rss_floor`).
        let oracle = support::readelf_facts(&[libgood.clone(), r(&bombs[0])]);
        assert_eq!(
            oracle
                .facts
                .get(&r(&bombs[0]))
                .map(|f| (&f.needed, &f.soname)),
            oracle.facts.get(&libgood).map(|f| (&f.needed, &f.soname)),
            "fixture: readelf reads the dynamic bomb unlike libgood: {}",
            oracle.stderr
        );

        // --- What the report must say ---------------------------------------------------------
        let facts = |interp: Option<&str>, needed: &[&str], soname: Option<&str>| {
            Some(vec![
                ("interp", interp.map_or(Value::Null, Value::from)),
                ("needed", Value::from(needed.to_vec())),
                ("soname", soname.map_or(Value::Null, Value::from)),
            ])
        };
        let bad_name = escape_name(BAD_SONAME);
        let mut prog_expect = facts(Some(&interp), &["libgood.so.1", "libc.so.6"], None).unwrap();
        prog_expect.push(("runpath", Value::from(vec!["$ORIGIN/../lib"])));
        prog_expect.push(("rpath", Value::Null));
        prog_expect.push(("class", "ELF64".into()));
        prog_expect.push(("kind", "pie".into()));
        let good_expect = {
            let mut f = facts(None, &["libc.so.6"], Some("libgood.so.1")).unwrap();
            f.push(("kind", "shared-library".into()));
            Some(f)
        };
        let mut objects: BTreeMap<String, Option<Vec<(&'static str, Value)>>> = BTreeMap::new();
        objects.insert("/usr/bin/prog".into(), Some(prog_expect.clone()));
        objects.insert("/usr/bin/prog-link".into(), Some(prog_expect));
        objects.insert(
            "/usr/bin/uses-bad".into(),
            facts(Some(&interp), &[&bad_name, "libc.so.6"], None),
        );
        objects.insert("/usr/lib/libgood.so.1".into(), good_expect.clone());
        objects.insert(
            format!("/usr/lib/{bad_name}"),
            facts(None, &["libc.so.6"], Some(&bad_name)),
        );
        objects.insert(
            format!("/usr/lib/{}", escape_name(ODD_NAME)),
            good_expect.clone(),
        );
        objects.insert(interp.clone(), None);
        let evil_needed_refs: Vec<&str> = evil_needed.iter().map(String::as_str).collect();
        let mut evil_expect = facts(Some(&interp), &evil_needed_refs, None).unwrap();
        evil_expect.push((
            "runpath",
            Value::from(vec![
                "$ORIGIN/../../../..",
                "/up",
                "/x",
                "/y",
                "/loop1",
                "/esc",
                "/absesc",
                "/up/up",
            ]),
        ));
        objects.insert("/opt/evil/bin/evil".into(), Some(evil_expect));
        for (path, soname) in &fifo_programs {
            objects.insert(
                path.clone(),
                facts(Some(&interp), &[soname.as_str(), "libc.so.6"], None),
            );
        }
        for (path, interp) in &evil_interps {
            objects.insert(path.clone(), facts(Some(interp), &["libc.so.6"], None));
        }
        // The section bomb's dynamic segment is intact: its facts are libgood's.
        objects.insert("/bad/strtab-sections.so".into(), good_expect.clone());
        for b in &bombs {
            objects.insert(format!("/{b}"), good_expect.clone());
        }

        let mut errors: BTreeMap<String, &'static str> = [
            ("/bad/unreadable", "permission-denied"),
            ("/bad/locked", "permission-denied"),
            ("/bad/trunc-half", "elf-truncated"),
            ("/bad/trunc-100", "elf-truncated"),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_owned(), c))
        .collect();

        // --- The rest of the filesystem cases: a tree deeper than --max-depth (256) with an ELF
        // file at the bottom, a 2 GiB sparse file that starts like a real program, and (as uid
        // 0) a real /proc mounted inside the root.
        let mut deep = r("deep");
        for _ in 0..300 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        fs::copy(&prog, deep.join("prog-too-deep")).unwrap();
        let first_unwalked = format!("/deep{}", "/d".repeat(256));
        errors.insert(first_unwalked.clone(), "limit-exceeded");
        {
            let head = fs::read(&prog).unwrap();
            let f = File::create(r("bad/huge-sparse")).unwrap();
            f.write_all_at(&head[..4096], 0).unwrap();
            f.set_len(2 << 30).unwrap();
        }
        objects.insert("/bad/huge-sparse".into(), None);
        let proc_mount = if is_root {
            fs::create_dir(r("proc")).unwrap();
            let st = Command::new("mount")
                .args(["-t", "proc", "proc"])
                .arg(r("proc"))
                .status()
                .expect("run mount");
            assert!(st.success(), "mount -t proc inside the hostile root");
            Some(Unmount(r("proc")))
        } else {
            support::skip(
                "a /proc mounted inside the hostile root",
                "needs uid 0 (mount)",
            );
            None
        };

        let unwalked = [
            locked.clone(),
            root.join(first_unwalked.trim_start_matches('/')),
            r("proc"),
        ];
        let (files, symlinks) = count_entries(&root, &unwalked);
        Fixture {
            tmp: tmp.to_owned(),
            root,
            canary,
            socket,
            objects,
            errors,
            canary_needed: canary_sonames.to_vec(),
            fifo_programs,
            unopenable_files: vec!["/bad/unreadable".to_owned()],
            special,
            symlinks,
            files,
            _proc: proc_mount,
            _locked: unlock,
        }
    }
}

/// Regular files and symlinks under `root` as a scanner sees them: no symlink followed, nothing
/// inside the `unwalked` directories (one cannot be listed, one is past --max-depth, one is
/// another filesystem).
fn count_entries(root: &Path, unwalked: &[PathBuf]) -> (u64, u64) {
    let (mut files, mut symlinks) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if unwalked.contains(&dir) {
            continue;
        }
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                files += 1;
            } else if t.is_symlink() {
                symlinks += 1;
            }
        }
    }
    (files, symlinks)
}

fn gcc(args: &[&OsStr]) {
    let out = Command::new("gcc")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "gcc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// ELF64 little-endian patching, by plain byte offsets (System V gABI)
// ---------------------------------------------------------------------------------------------

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_GNU_STACK: u32 = 0x6474_e551;
const DT_NULL: u64 = 0;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap()
}
fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

fn assert_elf64_le(b: &[u8]) {
    assert!(
        b.starts_with(b"\x7fELF") && b[4] == 2 && b[5] == 1,
        "the patching below handles ELF64 little-endian only (gcc built something else)"
    );
}

/// Offsets (in the file) of the program headers.
fn phdrs(b: &[u8]) -> Vec<usize> {
    let (phoff, entsize, num) = (
        usize_of(u64_at(b, 0x20)),
        usize::from(u16_at(b, 0x36)),
        usize::from(u16_at(b, 0x38)),
    );
    (0..num).map(|i| phoff + i * entsize).collect()
}

/// (offset of the header, section name) of every section.
fn sections(b: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let (shoff, entsize, num, strndx) = (
        usize_of(u64_at(b, 0x28)),
        usize::from(u16_at(b, 0x3a)),
        usize::from(u16_at(b, 0x3c)),
        usize::from(u16_at(b, 0x3e)),
    );
    let str_off = usize_of(u64_at(b, shoff + strndx * entsize + 24));
    (0..num)
        .map(|i| {
            let h = shoff + i * entsize;
            let name = &b[str_off + usize_of(u64::from(u32_at(b, h)))..];
            let end = name.iter().position(|&c| c == 0).unwrap();
            (h, name[..end].to_vec())
        })
        .collect()
}

/// `good` with 64 MiB of zeros appended (a sparse hole) and the section headers of `.shstrtab`
/// and `.dynstr` pointing at them. The dynamic segment is untouched, so the facts are `good`'s.
fn write_section_bomb(good: &[u8], out: &Path) {
    assert_elf64_le(good);
    let zeros = align_up(good.len() as u64, 4096);
    let mut b = good.to_vec();
    let mut patched = 0;
    for (h, name) in sections(good) {
        if name == b".shstrtab" || name == b".dynstr" {
            put_u64(&mut b, h + 24, zeros);
            put_u64(&mut b, h + 32, BOMB);
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "fixture: .shstrtab and .dynstr not both found");
    let f = File::create(out).unwrap();
    (&f).write_all(&b).unwrap();
    f.set_len(zeros + BOMB).unwrap();
}

/// `good` with a 64 MiB region appended: a copy of its dynamic string table, then zeros (a
/// sparse hole). PT_GNU_STACK becomes a PT_LOAD mapping the region at a fresh address; DT_STRTAB
/// points there and DT_STRSZ is 64 MiB. The strings are the same, so the facts are `good`'s.
fn write_dynamic_bomb(good: &[u8], out: &Path) {
    assert_elf64_le(good);
    let mut b = good.to_vec();
    let ph = phdrs(good);
    let ptype = |h: usize| u32_at(good, h);
    let stack = *ph
        .iter()
        .find(|&&h| ptype(h) == PT_GNU_STACK)
        .expect("fixture: no PT_GNU_STACK to reuse");
    let loads: Vec<usize> = ph
        .iter()
        .copied()
        .filter(|&h| ptype(h) == PT_LOAD)
        .collect();
    // PT_LOADs must be sorted by address: the new one comes last in the table and in memory.
    assert!(
        loads.iter().all(|&h| h < stack),
        "fixture: PT_LOAD after PT_GNU_STACK"
    );
    let end = loads
        .iter()
        .map(|&h| u64_at(good, h + 16) + u64_at(good, h + 40))
        .max()
        .unwrap();
    let (region, vaddr) = (
        align_up(good.len() as u64, 0x1000),
        align_up(end, 0x1000) + 0x1000,
    );
    put_u32(&mut b, stack, PT_LOAD);
    put_u32(&mut b, stack + 4, 4); // PF_R
    for (field, v) in [
        (8, region),
        (16, vaddr),
        (24, vaddr),
        (32, BOMB),
        (40, BOMB),
    ] {
        put_u64(&mut b, stack + field, v);
    }
    put_u64(&mut b, stack + 48, 0x1000);

    // The old string table, found through DT_STRTAB and the PT_LOAD that maps it.
    let to_offset = |addr: u64| {
        loads
            .iter()
            .find(|&&h| {
                (u64_at(good, h + 16)..u64_at(good, h + 16) + u64_at(good, h + 32)).contains(&addr)
            })
            .map(|&h| addr - u64_at(good, h + 16) + u64_at(good, h + 8))
            .expect("fixture: DT_STRTAB not in any PT_LOAD")
    };
    let dynamic = *ph
        .iter()
        .find(|&&h| ptype(h) == PT_DYNAMIC)
        .expect("fixture: no PT_DYNAMIC");
    let (dyn_off, dyn_size) = (
        usize_of(u64_at(good, dynamic + 8)),
        usize_of(u64_at(good, dynamic + 32)),
    );
    let (mut strtab, mut strsz) = (None, None);
    for e in (dyn_off..dyn_off + dyn_size).step_by(16) {
        match u64_at(good, e) {
            DT_NULL => break,
            DT_STRTAB => {
                strtab = Some(u64_at(good, e + 8));
                put_u64(&mut b, e + 8, vaddr);
            }
            DT_STRSZ => {
                strsz = Some(u64_at(good, e + 8));
                put_u64(&mut b, e + 8, BOMB);
            }
            _ => {}
        }
    }
    let (strtab, strsz) = (strtab.expect("DT_STRTAB"), strsz.expect("DT_STRSZ"));
    let old = usize_of(to_offset(strtab));
    let f = File::create(out).unwrap();
    (&f).write_all(&b).unwrap();
    f.write_all_at(&good[old..old + usize_of(strsz)], region)
        .unwrap();
    f.set_len(region + BOMB).unwrap();
}

/// `good` with its dynamic segment moved to an appended region (mapped by a new PT_LOAD made
/// from PT_GNU_STACK): the original entries, then `count` more DT_NEEDED entries repeating the
/// first one, then DT_NULL.
fn write_needed_bomb(good: &[u8], out: &Path, count: usize) {
    const DT_NEEDED: u64 = 1;
    assert_elf64_le(good);
    let mut b = good.to_vec();
    let ph = phdrs(good);
    let ptype = |h: usize| u32_at(good, h);
    let find = |t: u32| *ph.iter().find(|&&h| ptype(h) == t).expect("fixture: phdr");
    let (stack, dynamic) = (find(PT_GNU_STACK), find(PT_DYNAMIC));
    let loads: Vec<usize> = ph
        .iter()
        .copied()
        .filter(|&h| ptype(h) == PT_LOAD)
        .collect();
    assert!(
        loads.iter().all(|&h| h < stack),
        "fixture: PT_LOAD after PT_GNU_STACK"
    );
    let end = loads
        .iter()
        .map(|&h| u64_at(good, h + 16) + u64_at(good, h + 40))
        .max()
        .unwrap();
    let (dyn_off, dyn_size) = (
        usize_of(u64_at(good, dynamic + 8)),
        usize_of(u64_at(good, dynamic + 32)),
    );
    // The original entries, then the repeats, then DT_NULL. Streamed to the file, not built in
    // memory: a big test process would raise the RSS floor of every child it spawns (rss_floor).
    let mut entries = Vec::new();
    let mut needed = None;
    for e in (dyn_off..dyn_off + dyn_size).step_by(16) {
        let tag = u64_at(good, e);
        if tag == DT_NULL {
            break;
        }
        if tag == DT_NEEDED && needed.is_none() {
            needed = Some(u64_at(good, e + 8));
        }
        entries.extend_from_slice(&good[e..e + 16]);
    }
    let needed = needed.expect("fixture: no DT_NEEDED to repeat");
    let size = (entries.len() + 16 * (count + 1)) as u64;
    let (region, vaddr) = (
        align_up(good.len() as u64, 0x1000),
        align_up(end, 0x1000) + 0x1000,
    );
    put_u32(&mut b, stack, PT_LOAD);
    put_u32(&mut b, stack + 4, 6); // PF_R | PF_W, like the segment holding .dynamic
    put_u64(&mut b, stack + 48, 0x1000);
    for h in [stack, dynamic] {
        for (field, v) in [
            (8, region),
            (16, vaddr),
            (24, vaddr),
            (32, size),
            (40, size),
        ] {
            put_u64(&mut b, h + field, v);
        }
    }
    let mut w = io::BufWriter::new(File::create(out).unwrap());
    w.write_all(&b).unwrap();
    w.write_all(&vec![0; usize_of(region) - b.len()]).unwrap();
    w.write_all(&entries).unwrap();
    let mut repeat = [0u8; 16];
    repeat[..8].copy_from_slice(&DT_NEEDED.to_le_bytes());
    repeat[8..].copy_from_slice(&needed.to_le_bytes());
    for _ in 0..count {
        w.write_all(&repeat).unwrap();
    }
    w.write_all(&[0; 16]).unwrap();
    w.flush().unwrap();
}

/// Run-time edges read configuration and follow names the root chooses: none of it may open a
/// FIFO or leave the root. nsswitch.conf, a PAM service file, a Python extension module and the
/// library a `.note.dlopen` note names are FIFO traps; the note also names paths aiming out of the
/// root. `scan`, `tree` and `check` finish, and no trap fires.
#[test]
fn runtime_configuration_is_never_opened_when_hostile() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    for d in [
        "etc/pam.d",
        "usr/bin",
        "usr/lib/python3.99/lib-dynload",
        "lib64",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::create_dir_all(&lib).expect("mkdir");
    for (from, to) in [
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
        ),
    ] {
        std::fs::copy(std::fs::canonicalize(from).expect(from), root.join(to)).expect("copy");
    }
    std::fs::write(root.join("usr/lib/python3.99/os.py"), "").expect("os.py");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime_src/dlopen_note.c");
    let json = r#"-DNOTE_JSON="[{\"soname\":[\"../../../etc/shadow\",\"/etc/passwd\",\"fifo.so\"],\"priority\":\"required\"}]""#;
    let prog = root.join("usr/bin/python3.99");
    gcc(&[
        OsStr::new(json),
        OsStr::new("-o"),
        prog.as_os_str(),
        src.as_os_str(),
    ]);
    let traps: Vec<FifoTrap> = [
        root.join("etc/nsswitch.conf"),
        root.join("etc/pam.d/python3.99"),
        root.join("usr/lib/python3.99/lib-dynload/_x.so"),
        lib.join("fifo.so"),
    ]
    .iter()
    .map(|p| {
        support::mkfifo(p);
        FifoTrap::arm(p)
    })
    .collect();
    for args in [
        vec!["scan", "-f", "json"],
        vec!["tree", "-f", "json"],
        vec!["check", "-f", "json"],
    ] {
        let mut cmd = support::Elfdeps::new(&args[..1])
            .arg(&root)
            .args(if args[0] == "tree" {
                vec!["/usr/bin/python3.99"]
            } else {
                vec![]
            })
            .args(&args[1..])
            .timeout(Duration::from_secs(60));
        cmd = cmd.env("NO_COLOR", "1");
        let out = cmd.output();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "elfdeps {args:?} on a root of hostile run-time configuration: {}",
            support::describe(&out)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if args[0] == "tree" {
            let runtime = doc["runtime"].as_array().expect("tree's run-time edges");
            // The note's names outside the root and the FIFO load nothing.
            assert!(
                runtime
                    .iter()
                    .filter(|e| e["rule"] == "dlopen-note")
                    .all(|e| e["loads"].as_array().is_some_and(|l| l.is_empty())),
                "{runtime:?}"
            );
        }
    }
    for t in traps {
        let path = t.path.clone();
        assert!(!t.release(), "{} was opened", path.display());
    }
}

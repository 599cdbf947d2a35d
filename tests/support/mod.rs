//! Helpers shared by the integration tests (`mod support;`): the cached real test roots, loud skips
//! that are failures in CI, running `elfdeps scan`, the JSON name escaping of docs/json.md, and
//! independent oracles for ELF facts (scanelf for "which files are ELF", readelf and goblin for the
//! dynamic section, the interpreter and the version needs).
//!
//! Not every test file uses every helper, hence the blanket `dead_code` allowance.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub mod reduced;

// ---------------------------------------------------------------------------------------------
// Skips that cannot go unnoticed
// ---------------------------------------------------------------------------------------------

/// True when the `CI` environment variable is set (to anything but "", "0" or "false"). In CI a
/// test that cannot run is a failure: a silently skipped oracle test proves nothing.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Writes straight to the process's stderr, bypassing libtest's output capture (which only
/// catches the `print!`/`eprint!` macros), so the line shows even for a passing test.
pub fn loud(message: &str) {
    let mut line = message.to_owned();
    if !line.ends_with('\n') {
        line.push('\n');
    }
    // One write call, so lines from tests running in parallel do not interleave mid-line.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A test that cannot run: panics in CI, and elsewhere says so loudly on stderr. The caller
/// returns right after.
pub fn skip(what: &str, reason: &str) {
    if in_ci() {
        panic!("{what} cannot run (CI is set, so this is a failure, not a skip): {reason}");
    }
    loud(&format!(
        "\n*** SKIPPED (not run!): {what}: {reason}\n*** (with CI=true this is a failure)\n"
    ));
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// True when we run as uid 0. Otherwise: a failure in CI, a loud skip elsewhere.
pub fn require_root_or_skip(what: &str) -> bool {
    let euid = euid();
    if euid == 0 {
        return true;
    }
    skip(
        what,
        &format!("it needs uid 0 and runs as uid {euid}; run the tests as root"),
    );
    false
}

/// True when `tool --version` runs. Otherwise: a failure in CI, a loud skip elsewhere.
pub fn require_tool_or_skip(tool: &str, package: &str, what: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(
            what,
            &format!("`{tool}` is not installed (apt-get install {package}, or run scripts/test)"),
        );
    }
    ok
}

// ---------------------------------------------------------------------------------------------
// The real test roots (scripts/prepare-roots)
// ---------------------------------------------------------------------------------------------

static ROOTS: OnceLock<Result<HashMap<String, PathBuf>, String>> = OnceLock::new();

/// The real roots by key (`debian`, `alpine-x86_64`, ...), built or reused once per test binary by
/// `scripts/prepare-roots`. `None` (after a loud skip) when they cannot be had; a panic in CI.
pub fn roots() -> Option<&'static HashMap<String, PathBuf>> {
    match ROOTS.get_or_init(prepare_roots) {
        Ok(map) => Some(map),
        Err(reason) => {
            skip("real-root tests (they need the cached test roots)", reason);
            None
        }
    }
}

/// One real root by key; see [`roots`].
pub fn root(key: &str) -> Option<&'static Path> {
    let roots = roots()?;
    let path = roots.get(key).unwrap_or_else(|| {
        panic!("scripts/prepare-roots printed no `{key}=` line (it printed {roots:?})")
    });
    Some(path)
}

fn prepare_roots() -> Result<HashMap<String, PathBuf>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/prepare-roots");
    let hint = "run scripts/prepare-roots (as root: it builds the Debian root with mmdebstrap)";
    let mut child = Command::new(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}; {hint}", script.display()))?;
    // Its messages are passed on as they come (a first build of the Debian root takes minutes),
    // and the last ones are kept for the skip or failure message.
    let stderr = child.stderr.take().expect("piped stderr");
    let forward = std::thread::spawn(move || {
        let mut last = std::collections::VecDeque::new();
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).into_owned();
            loud(&line);
            if last.len() == 15 {
                last.pop_front();
            }
            last.push_back(line);
        }
        Vec::from(last).join("\n    ")
    });
    let mut stdout = Vec::new();
    let read = child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut stdout);
    let status = child.wait();
    let tail = forward.join().unwrap_or_default();
    let status = status.map_err(|e| format!("waiting for {}: {e}", script.display()))?;
    read.map_err(|e| format!("reading the output of {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} failed ({status}); {hint}. Its last messages:\n    {tail}",
            script.display(),
        ));
    }
    let mut map = HashMap::new();
    for line in stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let eq = line.iter().position(|&b| b == b'=').ok_or_else(|| {
            let line = String::from_utf8_lossy(line);
            format!("unexpected line from prepare-roots: {line:?}")
        })?;
        let key = String::from_utf8_lossy(&line[..eq]).into_owned();
        let path = PathBuf::from(OsStr::from_bytes(&line[eq + 1..]));
        if !path.is_dir() {
            return Err(format!(
                "prepare-roots said {key}={path:?}, which is no directory; {hint}"
            ));
        }
        map.insert(key, path);
    }
    if map.is_empty() {
        return Err(format!("prepare-roots printed no roots; {hint}"));
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// Running elfdeps
// ---------------------------------------------------------------------------------------------

pub fn elfdeps_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_elfdeps"))
}

/// `elfdeps ARGS` with stdin from /dev/null (a test never waits on a terminal), without the
/// caller's NO_COLOR (so a developer's setting cannot change what a test sees), stdout and stderr
/// captured. Whatever the exit, the [`Output`](std::process::Output) is returned: callers assert
/// on the status themselves (see [`describe`] for the message).
pub fn elfdeps<S: AsRef<OsStr>>(args: &[S]) -> std::process::Output {
    Elfdeps::new(args).output()
}

/// One run of the built binary, for the callers that need more than [`elfdeps`]: an environment
/// variable set or removed, bytes on stdin, another working directory, a time limit.
pub struct Elfdeps {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Option<std::time::Duration>,
}

impl Elfdeps {
    pub fn new<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Self {
        let mut cmd = Command::new(elfdeps_bin());
        cmd.args(args).env_remove("NO_COLOR");
        Elfdeps {
            cmd,
            stdin: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// These bytes on stdin (then end of file) instead of /dev/null.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Killed, and the test failed, when the run lasts longer: for the runs that could hang (on a
    /// FIFO, on a racing writer) if elfdeps had a bug.
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    pub fn output(mut self) -> std::process::Output {
        let what = format!("{:?}", self.cmd);
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        // Fed and drained on threads, so neither side can block the other or the time limit.
        let feed = self.stdin.take().map(|bytes| {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // A write error (elfdeps exited without reading everything) is its business, not ours.
            std::thread::spawn(move || drop(pipe.write_all(&bytes)))
        });
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = match self.timeout {
            None => child.wait().expect("wait for elfdeps"),
            Some(limit) => {
                let start = std::time::Instant::now();
                loop {
                    if let Some(status) = child.try_wait().expect("wait for elfdeps") {
                        break status;
                    }
                    if start.elapsed() > limit {
                        let _ = child.kill();
                        let _ = child.wait();
                        let err = stderr.join().unwrap_or_default();
                        panic!(
                            "{what} did not finish in {limit:?} (killed: it hung); stderr:\n{}",
                            String::from_utf8_lossy(&err)
                        );
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        };
        if let Some(feed) = feed {
            let _ = feed.join();
        }
        std::process::Output {
            status,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// A run's exit, stdout and stderr, for an assertion message.
pub fn describe(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `elfdeps scan ROOT --format json -q`: must exit 0 and print an `elfdeps/1` document.
pub fn scan_json(root: &Path) -> Value {
    let out = Elfdeps::new(["scan"])
        .arg(root)
        .args(["--format", "json", "-q"])
        .output();
    assert!(
        out.status.success(),
        "elfdeps scan {} --format json -q failed ({}):\n{}",
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("elfdeps scan {}: stdout is not JSON: {e}", root.display()));
    assert_eq!(doc["schema"], "elfdeps/1", "unexpected schema");
    doc
}

/// The report's objects by their (escaped, in-root) path.
pub fn objects_by_path(doc: &Value) -> BTreeMap<String, &Value> {
    let objects = doc["objects"].as_array().expect("objects is an array");
    let mut map = BTreeMap::new();
    for o in objects {
        let path = o["path"].as_str().expect("object path is a string");
        assert!(
            map.insert(path.to_owned(), o).is_none(),
            "{path} reported twice"
        );
    }
    map
}

/// One entry of the report's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The report's per-file errors by path.
pub fn errors_by_path(doc: &Value) -> BTreeMap<String, FileError> {
    let errors = doc["errors"].as_array().expect("errors is an array");
    errors
        .iter()
        .map(|e| {
            let field = |name: &str| {
                e[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("error {name} is not a string: {e}"))
                    .to_owned()
            };
            let error = FileError {
                code: field("code"),
                message: field("message"),
            };
            (field("path"), error)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Names are bytes (docs/json.md)
// ---------------------------------------------------------------------------------------------

/// The JSON form of a byte-string name: valid UTF-8 as is, every other byte as `\xNN` (lower-case
/// hex) and a literal backslash as `\\`.
pub fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}").unwrap();
        }
    }
    out
}

/// The inverse of [`escape_name`]. Panics on an escape the contract does not allow.
pub fn unescape_name(name: &str) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let hex = name
                .get(i + 1..i + 4)
                .and_then(|h| h.strip_prefix('x'))
                .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .unwrap_or_else(|| panic!("bad escape in name {name:?}"));
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        }
    }
    out
}

/// The file system path of an in-root JSON path (`/usr/bin/ls` under `root`).
pub fn host_path(root: &Path, json_path: &str) -> PathBuf {
    let bytes = unescape_name(json_path);
    let rel = bytes.strip_prefix(b"/").unwrap_or(&bytes);
    root.join(OsStr::from_bytes(rel))
}

// ---------------------------------------------------------------------------------------------
// Path sets
// ---------------------------------------------------------------------------------------------

/// None when the sets are equal; otherwise a report of the first differing paths on each side.
/// `annotate` may add a note to a path (for example elfdeps's per-file error for it).
pub fn diff_path_sets(
    left_name: &str,
    left: &BTreeSet<String>,
    right_name: &str,
    right: &BTreeSet<String>,
    annotate: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    const SHOW: usize = 20;
    let only_left: Vec<&String> = left.difference(right).collect();
    let only_right: Vec<&String> = right.difference(left).collect();
    if only_left.is_empty() && only_right.is_empty() {
        return None;
    }
    let mut report = format!(
        "ELF path sets differ: {left_name} {} paths, {right_name} {} paths",
        left.len(),
        right.len()
    );
    for (name, only) in [(left_name, &only_left), (right_name, &only_right)] {
        write!(report, "\n  only in {name} ({}):", only.len()).unwrap();
        for p in only.iter().take(SHOW) {
            write!(report, "\n    {p}").unwrap();
            if let Some(note) = annotate(p) {
                write!(report, "    [{note}]").unwrap();
            }
        }
        if only.len() > SHOW {
            write!(report, "\n    ... and {} more", only.len() - SHOW).unwrap();
        }
    }
    Some(report)
}

// ---------------------------------------------------------------------------------------------
// scanelf: which files are ELF
// ---------------------------------------------------------------------------------------------

/// The ELF files under `root` according to `scanelf -RmBF %F`, as escaped in-root paths, made
/// comparable with elfdeps's `objects[].path`.
///
/// How scanelf (pax-utils 1.3) walks with -R, and why this is the normalisation:
/// - It lstat()s every directory entry and scans regular files only; a symlink met while walking
///   is neither reported nor followed (to a file or a directory). Only a symlink named on the
///   command line is followed, so ROOT is canonicalised first. elfdeps never follows symlinks
///   either, so nothing needs dropping; symlinks are still filtered out, defensively, in case a
///   future scanelf reports them.
/// - It does not dedupe hard links: every path of a multiply-linked file is reported, as elfdeps
///   does (it parses each inode once but reports every path).
/// - By default it crosses mount points; `-m` makes it stay where the st_dev of a directory equals
///   its parent's. elfdeps enters no mount point inside ROOT at all (openat2 RESOLVE_NO_XDEV), not
///   even a bind mount of the same file system, which `-m` would enter. So paths below any mount
///   point inside ROOT (from /proc/self/mountinfo) are dropped too.
/// - Files it cannot open are skipped silently. It judges a file ELF by its e_ident alone (magic,
///   class, data encoding): one with an unknown class is skipped, but one whose program or section
///   header table lies past the end of the file is still listed (with a warning on stderr), where
///   elfdeps reports an `elf-truncated`/`elf-invalid` error and no object. Callers decide what to
///   do with those paths; they are kept here.
/// - It prints one path per line, raw bytes: a file name containing a newline cannot be
///   represented (and makes this function panic on the garbled line).
pub fn scanelf_elf_paths(root: &Path) -> BTreeSet<String> {
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", root.display()));
    let out = Command::new("scanelf")
        .env("LC_ALL", "C")
        .args(["-R", "-m", "-B", "-F", "%F"])
        .arg(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run scanelf");
    assert!(
        out.status.success(),
        "scanelf -RmBF %F {} failed ({}): {}",
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // scanelf joins names as ROOT + "/" + name unless ROOT already ends in '/'.
    let prefix = root.as_os_str().as_bytes();
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    let mounts = mount_points_inside(&root);
    let mut paths = BTreeSet::new();
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let in_root = line
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with(b"/"))
            .unwrap_or_else(|| {
                panic!(
                    "scanelf printed a path outside {}: {:?}",
                    root.display(),
                    String::from_utf8_lossy(line)
                )
            });
        let below_mount = mounts
            .iter()
            .any(|m| in_root.starts_with(m) && in_root.get(m.len()) == Some(&b'/'));
        let is_symlink = std::fs::symlink_metadata(OsStr::from_bytes(line))
            .is_ok_and(|m| m.file_type().is_symlink());
        if !below_mount && !is_symlink {
            paths.insert(escape_name(in_root));
        }
    }
    paths
}

/// Mount points strictly inside `root` (canonical), as in-root byte paths, from
/// /proc/self/mountinfo (field 5, with `\NNN` octal escapes for space, tab, newline, backslash).
pub fn mount_points_inside(root: &Path) -> Vec<Vec<u8>> {
    let Ok(info) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let root = root.as_os_str().as_bytes();
    let root = root.strip_suffix(b"/").unwrap_or(root);
    let mut inside = Vec::new();
    for line in info.split(|&b| b == b'\n') {
        let Some(field) = line.split(|&b| b == b' ').nth(4) else {
            continue;
        };
        let mount = unescape_octal(field);
        if let Some(rest) = mount.strip_prefix(root)
            && rest.len() > 1
            && rest.starts_with(b"/")
        {
            inside.push(rest.to_vec());
        }
    }
    inside
}

fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let oct = field.get(i + 1..i + 4);
        match oct {
            Some(o) if field[i] == b'\\' && o.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
                i += 4;
            }
            _ => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Dynamic facts of one ELF file, as elfdeps and the oracles see them
// ---------------------------------------------------------------------------------------------

/// The facts compared between elfdeps and the oracles, with names in their JSON (escaped) form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfFacts {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub interp: Option<String>,
    pub rpath: Option<Vec<String>>,
    pub runpath: Option<Vec<String>>,
    pub version_needs: Vec<VersionNeed>,
}

/// One DT_VERNEED entry: the file and its (version name, weak) pairs, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub versions: Vec<(String, bool)>,
}

impl ElfFacts {
    /// The facts of one `objects[]` entry of the JSON report.
    pub fn from_json(o: &Value) -> Result<Self, String> {
        fn string(v: &Value, what: &str) -> Result<String, String> {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{what} is not a string: {v}"))
        }
        fn opt_string(v: &Value, what: &str) -> Result<Option<String>, String> {
            if v.is_null() {
                Ok(None)
            } else {
                string(v, what).map(Some)
            }
        }
        fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
            v.as_array()
                .ok_or_else(|| format!("{what} is not an array: {v}"))?
                .iter()
                .map(|s| string(s, what))
                .collect()
        }
        fn opt_strings(v: &Value, what: &str) -> Result<Option<Vec<String>>, String> {
            if v.is_null() {
                Ok(None)
            } else {
                strings(v, what).map(Some)
            }
        }
        let mut version_needs = Vec::new();
        let needs = o["version_needs"]
            .as_array()
            .ok_or("version_needs is not an array")?;
        for need in needs {
            let mut versions = Vec::new();
            for v in need["versions"]
                .as_array()
                .ok_or("version_needs[].versions is not an array")?
            {
                let name = string(&v["name"], "version name")?;
                let weak = v["weak"].as_bool().ok_or("version weak is not a bool")?;
                versions.push((name, weak));
            }
            version_needs.push(VersionNeed {
                file: string(&need["file"], "version_needs[].file")?,
                versions,
            });
        }
        Ok(ElfFacts {
            needed: strings(&o["needed"], "needed")?,
            soname: opt_string(&o["soname"], "soname")?,
            interp: opt_string(&o["interp"], "interp")?,
            rpath: opt_strings(&o["rpath"], "rpath")?,
            runpath: opt_strings(&o["runpath"], "runpath")?,
            version_needs,
        })
    }

    /// One line per differing field, `field: <mine_name> X, <other_name> Y`; empty when equal.
    /// With `with_versions` false, version_needs are not compared.
    pub fn differences(
        &self,
        mine_name: &str,
        other: &ElfFacts,
        other_name: &str,
        with_versions: bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut field = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: {mine_name} {a}, {other_name} {b}"));
            }
        };
        field(
            "needed",
            format!("{:?}", self.needed),
            format!("{:?}", other.needed),
        );
        field(
            "soname",
            format!("{:?}", self.soname),
            format!("{:?}", other.soname),
        );
        field(
            "interp",
            format!("{:?}", self.interp),
            format!("{:?}", other.interp),
        );
        field(
            "rpath",
            format!("{:?}", self.rpath),
            format!("{:?}", other.rpath),
        );
        field(
            "runpath",
            format!("{:?}", self.runpath),
            format!("{:?}", other.runpath),
        );
        if with_versions {
            field(
                "version_needs",
                format_needs(&self.version_needs),
                format_needs(&other.version_needs),
            );
        }
        out
    }
}

fn format_needs(needs: &[VersionNeed]) -> String {
    let items: Vec<String> = needs
        .iter()
        .map(|n| {
            let versions: Vec<String> = n
                .versions
                .iter()
                .map(|(name, weak)| {
                    if *weak {
                        format!("{name}(weak)")
                    } else {
                        name.clone()
                    }
                })
                .collect();
            format!("{}: {}", n.file, versions.join(" "))
        })
        .collect();
    format!("[{}]", items.join("; "))
}

/// A DT_RPATH/DT_RUNPATH string as the JSON has it: split on ':', unexpanded, empty parts kept.
fn split_search_path(s: &str) -> Vec<String> {
    s.split(':').map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------------------------
// readelf oracle
// ---------------------------------------------------------------------------------------------

/// What readelf said about a set of files.
#[derive(Debug, Default)]
pub struct ReadelfOutput {
    /// Facts by the path as passed in; a file readelf printed nothing for is absent.
    pub facts: HashMap<PathBuf, ElfFacts>,
    /// Everything readelf wrote to stderr (warnings, errors), for reports.
    pub stderr: String,
}

/// Runs `readelf -dlVW` on `files`: many files per process (readelf prints a `File: NAME` header
/// before each when given several), several processes in parallel.
pub fn readelf_facts(files: &[PathBuf]) -> ReadelfOutput {
    const BATCH: usize = 64;
    let batches: Vec<&[PathBuf]> = files.chunks(BATCH).collect();
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut result = ReadelfOutput::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut part = ReadelfOutput::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else { break };
                        let out = Command::new("readelf")
                            .env("LC_ALL", "C")
                            .args(["-d", "-l", "-V", "-W", "--"])
                            .args(batch.iter())
                            .stdin(Stdio::null())
                            .output()
                            .expect("run readelf");
                        // readelf exits non-zero when it had an error with any file; the files
                        // it printed nothing for are reported by the caller as missing.
                        part.facts.extend(parse_readelf(&out.stdout, batch));
                        part.stderr.push_str(&String::from_utf8_lossy(&out.stderr));
                    }
                    part
                })
            })
            .collect();
        for h in handles {
            let part = h.join().expect("readelf worker panicked");
            result.facts.extend(part.facts);
            result.stderr.push_str(&part.stderr);
        }
    });
    result
}

/// Parses the output of `readelf -dlVW FILES...` (binutils 2.40, LC_ALL=C). The output of each
/// file starts with a `File: NAME` line, unless exactly one file was given.
///
/// Lines used (all other output is ignored):
/// ```text
///       [Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]      (-l)
///  0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]      (-d)
///  0x000000000000000e (SONAME)             Library soname: [libfoo.so.1]
///  0x000000000000000f (RPATH)              Library rpath: [$ORIGIN:/opt/lib]
///  0x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN/../lib]
/// Version needs section '.gnu.version_r' contains 2 entries:                (-V)
///  Addr: 0x0000000000001718  Offset: 0x00001718  Link: 7 (.dynstr)
///   000000: Version: 1  File: libc.so.6  Cnt: 2
///   0x0010:   Name: GLIBC_2.2.5  Flags: none  Version: 3
///   0x0020:   Name: GLIBC_2.34  Flags: WEAK  Version: 4
/// ```
/// Note that readelf reads the version needs from the `.gnu.version_r` section (section headers),
/// elfdeps from DT_VERNEED (the dynamic segment); they agree for every normally linked file.
pub fn parse_readelf(stdout: &[u8], files: &[PathBuf]) -> HashMap<PathBuf, ElfFacts> {
    let by_header: HashMap<&[u8], &PathBuf> = files
        .iter()
        .map(|f| (f.as_os_str().as_bytes(), f))
        .collect();
    let mut facts: HashMap<PathBuf, ElfFacts> = HashMap::new();
    // The file being read and its facts so far; stored into `facts` at the next header.
    // With a single file there is no header; readelf prints nothing on stdout when it fails.
    let mut current: Option<(&PathBuf, ElfFacts)> = match files {
        [only] if !stdout.is_empty() => Some((only, ElfFacts::default())),
        _ => None,
    };
    let mut in_verneed = false;
    for line in stdout.split(|&b| b == b'\n') {
        if files.len() > 1
            && let Some(name) = line.strip_prefix(b"File: ")
            && let Some(&file) = by_header.get(name)
        {
            if let Some((done, f)) = current.replace((file, ElfFacts::default())) {
                facts.insert(done.clone(), f);
            }
            in_verneed = false;
            continue;
        }
        let Some((_, f)) = current.as_mut() else {
            continue;
        };

        if line.starts_with(b"Version needs section ") {
            in_verneed = true;
            continue;
        }
        if in_verneed {
            // The section ends at a blank line or the next unindented heading.
            if line.is_empty() || !line.starts_with(b" ") {
                in_verneed = false;
            } else {
                parse_verneed_line(line, &mut f.version_needs);
                continue;
            }
        }

        let t = trim_start(line);
        if let Some(interp) = t
            .strip_prefix(b"[Requesting program interpreter: ")
            .and_then(|r| r.strip_suffix(b"]"))
        {
            f.interp = Some(escape_name(interp));
        } else if let Some((tag, value)) = dynamic_entry(t) {
            let bracketed = |prefix: &[u8]| {
                value
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix(b"]"))
                    .map(escape_name)
            };
            match tag {
                b"NEEDED" => f.needed.extend(bracketed(b"Shared library: [")),
                b"SONAME" => f.soname = bracketed(b"Library soname: ["),
                b"RPATH" => {
                    if let Some(s) = bracketed(b"Library rpath: [") {
                        f.rpath
                            .get_or_insert_default()
                            .extend(split_search_path(&s));
                    }
                }
                b"RUNPATH" => {
                    if let Some(s) = bracketed(b"Library runpath: [") {
                        f.runpath
                            .get_or_insert_default()
                            .extend(split_search_path(&s));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((done, f)) = current {
        facts.insert(done.clone(), f);
    }
    facts
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// `0x000000000000000e (SONAME)             Library soname: [x]` -> (`SONAME`, `Library soname: [x]`).
fn dynamic_entry(t: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = t.strip_prefix(b"0x")?;
    let hex = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let rest = rest[hex..].strip_prefix(b" (")?;
    let close = rest.iter().position(|&c| c == b')')?;
    Some((&rest[..close], trim_start(&rest[close + 1..])))
}

/// `  000000: Version: 1  File: libc.so.6  Cnt: 2` starts a need,
/// `  0x0010:   Name: GLIBC_2.2.5  Flags: none  Version: 3` adds a version to the last one.
fn parse_verneed_line(line: &[u8], needs: &mut Vec<VersionNeed>) {
    let t = trim_start(line);
    let Some(colon) = t.windows(2).position(|w| w == b": ") else {
        return;
    };
    let rest = trim_start(&t[colon + 2..]);
    if rest.starts_with(b"Version: ") {
        if let Some(file) = between(rest, b"  File: ", b"  Cnt: ") {
            needs.push(VersionNeed {
                file: escape_name(file),
                versions: Vec::new(),
            });
        }
    } else if let Some(after) = rest.strip_prefix(b"Name: ") {
        let name_end = find(after, b"  Flags: ").unwrap_or(after.len());
        let flags = between(rest, b"  Flags: ", b"  Version: ").unwrap_or(b"");
        // Flags read "none", "WEAK", "BASE | WEAK", "WEAK | INFO", ...
        let weak = find(flags, b"WEAK").is_some();
        if let Some(need) = needs.last_mut() {
            need.versions.push((escape_name(&after[..name_end]), weak));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn between<'a>(hay: &'a [u8], start: &[u8], end: &[u8]) -> Option<&'a [u8]> {
    let s = find(hay, start)? + start.len();
    let e = s + find(&hay[s..], end)?;
    Some(&hay[s..e])
}

// ---------------------------------------------------------------------------------------------
// goblin oracle
// ---------------------------------------------------------------------------------------------

/// The facts of one ELF image according to goblin (permissive parse), normalised to the JSON
/// conventions.
///
/// goblin locates everything: the program headers (PT_INTERP), the dynamic section and its
/// entries, DT_STRTAB mapped to a file offset, the `.gnu.version_r` section. The strings are then
/// read here as raw bytes at the offsets goblin gives, because goblin's own string tables only
/// hold valid UTF-8 (it yields "" for any other name) while names are bytes (docs/json.md).
/// goblin keeps each DT_RPATH/DT_RUNPATH entry whole; they are split on ':' here, and several
/// entries of one tag are concatenated, as readelf's are in [`parse_readelf`].
pub fn goblin_facts(bytes: &[u8]) -> Result<ElfFacts, String> {
    use goblin::elf::Elf;
    use goblin::elf::dynamic::{DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME};
    use goblin::elf::program_header::PT_INTERP;
    use goblin::elf::symver::VER_FLG_WEAK;
    use goblin::options::ParseOptions;

    let elf =
        Elf::parse_with_opts(bytes, &ParseOptions::permissive()).map_err(|e| e.to_string())?;

    // PT_INTERP: a NUL-terminated path. As in goblin's own `interpreter`, the last one wins and
    // one with p_filesz 0 is none (separate debug-info files have such segments, without
    // contents; readelf says "Unable to find program interpreter name").
    let mut interp = None;
    let interps = elf.program_headers.iter();
    for ph in interps.filter(|ph| ph.p_type == PT_INTERP && ph.p_filesz != 0) {
        let range = usize::try_from(ph.p_offset)
            .ok()
            .zip(usize::try_from(ph.p_filesz).ok())
            .and_then(|(start, len)| bytes.get(start..start.checked_add(len)?));
        let raw = range.ok_or("PT_INTERP lies outside the file")?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        interp = Some(escape_name(&raw[..end]));
    }

    let mut facts = ElfFacts {
        interp,
        ..ElfFacts::default()
    };
    let Some(dynamic) = &elf.dynamic else {
        return Ok(facts);
    };
    let (strtab, strsz) = (dynamic.info.strtab, dynamic.info.strsz);
    let string = |offset: u64| -> String {
        let table = bytes.get(strtab..strtab.saturating_add(strsz).min(bytes.len()));
        let s = usize::try_from(offset)
            .ok()
            .zip(table)
            .and_then(|(off, table)| table.get(off..))
            .and_then(|rest| rest.iter().position(|&b| b == 0).map(|end| &rest[..end]));
        s.map_or_else(|| format!("<bad string offset {offset}>"), escape_name)
    };
    for d in &dynamic.dyns {
        match d.d_tag {
            DT_NEEDED => facts.needed.push(string(d.d_val)),
            DT_SONAME => facts.soname = Some(string(d.d_val)),
            DT_RPATH => facts
                .rpath
                .get_or_insert_default()
                .extend(split_search_path(&string(d.d_val))),
            DT_RUNPATH => facts
                .runpath
                .get_or_insert_default()
                .extend(split_search_path(&string(d.d_val))),
            _ => {}
        }
    }
    if let Some(verneed) = &elf.verneed {
        for need in verneed.iter() {
            facts.version_needs.push(VersionNeed {
                file: string(need.vn_file as u64),
                versions: need
                    .iter()
                    .map(|aux| {
                        (
                            string(aux.vna_name as u64),
                            aux.vna_flags & VER_FLG_WEAK != 0,
                        )
                    })
                    .collect(),
            });
        }
    }
    Ok(facts)
}

/// Runs `f` over `items` on a few threads, keeping the order of `items` in the result.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 8);
    let chunk = items.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Bounded runs
// ---------------------------------------------------------------------------------------------

/// What a bounded child run gave.
pub struct BoundedRun {
    pub status: std::process::ExitStatus,
    pub elapsed: std::time::Duration,
    pub maxrss_kib: i64,
    /// User plus system CPU time of the child (its rusage).
    pub cpu: std::time::Duration,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs elfdeps with `args`, reaped with wait4 on its own pid; killed (and the test failed)
/// after `timeout`. The peak RSS is elfdeps' own, as GNU time (which scripts/test installs)
/// measures it from a small process of its own: a child spawned straight from the test process
/// starts its `ru_maxrss` at the test process's own peak (Linux folds the memory it replaces at
/// exec into the figure), which other tests' buffers make hundreds of MiB.
pub fn bounded_elfdeps(
    args: &[&std::ffi::OsStr],
    tmp: &Path,
    timeout: std::time::Duration,
) -> BoundedRun {
    use std::os::unix::process::ExitStatusExt;
    let out_path = tmp.join("bounded.stdout");
    let err_path = tmp.join("bounded.stderr");
    let rss_path = tmp.join("bounded.rss");
    let gnu_time = Path::new("/usr/bin/time");
    let mut cmd = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_path)
            .arg(elfdeps_bin());
        c
    } else {
        let why = "GNU time (/usr/bin/time) is missing, so the peak RSS is wait4's, which \
                   includes the test process's own peak (apt-get install time)";
        assert!(!in_ci(), "{why}");
        loud(why);
        Command::new(elfdeps_bin())
    };
    // Its own process group, so a timeout kills elfdeps and not only GNU time.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let start = std::time::Instant::now();
    // Reaped by wait4 below, not by Child::wait (which would discard the rusage).
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("spawn elfdeps");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if start.elapsed() > timeout {
            // SAFETY: kill(2) on the process group the child leads.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.kill();
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "elfdeps {args:?} did not finish in {timeout:?} (killed); stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    BoundedRun {
        status: std::process::ExitStatus::from_raw(status),
        elapsed: start.elapsed(),
        // The last line: GNU time puts "Command exited with non-zero status N" before it.
        maxrss_kib: std::fs::read_to_string(&rss_path)
            .ok()
            .and_then(|t| t.lines().last()?.trim().parse().ok())
            .unwrap_or(usage.ru_maxrss),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        stdout: std::fs::read(&out_path).expect("read stdout"),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
    }
}

fn timeval(t: libc::timeval) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + std::time::Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Special files
// ---------------------------------------------------------------------------------------------

/// Makes a FIFO at `path` (mode 0600).
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        r,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Makes a character device node at `path` (needs uid 0).
pub fn mknod_char(path: &Path, major: u32, minor: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(
        r,
        0,
        "mknod {} (as uid 0): {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

// ---------------------------------------------------------------------------------------------
// The sample root
// ---------------------------------------------------------------------------------------------

/// Sample roots built by this test binary, by directory name. Tests run on several threads, and
/// sample-rootfs/build.sh wipes its output first: two tests building the same directory at once
/// would delete each other's files, so each directory is built once, under this lock.
static SAMPLES: std::sync::Mutex<BTreeMap<String, Result<PathBuf, String>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The sample root (sample-rootfs/build.sh), built once per test binary into `dir` under Cargo's
/// per-target temporary directory (give each test file a `dir` of its own: test binaries run one
/// after another, but a name shared across files would be rebuilt under a running test).
/// `None` after a loud skip (a failure in CI) naming `what` when it cannot be built.
pub fn sample_root(dir: &str, what: &str) -> Option<PathBuf> {
    let mut built = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    let result = built
        .entry(dir.to_string())
        .or_insert_with(|| {
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-rootfs/build.sh");
            let run = Command::new(script)
                .arg(&out)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run sample-rootfs/build.sh: {e}"))?;
            if run.status.success() {
                Ok(out)
            } else {
                Err(format!(
                    "sample-rootfs/build.sh failed (it needs gcc, libc6-dev and musl-tools): {}",
                    String::from_utf8_lossy(&run.stderr)
                ))
            }
        })
        .clone();
    drop(built);
    match result {
        Ok(p) => Some(p),
        Err(e) => {
            skip(what, &e);
            None
        }
    }
}

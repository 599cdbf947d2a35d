//! What a person sees: colors that keep the columns, names as JSON spells them, grouped check
//! findings, the tree of a program whose interpreter is missing, the warning for a ROOT that is not
//! a root filesystem, the progress line only for work that lasts, and a README whose quick start
//! and example are true. Most run on the sample root (`sample-rootfs/build.sh`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn elfdeps(args: &[&str]) -> Output {
    Command::new(support::elfdeps_bin())
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run elfdeps")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

static SAMPLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The sample root, built once per test binary under Cargo's per-target temporary directory.
/// `None` after a loud skip (a failure in CI) when it cannot be built.
fn sample() -> Option<&'static Path> {
    let built = SAMPLE.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("output-sample-rootfs");
        let run =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-rootfs/build.sh"))
                .arg(&out)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run sample-rootfs/build.sh: {e}"))?;
        if run.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "sample-rootfs/build.sh failed (it needs gcc, libc6-dev and musl-tools): {}",
                stderr(&run)
            ))
        }
    });
    match built {
        Ok(p) => Some(p.as_path()),
        Err(e) => {
            support::skip("tests on the sample root", e);
            None
        }
    }
}

#[test]
fn tree_of_a_musl_program_without_its_interpreter() {
    let Some(s) = sample() else { return };
    let o = elfdeps(&["tree", s.to_str().expect("utf-8"), "/usr/bin/hello-musl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "/usr/bin/hello-musl (pie, x86_64) [musl loader /lib/ld-musl-x86_64.so.1: missing]",
            "  cannot start: its interpreter /lib/ld-musl-x86_64.so.1 cannot be opened inside the \
             root: /usr/lib/ld-musl-x86_64.so.1 does not exist",
            "  what the root's glibc loader /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 would \
             load for it (what ldd shows):",
            "└── libc.so => not found: cannot open shared object file: No such file or directory",
        ],
        "{text}"
    );
}

//! ld.so.conf with its includes (`elfdeps::resolve::env::read_ld_so_conf`): the input is the text
//! of `/etc/ld.so.conf` and of the files it may include, separated by two NUL bytes, written into
//! a fixed temporary root (include targets of every kind: a cycle back to ld.so.conf, a symlink
//! loop, a directory symlink to its parent, a 2 GiB sparse file, 300 small files, names with
//! glob metacharacters and non-UTF-8 bytes). Must never panic, hang, or read outside its bounds.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use elfdeps::progress::Progress;
use elfdeps::resolve::env::{ConfLimits, read_ld_so_conf};
use elfdeps::resolve::Snapshot;
use elfdeps::rootfs::RootFs;
use elfdeps::scan::{self, ScanOptions};
use elfdeps::tree::Tree;
use libfuzzer_sys::fuzz_target;

/// The files whose text the input gives, in order (the first is ld.so.conf itself).
const FILES: &[&str] = &[
    "etc/ld.so.conf",
    "etc/ld.so.conf.d/libc.conf",
    "etc/ld.so.conf.d/x86_64-linux-gnu.conf",
    "etc/ld.so.conf.d/.hidden.conf",
    "etc/ld.so.conf.d/a[b].conf",
    "etc/ld.so.conf.d/star*.conf",
    "etc/sub/deeper/one.conf",
    "etc/sub/two",
];

struct Root {
    _dir: tempfile::TempDir,
    path: PathBuf,
    tree: Tree,
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path().to_path_buf();
        for d in ["etc/ld.so.conf.d", "etc/sub/deeper", "etc/many", "opt/lib"] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        for f in FILES {
            std::fs::write(r.join(f), b"").expect("write");
        }
        let link = |target: &str, at: &str| {
            std::os::unix::fs::symlink(target, r.join(at)).expect("symlink");
        };
        link("../ld.so.conf", "etc/ld.so.conf.d/back.conf");
        link("loop.conf", "etc/ld.so.conf.d/loop.conf");
        link("..", "etc/sub/up");
        link("/etc/ld.so.conf", "etc/sub/abs.conf");
        link("../../../../../../etc/sub/two", "etc/sub/escape.conf");
        link("missing.conf", "etc/ld.so.conf.d/dangling.conf");
        std::fs::write(
            r.join("etc/ld.so.conf.d").join("a".repeat(200)),
            b"/opt/a\n",
        )
        .expect("w");
        std::fs::write(
            r.join(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(
                    b"etc/ld.so.conf.d/\xff.conf",
                ),
            ),
            b"/opt/ff\n",
        )
        .expect("w");
        let huge = std::fs::File::create(r.join("etc/sub/huge.conf")).expect("create");
        std::io::Write::write_all(&mut &huge, b"/opt/huge\n").expect("w");
        huge.set_len(2 << 30).expect("sparse");
        for i in 0..300 {
            std::fs::write(
                r.join(format!("etc/many/{i:03}.conf")),
                format!("/opt/many/{i}\ninclude ../many/{:03}.conf\n", (i + 1) % 300),
            )
            .expect("w");
        }
        // The tree holds paths and kinds only: written once, it stays right while the contents
        // of FILES change from one input to the next.
        let tree = scan::scan(&r, &ScanOptions::default(), &Progress::hidden())
            .expect("scan")
            .tree;
        Root {
            _dir: dir,
            path: r,
            tree,
        }
    })
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
}

fuzz_target!(|data: &[u8]| {
    let r = root();
    let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
    // Two NUL bytes in a row end a file's text; a single NUL stays in it (it ends a line).
    let mut prev_nul = false;
    for &b in data {
        if b == 0 && prev_nul {
            texts.last_mut().expect("text").pop();
            texts.push(Vec::new());
            prev_nul = false;
            continue;
        }
        prev_nul = b == 0;
        texts.last_mut().expect("text").push(b);
    }
    for (i, f) in FILES.iter().enumerate() {
        write(&r.path.join(f), texts.get(i).map_or(&[][..], |t| &t[..]));
    }
    let rootfs = RootFs::open(&r.path).expect("root");
    let limits = ConfLimits::default();
    let view = Snapshot::new(&rootfs, &r.tree, &[]);
    let read = read_ld_so_conf(&view, &limits);
    assert!(read.dirs.len() <= limits.max_dirs);
    assert!(read.files.len() <= limits.max_files);
    assert!(read.warnings.len() <= 17);
    let mut seen = std::collections::HashSet::new();
    for d in &read.dirs {
        assert!(seen.insert(d.as_bytes()), "a directory listed twice");
    }
    for f in &read.files {
        assert!(
            f.as_bytes().starts_with(b"/"),
            "a canonical path inside the root"
        );
    }
});

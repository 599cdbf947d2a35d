//! `insecure-rpath`: RPATH/RUNPATH entries someone else may control: empty ones (the working
//! directory), relative ones, ones missing from the root (build paths: whoever creates them
//! injects libraries), world-writable directories.

use std::collections::HashSet;

use super::input::Input;
use super::{Code, Finding, Severity};
use crate::name::ByteStr;
use crate::resolve::Resolved;
use crate::scan::Object;
use crate::tree::{Entry, Tree};

/// What an entry is, before looking at the root.
enum Kind<'e> {
    /// Empty: the current working directory.
    Empty,
    /// `$ORIGIN`-relative, or with another token: not judged.
    Token,
    /// Relative to the current working directory.
    Relative,
    /// An absolute directory of the root.
    Absolute(&'e [u8]),
}

fn kind(entry: &[u8]) -> Kind<'_> {
    if entry.is_empty() {
        Kind::Empty
    } else if entry.starts_with(b"$ORIGIN") || entry.starts_with(b"${ORIGIN}") {
        Kind::Token
    } else if !entry.starts_with(b"/") {
        Kind::Relative
    } else if entry.contains(&b'$') {
        Kind::Token
    } else {
        Kind::Absolute(entry)
    }
}

/// Every entry of `o`'s RPATH and RUNPATH, with the tag it comes from.
fn entries(o: &Object) -> impl Iterator<Item = (&'static str, &[u8])> {
    [("RPATH", &o.facts.rpath), ("RUNPATH", &o.facts.runpath)]
        .into_iter()
        .filter_map(|(tag, list)| Some((tag, list.as_ref()?)))
        .flat_map(|(tag, list)| {
            list.iter()
                .flat_map(|e| e.as_bytes().split(|&b| b == b':'))
                .map(move |entry| (tag, entry))
        })
}

/// The directories whose modes the check reads (canonical paths): the probes stat them.
pub fn dirs_to_stat(root: Resolved<'_>) -> Vec<ByteStr> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for o in root.objects {
        for (_, entry) in entries(o) {
            if let Kind::Absolute(dir) = kind(entry)
                && seen.insert(dir)
                && let Ok(canonical) = root.tree.resolve(dir, true)
                && matches!(root.tree.get(canonical.as_bytes()), Some(Entry::Dir))
            {
                out.push(canonical);
            }
        }
    }
    out
}

/// What is wrong with absolute directory `entry`, from the walked tree and the modes the probes
/// read (`None`: nothing, or the mode is unknown).
fn dir_problem(tree: &Tree, input: &Input<'_>, entry: &[u8]) -> Option<String> {
    let shown = ByteStr::from(entry);
    let Ok(canonical) = tree.resolve(entry, true) else {
        return Some(format!(
            "`{shown}` does not exist in the root (a build path?): anyone who can create it can inject libraries"
        ));
    };
    match tree.get(canonical.as_bytes()) {
        Some(Entry::Dir) => {}
        _ => return None,
    }
    let mode = *input.probes.dir_modes.get(&canonical)?;
    // World-writable without the sticky bit: anyone can drop a library in.
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "`{shown}` is world-writable (mode {:o}): anyone can put a library there",
            mode & 0o7777
        ));
    }
    if mode & 0o002 != 0 {
        return Some(format!(
            "`{shown}` is world-writable (mode {:o}, sticky): anyone can add a library there",
            mode & 0o7777
        ));
    }
    None
}

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for o in input.root.objects {
        for (tag, entry) in entries(o) {
            let problem = match kind(entry) {
                Kind::Empty => {
                    Some("an empty entry, which means the current working directory".to_string())
                }
                Kind::Token => None,
                Kind::Relative => Some(format!(
                    "`{}` is relative to the current working directory, which whoever starts the program controls",
                    ByteStr::from(entry)
                )),
                Kind::Absolute(dir) => dir_problem(input.root.tree, input, dir),
            };
            if let Some(p) = problem {
                out.push(
                    Finding::new(
                        Code::InsecureRpath,
                        Severity::Warning,
                        &o.path,
                        format!("{tag} entry {p}"),
                    )
                    .hint("use $ORIGIN-relative or system paths; remove build-time paths from RPATH/RUNPATH"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::testing::*;

    fn with_rpath(rpath: &[&str], runpath: &[&str]) -> crate::elf::ElfFacts {
        let mut f = program(LD);
        let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|&e| e.into()).collect());
        f.rpath = list(rpath);
        f.runpath = list(runpath);
        f
    }

    fn root_with(rpath: &[&str], runpath: &[&str]) -> Fixture {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/bin/app",
            with_rpath(rpath, runpath),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        r
    }

    #[test]
    fn entries_someone_else_controls() {
        let mut r = root_with(&["/build/here:/ww", "rel/dir"], &["/wws::/usr/lib"]);
        r.dir("/ww").dir("/wws").dir("/usr/lib");
        r.probes.dir_modes.insert("/ww".into(), 0o40777);
        r.probes.dir_modes.insert("/wws".into(), 0o41777);
        r.probes.dir_modes.insert("/usr/lib".into(), 0o40755);
        let found = r.run(check);
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "RPATH entry `/build/here` does not exist in the root (a build path?): anyone who can create it can inject libraries",
                "RPATH entry `/ww` is world-writable (mode 777): anyone can put a library there",
                "RPATH entry `rel/dir` is relative to the current working directory, which whoever starts the program controls",
                "RUNPATH entry `/wws` is world-writable (mode 1777, sticky): anyone can add a library there",
                "RUNPATH entry an empty entry, which means the current working directory",
            ]
        );
        assert!(
            found
                .iter()
                .all(|f| f.code == Code::InsecureRpath && f.severity == Severity::Warning)
        );
        // The probes stat the directories that exist, by canonical path.
        let mut dirs = dirs_to_stat(r.root());
        dirs.sort();
        assert_eq!(
            dirs,
            [ByteStr::from("/usr/lib"), "/ww".into(), "/wws".into()]
        );
    }

    #[test]
    fn origin_tokens_and_safe_directories_are_fine() {
        let mut r = root_with(&["$ORIGIN/../lib:${ORIGIN}/x"], &["/usr/$LIB:/lib:/opt/x"]);
        r.dir("/usr/lib").symlink("/lib", "usr/lib").dir("/opt/x");
        r.probes.dir_modes.insert("/usr/lib".into(), 0o40755);
        // /opt/x's mode is unknown (it did not open): nothing said.
        assert_eq!(r.run(check), []);
        assert_eq!(
            dirs_to_stat(r.root()),
            [ByteStr::from("/usr/lib"), "/opt/x".into()]
        );
    }
}

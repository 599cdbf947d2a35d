//! `stale-ld-cache`: what ldconfig would cache from the ld.so.conf directories, against
//! `/etc/ld.so.cache` (libraries missing from it, entries pointing at files that are gone).

use std::collections::HashSet;

use super::input::Input;
use super::{Code, Finding, Severity};
use crate::elf::Kind;
use crate::name::ByteStr;

/// Adds the finding of `input`, if any, to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let ld = &input.probes.ld_config;
    let tree = input.root.tree;
    // No cache: the loader reads the directories themselves, nothing can be stale.
    let Some(cache) = &ld.cache else {
        return;
    };
    let cached: HashSet<&[u8]> = cache.iter().map(|e| e.soname.as_bytes()).collect();
    let mut not_cached: Vec<String> = Vec::new();
    for dir in &ld.conf_dirs {
        let Ok(canonical) = tree.resolve(dir.as_bytes(), true) else {
            continue;
        };
        for listed in tree.children(canonical.as_bytes()) {
            let name = listed.as_bytes();
            // ldconfig looks at lib*.so* files and keys each by its soname.
            if !(name.starts_with(b"lib") && name.windows(3).any(|w| w == b".so")) {
                continue;
            }
            let path = [canonical.as_bytes(), b"/", name].concat();
            let Ok(target) = tree.resolve(&path, true) else {
                continue;
            };
            let Some(o) = input.index_of(target.as_bytes()).map(|i| input.object(i)) else {
                continue;
            };
            if o.facts.kind != Kind::SharedLibrary {
                continue;
            }
            let key = o.facts.soname.as_ref().map_or(name, |s| s.as_bytes());
            if !cached.contains(key) {
                not_cached.push(format!(
                    "{} ({})",
                    ByteStr::from(key),
                    ByteStr::from(&path[..])
                ));
            }
        }
    }
    let gone: Vec<String> = cache
        .iter()
        .filter(|e| tree.resolve(e.path.as_bytes(), true).is_err())
        .map(|e| format!("{} -> {}", e.soname, e.path))
        .collect();
    if not_cached.is_empty() && gone.is_empty() {
        return;
    }
    not_cached.sort();
    not_cached.dedup();
    let mut parts = Vec::new();
    if !not_cached.is_empty() {
        parts.push(format!(
            "{} librar{} in ld.so.conf directories missing from it: {}",
            not_cached.len(),
            if not_cached.len() == 1 { "y" } else { "ies" },
            not_cached
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !gone.is_empty() {
        parts.push(format!(
            "{} entr{} pointing at files that no longer exist: {}",
            gone.len(),
            if gone.len() == 1 { "y" } else { "ies" },
            gone.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push(
        Finding::new(
            Code::StaleLdCache,
            Severity::Warning,
            &ByteStr::from("/etc/ld.so.cache"),
            format!("/etc/ld.so.cache is stale: {}", parts.join("; ")),
        )
        .hint(
            "run ldconfig in the root (chroot ROOT ldconfig) after installing or moving libraries",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::probe::{CachedLib, LdConfig};
    use crate::check::testing::*;

    fn cached(soname: &str, path: &str) -> CachedLib {
        CachedLib {
            soname: soname.into(),
            path: path.into(),
        }
    }

    /// /usr/local/lib holds libfoo.so.1 (found by its soname), libbar.so.2 and a file that is
    /// not a library; the cache knows libbar.so.2.
    fn root(cache: Option<Vec<CachedLib>>) -> Fixture {
        let mut r = Fixture::glibc();
        let glibc = || libc(Flavor::Glibc, Confidence::High);
        r.object(
            "/usr/local/lib/libbar.so.2",
            library("libbar.so.2"),
            glibc_ok(),
            glibc(),
        );
        r.object(
            "/usr/local/lib/libfoo.so.1.0",
            library("libfoo.so.1"),
            glibc_ok(),
            glibc(),
        );
        r.symlink("/usr/local/lib/libfoo.so.1", "libfoo.so.1.0")
            .file("/usr/local/lib/README");
        r.probes.ld_config = LdConfig {
            conf_dirs: vec!["/usr/local/lib".into()],
            cache,
        };
        r
    }

    #[test]
    fn libraries_the_cache_lacks_and_entries_that_are_gone() {
        let mut r = root(Some(vec![
            cached("libbar.so.2", "/usr/local/lib/libbar.so.2"),
            cached("libold.so.1", "/usr/local/lib/libold.so.1"),
        ]));
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::StaleLdCache, Severity::Warning)
        );
        assert_eq!(f.path, "/etc/ld.so.cache".into());
        assert_eq!(
            f.message,
            // Each name in the directory that leads to the library is listed: the link and the file.
            "/etc/ld.so.cache is stale: 2 libraries in ld.so.conf directories missing from it: libfoo.so.1 (/usr/local/lib/libfoo.so.1), libfoo.so.1 (/usr/local/lib/libfoo.so.1.0); 1 entry pointing at files that no longer exist: libold.so.1 -> /usr/local/lib/libold.so.1"
        );
    }

    #[test]
    fn not_when_the_cache_is_current_or_absent() {
        let current = vec![
            cached("libbar.so.2", "/usr/local/lib/libbar.so.2"),
            cached("libfoo.so.1", "/usr/local/lib/libfoo.so.1"),
        ];
        assert_eq!(root(Some(current)).run(check), []);
        // Without a cache the loader reads the directories: nothing to be stale.
        assert_eq!(root(None).run(check), []);
    }
}

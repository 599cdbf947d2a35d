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
        for name in tree.children(canonical.as_bytes()) {
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

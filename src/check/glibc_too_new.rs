//! `glibc-too-new` (policy `--max-glibc`): an object or artifact whose glibc floor (the newest
//! `GLIBC_x.y` it needs) is above the policy's maximum.

use super::libc::{self, LibcInfo};
use super::policy::{Policy, show_version};
use super::{Code, Finding, Severity, Subject};
use crate::name::ByteStr;

/// The glibc floor of `info`, when it is above `max`: the probes then read the symbols bound to
/// it.
pub fn floor_above(info: &LibcInfo, max: Option<(u32, u32, u32)>) -> Option<&ByteStr> {
    let floor = info.glibc_floor.as_ref()?;
    let v = libc::glibc_version(floor.as_bytes())?;
    (v > max?).then_some(floor)
}

/// The finding about `s`, if its glibc floor is above `policy`'s maximum.
pub fn check(s: &Subject<'_>, policy: &Policy) -> Option<Finding> {
    let max = policy.max_glibc?;
    let floor = floor_above(s.libc, Some(max))?;
    let syms = s.floor_symbols;
    let sym_text = if syms.is_empty() {
        String::new()
    } else {
        format!(
            " for {}",
            syms.iter()
                .take(10)
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut f = Finding::new(
        Code::GlibcTooNew,
        Severity::Error,
        s.path,
        format!(
            "needs {floor}{sym_text}, above the policy's maximum glibc {}",
            show_version(max)
        ),
    )
    .hint(format!(
        "build against glibc {} or older (an older build image, or zig cc -target x86_64-linux-gnu.{})",
        show_version(max),
        show_version(max)
    ));
    f.version = Some(floor.clone());
    f.symbols = syms.to_vec();
    Some(f)
}

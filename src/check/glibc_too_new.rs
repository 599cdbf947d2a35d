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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::testing::libc;

    fn floor(v: &str) -> LibcInfo {
        LibcInfo {
            glibc_floor: Some(v.into()),
            ..libc(Flavor::Glibc, Confidence::High)
        }
    }

    #[test]
    fn a_floor_above_the_maximum_names_its_symbols() {
        let policy = Policy {
            max_glibc: Some((2, 17, 0)),
            ..Policy::default()
        };
        let path = ByteStr::from("/usr/bin/app");
        let info = floor("GLIBC_2.34");
        let syms = [ByteStr::from("__libc_start_main")];
        let s = Subject {
            path: &path,
            libc: &info,
            floor_symbols: &syms,
        };
        let f = check(&s, &policy).expect("too new");
        assert_eq!((f.code, f.severity), (Code::GlibcTooNew, Severity::Error));
        assert_eq!(
            f.message,
            "needs GLIBC_2.34 for __libc_start_main, above the policy's maximum glibc 2.17"
        );
        assert_eq!(
            f.hint.as_deref(),
            Some(
                "build against glibc 2.17 or older (an older build image, or zig cc -target x86_64-linux-gnu.2.17)"
            )
        );
        assert_eq!(f.version, Some("GLIBC_2.34".into()));
        assert_eq!(f.symbols, syms);
        assert_eq!(
            floor_above(&info, Some((2, 17, 0))),
            Some(&"GLIBC_2.34".into())
        );
    }

    #[test]
    fn not_at_or_below_the_maximum_or_without_one() {
        let policy = Policy {
            max_glibc: Some((2, 34, 0)),
            ..Policy::default()
        };
        let path = ByteStr::from("/usr/bin/app");
        let at = floor("GLIBC_2.34");
        let s = Subject {
            path: &path,
            libc: &at,
            floor_symbols: &[],
        };
        assert_eq!(check(&s, &policy), None);
        assert_eq!(check(&s, &Policy::default()), None);
        let musl = libc(Flavor::Musl, Confidence::High);
        assert_eq!(floor_above(&musl, Some((2, 0, 0))), None);
        assert_eq!(floor_above(&at, None), None);
    }
}

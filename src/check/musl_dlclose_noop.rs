//! `musl-dlclose-noop`: a program whose session calls `dlclose` on musl, whose loader keeps every
//! library for the life of the process: destructors run only at exit, constructors only once, a
//! reopened library keeps its static state, and its address space is never given back. Info: it
//! matters to programs that reload plugins.

use super::input::Input;
use super::musl_imports::describe;
use super::{Code, Finding, Severity};

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for s in input.musl_sessions() {
        let hits = s.imported(&["dlclose"]);
        if hits.is_empty() {
            continue;
        }
        let mut f = Finding::new(
            Code::MuslDlcloseNoop,
            Severity::Info,
            &input.object(s.program).path,
            format!(
                "calls {}, which unloads nothing on musl: a closed library's destructors run only at exit, reopening it does not run its constructors again or reset its static data, and its memory stays mapped",
                describe(&hits)
            ),
        )
        .hint("do not rely on dlclose to unload or reset a library (restart the process to reload a plugin), or use a glibc-based image");
        f.symbols = hits.iter().map(|(n, _)| (*n).into()).collect();
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::musl_imports::testing::musl_app;
    use crate::name::ByteStr;

    #[test]
    fn dlclose_is_reported_and_dlopen_alone_is_not() {
        let mut r = musl_app(None, &["dlopen"], &["dlclose"]);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::MuslDlcloseNoop, Severity::Info)
        );
        assert_eq!(f.symbols, [ByteStr::from("dlclose")]);
        assert!(
            f.message
                .starts_with("calls dlclose (by /usr/lib/libdep.so.1), which unloads nothing"),
            "{}",
            f.message
        );
        let mut r = musl_app(None, &["dlopen", "dlsym"], &[]);
        assert_eq!(r.run(check), []);
    }
}

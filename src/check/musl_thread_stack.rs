//! `musl-thread-stack`: a program whose session creates threads (imports `pthread_create`) and
//! never sets a thread stack size (no `pthread_attr_setstacksize`, `pthread_attr_setstack` or
//! `pthread_setattr_default_np`). musl gives new threads 128 KiB of stack (80 KiB before 1.1.21),
//! glibc as much as `RLIMIT_STACK` (usually 8 MiB): deep recursion or large locals in a thread
//! that work on glibc overflow on musl. Info: most threads need far less. A `PT_GNU_STACK` size
//! above musl's default in the program or a library it loads (`-Wl,-z,stack-size=N`) raises the
//! default for every thread: that is a size set too.

use super::input::Input;
use super::musl_imports::describe;
use super::{Code, Finding, Severity};

/// What creates a thread.
const CREATE: &[&str] = &["pthread_create"];

/// What sets a thread's (or every thread's) stack size.
const SET_SIZE: &[&str] = &[
    "pthread_attr_setstacksize",
    "pthread_attr_setstack",
    "pthread_setattr_default_np",
];

/// musl's default thread stack size (since 1.1.21).
const DEFAULT: u64 = 128 * 1024;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for s in input.musl_sessions() {
        let hits = s.imported(CREATE);
        // A PT_GNU_STACK larger than musl's default raises it (-Wl,-z,stack-size=N): a size set.
        if hits.is_empty() || s.imports_any(SET_SIZE) || s.stack_size.is_some_and(|n| n > DEFAULT) {
            continue;
        }
        let mut f = Finding::new(
            Code::MuslThreadStack,
            Severity::Info,
            &input.object(s.program).path,
            format!(
                "creates threads with {} and never sets their stack size (nothing it loads imports pthread_attr_setstacksize or pthread_setattr_default_np): musl gives each thread 128 KiB of stack, glibc the stack rlimit (usually 8 MiB)",
                describe(&hits)
            ),
        )
        .hint("if its threads recurse deeply or keep large buffers on the stack, set the size (pthread_attr_setstacksize, or link with -Wl,-z,stack-size=N), or use a glibc-based image");
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
    fn threads_without_a_stack_size() {
        let mut r = musl_app(Some("1.2.5"), &["pthread_create", "pthread_join"], &[]);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::MuslThreadStack, Severity::Info)
        );
        assert_eq!(f.symbols, [ByteStr::from("pthread_create")]);
        assert!(
            f.message
                .starts_with("creates threads with pthread_create (by /usr/bin/app) and never"),
            "{}",
            f.message
        );
    }

    /// A library of the session that sets the size counts (a runtime sizing its own threads).
    #[test]
    fn not_when_a_size_is_set_or_no_thread_is_created() {
        let mut r = musl_app(None, &["pthread_create"], &["pthread_attr_setstacksize"]);
        assert_eq!(r.run(check), []);
        let mut r = musl_app(None, &["pthread_create", "pthread_setattr_default_np"], &[]);
        assert_eq!(r.run(check), []);
        let mut r = musl_app(None, &["pthread_mutex_lock"], &[]);
        assert_eq!(r.run(check), []);
    }

    /// A library's PT_GNU_STACK above 128 KiB raises musl's default for the whole process; one
    /// at or below it changes nothing.
    #[test]
    fn a_gnu_stack_size_above_the_default_counts_as_set() {
        let mut r = musl_app(None, &["pthread_create"], &[]);
        r.probes.stack_sizes.insert(1, 1 << 20);
        assert_eq!(r.run(check), []);
        let mut r = musl_app(None, &["pthread_create"], &[]);
        r.probes.stack_sizes.insert(0, 128 * 1024);
        assert_eq!(r.run(check).len(), 1);
    }
}

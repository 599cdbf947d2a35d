//! `musl-locale`: a program that sets locales (`setlocale`, `newlocale`) on musl. musl has no
//! locale data: every locale but C is UTF-8 with the C locale's formats, and a named locale only
//! brings message translations (from `MUSL_LOCPATH`). When the session also collates (`strcoll`,
//! `strxfrm`, their wide and `_l` forms), the order is byte order: `strcoll` is `strcmp`. Info:
//! output that depends on the locale differs from glibc's with the same `LANG`.

use super::input::Input;
use super::musl_imports::describe;
use super::{Code, Finding, Severity};

/// What selects a locale.
const SET: &[&str] = &["setlocale", "newlocale"];

/// What collates by the locale.
const COLLATE: &[&str] = &[
    "strcoll",
    "strcoll_l",
    "strxfrm",
    "strxfrm_l",
    "wcscoll",
    "wcscoll_l",
    "wcsxfrm",
    "wcsxfrm_l",
];

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for s in input.musl_sessions() {
        let set = s.imported(SET);
        if set.is_empty() {
            continue;
        }
        let collate = s.imported(COLLATE);
        let mut message = format!(
            "selects locales with {}: musl has no locale data (every locale but C is UTF-8 with C's number, date and money formats; a locale name only selects message translations)",
            describe(&set)
        );
        if !collate.is_empty() {
            message.push_str(&format!(
                ", and it collates with {}, which musl implements as a byte comparison (strcoll is strcmp)",
                describe(&collate)
            ));
        }
        let mut f = Finding::new(
            Code::MuslLocale,
            Severity::Info,
            &input.object(s.program).path,
            message,
        )
        .hint("do not rely on locale-specific sorting or formats on musl, or use a glibc-based image with the locales installed");
        f.symbols = set
            .iter()
            .chain(&collate)
            .map(|(n, _)| (*n).into())
            .collect();
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::musl_imports::testing::musl_app;
    use crate::name::ByteStr;

    #[test]
    fn locales_and_collation() {
        let mut r = musl_app(None, &["setlocale"], &["strcoll"]);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!((f.code, f.severity), (Code::MuslLocale, Severity::Info));
        assert_eq!(f.symbols, [ByteStr::from("setlocale"), "strcoll".into()]);
        assert!(
            f.message.ends_with(
                ", and it collates with strcoll (by /usr/lib/libdep.so.1), which musl implements as a byte comparison (strcoll is strcmp)"
            ),
            "{}",
            f.message
        );
        let mut r = musl_app(None, &["newlocale"], &[]);
        let found = r.run(check);
        assert_eq!(found.len(), 1);
        assert!(
            !found[0].message.contains("collates"),
            "{}",
            found[0].message
        );
    }

    /// Collating without selecting a locale is collating in C, the same on both libcs.
    #[test]
    fn not_without_selecting_a_locale() {
        let mut r = musl_app(None, &["strcoll", "printf"], &[]);
        assert_eq!(r.run(check), []);
    }
}

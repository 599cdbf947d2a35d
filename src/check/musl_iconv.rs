//! `musl-iconv`: a program whose session converts charsets with `iconv_open` on musl, whose iconv
//! is small: no `//TRANSLIT`, several East Asian encodings only as a source, no deprecated aliases
//! such as `UNICODE`, and a character the target cannot represent becomes `*` (counted as an
//! inexact conversion) where glibc fails with `EILSEQ`. Info.

use super::input::Input;
use super::musl_imports::describe;
use super::{Code, Finding, Severity};

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for s in input.musl_sessions() {
        let hits = s.imported(&["iconv_open"]);
        if hits.is_empty() {
            continue;
        }
        let mut f = Finding::new(
            Code::MuslIconv,
            Severity::Info,
            &input.object(s.program).path,
            format!(
                "converts charsets with {}: musl's iconv has no //TRANSLIT, converts to some East Asian encodings not at all, and writes '*' for a character the target cannot represent where glibc fails with EILSEQ",
                describe(&hits)
            ),
        )
        .hint("check the charsets it converts to and how it handles unconvertible characters, or convert with a library of its own (GNU libiconv, ICU)");
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
    fn iconv_open_is_reported_and_nothing_else() {
        let mut r = musl_app(None, &["iconv_open", "iconv"], &[]);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].code, found[0].severity),
            (Code::MuslIconv, Severity::Info)
        );
        assert_eq!(found[0].symbols, [ByteStr::from("iconv_open")]);
        let mut r = musl_app(None, &["mbrtowc"], &[]);
        assert_eq!(r.run(check), []);
    }
}

//! The finding codes and severities: one table each, from which the code strings of every
//! report, the policy's parsing and the SARIF rules all come (strum derives the strings; serde's
//! names are the same, as the tests check, so JSON cannot drift from the tables).

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// Stable finding codes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Code {
    /// PT_INTERP does not exist in the root.
    InterpreterMissing,
    /// Built against a libc the root does not have.
    LibcMismatch,
    /// One process would load objects built against both libcs.
    MixedLibc,
    /// A needed library is not found.
    LibraryMissing,
    /// A required symbol version is not defined by the library that satisfies the need.
    VersionMissing,
    /// No loader of the root can load this machine or class.
    WrongArchitecture,
    /// `/etc/ld.so.cache` disagrees with what ldconfig would build from ld.so.conf.
    StaleLdCache,
    /// An RPATH/RUNPATH entry that someone else may control.
    InsecureRpath,
    /// A non-weak undefined symbol nothing in the closure defines (`--symbols`).
    UnresolvedSymbol,
    /// Linked against a libc the policy denies (`--deny-libc`).
    LibcDenied,
    /// Needs a newer glibc than the policy allows (`--max-glibc`).
    GlibcTooNew,
    /// A service nsswitch.conf names has no module glibc can load.
    NssModuleMissing,
    /// nsswitch.conf names services a musl root ignores.
    NssIgnoredByMusl,
    /// A required `.note.dlopen` dependency loads from nowhere.
    DlopenNoteUnresolved,
    /// Imports of an object built against the other libc that the root's libc does not define.
    LibcSymbolsMissing,
    /// A program resolving names on a musl older than 1.2.4, whose resolver has no DNS over TCP.
    MuslDnsNoTcp,
    /// A program creating threads on musl without setting their stack size (128 KiB default).
    MuslThreadStack,
    /// A program using locales on musl (no collation, only UTF-8 character types).
    MuslLocale,
    /// A program calling `dlclose` on musl, where it unloads nothing.
    MuslDlcloseNoop,
    /// A program using `iconv` on musl (no `//TRANSLIT`, fewer target charsets).
    MuslIconv,
}

impl Code {
    /// Every code, in documentation order (the declaration order).
    pub const ALL: &'static [Code] = Code::VARIANTS;

    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a kebab-case code.
    pub fn parse(s: &str) -> Option<Code> {
        s.parse().ok()
    }

    /// One line: what the code means.
    pub fn description(self) -> &'static str {
        match self {
            Code::InterpreterMissing => {
                "The program's interpreter (PT_INTERP) does not exist in the root, so starting it fails with \"No such file or directory\"."
            }
            Code::LibcMismatch => {
                "The object was built against a libc (glibc or musl) that the root does not provide."
            }
            Code::MixedLibc => {
                "A program and a library it loads were built against different libcs."
            }
            Code::LibraryMissing => {
                "A needed shared library is not found on the loader's search path."
            }
            Code::VersionMissing => {
                "A required symbol version (e.g. GLIBC_2.38) is not defined by the library that satisfies the need."
            }
            Code::WrongArchitecture => {
                "The object is for a machine or ELF class that no loader in the root handles."
            }
            Code::StaleLdCache => {
                "/etc/ld.so.cache does not match the libraries in the ld.so.conf directories: ldconfig was not run after a change."
            }
            Code::InsecureRpath => {
                "An RPATH/RUNPATH entry is relative to the working directory, empty, missing from the root, or world-writable."
            }
            Code::UnresolvedSymbol => {
                "An undefined, non-weak symbol is defined by nothing the program loads (what ldd -r reports)."
            }
            Code::LibcDenied => "The object is linked against a libc the policy denies.",
            Code::GlibcTooNew => "The object needs a newer glibc than the policy's maximum.",
            Code::NssModuleMissing => {
                "A service /etc/nsswitch.conf names has no module (libnss_SERVICE.so.2) glibc can load: glibc skips it as UNAVAIL."
            }
            Code::NssIgnoredByMusl => {
                "/etc/nsswitch.conf names services other than files and dns, and the root's libc is musl, which ignores NSS."
            }
            Code::DlopenNoteUnresolved => {
                "A library an object's .note.dlopen note declares as required loads from nowhere with the object's dlopen rules."
            }
            Code::LibcSymbolsMissing => {
                "An object built against one libc imports symbols the root's other libc does not define: what a compatibility shim would have to provide."
            }
            Code::MuslDnsNoTcp => {
                "A program resolves host names on a musl older than 1.2.4, whose resolver never retries over TCP: answers too large for UDP fail."
            }
            Code::MuslThreadStack => {
                "A program creates threads on musl without setting their stack size: musl's default thread stack is 128 KiB, not glibc's several MiB."
            }
            Code::MuslLocale => {
                "A program sets locales on musl, which has no locale data but UTF-8 character types and message catalogs: collation is byte order."
            }
            Code::MuslDlcloseNoop => {
                "A program calls dlclose on musl, which never unloads a library: destructors run only at exit and static state is never reset."
            }
            Code::MuslIconv => {
                "A program uses iconv on musl, whose iconv has no //TRANSLIT, fewer target charsets, and replaces unconvertible characters with '*' instead of failing."
            }
        }
    }

    /// What to do about it, in general (each finding also carries a specific hint).
    pub fn help(self) -> &'static str {
        match self {
            Code::InterpreterMissing => {
                "Install the libc the program was built for, or rebuild it for the root's libc."
            }
            Code::LibcMismatch => {
                "Rebuild the object against the root's libc, or base the image on a distribution with the libc it needs."
            }
            Code::MixedLibc => "Rebuild the library or the program so both use the same libc.",
            Code::LibraryMissing => {
                "Install (or reinstall) the package that provides the library, or add its directory to the loader's search path: the RUNPATH, or for glibc ld.so.conf and ldconfig, for musl /etc/ld-musl-ARCH.path."
            }
            Code::VersionMissing => {
                "Build against an older library (e.g. an older glibc), or update the library in the root."
            }
            Code::WrongArchitecture => {
                "Remove the object or install a build for the root's architecture."
            }
            Code::StaleLdCache => "Run ldconfig in the root (e.g. `chroot ROOT ldconfig`).",
            Code::InsecureRpath => {
                "Use absolute paths inside the image or $ORIGIN-relative paths; remove build paths."
            }
            Code::UnresolvedSymbol => {
                "Provide a library defining the symbol, or rebuild against the libraries in the root."
            }
            Code::LibcDenied => "Rebuild the artifact against an allowed libc.",
            Code::GlibcTooNew => {
                "Build against an older glibc (an older build image, or zig cc -target ARCH-linux-gnu.VERSION)."
            }
            Code::NssModuleMissing => {
                "Install the package providing the module, or remove the service from that database's line."
            }
            Code::NssIgnoredByMusl => {
                "Use a glibc-based image for LDAP, NIS or mDNS lookups, or put the entries in the files musl reads."
            }
            Code::DlopenNoteUnresolved => "Install the package that provides one of the sonames.",
            Code::LibcSymbolsMissing => {
                "Rebuild the object against the root's libc, or use an image with the libc it was built for; a compatibility layer (gcompat on Alpine) must define every listed symbol."
            }
            Code::MuslDnsNoTcp => {
                "Use a musl of 1.2.4 or newer (Alpine 3.18+), or keep DNS answers small (a local caching resolver that answers over UDP)."
            }
            Code::MuslThreadStack => {
                "Set the stack size (pthread_attr_setstacksize, or link with -Wl,-z,stack-size=N) if threads recurse deeply, or use a glibc-based image."
            }
            Code::MuslLocale => {
                "Do not rely on locale collation or localized formats on musl, or use a glibc-based image with the locales installed."
            }
            Code::MuslDlcloseNoop => {
                "Do not rely on dlclose running destructors or resetting a library's state (reload plugins by restarting), or use a glibc-based image."
            }
            Code::MuslIconv => {
                "Check the charsets converted to and the handling of unconvertible characters, or convert with a library of its own (ICU, GNU libiconv)."
            }
        }
    }
}

/// How serious a finding is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
    strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    /// Explains a result that is fine in practice.
    /// `note` is accepted too: it is SARIF's name for this level.
    #[strum(to_string = "info", serialize = "note")]
    Info,
    /// A hazard, or something that fails only when used.
    Warning,
    /// Fails when the root is used as it is.
    Error,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a severity name (`note` is taken as `info`).
    pub fn parse(s: &str) -> Option<Severity> {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings as they were hand-written before strum, in documentation order: reports and
    /// policy files in the wild use them.
    const CODES: [&str; 20] = [
        "interpreter-missing",
        "libc-mismatch",
        "mixed-libc",
        "library-missing",
        "version-missing",
        "wrong-architecture",
        "stale-ld-cache",
        "insecure-rpath",
        "unresolved-symbol",
        "libc-denied",
        "glibc-too-new",
        "nss-module-missing",
        "nss-ignored-by-musl",
        "dlopen-note-unresolved",
        "libc-symbols-missing",
        "musl-dns-no-tcp",
        "musl-thread-stack",
        "musl-locale",
        "musl-dlclose-noop",
        "musl-iconv",
    ];

    #[test]
    fn codes_keep_their_strings_and_serde_agrees() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, CODES);
        for &c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            let back: Code = serde_json::from_value(c.as_str().into()).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(
            Code::parse("Library-Missing"),
            None,
            "codes are case-sensitive"
        );
        assert_eq!(Code::parse("library_missing"), None);
    }

    #[test]
    fn severities_keep_their_strings_and_serde_agrees() {
        let names: Vec<&str> = Severity::VARIANTS.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["info", "warning", "error"]);
        for &s in Severity::VARIANTS {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            let back: Severity = serde_json::from_value(s.as_str().into()).unwrap();
            assert_eq!(back, s);
        }
        assert_eq!(Severity::parse("note"), Some(Severity::Info));
        assert_eq!(Severity::parse("Error"), None);
        // The order is the gate's: `fail-on = "warning"` fails warnings and errors.
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}

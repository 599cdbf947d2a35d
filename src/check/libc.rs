/*!
Which libc an object was built against (loader-spec §6), and which libcs a root provides.

Dynamic objects tell by their interpreter, their NEEDED libc soname and their `GLIBC_*` version
needs. Static ones carry no such record, so their bytes are searched for strings only one libc
leaves behind, by the scan, in the sections such strings live in ([`crate::elf::markers`]).
*/

use serde::Serialize;

use crate::elf::{ElfFacts, Kind};
use crate::name::ByteStr;
use crate::resolve::env::is_musl_interp;

/// A libc family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// GNU libc.
    Glibc,
    /// musl.
    Musl,
    /// No libc dependency at all (a self-contained runtime such as Go, or an object that needs
    /// nothing).
    None,
    /// Could not tell.
    Unknown,
}

impl Flavor {
    /// The name used in flags, JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Glibc => "glibc",
            Flavor::Musl => "musl",
            Flavor::None => "none",
            Flavor::Unknown => "unknown",
        }
    }
}

/// How sure the classification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Guessed from the absence of evidence.
    Low,
    /// Indirect evidence (another glibc soname, a message table).
    Medium,
    /// A record only that libc produces (its interpreter, its soname, its symbol versions).
    High,
}

impl Confidence {
    /// The name JSON uses (`low`, `medium`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// An object's libc, with the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LibcInfo {
    /// The family.
    pub flavor: Flavor,
    /// How sure.
    pub confidence: Confidence,
    /// What it was decided from.
    pub evidence: String,
    /// The highest `GLIBC_x.y[.z]` version it needs from glibc (its "glibc floor"), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub glibc_floor: Option<ByteStr>,
}

/// Sonames of the libraries that make up glibc (R4.5).
pub fn is_glibc_soname(name: &[u8]) -> bool {
    const NAMES: &[&[u8]] = &[
        b"libc.so.6",
        b"libm.so.6",
        b"libpthread.so.0",
        b"libdl.so.2",
        b"librt.so.1",
        b"libutil.so.1",
        b"libresolv.so.2",
        b"libanl.so.1",
        b"libnsl.so.1",
        b"libcrypt.so.1",
        b"libmvec.so.1",
        b"libBrokenLocale.so.1",
    ];
    NAMES.contains(&name) || is_glibc_loader_name(name)
}

/// glibc interpreter names (`ld-linux-x86-64.so.2`, `ld64.so.2`, `ld-linux.so.2`, `ld.so.1`).
pub fn is_glibc_loader_name(name: &[u8]) -> bool {
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    (base.starts_with(b"ld-linux") || base.starts_with(b"ld64.so.") || base == b"ld.so.1")
        && base.contains(&b'.')
}

/// `GLIBC_2.38` → `(2, 38, 0)`; anything else (`GLIBC_PRIVATE`, `GLIBC_ABI_DT_RELR`) → `None`.
pub fn glibc_version(name: &[u8]) -> Option<(u32, u32, u32)> {
    let rest = name.strip_prefix(b"GLIBC_")?;
    let text = std::str::from_utf8(rest).ok()?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    parts.next().is_none().then_some((major, minor, patch))
}

/// Parses a policy version (`2.28`, `2.2.5`).
pub fn parse_glibc_version(text: &str) -> Option<(u32, u32, u32)> {
    glibc_version(format!("GLIBC_{}", text.trim()).as_bytes())
}

/// The highest `GLIBC_x.y` an object's own version needs ask of glibc's libraries.
pub fn glibc_floor(facts: &ElfFacts) -> Option<ByteStr> {
    facts
        .version_needs
        .iter()
        .filter(|n| is_glibc_soname(n.file.as_bytes()))
        .flat_map(|n| n.versions.iter())
        .filter_map(|v| glibc_version(v.name.as_bytes()).map(|t| (t, &v.name)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, n)| n.clone())
}

use crate::elf::markers::{
    GLIBC as GLIBC_MARKERS, GO as GO_MARKERS, GO_NOTE, LibcMarkers, MUSL as MUSL_MARKERS,
};

/// Classifies an object: by its records, and for a static object by the libc markers the scan
/// found in it ([`crate::elf::markers`]).
pub fn classify(facts: &ElfFacts) -> LibcInfo {
    let floor = glibc_floor(facts);
    let info = |flavor: Flavor, confidence: Confidence, evidence: String| LibcInfo {
        flavor,
        confidence,
        evidence,
        glibc_floor: floor.clone(),
    };
    if let Some(interp) = &facts.interp {
        if is_musl_interp(interp.as_bytes()) {
            return info(
                Flavor::Musl,
                Confidence::High,
                format!("interpreter {interp}"),
            );
        }
        if is_glibc_loader_name(interp.as_bytes()) {
            return info(
                Flavor::Glibc,
                Confidence::High,
                format!("interpreter {interp}"),
            );
        }
    }
    let needed = |pred: &dyn Fn(&[u8]) -> bool| {
        facts
            .needed
            .iter()
            .find(|n| pred(n.as_bytes()))
            .map(|n| n.to_string())
    };
    if let Some(n) = needed(&|n| n == b"libc.so" || n.starts_with(b"libc.musl-")) {
        return info(Flavor::Musl, Confidence::High, format!("needs {n}"));
    }
    if let Some(f) = &floor {
        return info(Flavor::Glibc, Confidence::High, format!("requires {f}"));
    }
    if let Some(n) = needed(&|n| n == b"libc.so.6") {
        return info(Flavor::Glibc, Confidence::High, format!("needs {n}"));
    }
    // The libcs themselves.
    let soname = facts.soname.as_ref().map(|s| s.as_bytes());
    if soname.is_some_and(|s| s == b"libc.so.6" || is_glibc_loader_name(s)) {
        return info(
            Flavor::Glibc,
            Confidence::High,
            "is glibc (its soname)".into(),
        );
    }
    if let Some(n) = needed(&is_glibc_soname) {
        return info(Flavor::Glibc, Confidence::Medium, format!("needs {n}"));
    }
    let dynamic = facts.has_dynamic
        && matches!(
            facts.kind,
            Kind::Executable | Kind::Pie | Kind::SharedLibrary
        );
    if dynamic {
        return if facts.needed.is_empty() {
            info(
                Flavor::None,
                Confidence::Medium,
                "no DT_NEEDED: depends on no libc by itself".into(),
            )
        } else {
            info(
                Flavor::Unknown,
                Confidence::Low,
                "needs no libc library directly".into(),
            )
        };
    }
    if !matches!(facts.kind, Kind::Static | Kind::StaticPie) {
        return info(
            Flavor::Unknown,
            Confidence::Low,
            format!("not a loadable object ({})", facts.kind.as_str()),
        );
    }
    // The scan searched the object's sections while it had it open (elf::markers).
    match &facts.libc_markers {
        Some(LibcMarkers::Found(set)) => from_markers(&|m: &[u8]| set.has(m), &info),
        Some(LibcMarkers::Unreadable) => info(
            Flavor::Unknown,
            Confidence::Low,
            "statically linked; its contents could not be read".into(),
        ),
        // Facts not read from a file (built by hand): nothing was searched.
        None => info(
            Flavor::Unknown,
            Confidence::Low,
            "statically linked; its contents were not searched".into(),
        ),
    }
}

/// Makes a [`LibcInfo`] (with the object's glibc floor) from a flavor, a confidence and evidence.
type Info<'a> = dyn Fn(Flavor, Confidence, String) -> LibcInfo + 'a;

fn go_program(m: &[u8], info: &Info<'_>) -> LibcInfo {
    info(
        Flavor::None,
        Confidence::High,
        format!(
            "statically linked Go program ({})",
            String::from_utf8_lossy(m).trim_matches(|c: char| !c.is_ascii_graphic())
        ),
    )
}

/// The verdict on a static object from the markers it holds (`has`), in order of precedence:
/// Go, then glibc (every glibc marker is evidence), then musl.
fn from_markers(has: &dyn Fn(&[u8]) -> bool, info: &Info<'_>) -> LibcInfo {
    // The note first: the scan reads Go's note section before anything else and stops there.
    if GO_NOTE.iter().any(|m| has(m)) {
        return go_program(b"its .note.go.buildid", info);
    }
    if let Some(m) = GO_MARKERS.iter().find(|m| has(m)) {
        return go_program(m, info);
    }
    let glibc: Vec<String> = GLIBC_MARKERS
        .iter()
        .filter(|m| has(m))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    if !glibc.is_empty() {
        return info(
            Flavor::Glibc,
            Confidence::High,
            format!("statically linked; contains {}", glibc.join(", ")),
        );
    }
    if let Some(m) = MUSL_MARKERS.iter().find(|m| has(m)) {
        return info(
            Flavor::Musl,
            Confidence::Medium,
            format!(
                "statically linked; contains \"{}\" and no glibc marker",
                String::from_utf8_lossy(m).trim_matches('\0')
            ),
        );
    }
    info(
        Flavor::Unknown,
        Confidence::Low,
        "statically linked; no libc marker found (a minimal musl or a stripped binary?)".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn static_facts() -> ElfFacts {
        ElfFacts {
            class: crate::elf::Class::Elf64,
            endian: crate::elf::Endian::Little,
            machine: crate::elf::Machine::X86_64,
            e_machine: 62,
            e_flags: 0,
            osabi: "SYSV".into(),
            ei_osabi: 0,
            e_type: crate::elf::ElfType::Exec,
            kind: Kind::Static,
            interp: None,
            needed: vec![],
            soname: None,
            rpath: None,
            runpath: None,
            flags: None,
            flags_1: None,
            version_needs: vec![],
            version_defs: vec![],
            dlopen: vec![],
            note_warnings: vec![],
            has_dynamic: false,
            has_load: true,
            libc_markers: None,
        }
    }

    /// The markers decide in order of precedence: Go, then glibc (every glibc marker is
    /// evidence), then musl; facts nobody searched say so.
    #[test]
    fn static_objects_are_told_by_their_markers() {
        use crate::elf::markers::MarkerSet;
        let of = |bytes: &[u8]| {
            let mut f = static_facts();
            f.libc_markers = Some(LibcMarkers::Found(MarkerSet::of(bytes)));
            classify(&f)
        };
        let go = of(b"\x04\0\0\0Go\0\0 GLIBC_TUNABLES");
        assert_eq!(go.flavor, Flavor::None, "{}", go.evidence);
        let glibc = of(b"GLIBC_PRIVATE /etc/ld.so.cache No error information");
        assert_eq!(glibc.flavor, Flavor::Glibc);
        assert_eq!(
            glibc.evidence,
            "statically linked; contains GLIBC_PRIVATE, /etc/ld.so.cache"
        );
        let musl = of(b"..\0_start_c\0..");
        assert_eq!(
            (musl.flavor, musl.confidence),
            (Flavor::Musl, Confidence::Medium)
        );
        assert_eq!(of(b"nothing").flavor, Flavor::Unknown);
        let mut f = static_facts();
        f.libc_markers = Some(LibcMarkers::Unreadable);
        assert_eq!(classify(&f).flavor, Flavor::Unknown);
        assert_eq!(classify(&static_facts()).flavor, Flavor::Unknown);
    }

    #[test]
    fn glibc_versions_compare_numerically() {
        assert_eq!(glibc_version(b"GLIBC_2.38"), Some((2, 38, 0)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2, 5)));
        assert!(glibc_version(b"GLIBC_2.9") < glibc_version(b"GLIBC_2.10"));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version(b"GLIBC_ABI_DT_RELR"), None);
        assert_eq!(parse_glibc_version("2.36"), Some((2, 36, 0)));
        assert_eq!(parse_glibc_version("two"), None);
    }

    #[test]
    fn loader_names() {
        assert!(is_glibc_loader_name(b"/lib64/ld-linux-x86-64.so.2"));
        assert!(is_glibc_loader_name(b"/lib/ld64.so.1"));
        assert!(!is_glibc_loader_name(b"/lib/ld-musl-x86_64.so.1"));
        assert!(is_glibc_soname(b"libpthread.so.0"));
        assert!(!is_glibc_soname(b"libc.so"));
    }
}

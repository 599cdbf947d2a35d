/*!
CycloneDX 1.6 JSON: a bill of materials of the root (`scan`, `check`) or of a package set
(`packages`). docs/cyclonedx.md is the mapping; in short:

- `metadata.component` is the root: a `container` for an image (its manifest digest as the
  version), an `operating-system` for a directory with an `os-release`, a `file` otherwise;
- one `library` component per installed package (`application` when it owns a program), its
  purl (`pkg:deb/ID/...`, `pkg:apk/ID/...`, `pkg:rpm/ID/...`) as its `bom-ref`;
- one `file` component per ELF object no package owns, with its SHA-256;
- `dependencies`: a component depends on another when one of its objects loads a file of the
  other (the loader closure, and the loader itself); each such load is an `elfdeps:loads` property of the loader's
  component, since CycloneDX dependencies carry no properties.

The document holds no timestamp and its `serialNumber` is derived from its content, so the same
root gives the same bytes.
*/

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::name::ByteStr;
use crate::pkgdb::{DbFormat, PackageRef};
use crate::report::Report;
use crate::rootfs::RootFs;
use crate::tree::PathLookup;

// The CycloneDX 1.6 objects we write, by their names in the specification.

/// The BOM.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

/// `metadata`.
#[derive(Serialize)]
struct Metadata {
    tools: Tools,
    component: Component,
}

/// `metadata.tools` (the 1.5+ form: tools are components).
#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

/// `component`.
#[derive(Clone, Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

impl Component {
    fn new(kind: &'static str, name: String) -> Component {
        Component {
            kind,
            bom_ref: None,
            name,
            version: None,
            description: None,
            hashes: Vec::new(),
            purl: None,
            properties: Vec::new(),
        }
    }

    fn property(&mut self, name: &str, value: String) {
        self.properties.push(Property {
            name: name.to_string(),
            value,
        });
    }
}

/// `hash`.
#[derive(Clone, Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

/// `property`.
#[derive(Clone, Serialize)]
struct Property {
    name: String,
    value: String,
}

/// `dependency`.
#[derive(Serialize)]
struct Dependency {
    #[serde(rename = "ref")]
    of: String,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<String>,
}

/// The `bom-ref` of the root component.
const ROOT_REF: &str = "root";

/// What the root's `os-release` says (the purl namespace, and the root component's version).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, `fedora`).
    pub id: Option<String>,
    /// `VERSION_ID`.
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Reads `/etc/os-release`, else `/usr/lib/os-release`, of the root (`None`: neither is
    /// readable within `max` bytes).
    pub fn read(rootfs: &RootFs, tree: &dyn PathLookup, max: u64) -> Option<OsRelease> {
        [&b"/etc/os-release"[..], b"/usr/lib/os-release"]
            .iter()
            .find_map(|p| {
                let canonical = tree.lookup(p, true).ok()?;
                rootfs.read_file(canonical.as_bytes(), max).ok()
            })
            .map(|b| OsRelease::parse(&b))
    }

    /// Parses `KEY=VALUE` lines (values optionally quoted; other keys ignored).
    pub fn parse(bytes: &[u8]) -> OsRelease {
        let mut os = OsRelease::default();
        for line in String::from_utf8_lossy(bytes).lines() {
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            match k {
                "ID" => os.id = Some(v),
                "VERSION_ID" => os.version_id = Some(v),
                "PRETTY_NAME" => os.pretty_name = Some(v),
                _ => {}
            }
        }
        os
    }
}

/// Percent-encodes a purl segment or qualifier value: everything but the unreserved characters
/// of RFC 3986 (so a Debian epoch `1:` becomes `1%3A`, a `+` becomes `%2B`).
fn pct(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl of a package: type from the database, namespace from os-release's `ID` (else
/// `debian` for dpkg, `alpine` for apk, none for rpm), `arch` qualifier when the database says.
pub fn purl(db: DbFormat, os_id: Option<&str>, p: &PackageRef) -> String {
    let (kind, default_ns) = match db {
        DbFormat::Dpkg => ("deb", Some("debian")),
        DbFormat::Apk => ("apk", Some("alpine")),
        DbFormat::Rpm => ("rpm", None),
    };
    let mut s = format!("pkg:{kind}/");
    // The purl spec lowercases deb, apk and rpm namespaces.
    if let Some(ns) = os_id.filter(|i| !i.is_empty()).or(default_ns) {
        s.push_str(&pct(ns.to_lowercase().as_bytes()));
        s.push('/');
    }
    s.push_str(&pct(p.name.as_bytes()));
    if !p.version.as_bytes().is_empty() {
        s.push('@');
        s.push_str(&pct(p.version.as_bytes()));
    }
    if let Some(a) = p.arch.as_ref().filter(|a| !a.as_bytes().is_empty()) {
        s.push_str("?arch=");
        s.push_str(&pct(a.as_bytes()));
    }
    s
}

/// The component of a package (`application`: it ships a program).
fn package_component(purl: String, p: &PackageRef, program: bool) -> Component {
    let kind = if program { "application" } else { "library" };
    let mut c = Component::new(kind, p.name.escaped());
    c.bom_ref = Some(purl.clone());
    c.version = Some(p.version.escaped());
    c.purl = Some(purl);
    if let Some(o) = &p.origin {
        c.property("elfdeps:origin", o.escaped());
    }
    c
}

/// The `bom-ref` of an unowned file.
fn file_ref(path: &ByteStr) -> String {
    format!("file:{}", path.escaped())
}

/// The SHA-256 of a file of the root, read within `max` bytes, as a `hashes` entry (or why not).
fn sha256_of(rootfs: &RootFs, path: &[u8], max: u64) -> Result<Hash, String> {
    let bytes = rootfs.read_file(path, max).map_err(|e| e.message)?;
    Ok(Hash {
        alg: "SHA-256",
        content: hex(&Sha256::digest(&bytes)),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tool component naming elfdeps.
fn tool() -> Component {
    let mut c = Component::new("application", "elfdeps".to_string());
    c.version = Some(env!("CARGO_PKG_VERSION").to_string());
    c
}

/// The root component: the image, or the directory.
fn root_component(report: &Report, os: Option<&OsRelease>) -> Component {
    let mut c = match &report.image {
        Some(i) => {
            let mut c = Component::new("container", i.reference.clone());
            // The manifest digest names the image; a docker-archive has none, only its config.
            c.version = Some(i.manifest.clone().unwrap_or_else(|| i.config.clone()));
            if let Some(m) = &i.manifest {
                c.property("elfdeps:manifest-digest", m.clone());
            }
            c.property("elfdeps:config-digest", i.config.clone());
            c
        }
        None => {
            let kind = if os.is_some() {
                "operating-system"
            } else {
                "file"
            };
            Component::new(kind, report.root_name().escaped())
        }
    };
    if let Some(os) = os {
        if report.image.is_none() {
            c.version = os.version_id.clone();
        }
        c.description = os.pretty_name.clone();
        if let Some(id) = &os.id {
            c.property("elfdeps:os-release-id", id.clone());
        }
    }
    c.bom_ref = Some(ROOT_REF.to_string());
    c
}

/// What the BOM of a package set names beyond the set.
#[derive(Clone, Debug, Default)]
pub struct SetAbout {
    /// The root: the image reference, or the directory as given.
    pub root_name: ByteStr,
    /// The root's os-release.
    pub os: Option<OsRelease>,
    /// Each package's architecture, by name.
    pub arch: BTreeMap<ByteStr, ByteStr>,
}

/// Writes the BOM of a package set (`packages`): its packages, each with the reasons it is in
/// the set as `elfdeps:reason` properties (`PROGRAM -> FILE (ROLE)`); no dependencies between
/// them (the set is what the programs need as a whole), the root depending on each.
pub fn render_packages(
    set: &crate::packages::PackageSet,
    about: &SetAbout,
    out: &mut dyn Write,
) -> io::Result<()> {
    let os_id = about.os.as_ref().and_then(|o| o.id.as_deref());
    let mut parts = Parts::default();
    for n in &set.packages {
        let p = PackageRef {
            name: n.name.clone(),
            version: n.version.clone(),
            origin: n.origin.clone(),
            arch: about.arch.get(&n.name).cloned(),
        };
        let purl = purl(set.database, os_id, &p);
        let program = n.reasons.iter().any(|r| r.role == "program");
        let mut c = package_component(purl.clone(), &p, program);
        for r in &n.reasons {
            let reason = format!(
                "{} -> {} ({})",
                r.program.escaped(),
                r.file.escaped(),
                r.role
            );
            c.property("elfdeps:reason", reason);
        }
        if n.reason_count > n.reasons.len() {
            c.property("elfdeps:reason-count", n.reason_count.to_string());
        }
        if !n.installed {
            c.property("elfdeps:installed", "false".to_string());
        }
        parts.components.insert(purl, c);
    }
    let kind = if about.os.is_some() {
        "operating-system"
    } else {
        "file"
    };
    let mut root = Component::new(kind, about.root_name.escaped());
    root.bom_ref = Some(ROOT_REF.to_string());
    if let Some(os) = &about.os {
        root.version = os.version_id.clone();
        root.description = os.pretty_name.clone();
    }
    for p in &set.programs {
        root.property("elfdeps:program", p.escaped());
    }
    write(&parts.finish(root), out)
}

/// What to put in the BOM of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BomOptions {
    /// Most bytes read from one file to hash it (`--max-read`).
    pub max_read: u64,
    /// Add the findings of the checks as `elfdeps:finding` properties (`check`).
    pub findings: bool,
}

/// The BOM being built: components by `bom-ref`, and what each depends on.
#[derive(Default)]
struct Parts {
    components: BTreeMap<String, Component>,
    depends: BTreeMap<String, BTreeSet<String>>,
}

impl Parts {
    /// The document: root first in the dependencies, then the components by `bom-ref`; the
    /// serial number is a hash of everything else.
    fn finish(self, root: Component) -> Bom {
        let mut dependencies = vec![Dependency {
            of: ROOT_REF.to_string(),
            // The root holds every component.
            depends_on: self.components.keys().cloned().collect(),
        }];
        for r in self.components.keys() {
            dependencies.push(Dependency {
                of: r.clone(),
                depends_on: self
                    .depends
                    .get(r)
                    .map(|d| d.iter().cloned().collect())
                    .unwrap_or_default(),
            });
        }
        let mut bom = Bom {
            bom_format: "CycloneDX",
            spec_version: "1.6",
            serial_number: String::new(),
            version: 1,
            metadata: Metadata {
                tools: Tools {
                    components: vec![tool()],
                },
                component: root,
            },
            components: self.components.into_values().collect(),
            dependencies,
        };
        bom.serial_number = serial_number(&bom);
        bom
    }
}

/// A UUID from the SHA-256 of the document without its serial number: reproducible, and
/// different for different content. Marked as RFC 9562 version 8 (custom), variant RFC 4122.
fn serial_number(bom: &Bom) -> String {
    let bytes = serde_json::to_vec(bom).unwrap_or_default();
    // The first 16 of the digest's 32 bytes (zip stops at the shorter: no length to get wrong).
    let mut u = [0u8; 16];
    for (o, d) in u.iter_mut().zip(Sha256::digest(&bytes)) {
        *o = d;
    }
    u[6] = (u[6] & 0x0f) | 0x80;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h = hex(&u);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn write(bom: &Bom, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, bom)?;
    out.write_all(b"\n")
}

/// Writes the BOM of a scanned root.
pub fn render(report: &Report, opts: &BomOptions, out: &mut dyn Write) -> io::Result<()> {
    let inv = &report.inventory;
    let os = OsRelease::read(&inv.rootfs, &inv.tree, opts.max_read);
    let os_id = os.as_ref().and_then(|o| o.id.as_deref());
    let mut parts = Parts::default();
    // The component of each object (its package's purl, or its own file reference).
    let mut refs: Vec<String> = Vec::with_capacity(inv.objects.len());
    let mut owner_names: Vec<String> = Vec::with_capacity(inv.objects.len());
    let owners = report.ownership.as_ref();
    if let Some(own) = owners {
        for p in &own.installed {
            let purl = purl(own.summary.database, os_id, p);
            parts
                .components
                .entry(purl.clone())
                .or_insert_with(|| package_component(purl, p, false));
        }
    }
    for (i, o) in inv.objects.iter().enumerate() {
        let owner = owners.and_then(|own| own.owners[i].as_ref().map(|p| (own, p)));
        let (r, name) = match owner {
            Some((own, p)) => {
                let purl = purl(own.summary.database, os_id, p);
                let c = parts
                    .components
                    .entry(purl.clone())
                    .or_insert_with(|| package_component(purl.clone(), p, false));
                if crate::check::is_program_facts(&o.facts) {
                    c.kind = "application";
                }
                (purl, p.name.escaped())
            }
            None => {
                let r = file_ref(&o.path);
                let mut c = Component::new("file", o.path.escaped());
                c.bom_ref = Some(r.clone());
                match sha256_of(&inv.rootfs, o.path.as_bytes(), opts.max_read) {
                    Ok(h) => c.hashes.push(h),
                    Err(e) => c.property("elfdeps:hash-error", e),
                }
                parts.components.insert(r.clone(), c);
                (r, "unowned".to_string())
            }
        };
        refs.push(r);
        owner_names.push(name);
    }
    if let Some(resolutions) = &report.resolutions {
        let index: BTreeMap<&[u8], usize> = inv
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.path.as_bytes(), i))
            .collect();
        for (i, res) in resolutions.iter().enumerate() {
            // The loader is a file the object loads too (musl's is its libc), though the
            // closure leaves it out.
            let loader = res.loader.as_ref().map(|l| &l.path);
            for file in res.closure.iter().chain(loader) {
                let Some(&j) = index.get(file.as_bytes()) else {
                    continue;
                };
                if refs[j] == refs[i] {
                    continue;
                }
                parts
                    .depends
                    .entry(refs[i].clone())
                    .or_default()
                    .insert(refs[j].clone());
                let loads = format!(
                    "{} -> {} ({})",
                    inv.objects[i].path.escaped(),
                    file.escaped(),
                    owner_names[j]
                );
                if let Some(c) = parts.components.get_mut(&refs[i]) {
                    c.property("elfdeps:loads", loads);
                }
            }
        }
    }
    let mut root = root_component(report, os.as_ref());
    if opts.findings
        && let Some(checks) = &report.checks
    {
        let index: BTreeMap<&[u8], &str> = inv
            .objects
            .iter()
            .zip(&refs)
            .map(|(o, r)| (o.path.as_bytes(), r.as_str()))
            .collect();
        for f in &checks.findings {
            let value = format!(
                "{} {}: {}: {}",
                f.severity.as_str(),
                f.code.as_str(),
                f.path.escaped(),
                f.message
            );
            // A finding about a path that is no object (a configuration file) is the root's.
            match index
                .get(f.path.as_bytes())
                .and_then(|r| parts.components.get_mut(*r))
            {
                Some(c) => c.property("elfdeps:finding", value),
                None => root.property("elfdeps:finding", value),
            }
        }
    }
    write(&parts.finish(root), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, arch: Option<&str>) -> PackageRef {
        PackageRef {
            name: name.into(),
            version: version.into(),
            origin: None,
            arch: arch.map(ByteStr::from),
        }
    }

    #[test]
    fn purls_percent_encode_versions_and_take_the_namespace_from_os_release() {
        let p = pkg("libglib2.0-0", "1:2.66-4+deb12u3", Some("amd64"));
        assert_eq!(
            purl(DbFormat::Dpkg, None, &p),
            "pkg:deb/debian/libglib2.0-0@1%3A2.66-4%2Bdeb12u3?arch=amd64"
        );
        assert_eq!(
            purl(DbFormat::Dpkg, Some("Ubuntu"), &p),
            "pkg:deb/ubuntu/libglib2.0-0@1%3A2.66-4%2Bdeb12u3?arch=amd64"
        );
        let m = pkg("musl", "1.2.5-r0", Some("x86_64"));
        assert_eq!(
            purl(DbFormat::Apk, None, &m),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"
        );
        let r = pkg("bash", "5.2.26-3.fc40", None);
        assert_eq!(purl(DbFormat::Rpm, None, &r), "pkg:rpm/bash@5.2.26-3.fc40");
        assert_eq!(
            purl(DbFormat::Rpm, Some("fedora"), &r),
            "pkg:rpm/fedora/bash@5.2.26-3.fc40"
        );
    }

    #[test]
    fn os_release_values_may_be_quoted() {
        let os = OsRelease::parse(b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID='3.20.3'\n# x\n");
        assert_eq!(os.id.as_deref(), Some("alpine"));
        assert_eq!(os.version_id.as_deref(), Some("3.20.3"));
        assert_eq!(os.pretty_name, None);
    }
}

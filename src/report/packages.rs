//! The `packages` outputs: names one per line, an install command for the root's package manager
//! (`apk add`, `apt-get install`, `dnf install`), apko YAML, the set's files, or JSON.

use std::io::{self, Write};

use crate::packages::PackageSet;
use crate::pkgdb::DbFormat;

/// How to write a package set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackagesFormat {
    /// One package name per line.
    Lines,
    /// `apk add --no-cache NAME...`.
    Apk,
    /// apko's `contents.packages` YAML.
    Apko,
    /// `apt-get install --no-install-recommends NAME...`.
    Apt,
    /// `dnf install NAME...`.
    Dnf,
    /// Every path of the set, one per line.
    Files,
    /// JSON: every package with the objects and files that need it.
    Json,
    /// A CycloneDX 1.6 BOM of the set.
    Cyclonedx,
}

impl PackagesFormat {
    /// The package database a format is written for (`None`: any).
    pub fn database(self) -> Option<DbFormat> {
        match self {
            PackagesFormat::Apk | PackagesFormat::Apko => Some(DbFormat::Apk),
            PackagesFormat::Apt => Some(DbFormat::Dpkg),
            PackagesFormat::Dnf => Some(DbFormat::Rpm),
            PackagesFormat::Lines
            | PackagesFormat::Files
            | PackagesFormat::Json
            | PackagesFormat::Cyclonedx => None,
        }
    }

    /// Why the format does not fit a root whose database is `db` (`None`: it fits).
    pub fn refusal(self, db: DbFormat) -> Option<String> {
        let wants = self.database()?;
        (wants != db).then(|| {
            format!(
                "--format {}: that command is for {wants} databases, and this root's is {db}; use --format lines or json, or the format of its package manager",
                format!("{self:?}").to_lowercase()
            )
        })
    }
}

/// Writes `set`; with `unneeded` (and a format other than JSON, which carries both), the
/// installed packages nothing needs instead, with what they contain.
pub fn render(
    set: &PackageSet,
    format: PackagesFormat,
    unneeded: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    if unneeded && format != PackagesFormat::Json {
        for u in set.unneeded.iter().flatten() {
            let c: Vec<String> = u.contents.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(w, "{}\t{}", u.name.display_escaped(), c.join(", "))?;
        }
        return Ok(());
    }
    let names: Vec<String> = set
        .packages
        .iter()
        .map(|p| p.name.display_escaped())
        .collect();
    match format {
        PackagesFormat::Lines => {
            for n in &names {
                writeln!(w, "{n}")?;
            }
            Ok(())
        }
        PackagesFormat::Apk => writeln!(w, "apk add --no-cache {}", names.join(" ")),
        PackagesFormat::Apt => writeln!(
            w,
            "apt-get install --no-install-recommends {}",
            names.join(" ")
        ),
        PackagesFormat::Dnf => writeln!(w, "dnf install {}", names.join(" ")),
        PackagesFormat::Files => {
            for f in set.files.iter().flatten() {
                writeln!(w, "{}", f.display_escaped())?;
            }
            Ok(())
        }
        PackagesFormat::Apko => {
            writeln!(w, "contents:\n  packages:")?;
            for n in &names {
                writeln!(w, "    - {n}")?;
            }
            Ok(())
        }
        // Without the root at hand: no architectures (`?arch=`) nor os-release namespace; the
        // binary passes them through `cyclonedx::render_packages` itself.
        PackagesFormat::Cyclonedx => {
            super::cyclonedx::render_packages(set, &super::cyclonedx::SetAbout::default(), w)
        }
        PackagesFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, set)?;
            w.write_all(b"\n")
        }
    }
}

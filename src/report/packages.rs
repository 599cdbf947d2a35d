//! The `packages` outputs: names one per line, an `apk add` command, apko YAML, or JSON.

use std::io::{self, Write};

use crate::packages::PackageSet;

/// How to write a package set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackagesFormat {
    /// One package name per line.
    Lines,
    /// `apk add --no-cache NAME...`.
    Apk,
    /// apko's `contents.packages` YAML.
    Apko,
    /// JSON: every package with the objects and files that need it.
    Json,
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
        PackagesFormat::Apko => {
            writeln!(w, "contents:\n  packages:")?;
            for n in &names {
                writeln!(w, "    - {n}")?;
            }
            Ok(())
        }
        PackagesFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, set)?;
            w.write_all(b"\n")
        }
    }
}

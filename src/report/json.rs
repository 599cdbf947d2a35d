//! The `elfdeps/1` JSON document (docs/json.md): field names are a contract.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use serde::Serialize;

use crate::error::PathError;
use crate::name::ByteStr;
use crate::scan::{Object, ScanReport, Summary};

/// The schema identifier; bumped only for changes that break readers.
pub const SCHEMA: &str = "elfdeps/1";

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    tool: Tool,
    root: ByteStr,
    /// The image, when ROOT was one (`root` is then the reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a crate::image::ImageInfo>,
    summary: &'a Summary,
    /// The package database, when the root has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    packages: Option<&'a crate::pkgdb::DbSummary>,
    /// The target CPU glibc's loader was modelled for (when resolution ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<&'a crate::resolve::cpu::CpuProfile>,
    objects: &'a [Object],
    errors: &'a [PathError],
    /// Warnings about the scan as a whole.
    warnings: &'a [crate::scan::ScanWarning],
    /// `libcs`, `findings` and `gate`, when the checks ran.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    checks: Option<&'a crate::check::Checks>,
}

/// Writes the document, pretty-printed, with a final newline.
pub fn render(report: &ScanReport, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = Document {
        schema: SCHEMA,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        root: match &report.image {
            Some(i) => ByteStr::from(i.reference.as_str()),
            None => ByteStr::from(report.root.as_os_str().as_bytes()),
        },
        image: report.image.as_ref(),
        packages: report.packages.as_ref(),
        cpu: report.cpu.as_ref(),
        summary: &report.summary,
        objects: &report.objects,
        errors: &report.errors,
        warnings: &report.warnings,
        checks: report.checks.as_ref(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

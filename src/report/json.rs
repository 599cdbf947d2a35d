//! The `elfdeps/1` JSON document (docs/json.md): field names are a contract.

use std::io::Write;

use serde::Serialize;

use crate::check::libc::LibcInfo;
use crate::error::PathError;
use crate::name::ByteStr;
use crate::pkgdb::PackageRef;
use crate::resolve::Resolution;
use crate::scan::{Object, Summary};

use super::Report;

/// The schema identifier; bumped only for changes that break readers.
pub const SCHEMA: &str = "elfdeps/1";

/// Writes `body` as a versioned document of its own (`tree`, `why`, `diff`, `check --add`, a
/// rebase): `schema` and `tool` first, then `root` when given, then `body`'s own fields.
pub fn write_document<T: Serialize + ?Sized>(
    schema: &'static str,
    root: Option<&ByteStr>,
    body: &T,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a, T: ?Sized> {
        schema: &'static str,
        tool: Tool,
        #[serde(skip_serializing_if = "Option::is_none")]
        root: Option<&'a ByteStr>,
        #[serde(flatten)]
        body: &'a T,
    }
    let doc = Doc {
        schema,
        tool: Tool::this(),
        root,
        body,
    };
    // serde writes in small pieces: a buffer of a known type takes them without a virtual
    // call each.
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut w, &doc)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// The tool that wrote a document.
#[derive(Serialize)]
pub(crate) struct Tool {
    name: &'static str,
    version: &'static str,
}

impl Tool {
    /// This elfdeps.
    pub(crate) fn this() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
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
    /// The loader environment the programs were resolved as starting with, when one was set
    /// (`--env`, an image config's `Env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    loader_env: Option<&'a crate::resolve::runenv::LoaderEnv>,
    objects: Vec<ObjectView<'a>>,
    errors: &'a [PathError],
    /// Warnings about the scan as a whole.
    warnings: &'a [crate::scan::ScanWarning],
    /// `libcs`, `findings` and `gate`, when the checks ran.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    checks: Option<&'a crate::check::Checks>,
}

/// One object as the document shows it: its facts, then what each stage found about it.
#[derive(Serialize)]
struct ObjectView<'a> {
    #[serde(flatten)]
    object: &'a Object,
    #[serde(flatten)]
    resolution: Option<&'a Resolution>,
    /// The owning package (null: unowned), when the root has a database.
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<Option<&'a PackageRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    libc: Option<&'a LibcInfo>,
    /// Run-time edges (docs/json.md), when it has some.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    runtime: &'a [crate::runtime::edges::EdgeLoads],
}

/// Writes the document, pretty-printed, with a final newline.
pub fn render(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let objects = report
        .inventory
        .objects
        .iter()
        .enumerate()
        .map(|(i, object)| ObjectView {
            object,
            resolution: report.resolutions.as_ref().map(|r| &r[i]),
            package: report.ownership.as_ref().map(|o| o.owners[i].as_ref()),
            layer: report.layers.as_ref().and_then(|l| l[i].as_deref()),
            libc: report.libc.as_ref().map(|l| &l[i]),
            runtime: report.runtime.as_ref().map_or(&[], |r| r[i].as_slice()),
        })
        .collect();
    let doc = Document {
        schema: SCHEMA,
        tool: Tool::this(),
        root: report.root_name(),
        image: report.image.as_ref(),
        packages: report.ownership.as_ref().map(|o| &o.summary),
        cpu: report.cpu.as_ref(),
        loader_env: report.loader_env.as_ref().filter(|e| !e.is_unset()),
        summary: &report.summary,
        objects,
        errors: &report.errors,
        warnings: &report.warnings,
        checks: report.checks.as_ref(),
    };
    // serde writes in small pieces: a buffer of a known type takes them without a virtual
    // call each.
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut w, &doc)?;
    w.write_all(b"\n")?;
    w.flush()
}

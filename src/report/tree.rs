/*!
The `tree` report: one object's loader session as a tree, like lddtree/libtree. Each object's needs
are listed under it the first time it is loaded; later needs of an already loaded object are listed
but not expanded again. The model is a flat list in depth-first order (each node with its depth),
so neither building nor rendering recurses however deep a hostile root nests its libraries.
*/

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use serde::Serialize;

use crate::elf::{Class, ElfFacts, Kind, Machine};
use crate::error::FileError;
use crate::name::ByteStr;
use crate::resolve::env::{Family, is_musl_interp, standard_interps};
use crate::resolve::{
    LoaderRef, Resolution, Resolved, SessionEdge, Skipped, Status, VersionError, Via,
};
use crate::tree::Tree;

/// The schema identifier of the tree document.
pub const SCHEMA: &str = "elfdeps-tree/1";

/// The program's own interpreter, when it does not exist in the root.
#[derive(Clone, Debug, Serialize)]
pub struct InterpMissing {
    /// PT_INTERP.
    pub interp: ByteStr,
    /// `glibc` or `musl` when the name is one of that family's loaders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// Why it cannot be used.
    pub reason: String,
}

/// One need in the session.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// 0 for the object's own needs, 1 for their needs, …
    pub depth: usize,
    /// The DT_NEEDED name.
    pub name: ByteStr,
    /// The path it was opened under (null when not found).
    pub path: Option<ByteStr>,
    /// Its canonical path.
    pub found: Option<ByteStr>,
    /// How it was found.
    pub via: Option<Via>,
    /// For `rpath`: whose DT_RPATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpath_of: Option<ByteStr>,
    /// Why it was not found, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Candidates passed over, for a need that was not found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Whether its own needs follow (false: already listed above, or not found).
    pub expanded: bool,
}

/// One object's session.
#[derive(Clone, Debug, Serialize)]
pub struct TreeReport {
    /// The object.
    pub path: ByteStr,
    /// What it is.
    pub kind: Kind,
    /// Its machine.
    pub machine: Machine,
    /// Its class.
    pub class: Class,
    /// The session's outcome.
    pub status: Status,
    /// The loader the listing comes from.
    pub loader: Option<LoaderRef>,
    /// Set when the object's own interpreter is missing: it cannot start, and the listing is what
    /// the root's loader would load for it (what ldd shows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interp_missing: Option<InterpMissing>,
    /// Things to know about the result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every need, depth first.
    pub needs: Vec<Node>,
    /// What the loader loads, in the order it loads it (breadth first), each object once: what
    /// `tree --flat` lists. Not in JSON: `needs` holds all of it.
    #[serde(skip)]
    pub load_order: Vec<Node>,
    /// The object's PT_INTERP, for the last line of `tree --flat` (ldd names the loader so).
    #[serde(skip)]
    pub interp: Option<ByteStr>,
    /// Required versions not defined by their providers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_errors: Vec<VersionError>,
    /// What the session loads at run time by conventions the loader does not see (dlopen
    /// notes, NSS modules, an interpreter's library): each edge with where it was read and what
    /// it loads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runtime: Vec<crate::runtime::edges::EdgeLoads>,
}

/// Why interpreter `interp` (a PT_INTERP that resolution found missing) cannot be used, from the
/// walked tree: "interpreter /lib/ld-musl-x86_64.so.1 cannot be opened inside the root: ...".
pub fn missing_interp(interp: &ByteStr, tree: &Tree) -> String {
    missing_interp_in(interp, |p| tree.resolve(p, true))
}

/// [`missing_interp`] over any way of resolving a path inside the root (a walked tree, a view).
pub fn missing_interp_in(
    interp: &ByteStr,
    resolve: impl Fn(&[u8]) -> Result<ByteStr, FileError>,
) -> String {
    match resolve(interp.as_bytes()) {
        Ok(_) => format!(
            "interpreter {} is not a regular file in the root",
            interp.display_escaped()
        ),
        Err(e) => format!(
            "interpreter {} cannot be opened inside the root: {}",
            interp.display_escaped(),
            e.message
        ),
    }
}

/// `glibc` or `musl` when an interpreter path is one of that family's (by name: the file is
/// missing, so its content cannot say).
fn family_of_interp(interp: &[u8], machine: Machine, class: Class) -> Option<Family> {
    let (glibc, _) = standard_interps(machine, class);
    if is_musl_interp(interp) {
        Some(Family::Musl)
    } else if glibc.iter().any(|g| g.as_bytes() == interp) {
        Some(Family::Glibc)
    } else {
        None
    }
}

impl TreeReport {
    /// The session of object `i` of `root`.
    pub fn build(root: Resolved<'_>, i: usize) -> TreeReport {
        let o = &root.objects[i];
        TreeReport::session(&o.path, &o.facts, &root.resolutions[i], |p| {
            root.tree.resolve(p, true)
        })
    }

    /// The session `r` of the object at `path` with `facts`, however it was resolved (against a
    /// walked root or a lazy view); `resolve` looks a path up inside that root (to say why a
    /// missing interpreter cannot be used).
    pub fn session(
        path: &ByteStr,
        facts: &ElfFacts,
        r: &Resolution,
        resolve: impl Fn(&[u8]) -> Result<ByteStr, FileError>,
    ) -> TreeReport {
        let interp_missing = (r.status == Status::InterpMissing)
            .then_some(facts.interp.as_ref())
            .flatten()
            .map(|interp| InterpMissing {
                interp: interp.clone(),
                family: family_of_interp(interp.as_bytes(), facts.machine, facts.class),
                reason: missing_interp_in(interp, &resolve),
            });
        let mut notes = r.notes.clone();
        if r.status == Status::InterpMissing && !notes.is_empty() {
            // The resolver's first note says in one line what the header says here.
            notes.remove(0);
        }
        TreeReport {
            path: path.clone(),
            kind: facts.kind,
            machine: facts.machine,
            class: facts.class,
            status: r.status,
            loader: r.loader.clone(),
            interp_missing,
            notes,
            needs: if r.status == Status::Static {
                Vec::new()
            } else {
                nodes(&r.edges, path)
            },
            load_order: if r.status == Status::Static {
                Vec::new()
            } else {
                load_order(&r.edges, path)
            },
            interp: facts.interp.clone(),
            version_errors: r.version_errors.clone(),
            runtime: Vec::new(),
        }
    }
}

impl TreeReport {
    /// Whether the loader would start the object: everything it needs found with every required
    /// version, or nothing to load. What `tree` exits 0 on.
    pub fn would_start(&self) -> bool {
        matches!(self.status, Status::Ok | Status::Static)
    }
}

/// The session's needs depth first from `start`, each object expanded the first time it is
/// loaded. An explicit stack instead of recursion: the depth is the root's to choose.
fn nodes(edges: &[SessionEdge], start: &ByteStr) -> Vec<Node> {
    let mut children: HashMap<&[u8], Vec<&SessionEdge>> = HashMap::new();
    for e in edges {
        children.entry(e.from.as_bytes()).or_default().push(e);
    }
    let mut expanded: HashSet<&[u8]> = HashSet::new();
    expanded.insert(start.as_bytes());
    let mut out = Vec::new();
    // Iterators over each open level's children, innermost last.
    let mut stack: Vec<std::slice::Iter<'_, &SessionEdge>> = Vec::new();
    if let Some(kids) = children.get(start.as_bytes()) {
        stack.push(kids.iter());
    }
    while let Some(level) = stack.last_mut() {
        let Some(e) = level.next() else {
            stack.pop();
            continue;
        };
        let depth = stack.len() - 1;
        let d = &e.dep;
        let fresh = match (&d.found, d.via) {
            (Some(found), Some(via)) => {
                via != Via::AlreadyLoaded && expanded.insert(found.as_bytes())
            }
            _ => false,
        };
        out.push(Node {
            depth,
            name: d.name.clone(),
            path: d.path.clone(),
            found: d.found.clone(),
            via: d.via,
            rpath_of: d.rpath_of.clone(),
            error: if d.found.is_some() && d.via.is_some() {
                None
            } else {
                Some(
                    d.error
                        .as_ref()
                        .map_or_else(|| "not found".to_string(), |e| e.to_string()),
                )
            },
            skipped: if d.found.is_some() && d.via.is_some() {
                Vec::new()
            } else {
                d.skipped.clone()
            },
            expanded: fresh,
        });
        if fresh
            && let Some(found) = &d.found
            && let Some(kids) = children.get(found.as_bytes())
        {
            stack.push(kids.iter());
        }
    }
    out
}

/// The session's loaded objects in load order. The edges are in the loader's order (each object's
/// needs in turn, breadth first), so an object's first edge that finds it is where it is loaded; a
/// need nothing satisfies is listed once, where the loader first fails it (glibc's trace mode then
/// records the name, so later needs of it match that record). The loader is in it where an object
/// first needs it (glibc puts its own link map there), as ldd lists it.
fn load_order(edges: &[SessionEdge], start: &ByteStr) -> Vec<Node> {
    // The loader is loaded before any need, so its first need says `already-loaded`: what was
    // seen, not the via, decides what is new.
    let mut seen: HashSet<&[u8]> = HashSet::from([start.as_bytes()]);
    let mut missing: HashSet<&[u8]> = HashSet::new();
    let mut out = Vec::new();
    for e in edges {
        let d = &e.dep;
        let fresh = match (&d.found, d.via) {
            (Some(found), Some(_)) => seen.insert(found.as_bytes()),
            _ => missing.insert(d.name.as_bytes()),
        };
        if fresh {
            out.push(Node {
                depth: 0,
                name: d.name.clone(),
                path: d.path.clone(),
                found: d.found.clone(),
                via: d.via,
                rpath_of: d.rpath_of.clone(),
                error: None,
                skipped: Vec::new(),
                expanded: false,
            });
        }
    }
    out
}

/// The kebab-case name of a `via`, as in JSON.
pub fn via_name(v: Via) -> &'static str {
    match v {
        Via::Rpath => "rpath",
        Via::Runpath => "runpath",
        Via::LdCache => "ld.so.cache",
        Via::LdSoConf => "ld.so.conf",
        Via::DefaultDir => "default-dir",
        Via::PathFile => "path-file",
        Via::MuslDefault => "musl-default",
        Via::Reserved => "reserved",
        Via::AlreadyLoaded => "already-loaded",
        Via::Path => "path",
        Via::Preload => "preload",
        Via::LdLibraryPath => "ld-library-path",
    }
}

/// The session's missing symbol versions, one line each in glibc's words (both human views).
fn version_errors(
    t: &TreeReport,
    paint: &dyn Fn(&str, &str) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    for v in &t.version_errors {
        let line = format!(
            "version `{}' not found in {} (required by {})",
            v.version.display_escaped(),
            v.library.display_escaped(),
            v.required_by.display_escaped()
        );
        writeln!(out, "{}", paint("31", &line))?;
    }
    Ok(())
}

/// Writes the tree for people.
pub fn render_human(t: &TreeReport, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let name = paint("1", &t.path.display_escaped());
    let (kind, machine) = (t.kind.as_str(), &t.machine);
    if t.status == Status::InterpMissing {
        // The program's own loader is what is missing: name it (and its family), not the loader
        // the listing below comes from.
        match &t.interp_missing {
            Some(m) => {
                let family = m.family.map(|f| format!("{f} ")).unwrap_or_default();
                writeln!(
                    out,
                    "{name} ({kind}, {machine}) [{family}loader {}: missing]",
                    m.interp.display_escaped()
                )?;
                writeln!(
                    out,
                    "  {}",
                    paint("31", &format!("cannot start: its {}", m.reason))
                )?;
            }
            None => writeln!(out, "{name} ({kind}, {machine})")?,
        }
        match &t.loader {
            Some(l) => writeln!(
                out,
                "  what the root's {} loader {} would load for it (what ldd shows):",
                l.family,
                l.path.display_escaped()
            )?,
            None => {
                return writeln!(
                    out,
                    "  {}",
                    paint(
                        "31",
                        &format!(
                            "nothing can be loaded: the root has no dynamic loader for {machine} {} \
                             objects",
                            t.class.as_str()
                        )
                    )
                );
            }
        }
    } else {
        let loader = t
            .loader
            .as_ref()
            .map(|l| format!(" [{} loader {}]", l.family, l.path.display_escaped()))
            .unwrap_or_default();
        writeln!(out, "{name} ({kind}, {machine}){loader}")?;
    }
    for note in &t.notes {
        writeln!(out, "  {}", paint("2", &format!("note: {note}")))?;
    }
    if t.status == Status::Static {
        return writeln!(out, "  (no dynamic dependencies: {})", t.kind.as_str());
    }
    // Whether each open level's current node is the last of its siblings, outermost first.
    let mut last_at: Vec<bool> = Vec::new();
    for (k, n) in t.needs.iter().enumerate() {
        last_at.truncate(n.depth);
        // The last sibling: no later node at this depth before one shallower.
        let last = t.needs[k + 1..]
            .iter()
            .find(|m| m.depth <= n.depth)
            .is_none_or(|m| m.depth < n.depth);
        let prefix: String = last_at
            .iter()
            .map(|&l| if l { "    " } else { "│   " })
            .collect();
        let (branch, cont) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        match (&n.found, n.via) {
            (Some(found), Some(via)) => {
                let how = match (via, &n.rpath_of) {
                    (Via::Rpath, Some(of)) => format!("rpath of {}", of.display_escaped()),
                    _ => via_name(via).to_string(),
                };
                let shown = n.path.as_ref().unwrap_or(found);
                let canon = if shown == found {
                    String::new()
                } else {
                    format!(" → {}", found.display_escaped())
                };
                writeln!(
                    out,
                    "{prefix}{branch}{} => {}{canon} {}",
                    n.name.display_escaped(),
                    shown.display_escaped(),
                    paint("2", &format!("[{how}]"))
                )?;
            }
            _ => {
                let why = n.error.as_deref().unwrap_or("not found");
                writeln!(
                    out,
                    "{prefix}{branch}{} => {}",
                    n.name.display_escaped(),
                    paint("31", why)
                )?;
                // What was passed over explains most misses (wrong class, another CPU level).
                for sk in &n.skipped {
                    writeln!(
                        out,
                        "{prefix}{cont}{}",
                        paint(
                            "2",
                            &format!("skipped {}: {}", sk.path.display_escaped(), sk.reason)
                        )
                    )?;
                }
            }
        }
        last_at.push(last);
    }
    version_errors(t, &paint, out)?;
    if !t.runtime.is_empty() {
        writeln!(out, "loaded at run time (not by the loader at start):")?;
    }
    for e in &t.runtime {
        let what = match e.loads.first() {
            Some(l) => l.display_escaped(),
            None => paint("31", "nothing (not found)"),
        };
        writeln!(
            out,
            "  {} {} ({}) => {what}{}",
            e.edge.rule,
            crate::name::escape_controls(&e.edge.detail),
            e.edge.from.display_escaped(),
            match e.edge.tier {
                crate::runtime::edges::Tier::Required => String::new(),
                t => format!(" [{t}]"),
            }
        )?;
    }
    Ok(())
}

/// Writes the session like ldd: one line per loaded object in load order, `NAME => PATH (via)` (the
/// path it was opened under, as ldd prints it), `NAME => not found` for a need nothing satisfies,
/// and the loader under the program's PT_INTERP, where it is first needed or else last (as ldd). What run-time edges load is not listed: ldd
/// does not see it either (the tree and JSON show it).
pub fn render_flat(t: &TreeReport, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    if t.status == Status::Static {
        return writeln!(out, "\tstatically linked");
    }
    let loader_line = |l: &LoaderRef, out: &mut dyn Write| {
        // A library has no PT_INTERP: the loader is named by its own path.
        let name = t.interp.as_ref().unwrap_or(&l.path);
        writeln!(
            out,
            "\t{} => {} {}",
            name.display_escaped(),
            l.path.display_escaped(),
            paint("2", "(interpreter)")
        )
    };
    let mut loader_listed = false;
    for n in &t.load_order {
        let name = n.name.display_escaped();
        if let Some(l) = &t.loader
            && t.interp_missing.is_none()
            && n.found.as_ref() == Some(&l.path)
        {
            loader_line(l, out)?;
            loader_listed = true;
            continue;
        }
        match (&n.found, n.via) {
            (Some(found), Some(via)) => {
                let shown = n.path.as_ref().unwrap_or(found);
                writeln!(
                    out,
                    "\t{name} => {} {}",
                    shown.display_escaped(),
                    paint("2", &format!("({})", via_name(via)))
                )?;
            }
            _ => writeln!(out, "\t{name} => {}", paint("31", "not found"))?,
        }
    }
    match (&t.interp_missing, &t.loader) {
        (Some(m), _) => writeln!(
            out,
            "\t{} => {}",
            m.interp.display_escaped(),
            paint("31", "not found")
        )?,
        (None, Some(l)) if !loader_listed => loader_line(l, out)?,
        _ => {}
    }
    version_errors(t, &paint, out)?;
    Ok(())
}

/// Writes the tree as the `elfdeps-tree/1` JSON document.
pub fn render_json(root: &ByteStr, t: &TreeReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::write_document(SCHEMA, Some(root), t, out)
}

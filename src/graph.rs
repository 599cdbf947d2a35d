/*!
The dependency graph over all objects of a root (petgraph), with unresolved needs as their own nodes,
and the per-session views behind `elfdeps tree` and `elfdeps why`.

The root-wide graph has one edge per direct need of each object, resolved in that object's own session.
Chains ("why is this library loaded?") come from each program's session instead: RPATH inheritance
means a library's needs can resolve differently inside a program than on their own.
*/

use std::collections::HashMap;
use std::io::{self, Write};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::elf::{Class, Kind};
use crate::name::ByteStr;
use crate::resolve::env::{is_musl_interp, standard_interps};
use crate::resolve::{Resolution, Resolved, SessionEdge, Status, Via};
use crate::scan::Object;
use crate::tree::Tree;

/// A node: an object of the root, or a need nothing satisfied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// An ELF object (index into the report's objects).
    Object(usize),
    /// A needed name that was not found.
    Missing(ByteStr),
}

/// An edge: one need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The DT_NEEDED name.
    pub name: ByteStr,
    /// How it was satisfied (`None`: it was not).
    pub via: Option<Via>,
}

/// The root-wide dependency graph.
pub struct DepGraph {
    /// The graph itself.
    pub graph: DiGraph<Node, Edge>,
    objects: Vec<NodeIndex>,
}

impl DepGraph {
    /// Builds the graph from a resolved scan.
    pub fn build(root: Resolved<'_>) -> DepGraph {
        let mut graph = DiGraph::new();
        let objects: Vec<NodeIndex> = (0..root.objects.len())
            .map(|i| graph.add_node(Node::Object(i)))
            .collect();
        let by_path: HashMap<&[u8], usize> = root
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.path.as_bytes(), i))
            .collect();
        let mut missing: HashMap<ByteStr, NodeIndex> = HashMap::new();
        for (i, _, r) in root.iter() {
            for d in &r.deps {
                let target = match d.found.as_ref().and_then(|f| by_path.get(f.as_bytes())) {
                    Some(&t) => objects[t],
                    None => *missing
                        .entry(d.name.clone())
                        .or_insert_with(|| graph.add_node(Node::Missing(d.name.clone()))),
                };
                graph.add_edge(
                    objects[i],
                    target,
                    Edge {
                        name: d.name.clone(),
                        via: d.via,
                    },
                );
            }
        }
        DepGraph { graph, objects }
    }

    /// The node of object `i`.
    pub fn object_node(&self, i: usize) -> NodeIndex {
        self.objects[i]
    }

    /// Writes the graph in Graphviz DOT: objects as boxes (red when their status is not ok), missing
    /// needs as red ellipses, edges labelled with the need when it differs from the target's name.
    pub fn write_dot(&self, root: Resolved<'_>, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "digraph elfdeps {{")?;
        writeln!(out, "  rankdir=LR;")?;
        writeln!(
            out,
            "  node [shape=box, fontname=\"monospace\", fontsize=10];"
        )?;
        for n in self.graph.node_indices() {
            match &self.graph[n] {
                Node::Object(i) => {
                    let o = &root.objects[*i];
                    let bad = matches!(
                        root.resolutions[*i].status,
                        Status::Error | Status::InterpMissing
                    );
                    let style = if bad { ", color=red" } else { "" };
                    writeln!(
                        out,
                        "  n{} [label={}{style}];",
                        n.index(),
                        dot_quote(&o.path.display_escaped())
                    )?;
                }
                Node::Missing(name) => {
                    writeln!(
                        out,
                        "  n{} [label={}, shape=ellipse, color=red, fontcolor=red];",
                        n.index(),
                        dot_quote(&format!("{} (not found)", name.display_escaped()))
                    )?;
                }
            }
        }
        for e in self.graph.edge_references() {
            writeln!(
                out,
                "  n{} -> n{} [tooltip={}];",
                e.source().index(),
                e.target().index(),
                dot_quote(&e.weight().name.display_escaped())
            )?;
        }
        writeln!(out, "}}")
    }
}

/// Quotes a DOT string.
fn dot_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Whether an object is a program (something a user starts).
pub fn is_program(o: &Object) -> bool {
    matches!(o.facts.kind, Kind::Executable | Kind::Pie)
}

/// Writes the session of `o` as a tree, like lddtree/libtree: each object's needs under it, the first
/// time it is loaded; later needs of an already loaded object are shown but not expanded. `tree` is
/// the walked root, to say why a missing interpreter cannot be opened.
pub fn write_tree(
    o: &Object,
    r: &Resolution,
    tree: &Tree,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let paint = |code: &str, t: &str| {
        if color {
            format!("\x1b[{code}m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    let name = paint("1", &o.path.display_escaped());
    let (kind, machine) = (o.facts.kind.as_str(), &o.facts.machine);
    let mut notes = r.notes.as_slice();
    if r.status == Status::InterpMissing {
        // The program's own loader is what is missing: name it (and its family), not the loader the
        // listing below comes from. The resolver's first note says the same in one line for JSON
        // readers; here the header and the line under it say it instead.
        notes = notes.get(1..).unwrap_or_default();
        match &o.facts.interp {
            Some(interp) => {
                let family = loader_family_of_interp(interp.as_bytes(), machine, o.facts.class);
                writeln!(
                    out,
                    "{name} ({kind}, {machine}) [{family}loader {}: missing]",
                    interp.display_escaped()
                )?;
                writeln!(
                    out,
                    "  {}",
                    paint(
                        "31",
                        &format!("cannot start: its {}", missing_interp(interp, tree))
                    )
                )?;
            }
            None => writeln!(out, "{name} ({kind}, {machine})")?,
        }
        match &r.loader {
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
                            o.facts.class.as_str()
                        )
                    )
                );
            }
        }
    } else {
        let loader = r
            .loader
            .as_ref()
            .map(|l| format!(" [{} loader {}]", l.family, l.path.display_escaped()))
            .unwrap_or_default();
        writeln!(out, "{name} ({kind}, {machine}){loader}")?;
    }
    for note in notes {
        writeln!(out, "  {}", paint("2", &format!("note: {note}")))?;
    }
    if r.status == Status::Static {
        return writeln!(
            out,
            "  (no dynamic dependencies: {})",
            o.facts.kind.as_str()
        );
    }
    let mut children: HashMap<&[u8], Vec<&SessionEdge>> = HashMap::new();
    for e in &r.edges {
        children.entry(e.from.as_bytes()).or_default().push(e);
    }
    let mut expanded = std::collections::HashSet::new();
    expanded.insert(o.path.as_bytes().to_vec());
    tree_level(&children, o.path.as_bytes(), "", &mut expanded, out, &paint)?;
    for v in &r.version_errors {
        writeln!(
            out,
            "{}",
            paint(
                "31",
                &format!(
                    "version `{}' not found in {} (required by {})",
                    v.version.display_escaped(),
                    v.library.display_escaped(),
                    v.required_by.display_escaped()
                )
            )
        )?;
    }
    Ok(())
}

fn tree_level(
    children: &HashMap<&[u8], Vec<&SessionEdge>>,
    from: &[u8],
    prefix: &str,
    expanded: &mut std::collections::HashSet<Vec<u8>>,
    out: &mut dyn Write,
    paint: &dyn Fn(&str, &str) -> String,
) -> io::Result<()> {
    let Some(kids) = children.get(from) else {
        return Ok(());
    };
    for (k, e) in kids.iter().enumerate() {
        let last = k + 1 == kids.len();
        let (branch, cont) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let d = &e.dep;
        match (&d.found, d.via) {
            (Some(found), Some(via)) => {
                let fresh = via != Via::AlreadyLoaded && expanded.insert(found.as_bytes().to_vec());
                let how = match (via, &d.rpath_of) {
                    (Via::Rpath, Some(of)) => format!("rpath of {}", of.display_escaped()),
                    _ => via_name(via).to_string(),
                };
                let shown = d.path.as_ref().unwrap_or(found);
                let canon = if shown == found {
                    String::new()
                } else {
                    format!(" → {}", found.display_escaped())
                };
                writeln!(
                    out,
                    "{prefix}{branch}{} => {}{canon} {}",
                    d.name.display_escaped(),
                    shown.display_escaped(),
                    paint("2", &format!("[{how}]"))
                )?;
                if fresh {
                    tree_level(
                        children,
                        found.as_bytes(),
                        &format!("{prefix}{cont}"),
                        expanded,
                        out,
                        paint,
                    )?;
                }
            }
            _ => {
                let why = d.error.as_deref().unwrap_or("not found");
                writeln!(
                    out,
                    "{prefix}{branch}{} => {}",
                    d.name.display_escaped(),
                    paint("31", why)
                )?;
                // What was passed over explains most misses (wrong class, another CPU level).
                for sk in &d.skipped {
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
    }
    Ok(())
}

/// Why interpreter `interp` (a PT_INTERP that resolution found missing) cannot be used, from the
/// walked tree: "interpreter /lib/ld-musl-x86_64.so.1 cannot be opened inside the root: ...".
pub fn missing_interp(interp: &ByteStr, tree: &Tree) -> String {
    match tree.resolve(interp.as_bytes(), true) {
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

/// `"musl "` or `"glibc "` when an interpreter path is one of that family's (by name: the file is
/// missing, so its content cannot say), else nothing.
fn loader_family_of_interp(interp: &[u8], machine: &str, class: Class) -> &'static str {
    let (glibc, _) = standard_interps(machine, class);
    if is_musl_interp(interp) {
        "musl "
    } else if glibc.iter().any(|g| g.as_bytes() == interp) {
        "glibc "
    } else {
        ""
    }
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
    }
}

/// The most chains listed per program: chains to libc can number in the thousands.
pub const MAX_CHAINS_PER_PROGRAM: usize = 32;

/// Every chain (up to [`MAX_CHAINS_PER_PROGRAM`] per program) from a program to a library that matches
/// `target`: a canonical path, or a needed name / soname. Each chain is a list of canonical paths (the
/// last entry is the library, or the unresolved name).
pub fn chains_to(root: Resolved<'_>, target: &[u8]) -> Vec<(usize, Vec<ByteStr>, usize)> {
    let canonical_target = root.tree.resolve(target, true).ok();
    let mut result = Vec::new();
    for (pi, o, r) in root.iter() {
        if !is_program(o) {
            continue;
        }
        let chains = session_chains(o, r, target, canonical_target.as_ref());
        let total = chains.len();
        for c in chains.into_iter().take(MAX_CHAINS_PER_PROGRAM) {
            result.push((pi, c, total));
        }
    }
    result
}

fn session_chains(
    o: &Object,
    r: &Resolution,
    target: &[u8],
    canonical: Option<&ByteStr>,
) -> Vec<Vec<ByteStr>> {
    // A small graph of this session: canonical paths (or missing names) as nodes.
    let mut g: DiGraph<ByteStr, ()> = DiGraph::new();
    let mut idx: HashMap<ByteStr, NodeIndex> = HashMap::new();
    let mut node = |g: &mut DiGraph<ByteStr, ()>, k: &ByteStr| {
        *idx.entry(k.clone())
            .or_insert_with(|| g.add_node(k.clone()))
    };
    let start = node(&mut g, &o.path);
    let mut targets = Vec::new();
    for e in &r.edges {
        let from = node(&mut g, &e.from);
        let to_key = e.dep.found.clone().unwrap_or_else(|| e.dep.name.clone());
        let to = node(&mut g, &to_key);
        if !g.contains_edge(from, to) {
            g.add_edge(from, to, ());
        }
        let hit = e.dep.name.as_bytes() == target
            || e.dep
                .found
                .as_ref()
                .is_some_and(|f| Some(f) == canonical || f.as_bytes() == target);
        if hit && !targets.contains(&to) {
            targets.push(to);
        }
    }
    let mut chains = Vec::new();
    for t in targets {
        if t == start {
            continue;
        }
        let paths = petgraph::algo::all_simple_paths::<Vec<NodeIndex>, _, std::hash::RandomState>(
            &g, start, t, 0, None,
        );
        for p in paths.take(MAX_CHAINS_PER_PROGRAM * 8) {
            chains.push(p.into_iter().map(|n| g[n].clone()).collect::<Vec<_>>());
        }
    }
    // Shortest first: the chain a reader wants first is the most direct one.
    chains.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    chains.dedup();
    chains
}

/*!
The dependency graph over all objects of a root (petgraph), with unresolved needs as their own nodes,
and the chains behind `elfdeps why`.

The root-wide graph has one edge per direct need of each object, resolved in that object's own session.
Chains ("why is this library loaded?") come from each program's session instead: RPATH inheritance
means a library's needs can resolve differently inside a program than on their own.
*/

use std::collections::HashMap;
use std::io::{self, Write};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::elf::Kind;
use crate::name::ByteStr;
use crate::resolve::{Resolution, Resolved, Status, Via};
use crate::scan::Object;

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

/*!
The dependency graph over all objects of a root (petgraph), with unresolved needs as their own nodes,
and the chains behind `elfdeps why`.

The root-wide graph has one edge per direct need of each object, resolved in that object's own session.
Chains ("why is this library loaded?") come from each program's session instead: RPATH inheritance
means a library's needs can resolve differently inside a program than on their own. A library no
program's loader loads can still be loaded later, by a run-time edge (an NSS module libc loads, a
Python extension module): those chains add the run-time edges to the sessions.
*/

use std::collections::HashMap;
use std::io::{self, Write};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use serde::Serialize;

use crate::elf::Kind;
use crate::name::ByteStr;
use crate::resolve::{Resolution, Resolved, SessionEdge, Status, Via};
use crate::runtime::edges::{EdgeLoads, Rule, Tier};
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

/// How a link of a chain was made, when not by the loader: the run-time edge behind it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuntimeVia {
    /// By which convention.
    pub rule: Rule,
    /// Where the edge was read (`hosts: myhostname`, `Python 3.11 (/usr/lib/python3.11)`).
    pub detail: String,
    /// How much the program needs what the edge names.
    pub tier: Tier,
}

/// One step of a chain: a canonical path (or the needed name nothing satisfied), and how the step
/// before it reached it when that was at run time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hop {
    /// The object reached.
    pub path: ByteStr,
    /// The run-time edge that loads it (`None`: the loader does, or it is the program).
    pub runtime: Option<RuntimeVia>,
}

impl Hop {
    fn loaded(path: ByteStr) -> Hop {
        Hop {
            path,
            runtime: None,
        }
    }
}

/// A hop the loader made is its path alone, as the why document always had it; a run-time hop is
/// an object with its edge, so readers of the old form see a change only where there is one.
impl Serialize for Hop {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Linked<'a> {
            path: &'a ByteStr,
            runtime: &'a RuntimeVia,
        }
        match &self.runtime {
            None => self.path.serialize(s),
            Some(runtime) => Linked {
                path: &self.path,
                runtime,
            }
            .serialize(s),
        }
    }
}

/// Every chain (up to [`MAX_CHAINS_PER_PROGRAM`] per program) from a program to a library that matches
/// `target`: a canonical path, or a needed name / soname. Each chain is a list of hops (the last is
/// the library, or the unresolved name).
///
/// A program whose loader loads the library is explained by its loader chains alone. One whose
/// loader does not is searched again with the run-time edges (`runtime`, each object's, aligned
/// with the objects): what its session's objects load at run time, what those need and load in
/// turn; its chains then each have at least one run-time hop.
pub fn chains_to(
    root: Resolved<'_>,
    runtime: Option<&[Vec<EdgeLoads>]>,
    target: &[u8],
) -> Vec<(usize, Vec<Hop>, usize)> {
    let canonical_target = root.tree.resolve(target, true).ok();
    let want = Wanted {
        target,
        canonical: canonical_target.as_ref(),
    };
    let sessions: Vec<&[SessionEdge]> = root.resolutions.iter().map(|r| &r.edges[..]).collect();
    let mut result = Vec::new();
    for (pi, o, r) in root.iter() {
        if !is_program(o) {
            continue;
        }
        let mut chains: Vec<Vec<Hop>> = session_chains(o, r, target, canonical_target.as_ref())
            .into_iter()
            .map(|c| c.into_iter().map(Hop::loaded).collect())
            .collect();
        if chains.is_empty()
            && let Some(runtime) = runtime
        {
            let world = World {
                sessions: &sessions,
                runtime,
                soname: &|p: &[u8]| {
                    root.object_at(p)
                        .and_then(|i| root.objects[i].facts.soname.clone())
                },
                index: &|p: &[u8]| root.object_at(p),
            };
            chains = runtime_chains(&world, pi, &o.path, &r.edges, &want);
        }
        let total = chains.len();
        for c in chains.into_iter().take(MAX_CHAINS_PER_PROGRAM) {
            result.push((pi, c, total));
        }
    }
    result
}

/// What a chain ends at: the name or path asked about, and its canonical path when it is a path.
struct Wanted<'a> {
    target: &'a [u8],
    canonical: Option<&'a ByteStr>,
}

impl Wanted<'_> {
    fn is_path(&self, p: &ByteStr) -> bool {
        Some(p) == self.canonical || p.as_bytes() == self.target
    }

    /// Whether a need is the one asked about: by its name, or by where it was found.
    fn is_need(&self, e: &SessionEdge) -> bool {
        e.dep.name.as_bytes() == self.target
            || e.dep.found.as_ref().is_some_and(|f| self.is_path(f))
    }
}

/// The objects a run-time search walks, by index: each one's own loader session and run-time
/// edges, and two lookups (the object at a canonical path, its soname).
struct World<'a> {
    sessions: &'a [&'a [SessionEdge]],
    runtime: &'a [Vec<EdgeLoads>],
    index: &'a dyn Fn(&[u8]) -> Option<usize>,
    soname: &'a dyn Fn(&[u8]) -> Option<ByteStr>,
}

/// Most steps one program's run-time search takes: a bound on hostile or huge roots, far above
/// what the chains of a real root need.
const MAX_SEARCH_STEPS: usize = 200_000;

/// The chains from program `pi` (at `start`, whose loader session is `session`) to `want` when
/// run-time edges count: its session, plus every run-time edge of an object in the graph, plus the
/// loader session of every object only a run-time edge loads (the loader loads its needs at
/// dlopen; an object the program's loader already loaded is not loaded again).
fn runtime_chains(
    world: &World<'_>,
    pi: usize,
    start: &ByteStr,
    session: &[SessionEdge],
    want: &Wanted<'_>,
) -> Vec<Vec<Hop>> {
    let mut g = SearchGraph::default();
    let start_node = g.node(start);
    let mut targets: Vec<usize> = Vec::new();
    // The objects in the graph by soname: a need of an object loaded later that its own session
    // does not find is met by one already loaded under that soname, as glibc's loader does
    // (libjvm.so's users in a JVM).
    let mut by_soname: HashMap<ByteStr, usize> = HashMap::new();
    let add_session = |g: &mut SearchGraph,
                       edges: &[SessionEdge],
                       by_soname: &HashMap<ByteStr, usize>,
                       targets: &mut Vec<usize>| {
        for e in edges {
            let from = g.node(&e.from);
            let to = match &e.dep.found {
                Some(f) => g.node(f),
                None => match by_soname.get(&e.dep.name) {
                    Some(&n) => n,
                    None => g.node(&e.dep.name),
                },
            };
            g.link(from, to, None);
            let hit = want.is_need(e) || want.is_path(&g.names[to]);
            if hit && !targets.contains(&to) {
                targets.push(to);
            }
        }
    };
    add_session(&mut g, session, &by_soname, &mut targets);
    // The program's loader session: dlopen hands these back as they are.
    let loaded_at_start = g.names.len();
    // Each object node's run-time edges, once; nodes are appended, so this walks new ones too.
    let mut next = 0;
    let mut expanded_sessions: std::collections::HashSet<usize> = [pi].into();
    while next < g.names.len() {
        let n = next;
        next += 1;
        let Some(j) = (world.index)(g.names[n].as_bytes()) else {
            continue;
        };
        if let Some(soname) = (world.soname)(g.names[n].as_bytes()) {
            by_soname.entry(soname).or_insert(n);
        }
        if n >= loaded_at_start
            && expanded_sessions.insert(j)
            && let Some(edges) = world.sessions.get(j)
        {
            add_session(&mut g, edges, &by_soname, &mut targets);
        }
        for el in world.runtime.get(j).map_or(&[][..], Vec::as_slice) {
            for load in &el.loads {
                let to = g.node(load);
                let via = RuntimeVia {
                    rule: el.edge.rule,
                    detail: el.edge.detail.clone(),
                    tier: el.edge.tier,
                };
                g.link(n, to, Some(via));
                // A run-time load has no needed name: the name asked about is the file's own
                // (what dlopen or the convention looks for) or its soname. Of a note's
                // alternatives only the one loaded is named.
                let by_name = base(load.as_bytes()) == want.target
                    || (world.soname)(load.as_bytes()).is_some_and(|s| s.as_bytes() == want.target);
                if (by_name || want.is_path(load)) && !targets.contains(&to) {
                    targets.push(to);
                }
            }
        }
    }
    g.simple_paths(start_node, &targets)
}

/// The last component of a path.
fn base(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// A small graph of canonical paths with labelled links, for the run-time search.
#[derive(Default)]
struct SearchGraph {
    names: Vec<ByteStr>,
    ids: HashMap<ByteStr, usize>,
    /// Each node's links in the order they were added: the target and the run-time edge, if any.
    links: Vec<Vec<(usize, Option<RuntimeVia>)>>,
}

impl SearchGraph {
    fn node(&mut self, name: &ByteStr) -> usize {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.clone());
        self.ids.insert(name.clone(), i);
        self.links.push(Vec::new());
        i
    }

    /// Links `from` to `to`, once: a load by the loader says more than a run-time edge to the same
    /// object (the object is there from the start), and of run-time edges the first is kept.
    fn link(&mut self, from: usize, to: usize, via: Option<RuntimeVia>) {
        let links = &mut self.links[from];
        match links.iter_mut().find(|(t, _)| *t == to) {
            Some((_, old)) => {
                if via.is_none() {
                    *old = None;
                }
            }
            None => links.push((to, via)),
        }
    }

    /// The simple paths from `start` to any of `targets`, shortest first, at most
    /// `MAX_CHAINS_PER_PROGRAM * 8` of them, as hops. The walk only enters nodes that can reach a
    /// target, so it spends its steps on chains rather than on the rest of the session.
    fn simple_paths(&self, start: usize, targets: &[usize]) -> Vec<Vec<Hop>> {
        let n = self.names.len();
        let mut useful = vec![false; n];
        let mut back: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (from, links) in self.links.iter().enumerate() {
            for (to, _) in links {
                back[*to].push(from);
            }
        }
        let mut stack: Vec<usize> = targets.to_vec();
        while let Some(t) = stack.pop() {
            if !std::mem::replace(&mut useful[t], true) {
                stack.extend(back[t].iter().copied().filter(|&f| !useful[f]));
            }
        }
        let mut chains: Vec<Vec<Hop>> = Vec::new();
        if !useful[start] {
            return chains;
        }
        let is_target = |i: usize| i != start && targets.contains(&i);
        let limit = MAX_CHAINS_PER_PROGRAM * 8;
        let mut on_path = vec![false; n];
        // The path as (node, how it was reached, next link to try).
        let mut path: Vec<(usize, Option<&RuntimeVia>, usize)> = vec![(start, None, 0)];
        on_path[start] = true;
        let mut steps = 0;
        while let Some(top) = path.last_mut() {
            steps += 1;
            if steps > MAX_SEARCH_STEPS || chains.len() >= limit {
                break;
            }
            let (node, _, ref mut k) = *top;
            let Some((to, via)) = self.links[node].get(*k) else {
                on_path[node] = false;
                path.pop();
                continue;
            };
            *k += 1;
            if on_path[*to] || !useful[*to] {
                continue;
            }
            path.push((*to, via.as_ref(), 0));
            on_path[*to] = true;
            if is_target(*to) {
                chains.push(
                    path.iter()
                        .map(|(i, via, _)| Hop {
                            path: self.names[*i].clone(),
                            runtime: via.cloned(),
                        })
                        .collect(),
                );
            }
        }
        // Shortest first, as the loader's chains.
        chains.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        chains.dedup();
        chains
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Dep;
    use crate::runtime::edges::{RuntimeEdge, Target};

    fn need(from: &str, name: &str, found: Option<&str>) -> SessionEdge {
        SessionEdge {
            from: ByteStr::from(from),
            dep: Dep {
                name: ByteStr::from(name),
                path: found.map(ByteStr::from),
                found: found.map(ByteStr::from),
                via: None,
                rpath_of: None,
                hwcaps: None,
                skipped: Vec::new(),
                error: None,
            },
        }
    }

    fn loads(from: &str, rule: Rule, detail: &str, file: &str) -> EdgeLoads {
        EdgeLoads {
            edge: RuntimeEdge {
                from: ByteStr::from(from),
                rule,
                detail: detail.to_string(),
                tier: Tier::Required,
                target: Target::File(ByteStr::from(file)),
            },
            loads: vec![ByteStr::from(file)],
        }
    }

    const PROG: &str = "/bin/prog";
    const LIBC: &str = "/lib/libc.so.6";
    const NSS: &str = "/lib/libnss_x.so.2";
    const DEP: &str = "/lib/libdep.so.1";
    const VM: &str = "/lib/libvm.so";
    const USER: &str = "/lib/libuser.so";
    const BOGUS: &str = "/lib/bogus.so";

    /// The chains `prog` has to `target` in a small world: prog needs libc, whose NSS edge loads
    /// libnss_x (which needs libdep); prog loads libvm and libuser at run time, and libuser needs
    /// libvm by a soname its own session does not find. libc's own session has a need prog's
    /// session does not (libc is loaded at start, so a dlopen of it loads nothing new).
    fn chains(target: &str) -> Vec<Vec<Hop>> {
        let paths = [PROG, LIBC, NSS, DEP, VM, USER, BOGUS];
        let prog = vec![need(PROG, "libc.so.6", Some(LIBC))];
        let libc = vec![need(LIBC, "bogus.so", Some(BOGUS))];
        let nss = vec![
            need(NSS, "libc.so.6", Some(LIBC)),
            need(NSS, "libdep.so.1", Some(DEP)),
        ];
        let user = vec![need(USER, "libvm.so", None)];
        let sessions: Vec<&[SessionEdge]> = vec![&prog, &libc, &nss, &[], &[], &user, &[]];
        let runtime = vec![
            vec![
                loads(PROG, Rule::Jvm, "lib/jvm.cfg", VM),
                loads(PROG, Rule::Jvm, "lib/jvm.cfg", USER),
            ],
            vec![loads(LIBC, Rule::Nss, "hosts: x", NSS)],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        ];
        let index = |p: &[u8]| paths.iter().position(|q| q.as_bytes() == p);
        let soname = |p: &[u8]| {
            let i = index(p)?;
            Some(ByteStr::from(paths[i].rsplit('/').next()?))
        };
        let world = World {
            sessions: &sessions,
            runtime: &runtime,
            index: &index,
            soname: &soname,
        };
        let canonical = target.starts_with('/').then(|| ByteStr::from(target));
        let want = Wanted {
            target: target.as_bytes(),
            canonical: canonical.as_ref(),
        };
        runtime_chains(&world, 0, &ByteStr::from(PROG), &prog, &want)
    }

    fn at_start(p: &str) -> Hop {
        Hop::loaded(ByteStr::from(p))
    }

    fn at_run_time(p: &str, rule: Rule, detail: &str) -> Hop {
        Hop {
            path: ByteStr::from(p),
            runtime: Some(RuntimeVia {
                rule,
                detail: detail.to_string(),
                tier: Tier::Required,
            }),
        }
    }

    #[test]
    fn a_run_time_edge_is_a_marked_link() {
        let nss = vec![
            at_start(PROG),
            at_start(LIBC),
            at_run_time(NSS, Rule::Nss, "hosts: x"),
        ];
        assert_eq!(chains("libnss_x.so.2"), vec![nss.clone()]);
        assert_eq!(chains(NSS), vec![nss.clone()]);
        // What the loaded module needs comes after it, loaded by the loader again.
        let mut dep = nss;
        dep.push(at_start(DEP));
        assert_eq!(chains(DEP), vec![dep]);
    }

    #[test]
    fn an_object_loaded_at_start_is_not_loaded_again() {
        assert_eq!(chains(BOGUS), Vec::<Vec<Hop>>::new());
        assert_eq!(chains("bogus.so"), Vec::<Vec<Hop>>::new());
    }

    #[test]
    fn a_need_is_met_by_an_object_loaded_under_its_soname() {
        let vm = at_run_time(VM, Rule::Jvm, "lib/jvm.cfg");
        assert_eq!(
            chains("libvm.so"),
            vec![
                vec![at_start(PROG), vm.clone()],
                vec![
                    at_start(PROG),
                    at_run_time(USER, Rule::Jvm, "lib/jvm.cfg"),
                    at_start(VM)
                ],
            ]
        );
        // A path that is no object is reached by nothing.
        assert_eq!(chains("/lib/none.so"), Vec::<Vec<Hop>>::new());
    }

    #[test]
    fn a_hop_is_a_path_unless_a_run_time_edge_made_it() {
        let chain = vec![at_start(PROG), at_run_time(NSS, Rule::Nss, "hosts: x")];
        assert_eq!(
            serde_json::to_value(&chain).expect("json"),
            serde_json::json!([
                PROG,
                {"path": NSS, "runtime": {"rule": "nss", "detail": "hosts: x", "tier": "required"}}
            ])
        );
    }
}

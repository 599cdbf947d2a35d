/*!
glob(3) as ldconfig calls it for `include` lines of ld.so.conf (`glob (pattern, 0, NULL, &gl)` in
elf/ldconfig.c): flags 0, in the C locale, over the walked [`Tree`].

What flags 0 means, and what is modelled here:
- The pattern applies to every `/`-separated component. A component without `*`, `?`, `[` or `\`
  is used as it is (`..` included); the others are matched against the names of the directory
  (`.` and `..` among them, as readdir returns them). A match that is not the last component must
  be a directory once symlinks are followed inside the root (what opendir accepts).
- fnmatch with `FNM_PERIOD`: a leading `.` of a name is matched only by a literal `.` (or `\.`),
  never by `*`, `?` or a bracket expression. No `FNM_NOESCAPE`: `\` quotes the next byte, inside
  brackets too. No braces, no `**`, no `~` (those need GLOB_BRACE, GLOB_TILDE).
- Bracket expressions as glibc's fnmatch walks them in the C locale: `!` or `^` negates, a first
  `]` is literal, ranges by byte value, the C locale's classes (`[:alpha:]` …), single-byte
  `[=c=]` and `[.c.]`; an unterminated `[` is a literal `[` (for a byte none of its elements
  matched); what glibc's fnmatch rejects (an unknown class name, a trailing `\`, a range to the
  end of the pattern) matches nothing, and the rest of an expression an element matched is skipped
  with glibc's own skipping rules.
- Bytes, not strings: names need not be UTF-8.
- Results sorted by bytes over the whole path (ldconfig sets LC_COLLATE to C, so glob's strcoll is
  strcmp).

A component compiles to a small automaton over its byte positions, so a name is matched in at
most (pattern bytes × name bytes) steps, however many stars; compiling, matching, directory
entries and results all count against a [`Budget`], so a hostile pattern costs a bounded amount
of work whatever the tree holds. The tests compare the matcher with the host's fnmatch(3) and
glob(3).
*/

use super::view::FsView;
use crate::name::ByteStr;

/// Work allowed for the glob expansions of one ld.so.conf reading (matching steps plus
/// directory entries looked at).
pub struct Budget {
    /// Steps left.
    pub left: u64,
}

/// Most paths one level of an expansion may hold.
pub const MAX_PATHS: usize = 1 << 16;

/// The budget ran out (or a level held more than [`MAX_PATHS`] paths): the expansion stopped.
#[derive(Debug, PartialEq, Eq)]
pub struct Exhausted;

impl Budget {
    fn spend(&mut self, n: u64) -> Result<(), Exhausted> {
        match self.left.checked_sub(n) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => {
                self.left = 0;
                Err(Exhausted)
            }
        }
    }
}

/// "No next position": the byte fails the match.
const FAIL: u32 = u32::MAX;

/// glibc's CHAR_CLASS_MAX_LENGTH (CHARCLASS_NAME_MAX): a longer class name fails.
const CLASS_MAX: usize = 2048;

/// What the pattern element starting at one byte position of a component does.
#[derive(Clone, Debug)]
enum Elem {
    /// `*`: any run of bytes, then the next position.
    Star,
    /// `?`: any byte.
    Any(u32),
    /// This byte (a literal, or `\` and a byte): the only element that can match a leading `.`.
    Byte(u8, u32),
    /// A bracket expression: for each byte, the position matching goes on from, or [`FAIL`].
    /// (Where glibc goes on depends on the byte in the odd cases: an unterminated `[` is a
    /// literal `[` only for a byte no element matched, and an element that matches makes it skip
    /// the rest of the expression with rules of its own.)
    Set(Box<[u32; 256]>),
    /// Matches nothing (a trailing `\`).
    Fail,
}

/// A compiled pattern component: a small automaton over the byte positions of the pattern, so
/// matching a name costs at most (positions × name bytes) steps, whatever the stars.
#[derive(Clone, Debug)]
pub struct Component {
    /// The element at each position reachable from the start (`None`: never reached).
    elems: Vec<Option<Elem>>,
}

fn set_has(set: &[u64; 4], b: u8) -> bool {
    set[usize::from(b >> 6)] & (1 << (b & 63)) != 0
}

fn set_add(set: &mut [u64; 4], b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

/// Whether a component has anything glob treats as magic (glibc's `__glob_pattern_type`: `*`, `?`,
/// `[`, and `\` when escapes are on).
fn is_magic(comp: &[u8]) -> bool {
    comp.iter().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

/// The C locale's character classes.
fn class(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |b: u8| b.is_ascii_alphanumeric(),
        b"alpha" => |b: u8| b.is_ascii_alphabetic(),
        b"blank" => |b: u8| b == b' ' || b == b'\t',
        b"cntrl" => |b: u8| b.is_ascii_control(),
        b"digit" => |b: u8| b.is_ascii_digit(),
        b"graph" => |b: u8| b.is_ascii_graphic(),
        b"lower" => |b: u8| b.is_ascii_lowercase(),
        b"print" => |b: u8| b.is_ascii_graphic() || b == b' ',
        b"punct" => |b: u8| b.is_ascii_punctuation(),
        b"space" => |b: u8| b.is_ascii_whitespace() || b == 0x0b,
        b"upper" => |b: u8| b.is_ascii_uppercase(),
        b"xdigit" => |b: u8| b.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// The pattern of one component with the tables its bracket expressions need.
struct Compiler<'p> {
    p: &'p [u8],
    /// `run[k]`: how many bytes in `a`..=`y` start at `k` (glibc reads a class name of those).
    run: Vec<u32>,
    /// `dot_close[k]`: the first `j >= k` with `.]` at `j`, or FAIL.
    dot_close: Vec<u32>,
    /// Where skipping the rest of a matched bracket expression from `k` ends (after its `]`):
    /// unknown (`None`), or FAIL.
    skip: Vec<Option<u32>>,
}

fn pos(k: usize) -> u32 {
    u32::try_from(k).unwrap_or(FAIL)
}

impl<'p> Compiler<'p> {
    fn new(p: &'p [u8]) -> Self {
        let n = p.len();
        let mut run = vec![0u32; n + 2];
        let mut dot_close = vec![FAIL; n + 2];
        for k in (0..n).rev() {
            // glibc stops at 'z' itself (`c >= 'z'`), so 'z' is no class-name byte.
            if (b'a'..=b'y').contains(&p[k]) {
                run[k] = run[k + 1] + 1;
            }
            dot_close[k] = if p[k] == b'.' && p.get(k + 1) == Some(&b']') {
                pos(k)
            } else {
                dot_close[k + 1]
            };
        }
        Compiler {
            p,
            run,
            dot_close,
            skip: vec![None; n + 2],
        }
    }

    /// The byte at `k`, NUL past the end (the pattern is a C string to glibc).
    fn at(&self, k: usize) -> u8 {
        self.p.get(k).copied().unwrap_or(0)
    }

    fn run_at(&self, k: usize) -> usize {
        self.run.get(k).map_or(0, |&r| r as usize)
    }

    fn dot_close_from(&self, k: usize) -> Option<usize> {
        self.dot_close
            .get(k)
            .filter(|&&j| j != FAIL)
            .map(|&j| j as usize)
    }

    /// glibc's loop that skips the rest of a bracket expression once an element matched
    /// (fnmatch_loop.c, `matched:`), from `k`: where it ends, or FAIL.
    fn skip_end(&mut self, start: usize, work: &mut u64) -> u32 {
        let mut visited = Vec::new();
        let mut k = start;
        let end = loop {
            *work += 1;
            if let Some(e) = self.skip.get(k).copied().flatten() {
                break e;
            }
            visited.push(k);
            let c = self.at(k);
            k += 1;
            match c {
                b']' => break pos(k),
                0 => break FAIL,
                b'\\' => {
                    if self.at(k) == 0 {
                        break FAIL;
                    }
                    k += 1;
                }
                b'[' if self.at(k) == b':' => {
                    // A name of `a`..`y` then `:]` is skipped whole; anything else leaves the
                    // `:` to be read as an ordinary byte.
                    let m = self.run_at(k + 1);
                    if m + 1 >= CLASS_MAX {
                        break FAIL;
                    }
                    let t = k + 1 + m;
                    if self.at(t) == b':' && self.at(t + 1) == b']' {
                        k = t + 2;
                    }
                }
                b'[' if self.at(k) == b'=' => {
                    if self.at(k + 1) == 0 || self.at(k + 2) != b'=' || self.at(k + 3) != b']' {
                        break FAIL;
                    }
                    k += 4;
                }
                b'[' if self.at(k) == b'.' => match self.dot_close_from(k + 1) {
                    Some(j) => k = j + 2,
                    None => break FAIL,
                },
                _ => {}
            }
        };
        for v in visited {
            if let Some(slot) = self.skip.get_mut(v) {
                *slot = Some(end);
            }
        }
        end
    }

    /// The bracket expression whose `[` is at `i`: glibc's bracket loop (fnmatch_loop.c,
    /// `case '['`) run for all 256 bytes at once.
    fn bracket(&mut self, i: usize, work: &mut u64) -> [u32; 256] {
        let mut out = [FAIL; 256];
        let mut decided = [0u64; 4];
        let mut q = i + 1;
        let not = matches!(self.at(q), b'!' | b'^');
        if not {
            q += 1;
        }
        // Bytes an element matches, with the skip starting at `s`.
        macro_rules! matched {
            ($bytes:expr, $s:expr) => {{
                let s = $s;
                let mut end = None;
                for b in $bytes {
                    if set_has(&decided, b) {
                        continue;
                    }
                    set_add(&mut decided, b);
                    if !not {
                        let e = *end.get_or_insert_with(|| self.skip_end(s, work));
                        out[usize::from(b)] = e;
                    }
                }
            }};
        }
        let mut c = self.at(q);
        q += 1;
        loop {
            *work += 1;
            // `Some(byte)`: an ordinary byte of the set (glibc's `normal_bracket`).
            let mut lit = None;
            // The lower bound of a possible range, when the element can start one.
            let mut cold = None;
            if c == b'\\' {
                if self.at(q) == 0 {
                    return out;
                }
                lit = Some(self.at(q));
                q += 1;
            } else if c == b'[' && self.at(q) == b':' {
                let m = self.run_at(q + 1);
                if m >= CLASS_MAX {
                    return out;
                }
                let t = q + 1 + m;
                if self.at(t) == b':' && self.at(t + 1) == b']' {
                    let Some(f) = class(&self.p[q + 1..t]) else {
                        // An unknown class name: FNM_NOMATCH.
                        return out;
                    };
                    q = t + 2;
                    *work += 4;
                    matched!((0..=255u8).filter(|&b| f(b)), q);
                    c = self.at(q);
                    q += 1;
                } else {
                    lit = Some(b'[');
                }
            } else if c == b'[' && self.at(q) == b'=' {
                let e = self.at(q + 1);
                if e != 0 && self.at(q + 2) == b'=' && self.at(q + 3) == b']' {
                    q += 4;
                    matched!([e], q);
                    c = self.at(q);
                    q += 1;
                } else {
                    lit = Some(b'[');
                }
            } else if c == 0 {
                // Unterminated: a literal `[` for a byte no element matched, then the pattern
                // goes on right after the `[`.
                if !set_has(&decided, b'[') {
                    out[usize::from(b'[')] = pos(i + 1);
                }
                return out;
            } else if c == b'[' && self.at(q) == b'.' {
                let start = q + 1;
                let Some(j) = self.dot_close_from(start) else {
                    return out;
                };
                if j != start + 1 {
                    return out;
                }
                q = j + 2;
                let sym = self.p[start];
                // Followed by `-` and anything: a range, and the symbol alone does not match.
                if !(self.at(q) == b'-' && self.at(q + 1) != 0) {
                    matched!([sym], q);
                }
                cold = Some(sym);
                c = self.at(q);
                q += 1;
            } else {
                lit = Some(c);
            }
            if let Some(l) = lit {
                let is_range = self.at(q) == b'-' && self.at(q + 1) != 0 && self.at(q + 1) != b']';
                if !is_range {
                    matched!([l], q);
                }
                cold = Some(l);
                c = self.at(q);
                q += 1;
            }
            if let Some(lo) = cold
                && c == b'-'
                && self.at(q) != b']'
            {
                let mut cend = self.at(q);
                q += 1;
                if cend == b'[' && self.at(q) == b'.' {
                    let start = q + 1;
                    let Some(j) = self.dot_close_from(start) else {
                        return out;
                    };
                    if j != start + 1 {
                        return out;
                    }
                    cend = self.p[start];
                    q = j + 2;
                } else {
                    if cend == b'\\' {
                        cend = self.at(q);
                        q += 1;
                    }
                    if cend == 0 {
                        return out;
                    }
                }
                // The C locale's collation order is the bytes' order.
                *work += 4;
                matched!(lo..=cend, q);
                c = self.at(q);
                q += 1;
            }
            if c == b']' {
                break;
            }
        }
        if not {
            for b in 0..=255u8 {
                if !set_has(&decided, b) {
                    out[usize::from(b)] = pos(q);
                }
            }
        }
        out
    }

    fn elem(&mut self, i: usize, work: &mut u64) -> Elem {
        *work += 1;
        match self.p[i] {
            b'*' => Elem::Star,
            b'?' => Elem::Any(pos(i + 1)),
            b'\\' => match self.p.get(i + 1) {
                Some(&e) => Elem::Byte(e, pos(i + 2)),
                // A trailing backslash: FNM_NOMATCH.
                None => Elem::Fail,
            },
            b'[' => {
                let t = self.bracket(i, work);
                if t.iter().all(|&n| n == FAIL) {
                    Elem::Fail
                } else {
                    Elem::Set(Box::new(t))
                }
            }
            c => Elem::Byte(c, pos(i + 1)),
        }
    }
}

impl Component {
    /// Compiles one component of a pattern (only the positions matching can reach).
    pub fn new(pat: &[u8]) -> Component {
        let mut work = 0;
        Component::compile(pat, &mut work, u64::MAX).unwrap_or(Component { elems: Vec::new() })
    }

    /// Compiles, stopping once `work` passes `limit` (a bracket expression costs at most its
    /// length in work before the next check).
    fn compile(pat: &[u8], work: &mut u64, limit: u64) -> Result<Component, Exhausted> {
        let mut c = Compiler::new(pat);
        let mut elems: Vec<Option<Elem>> = vec![None; pat.len()];
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            if i >= pat.len() || elems[i].is_some() {
                continue;
            }
            if *work > limit {
                return Err(Exhausted);
            }
            let e = c.elem(i, work);
            match &e {
                Elem::Star => todo.push(i + 1),
                Elem::Any(n) | Elem::Byte(_, n) => todo.push(*n as usize),
                Elem::Set(t) => {
                    let mut next: Vec<u32> = t.iter().copied().filter(|&n| n != FAIL).collect();
                    next.sort_unstable();
                    next.dedup();
                    todo.extend(next.into_iter().map(|n| n as usize));
                }
                Elem::Fail => {}
            }
            elems[i] = Some(e);
        }
        Ok(Component { elems })
    }

    /// Compiles `pat`, charging the work to `budget`.
    pub fn compile_within(pat: &[u8], budget: &mut Budget) -> Result<Component, Exhausted> {
        let mut work = 0;
        let c = Component::compile(pat, &mut work, budget.left);
        budget.spend(work)?;
        c
    }

    /// Whether `name` matches (fnmatch with FNM_PERIOD), spending a step per active position
    /// per byte.
    pub fn matches(&self, name: &[u8], budget: &mut Budget) -> Result<bool, Exhausted> {
        let len = self.elems.len();
        if name.first() == Some(&b'.')
            && !matches!(self.elems.first(), Some(Some(Elem::Byte(b'.', _))))
        {
            return Ok(false);
        }
        let mut on = vec![false; len + 1];
        let mut cur: Vec<usize> = Vec::new();
        let mut next_on = vec![false; len + 1];
        let mut next: Vec<usize> = Vec::new();
        // Adds position `i` and, through stars (which may match nothing), the ones after it.
        fn add(elems: &[Option<Elem>], on: &mut [bool], list: &mut Vec<usize>, mut i: usize) {
            loop {
                if on[i] {
                    return;
                }
                on[i] = true;
                list.push(i);
                match elems.get(i) {
                    Some(Some(Elem::Star)) => i += 1,
                    _ => return,
                }
            }
        }
        add(&self.elems, &mut on, &mut cur, 0);
        let mut steps = 0u64;
        for &b in name {
            steps += cur.len() as u64 + 1;
            for &s in &cur {
                let target = match self.elems.get(s) {
                    Some(Some(Elem::Star)) => Some(s),
                    Some(Some(Elem::Any(n))) => Some(*n as usize),
                    Some(Some(Elem::Byte(c, n))) if *c == b => Some(*n as usize),
                    Some(Some(Elem::Set(t))) if t[usize::from(b)] != FAIL => {
                        Some(t[usize::from(b)] as usize)
                    }
                    _ => None,
                };
                if let Some(t) = target {
                    add(&self.elems, &mut next_on, &mut next, t);
                }
            }
            for &s in &cur {
                on[s] = false;
            }
            cur.clear();
            std::mem::swap(&mut on, &mut next_on);
            std::mem::swap(&mut cur, &mut next);
            if cur.is_empty() {
                break;
            }
        }
        budget.spend(steps)?;
        Ok(on[len])
    }
}

/// Matches one component against a name: a convenience for tests and callers without a budget
/// of their own.
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    let mut b = Budget { left: u64::MAX };
    Component::new(pat).matches(name, &mut b).unwrap_or(false)
}

/// Expands an absolute `pattern` over the tree, sorted by bytes. Matches that are not the last
/// component must be directories; the last component's matches are returned whatever they are
/// (the caller opens them).
pub fn glob(
    tree: &dyn FsView,
    pattern: &[u8],
    budget: &mut Budget,
) -> Result<Vec<ByteStr>, Exhausted> {
    let comps: Vec<&[u8]> = pattern
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    // Each prefix is an absolute path as glob would print it (without a trailing slash; the root
    // is the empty prefix).
    let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
    for (k, comp) in comps.iter().enumerate() {
        let last = k + 1 == comps.len();
        let mut next = Vec::new();
        if !is_magic(comp) {
            // Used as it is; whether it exists is found when it is opened.
            for p in &prefixes {
                budget.spend(1)?;
                next.push([&p[..], b"/", comp].concat());
            }
        } else {
            let matcher = Component::compile_within(comp, budget)?;
            for p in &prefixes {
                let dir: &[u8] = if p.is_empty() { b"/" } else { p };
                budget.spend(1)?;
                let Ok(canonical) = tree.resolve(dir, true) else {
                    continue;
                };
                if !tree.is_dir(canonical.as_bytes()) {
                    continue;
                }
                let children = tree.children(canonical.as_bytes());
                let names = [&b"."[..], b".."]
                    .into_iter()
                    .chain(children.iter().map(ByteStr::as_bytes));
                for name in names {
                    budget.spend(1)?;
                    if !matcher.matches(name, budget)? {
                        continue;
                    }
                    let path = [&p[..], b"/", name].concat();
                    budget.spend(1)?;
                    if last || tree.is_dir(&path) {
                        // Memory is bounded too: `.*` doubles the paths at every level.
                        if next.len() >= MAX_PATHS {
                            return Err(Exhausted);
                        }
                        next.push(path);
                    }
                }
            }
        }
        prefixes = next;
        if prefixes.is_empty() {
            break;
        }
    }
    if comps.is_empty() {
        // The pattern `/`: the root directory itself.
        return Ok(vec![ByteStr::from("/")]);
    }
    prefixes.sort();
    Ok(prefixes.into_iter().map(ByteStr::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::view::MemView;

    #[test]
    fn components() {
        assert!(fnmatch(b"*.conf", b"x86_64-linux-gnu.conf"));
        assert!(!fnmatch(b"*.conf", b".hidden.conf"));
        assert!(fnmatch(b".*", b".hidden.conf"));
        assert!(fnmatch(b"\\.*", b".hidden"));
        assert!(!fnmatch(b"[.]*", b".hidden"));
        assert!(!fnmatch(b"?hidden", b".hidden"));
        assert!(fnmatch(b"lib[0-9]?.conf", b"lib1x.conf"));
        assert!(!fnmatch(b"lib[!0-9].conf", b"lib1.conf"));
        assert!(fnmatch(b"lib[^0-9].conf", b"libx.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf.bak"));
        assert!(fnmatch(b"[]]", b"]"));
        assert!(fnmatch(b"[!]]", b"a"));
        assert!(fnmatch(b"[a-]", b"-"));
        assert!(fnmatch(b"[[:digit:]x]", b"7"));
        assert!(!fnmatch(b"[[:digit:]x]", b"y"));
        assert!(fnmatch(b"\\*", b"*"));
        assert!(!fnmatch(b"\\*", b"a"));
        assert!(fnmatch(b"[\\]]", b"]"));
        assert!(fnmatch(b"a[b", b"a[b"));
        assert!(!fnmatch(b"a\\", b"a"));
        assert!(!fnmatch(b"a\\", b"a\\"));
        assert!(fnmatch(b"\xff*", b"\xff\xfe"));
        assert!(fnmatch(b"*", b""));
        assert!(fnmatch(b"a*b*c", b"aXbYbZc"));
        assert!(!fnmatch(b"a*b*c", b"aXbYbZ"));
    }

    /// The backtracking matcher this replaces took minutes on this pair.
    #[test]
    fn star_runs_cost_quadratic_steps_at_most() {
        let pat = b"*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let name = vec![b'a'; 200];
        let mut b = Budget { left: u64::MAX };
        assert_eq!(Component::new(pat).matches(&name, &mut b), Ok(false));
        let spent = u64::MAX - b.left;
        assert!(
            spent <= ((pat.len() + 1) * (name.len() + 1)) as u64,
            "{spent} steps"
        );
        let mut small = Budget { left: 100 };
        assert_eq!(
            Component::new(pat).matches(&name, &mut small),
            Err(Exhausted)
        );
    }

    /// glibc's fnmatch(3) with FNM_PERIOD, on this machine.
    // The oracle is the host's libc, reached through FFI (tests only).
    #[allow(unsafe_code)]
    fn host_fnmatch(pat: &[u8], name: &[u8]) -> bool {
        let p = std::ffi::CString::new(pat).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: two valid NUL-terminated strings.
        unsafe { libc::fnmatch(p.as_ptr(), n.as_ptr(), libc::FNM_PERIOD) == 0 }
    }

    /// Random components over the bytes that matter to fnmatch, against the host's fnmatch.
    #[test]
    fn components_agree_with_the_host_fnmatch() {
        let pat_bytes = b"*?[]!^-\\:=.a]bz[-A.\xe9";
        let classes: [&[u8]; 8] = [
            b"[:alpha:]",
            b"[:digit:]",
            b"[:foo:]",
            b"[:Alpha:]",
            b"[=a=]",
            b"[.a.]",
            b"[.ab.]",
            b"[=ab=]",
        ];
        let name_bytes = b"ab.-]^![\\:=Az9\xe9";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut disagree = Vec::new();
        for _ in 0..300_000 {
            let mut pat = Vec::new();
            for _ in 0..next(12) + 1 {
                if next(6) == 0 {
                    pat.extend_from_slice(classes[next(classes.len())]);
                } else {
                    pat.push(pat_bytes[next(pat_bytes.len())]);
                }
            }
            let name: Vec<u8> = (0..next(8))
                .map(|_| name_bytes[next(name_bytes.len())])
                .collect();
            if fnmatch(&pat, &name) != host_fnmatch(&pat, &name) {
                let host = host_fnmatch(&pat, &name);
                disagree.push((ByteStr::from(pat), ByteStr::from(name), host));
            }
        }
        assert!(
            disagree.is_empty(),
            "{} disagreements, e.g. {:?}",
            disagree.len(),
            &disagree[..disagree.len().min(20)]
        );
    }

    /// What the scan would record of a host directory, as an in-memory view built here with std.
    fn tree_of(root: &std::path::Path) -> MemView {
        use std::os::unix::ffi::OsStrExt;
        fn walk(root: &std::path::Path, rel: &[u8], out: &mut MemView) {
            let dir = root.join(std::ffi::OsStr::from_bytes(
                rel.strip_prefix(b"/").unwrap_or(rel),
            ));
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let path = [rel, b"/", e.file_name().as_bytes()].concat();
                let ft = e.file_type().unwrap();
                if ft.is_symlink() {
                    let t = std::fs::read_link(e.path()).unwrap();
                    out.symlink(&path, t.as_os_str().as_bytes());
                } else if ft.is_dir() {
                    out.dir(&path);
                    walk(root, &path, out);
                } else {
                    out.file(&path, b"");
                }
            }
        }
        let mut view = MemView::new();
        walk(root, b"", &mut view);
        view
    }

    /// glibc's glob(3) with flags 0 on this machine, on `root` + `pattern`, the root cut off again.
    // The oracle is the host's libc, reached through FFI (tests only).
    #[allow(unsafe_code)]
    fn host_glob(root: &std::path::Path, pattern: &[u8]) -> Vec<ByteStr> {
        use std::os::unix::ffi::OsStrExt;
        let prefix = root.as_os_str().as_bytes();
        let full = std::ffi::CString::new([prefix, pattern].concat()).unwrap();
        // SAFETY: glob_t is plain data; glob fills it and globfree releases it.
        unsafe {
            let mut g: libc::glob_t = std::mem::zeroed();
            let r = libc::glob(full.as_ptr(), 0, None, &mut g);
            let mut out = Vec::new();
            if r == 0 {
                for k in 0..g.gl_pathc {
                    let s = std::ffi::CStr::from_ptr(*g.gl_pathv.add(k)).to_bytes();
                    out.push(ByteStr::from(&s[prefix.len()..]));
                }
            }
            libc::globfree(&mut g);
            out
        }
    }

    #[test]
    fn patterns_agree_with_the_host_glob() {
        use std::os::unix::ffi::OsStrExt;
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let dirs: [&[u8]; 9] = [
            b"etc/ld.so.conf.d",
            b"etc/a.d",
            b"etc/b.d/sub",
            b"etc/.hidden.d",
            b"etc/x86_64.d",
            b"etc/[odd].d",
            b"etc/star*.d",
            b"etc/\xff.d",
            b"opt/lib",
        ];
        for d in dirs {
            std::fs::create_dir_all(r.join(std::ffi::OsStr::from_bytes(d))).unwrap();
        }
        let files: [&[u8]; 16] = [
            b"etc/ld.so.conf",
            b"etc/ld.so.conf.d/libc.conf",
            b"etc/ld.so.conf.d/x86_64-linux-gnu.conf",
            b"etc/ld.so.conf.d/.hidden.conf",
            b"etc/ld.so.conf.d/zz.conf.bak",
            b"etc/ld.so.conf.d/a\\b.conf",
            b"etc/a.d/1.conf",
            b"etc/a.d/2.conf",
            b"etc/b.d/sub/deep.conf",
            b"etc/b.d/3.conf",
            b"etc/.hidden.d/h.conf",
            b"etc/x86_64.d/x.conf",
            b"etc/[odd].d/o.conf",
            b"etc/star*.d/s.conf",
            b"etc/\xff.d/\xfe.conf",
            b"etc/a.d.conf",
        ];
        for f in files {
            std::fs::write(r.join(std::ffi::OsStr::from_bytes(f)), b"x\n").unwrap();
        }
        // Relative symlinks only: an absolute one means another thing to the host.
        std::os::unix::fs::symlink("a.d", r.join("etc/link.d")).unwrap();
        std::os::unix::fs::symlink("ld.so.conf", r.join("etc/file.d")).unwrap();
        std::os::unix::fs::symlink("missing.conf", r.join("etc/a.d/dangling.conf")).unwrap();
        let tree = tree_of(r);
        let patterns: [&[u8]; 34] = [
            b"/etc/ld.so.conf",
            b"/etc/ld.so.conf.d/*.conf",
            b"/etc/ld.so.conf.d/*",
            b"/etc/ld.so.conf.d/.*",
            b"/etc/ld.so.conf.d/\\.*",
            b"/etc/ld.so.conf.d/[.]*",
            b"/etc/ld.so.conf.d/?ibc.conf",
            b"/etc/ld.so.conf.d/[a-l]*",
            b"/etc/ld.so.conf.d/[!a-l]*",
            b"/etc/ld.so.conf.d/a\\\\b.conf",
            b"/etc/ld.so.conf.d/a\\b.conf",
            b"/etc/*.d/*.conf",
            b"/etc/*/*.conf",
            b"/etc/*/*",
            b"/etc/*",
            b"/etc/.*",
            b"/etc/.*/*.conf",
            b"/etc/*.d",
            b"/*/*.d/*.conf",
            b"/*/*/*/*.conf",
            b"/etc/[[]odd].d/*",
            b"/etc/[odd].d/*",
            b"/etc/\\[odd].d/*",
            b"/etc/star\\*.d/*",
            b"/etc/star*.d/*",
            b"/etc/\xff.d/*",
            b"/etc/[\x80-\xff].d/[\xfe]*",
            b"/etc/x86_64.d/../a.d/*.conf",
            b"/etc/./a.d/*",
            b"/etc/a.d/../*.d/*",
            b"/etc/link.d/*",
            b"/etc/file.d/*",
            b"/etc/[[:alpha:]]*.d/[[:digit:]]*",
            b"/nonexistent/*",
        ];
        let mut disagree = Vec::new();
        for p in patterns {
            let mut b = Budget { left: u64::MAX };
            let ours = glob(&tree, p, &mut b).unwrap();
            let host = host_glob(r, p);
            if ours != host {
                disagree.push((ByteStr::from(p), ours, host));
            }
        }
        assert!(disagree.is_empty(), "{disagree:#?}");
    }

    /// `.*` matches `.` and `..` in every directory: 40 levels of it name 2^40 paths. The budget
    /// stops the expansion instead.
    #[test]
    fn exponential_patterns_hit_the_budget() {
        let mut tree = MemView::new();
        tree.dir("/etc");
        let pattern = "/.*".repeat(40);
        let mut b = Budget { left: 1_000_000 };
        assert_eq!(glob(&tree, pattern.as_bytes(), &mut b), Err(Exhausted));
        // Without a step budget, the paths held at one level stop it.
        let mut b = Budget { left: u64::MAX };
        assert_eq!(glob(&tree, pattern.as_bytes(), &mut b), Err(Exhausted));
        assert!(
            u64::MAX - b.left < 10_000_000,
            "{} steps",
            u64::MAX - b.left
        );
    }

    /// Long patterns of unterminated brackets make every position a bracket to compile: the
    /// budget bounds that work too.
    #[test]
    fn compiling_is_bounded() {
        for unit in ["[[:alpha:]", "[", "[a-", "[!", "[[.a.]", "*[", "\\["] {
            let pat = unit.repeat(4096 / unit.len());
            let start = std::time::Instant::now();
            let mut b = Budget { left: 2_000_000 };
            let r = Component::compile_within(pat.as_bytes(), &mut b)
                .and_then(|c| c.matches(&[b'a'; 255], &mut b));
            let spent = start.elapsed();
            assert!(spent.as_secs() < 2, "{unit}: {spent:?} ({r:?})");
        }
    }
}

#!/usr/bin/env bash
# elfdeps against the tools people reach for, timed by hyperfine, with each command's peak memory.
#
#   benches/compare.sh DIR                      scan: elfdeps scan vs scanelf vs a bare walk of DIR
#   benches/compare.sh --tree [ROOT [PROGRAM]]  tree: elfdeps tree vs ldd, libtree and lddtree
#                                               (default: / /usr/bin/curl)
#   benches/compare.sh --all                    tree on /usr/bin/curl, then scan on /usr, on /, on
#                                               each cached test root and on a synthetic root
#   EXCLUDE="/root/.cache /work/target-*" benches/compare.sh /
#                                               paths inside DIR that elfdeps scan and barewalk
#                                               leave out (each an --exclude; scanelf has none)
#   RUNS=10 benches/compare.sh DIR              more runs (scan: RUNS, default 5, after 1 warmup
#                                               run; tree: TREE_RUNS, else RUNS, else 30, after 3)
#
# How to read the figures:
# - scan: `elfdeps` is `elfdeps scan DIR --format json` (walk, parse, resolve, write the JSON
#   report); `elfdeps-no-resolve` the same with --no-resolve, so the two show what resolution
#   costs; `scanelf` is `scanelf -RBnm DIR` (each ELF file's NEEDED list; -m: it stays on DIR's
#   file system, as the other three do); `barewalk` (examples/barewalk.rs) opens every regular
#   file and reads 64 bytes, nothing else: the floor for any tool that must look at every file.
#   The heading gives DIR's size as barewalk counts it (regular files, ELF files among them);
#   `/` is all of the root file system, build trees and caches (the test roots, the synthetic
#   roots of benches/scale.sh) included.
# - tree: `elfdeps` is `elfdeps tree ROOT PROGRAM` (its default output; it reads what the loader
#   would look at and walks nothing); `ldd` runs the loader itself on PROGRAM (for a ROOT other
#   than /: `chroot ROOT ldd PROGRAM`, as root, when ROOT has an ldd); `libtree` (ROOT / only: it
#   has no root option) and `lddtree` (`lddtree -R ROOT` for another ROOT; pax-utils' Python
#   one, so a Python start is part of its time) read the files as elfdeps does. elfdeps/ldd below 1 means elfdeps answered faster than the loader did.
# - time: hyperfine's mean ± standard deviation over the runs (warm page cache; no shell between
#   hyperfine and the command), min … max, and each mean relative to the fastest command's. The
#   ratio lines are of means.
# - peak RSS: "Maximum resident set size" of one `/usr/bin/time -v` run of the command, i.e. of
#   its largest single process (for ldd the larger of its shell and the loader run; not a sum).
# - --all ends with one table of every scan (time and peak RSS per command) and the tree figures.
#
# Results land in target/bench/ (cargo's target directory): hyperfine's markdown and JSON exports
# (compare.md and compare.json for DIR, compare-tree.* for --tree; BENCH_NAME=NAME renames them)
# and NAME.results.json (means, peak RSS, sizes), which benches/scale.sh reads.
#
# Needs hyperfine, scanelf and lddtree (pax-utils, python3-pyelftools), libtree and GNU time; as
# root with apt-get, the missing ones are installed.
set -euo pipefail

usage() {
  echo "usage: benches/compare.sh DIR | --tree [ROOT [PROGRAM]] | --all" >&2
  echo "  DIR, ROOT: existing directories (e.g. /usr, /); PROGRAM: a path inside ROOT" >&2
  exit 2
}

mode=scan
case ${1-} in
  --tree)
    [ $# -le 3 ] || usage
    mode=tree
    tree_root=${2:-/}
    tree_program=${3:-/usr/bin/curl}
    [ -d "$tree_root" ] || usage
    # Absolute, because the script changes directory before anything runs.
    tree_root=$(cd "$tree_root" && pwd -P)
    case $tree_program in /*) ;; *) usage ;; esac
    ;;
  --all)
    [ $# -eq 1 ] || usage
    mode=all
    ;;
  -h | --help) usage ;;
  *)
    if [ $# -ne 1 ] || [ ! -d "$1" ]; then
      usage
    fi
    scan_dir=$(cd "$1" && pwd -P)
    ;;
esac

positive() {
  case $2 in
    '' | *[!0-9]* | 0)
      echo "compare.sh: $1 must be a positive integer, not '$2'" >&2
      exit 2
      ;;
  esac
}
runs=${RUNS:-5}
positive RUNS "$runs"
tree_runs=${TREE_RUNS:-${RUNS:-30}}
positive TREE_RUNS "$tree_runs"

# The repository root is this script's parent's parent, whatever the caller's cwd.
cd "$(dirname "$0")/.."

# Debian's lddtree is Python and needs pyelftools (which pax-utils only recommends), installed for
# the system's python3, not for whichever python3 comes first in PATH (pyenv, a venv).
lddtree_cmd=(lddtree)
lddtree_works() {
  local path
  path=$(command -v lddtree) || return 1
  if lddtree /bin/sh >/dev/null 2>&1; then
    lddtree_cmd=(lddtree)
  elif [ -x /usr/bin/python3 ] && /usr/bin/python3 "$path" /bin/sh >/dev/null 2>&1; then
    lddtree_cmd=(/usr/bin/python3 "$path")
  else
    return 1
  fi
}

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v scanelf >/dev/null || missing+=(pax-utils)
[ -x /usr/bin/time ] || missing+=(time)
if [ "$mode" != scan ]; then
  command -v libtree >/dev/null || missing+=(libtree)
  if ! command -v lddtree >/dev/null; then
    missing+=(pax-utils python3-pyelftools)
  elif ! lddtree_works; then
    missing+=(python3-pyelftools)
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  # pax-utils may be named twice.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "compare.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$mode" = scan ] || lddtree_works || true
  else
    echo "compare.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi

cargo build --release --bin elfdeps --example barewalk >&2
# Cargo's own idea of the target directory (CARGO_TARGET_DIR or a config may move it).
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
elfdeps=$target/release/elfdeps
barewalk=$target/release/examples/barewalk
out=$target/bench
mkdir -p "$out"

# hyperfine runs the commands without a shell (a shell's start would be a good part of a few
# milliseconds), splitting them into words as a shell would: quote the paths for it.
q() { printf '%q' "$1"; }

# peak_rss CMD...: the peak RSS (KiB) of one run of CMD, its output discarded.
peak_rss() {
  local f kb
  f=$(mktemp)
  /usr/bin/time -v -o "$f" "$@" >/dev/null 2>&1 || true
  kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$f")
  rm -f "$f"
  echo "${kb:-?}"
}

# report MODE NAME TITLE SIZES RUNS: the table of NAME's hyperfine JSON and peak RSS, the ratio
# lines, and NAME.results.json.
report() {
  python3 - "$@" "$out" <<'EOF'
import json, sys

mode, name, title, sizes, runs, out = sys.argv[1:7]
results = json.load(open(f"{out}/{name}.json"))["results"]
rss = dict(line.rstrip("\n").split("\t") for line in open(f"{out}/{name}.rss"))
fastest = min(r["mean"] for r in results)
unit, scale = ("ms", 1e3) if max(r["mean"] for r in results) < 1 else ("s", 1)
files = elf = None
for part in sizes.split():
    k, _, v = part.partition("=")
    if k == "files":
        files = int(v)
    elif k == "elf":
        elf = int(v)
print(f"## {title}\n")
if files is not None:
    print(f"{files:,} regular files, {elf:,} of them ELF (as barewalk counts them); "
          f"{runs} run{'s' if runs != '1' else ''}\n")
else:
    print(f"{runs} run{'s' if runs != '1' else ''}\n")
print(f"| command | mean ± σ [{unit}] | min … max [{unit}] | relative | peak RSS [MiB] |")
print("|---|--:|--:|--:|--:|")
table = {}
for r in results:
    kb = rss.get(r["command"], "?")
    mib = f"{int(kb) / 1024:.1f}" if kb.isdigit() else "?"
    print(f"| `{r['command']}` | {r['mean'] * scale:.3f} ± {(r['stddev'] or 0) * scale:.3f} "
          f"| {r['min'] * scale:.3f} … {r['max'] * scale:.3f} | {r['mean'] / fastest:.2f} | {mib} |")
    table[r["command"]] = {k: r[k] for k in ("mean", "stddev", "min", "max")}
    table[r["command"]]["rss_kb"] = int(kb) if kb.isdigit() else None
print()
m = {c: v["mean"] for c, v in table.items()}
if mode == "scan":
    e, n, s, b = m["elfdeps"], m["elfdeps-no-resolve"], m["scanelf"], m["barewalk"]
    print(f"elfdeps/barewalk = {e / b:.2f}x   elfdeps/scanelf = {e / s:.2f}x   "
          f"resolution adds {100 * (e / n - 1):.0f}% (elfdeps / elfdeps --no-resolve = {e / n:.2f}x)\n"
          f"(means: elfdeps {e:.3f} s, --no-resolve {n:.3f} s, scanelf {s:.3f} s, barewalk {b:.3f} s)")
else:
    print("   ".join(f"elfdeps/{c} = {m['elfdeps'] / m[c]:.2f}x" for c in m if c != "elfdeps"))
    print("(means: " + ", ".join(f"{c} {v * 1e3:.2f} ms" for c, v in m.items()) + ")")
json.dump({"mode": mode, "title": title, "files": files, "elf": elf, "runs": int(runs),
           "commands": table}, open(f"{out}/{name}.results.json", "w"), indent=1)
EOF
  echo "(markdown: $out/$2.md, JSON: $out/$2.json)"
}

# scan_compare DIR NAME [EXCLUDED...]
scan_compare() {
  local dir=$1 name=$2 sizes x xq=""
  shift 2
  local ex=()
  for x in "$@"; do
    ex+=(--exclude "$x")
    xq+=" --exclude $(q "$x")"
  done
  # A first walk warms the page cache and counts what is there.
  sizes=$("$barewalk" "${ex[@]}" "$dir" 2>/dev/null) || sizes=
  [ $# -eq 0 ] || sizes+=" without $*"
  echo "compare.sh: scan $dir ($sizes)" >&2
  # hyperfine sends the commands' output to /dev/null.
  if ! hyperfine --shell none --warmup 1 --runs "$runs" \
    --export-markdown "$out/$name.md" --export-json "$out/$name.json" \
    --command-name elfdeps "$(q "$elfdeps") scan $(q "$dir")$xq --format json -q --output /dev/null" \
    --command-name elfdeps-no-resolve \
    "$(q "$elfdeps") scan $(q "$dir")$xq --no-resolve --format json -q --output /dev/null" \
    --command-name scanelf "scanelf -RBnm $(q "$dir")" \
    --command-name barewalk "$(q "$barewalk")$xq $(q "$dir")" >&2; then
    echo "compare.sh: hyperfine failed on $dir" >&2
    return 1
  fi
  {
    printf 'elfdeps\t%s\n' \
      "$(peak_rss "$elfdeps" scan "$dir" "${ex[@]}" --format json -q --output /dev/null)"
    printf 'elfdeps-no-resolve\t%s\n' \
      "$(peak_rss "$elfdeps" scan "$dir" "${ex[@]}" --no-resolve --format json -q --output /dev/null)"
    printf 'scanelf\t%s\n' "$(peak_rss scanelf -RBnm "$dir")"
    printf 'barewalk\t%s\n' "$(peak_rss "$barewalk" "${ex[@]}" "$dir")"
  } >"$out/$name.rss"
  echo
  report scan "$name" "scan $dir" "$sizes" "$runs"
}

# tree_compare ROOT PROGRAM NAME
tree_compare() {
  local root=$1 program=$2 name=$3
  local -a names=() cmds=() argvs=()
  # add NAME CMD...: a command to time, if one run of it succeeds.
  add() {
    local n=$1
    shift
    if "$@" >/dev/null 2>&1; then
      names+=("$n")
      local c="" a
      for a in "$@"; do c+="${c:+ }$(q "$a")"; done
      cmds+=("$c")
    else
      echo "compare.sh: $n left out: \`$*\` fails" >&2
    fi
  }
  add elfdeps "$elfdeps" tree "$root" "$program"
  if [ "$root" = / ]; then
    add ldd ldd "$program"
    add libtree libtree "$program"
    add lddtree "${lddtree_cmd[@]}" "$program"
  else
    if [ "$(id -u)" = 0 ] && { [ -e "$root/usr/bin/ldd" ] || [ -e "$root/bin/ldd" ]; }; then
      add ldd chroot "$root" ldd "$program"
    else
      echo "compare.sh: ldd left out: needs root and an ldd in $root" >&2
    fi
    echo "compare.sh: libtree left out: it has no root option (ROOT / only)" >&2
    add lddtree "${lddtree_cmd[@]}" -R "$root" "$program"
  fi
  [ "${names[0]-}" = elfdeps ] || {
    echo "compare.sh: elfdeps tree $root $program fails" >&2
    return 1
  }
  [ ${#names[@]} -ge 2 ] || {
    echo "compare.sh: nothing to compare elfdeps tree with" >&2
    return 1
  }
  local -a args=()
  local i
  for i in "${!names[@]}"; do
    args+=(--command-name "${names[$i]}" "${cmds[$i]}")
  done
  if ! hyperfine --shell none --warmup 3 --runs "$tree_runs" \
    --export-markdown "$out/$name.md" --export-json "$out/$name.json" "${args[@]}" >&2; then
    echo "compare.sh: hyperfine failed" >&2
    return 1
  fi
  : >"$out/$name.rss"
  for i in "${!names[@]}"; do
    # Back to words: q's quoting is bash's, made to be read back.
    eval "argvs=(${cmds[$i]})"
    printf '%s\t%s\n' "${names[$i]}" "$(peak_rss "${argvs[@]}")" >>"$out/$name.rss"
  done
  echo
  report tree "$name" "tree $program in $root" "" "$tree_runs"
}

case $mode in
  # shellcheck disable=SC2086 # EXCLUDE is a list of paths, split on spaces, not globbed here
  scan) (set -f && scan_compare "$scan_dir" "${BENCH_NAME:-compare}" ${EXCLUDE-}) ;;
  tree) tree_compare "$tree_root" "$tree_program" "${BENCH_NAME:-compare-tree}" ;;
  all)
    failed=()
    done_names=()
    if tree_compare / /usr/bin/curl all-tree-curl; then
      done_names+=(all-tree-curl)
    else
      failed+=("tree /usr/bin/curl")
    fi
    scans=("/usr" "/")
    cache=${ELFDEPS_TEST_CACHE:-$HOME/.cache/elfdeps-tests}
    for d in "$cache"/debian-bookworm-* "$cache"/alpine-3.20.3-x86_64-* "$cache"/hard-cases-*/glibc; do
      [ -d "$d" ] && scans+=("$d")
    done
    # The synthetic root of benches/scale.sh (made once, then reused).
    if synth=$(benches/scale.sh --root "${SYNTH_FILES:-100000}"); then
      scans+=("$synth")
    else
      failed+=("synthetic root")
    fi
    for d in "${scans[@]}"; do
      # all-scan-usr, all-scan-root, all-scan-hard-cases-690986c9cfbf-glibc, ...
      rel=${d#"$cache"/}
      if [ "$d" = / ]; then
        slug=root
      elif [ "$rel" != "$d" ]; then
        slug=${rel//\//-}
      else
        slug=$(basename "$d")
      fi
      name=all-scan-$slug
      echo
      # On /, the synthetic roots and cargo's build trees (tens of thousands of object files)
      # are left out: what is measured is the system, a root of some 430k files.
      excluded=()
      [ "$d" != / ] || excluded=("${ELFDEPS_BENCH_DIR:-$HOME/.cache/elfdeps-bench}" "$target")
      if scan_compare "$d" "$name" "${excluded[@]}"; then
        done_names+=("$name")
      else
        failed+=("scan $d")
      fi
    done
    echo
    python3 - "$out" "${done_names[@]}" <<'EOF' | tee "$out/all.md"
import json, sys

out, names = sys.argv[1], sys.argv[2:]
runs = [(n, json.load(open(f"{out}/{n}.results.json"))) for n in names]
def count(v):
    return f"{v:,}" if v is not None else "?"
def cell(c):
    mib = f"{c['rss_kb'] / 1024:.0f} MiB" if c["rss_kb"] is not None else "?"
    return f"{c['mean']:.3f} s, {mib}"
print("## All scans (mean time, peak RSS)\n")
cols = ["elfdeps", "elfdeps-no-resolve", "scanelf", "barewalk"]
print("| tree | files | ELF | " + " | ".join(f"`{c}`" for c in cols) + " | elfdeps/barewalk | elfdeps/scanelf |")
print("|---|--:|--:|" + "--:|" * (len(cols) + 2))
for n, r in runs:
    if r["mode"] != "scan":
        continue
    c = r["commands"]
    e = c["elfdeps"]["mean"]
    print(f"| {r['title'][5:]} | {count(r['files'])} | {count(r['elf'])} | "
          + " | ".join(cell(c[k]) for k in cols)
          + f" | {e / c['barewalk']['mean']:.2f} | {e / c['scanelf']['mean']:.2f} |")
for n, r in runs:
    if r["mode"] != "tree":
        continue
    print(f"\n## {r['title']} (mean time, peak RSS)\n")
    c = r["commands"]
    print("| " + " | ".join(f"`{k}`" for k in c) + " |")
    print("|" + "--:|" * len(c))
    print("| " + " | ".join(f"{v['mean'] * 1e3:.2f} ms, "
                            + (f"{v['rss_kb'] / 1024:.1f} MiB" if v["rss_kb"] else "?")
                            for v in c.values()) + " |")
    if "ldd" in c:
        print(f"\nelfdeps/ldd = {c['elfdeps']['mean'] / c['ldd']['mean']:.2f}x")
EOF
    if [ ${#failed[@]} -gt 0 ]; then
      echo "compare.sh: failed: ${failed[*]}" >&2
      exit 1
    fi
    ;;
esac

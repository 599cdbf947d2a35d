#!/usr/bin/env bash
# Scale: elfdeps on synthetic roots of 100k, 300k and 1M files, time and peak memory.
#
#   benches/scale.sh                    the roots of 100k, 300k and 1M files, each measured
#   SIZES="10000 50000" RUNS=1 benches/scale.sh
#   benches/scale.sh --root N           make (or reuse) the root of N files and print its path
#
# Each root is made by examples/synthroot.rs (see there: exactly N regular files, mostly small
# non-ELF files in wide and deep directories, N/20 ELF files copied from this host's /usr, at most
# 4000, and one symlink per 20 files) under ${ELFDEPS_BENCH_DIR:-~/.cache/elfdeps-bench}, named
# by N and SEED (default 1); an existing complete one is reused (1M files take about 4 GB and a
# minute to write). Then benches/compare.sh times, on it, `elfdeps scan ROOT --format json`,
# `--no-resolve`, the bare walk and `scanelf -RBnm` with hyperfine (RUNS runs after 1 warmup run,
# default 3; warm page cache) and takes the peak RSS of one `/usr/bin/time -v` run of each.
#
# The table at the end (also target/bench/scale.md) has one row per root: its size, then per
# command the mean wall time ± standard deviation and the peak RSS ("Maximum resident set size":
# the process's largest resident memory), and elfdeps' throughput in files per second.
set -euo pipefail

usage() {
  echo "usage: benches/scale.sh [--root N]   (env: SIZES, RUNS, SEED, ELFDEPS_BENCH_DIR)" >&2
  exit 2
}

cd "$(dirname "$0")/.."
bench_dir=${ELFDEPS_BENCH_DIR:-$HOME/.cache/elfdeps-bench}
seed=${SEED:-1}
sizes=${SIZES:-100000 300000 1000000}
for n in $sizes $seed; do
  case $n in '' | *[!0-9]*) echo "scale.sh: SIZES and SEED are numbers, not '$n'" >&2 && exit 2 ;; esac
done

cargo build --release --example synthroot >&2
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
synthroot=$target/release/examples/synthroot

# make_root N: the path of the root of N files, made if missing.
make_root() {
  local root=$bench_dir/synthroot-$1-seed$seed
  mkdir -p "$bench_dir"
  "$synthroot" "$root" "$1" --seed "$seed" >&2
  echo "$root"
}

if [ "${1-}" = --root ]; then
  [ $# -eq 2 ] || usage
  case $2 in '' | *[!0-9]*) usage ;; esac
  make_root "$2"
  exit
fi
[ $# -eq 0 ] || usage

export RUNS=${RUNS:-3}
names=()
roots=()
for n in $sizes; do
  root=$(make_root "$n")
  BENCH_NAME=scale-$n benches/compare.sh "$root"
  echo
  names+=("scale-$n")
  roots+=("$root")
done

python3 - "$target/bench" "$RUNS" "${#names[@]}" "${names[@]}" "${roots[@]}" <<'EOF' |
import json, sys

out, runs, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
names, roots = sys.argv[4:4 + count], sys.argv[4 + count:]
cols = [("elfdeps", "`elfdeps scan --format json`"), ("elfdeps-no-resolve", "`--no-resolve`"),
        ("barewalk", "bare walk"), ("scanelf", "`scanelf -RBnm`")]
print(f"## Scale: synthetic roots ({runs} run{'s' if runs != '1' else ''} each after 1 warmup; "
      "mean ± σ, peak RSS)\n")
print("| regular files | ELF | symlinks | directories | " + " | ".join(c[1] for c in cols)
      + " | elfdeps files/s |")
print("|--:|--:|--:|--:|" + "--:|" * (len(cols) + 1))
for name, root in zip(names, roots):
    r = json.load(open(f"{out}/{name}.results.json"))
    stats = {}
    for line in open(f"{root}/.synthroot"):
        k, sep, v = line.partition(":")
        if sep:
            stats[k.strip()] = v.split()[0]
    c = r["commands"]
    cells = []
    for key, _ in cols:
        v = c[key]
        mib = f"{v['rss_kb'] / 1024:.0f} MiB" if v["rss_kb"] is not None else "?"
        cells.append(f"{v['mean']:.2f} s ± {v['stddev'] or 0:.2f}, {mib}")
    print(f"| {r['files']:,} | {r['elf']:,} | {int(stats.get('symlinks', 0)):,} "
          f"| {int(stats.get('directories', 0)):,} | " + " | ".join(cells)
          + f" | {r['files'] / c['elfdeps']['mean']:,.0f} |")
EOF
  tee "$target/bench/scale.md"

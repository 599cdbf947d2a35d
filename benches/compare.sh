#!/usr/bin/env bash
# elfdeps vs `scanelf -RBn` vs a bare parallel walk (examples/barewalk.rs), timed by hyperfine.
#
#   benches/compare.sh DIR          e.g. benches/compare.sh /usr
#   RUNS=10 benches/compare.sh DIR  more runs (default 5, after 1 warmup run)
#
# barewalk opens every regular file and reads 64 bytes, nothing else: the floor for any tool that
# must look at every file. scanelf -RBn does the same walk and prints each ELF file's NEEDED list.
# elfdeps parses, resolves and writes its JSON report; `elfdeps --no-resolve` skips resolution, so
# the two show what resolution costs. The markdown table and the JSON export land
# in target/bench/; the last lines are the ratios elfdeps/barewalk, elfdeps/scanelf and the cost of resolution (means).
#
# Needs hyperfine and scanelf (pax-utils); as root with apt-get they are installed when missing.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: benches/compare.sh DIR   (DIR: an existing directory, e.g. /usr)" >&2
  exit 2
fi
# Absolute, because the script changes directory before anything runs.
dir=$(cd "$1" && pwd -P)
runs=${RUNS:-5}
case $runs in
  '' | *[!0-9]* | 0)
    echo "compare.sh: RUNS must be a positive integer, not '$runs'" >&2
    exit 2
    ;;
esac

# The repository root is this script's parent's parent, whatever the caller's cwd.
cd "$(dirname "$0")/.."

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v scanelf >/dev/null || missing+=(pax-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "compare.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
md=$out/compare.md
json=$out/compare.json

# hyperfine runs each command through a shell: quote the paths for it, with bash's quoting (which
# may use $'...'), so bash must be that shell.
q() { printf '%q' "$1"; }
hyperfine --shell bash --warmup 1 --runs "$runs" --export-markdown "$md" --export-json "$json" \
  --command-name elfdeps "$(q "$elfdeps") scan $(q "$dir") --format json -q --output /dev/null" \
  --command-name elfdeps-no-resolve \
  "$(q "$elfdeps") scan $(q "$dir") --no-resolve --format json -q --output /dev/null" \
  --command-name scanelf "scanelf -RBn $(q "$dir") >/dev/null 2>&1" \
  --command-name barewalk "$(q "$barewalk") $(q "$dir") >/dev/null"

echo
echo "## $dir ($runs runs, 1 warmup)"
echo
cat "$md"
echo
python3 - "$json" <<'EOF'
import json, sys

means = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
e, n, s, b = means["elfdeps"], means["elfdeps-no-resolve"], means["scanelf"], means["barewalk"]
print(f"elfdeps/barewalk = {e / b:.2f}x   elfdeps/scanelf = {e / s:.2f}x   "
      f"resolution adds {100 * (e / n - 1):.0f}% (elfdeps / elfdeps --no-resolve = {e / n:.2f}x)\n"
      f"(means: elfdeps {e:.3f} s, --no-resolve {n:.3f} s, scanelf {s:.3f} s, barewalk {b:.3f} s)")
EOF
echo "(markdown: $md, JSON: $json)"

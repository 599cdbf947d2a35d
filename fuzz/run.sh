#!/usr/bin/env bash
# Runs one fuzz target for SECONDS with the project's limits, on stable Rust.
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer args]
# cargo-fuzz needs nightly-only flags (-Zsanitizer, -Cpasses=sancov-module); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them. AddressSanitizer is on (cargo fuzz's default); set
# FUZZ_SANITIZER=none for a faster run without it. Crashes land in fuzz/artifacts/TARGET/; each one
# must become a regression test (tests/adversarial.rs or a unit test) before it is fixed.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
shift 2
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
[ -d "corpus/$target" ] && [ -n "$(ls -A "corpus/$target")" ] || ./seed.sh
export RUSTC_BOOTSTRAP=1
# Builds are cached outside the clone (like the test roots), so a fresh clone in CI reuses them.
exec cargo fuzz run -O -s "${FUZZ_SANITIZER:-address}" \
  --target-dir "${ELFDEPS_FUZZ_TARGET_DIR:-${ELFDEPS_TEST_CACHE:-$HOME/.cache/elfdeps-tests}/fuzz-target}" \
  "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 \
  -max_len=1048576 -print_final_stats=1 "$@"

#!/usr/bin/env bash
# Seed corpora for the fuzz targets, generated from real files (never committed):
#   elf_facts: ELF files of this machine (/usr/bin, /usr/lib) and of the cached test roots
#              (Debian, Alpine x86_64/aarch64/s390x: 32/64-bit, both byte orders, glibc and musl);
#   ld_cache:  the ld.so.cache files of this machine and of the cached roots.
# Usage: fuzz/seed.sh [MAX_ELF_FILES]   (default 400; corpus in fuzz/corpus/TARGET)
set -euo pipefail
cd "$(dirname "$0")"
max=${1:-400}
roots=()
if out=$(../scripts/prepare-roots 2>/dev/null); then
  while IFS='=' read -r _ dir; do [ -d "$dir" ] && roots+=("$dir"); done <<<"$out"
fi

mkdir -p corpus/elf_facts corpus/ld_cache
# ELF files, small ones first (libFuzzer mutates small inputs faster), at most 1 MiB each.
{
  find /usr/bin /usr/lib -xdev -type f -size -1024k 2>/dev/null
  for r in "${roots[@]}"; do find "$r" -xdev -type f -size -1024k 2>/dev/null; done
} | while read -r f; do
  head -c 4 "$f" 2>/dev/null | cmp -s - <(printf '\177ELF') && printf '%s\n' "$f"
done | shuf -n "$max" --random-source=<(yes) | while read -r f; do
  cp -f "$f" "corpus/elf_facts/$(sha1sum <"$f" | cut -c1-16)"
done
for c in /etc/ld.so.cache; do [ -f "$c" ] && cp -f "$c" "corpus/ld_cache/$(sha1sum <"$c" | cut -c1-16)"; done
for r in "${roots[@]}"; do
  c="$r/etc/ld.so.cache"
  [ -f "$c" ] && cp -f "$c" "corpus/ld_cache/$(sha1sum <"$c" | cut -c1-16)"
done
# ldconfig's other layouts of the host cache (old, compat), when ldconfig can write them.
if command -v ldconfig >/dev/null; then
  tmp=$(mktemp -d)
  for fmt in old compat new; do
    ldconfig -C "$tmp/cache.$fmt" -c "$fmt" 2>/dev/null &&
      cp -f "$tmp/cache.$fmt" "corpus/ld_cache/ldconfig-$fmt"
  done
  rm -rf "$tmp"
fi
echo "seeds: $(ls corpus/elf_facts | wc -l) ELF files, $(ls corpus/ld_cache | wc -l) ld.so.cache files" >&2

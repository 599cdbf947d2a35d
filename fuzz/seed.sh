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
# ELF files under 1 MiB (libFuzzer mutates small inputs faster), a deterministic sample of $max,
# picked in one Python process (a process per file would take minutes on /usr).
python3 - "$max" /usr/bin /usr/lib "${roots[@]}" <<'PY'
import hashlib, os, random, shutil, stat, sys
limit = int(sys.argv[1]); found = []
for top in sys.argv[2:]:
    dev = os.stat(top).st_dev
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if os.lstat(os.path.join(d, x)).st_dev == dev]
        for f in files:
            p = os.path.join(d, f)
            try:
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode) or st.st_size > 1 << 20:
                    continue
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        found.append(p)
            except OSError:
                pass
found.sort()
random.Random(0).shuffle(found)
for p in found[:limit]:
    data = open(p, "rb").read()
    with open(os.path.join("corpus/elf_facts", hashlib.sha1(data).hexdigest()[:16]), "wb") as out:
        out.write(data)
PY
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

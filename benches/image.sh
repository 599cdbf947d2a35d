#!/usr/bin/env bash
# Scanning an image vs scanning the same tree unpacked.
#
#   benches/image.sh DIR      e.g. benches/image.sh ~/.cache/elfdeps-tests/debian-bookworm-*
#
# Packs DIR as a two-layer OCI image (layer 1: everything but usr/lib; layer 2: usr/lib;
# gzip-compressed as registries serve them, or uncompressed with COMPRESS=none) in a temporary
# directory, then times
# `elfdeps scan DIR` against `elfdeps scan oci:IMAGE` with hyperfine (warm page cache; COLD=1 for
# a cold one). The image scan includes verifying every digest, decompressing and applying the
# layers.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: benches/image.sh DIR" >&2; exit 2; }
dir=$(cd "$1" && pwd -P)
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "image.sh: apt-get install hyperfine" >&2; exit 2; }
cargo build --release --bin elfdeps --example decompress >&2
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
elfdeps=$target/release/elfdeps
decompress=$target/release/examples/decompress
# KEEP=DIR keeps the image (and the blob list) in DIR and reuses it on the next run.
if [ -n "${KEEP:-}" ]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
if [ ! -e "$work/img/index.json" ]; then
rm -rf "$work/img" "$work/blobs.txt"
tar -C "$dir" --exclude=./usr/lib -cf "$work/l1.tar" .
tar -C "$dir" -cf "$work/l2.tar" ./usr/lib
python3 - "$work" <<'PY'
import gzip, hashlib, json, os, shutil, subprocess, sys
w = sys.argv[1]; blobs = os.path.join(w, "img/blobs/sha256"); os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest(); open(os.path.join(blobs, h), "wb").write(data); return h
layers, diffs = [], []
for n in ("l1.tar", "l2.tar"):
    raw = open(os.path.join(w, n), "rb").read()
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    comp = os.environ.get("COMPRESS", "gzip")
    if comp == "none":
        data, media = raw, "application/vnd.oci.image.layer.v1.tar"
    elif comp == "zstd":
        data = subprocess.run(["zstd", "-q", "-3", "-c", "-T0", os.path.join(w, n)],
                              check=True, stdout=subprocess.PIPE).stdout
        media = "application/vnd.oci.image.layer.v1.tar+zstd"
    else:
        data, media = gzip.compress(raw, 6), "application/vnd.oci.image.layer.v1.tar+gzip"
    h = put(data)
    layers.append({"mediaType": media, "digest": "sha256:" + h, "size": len(data)})
    open(os.path.join(w, "blobs.txt"), "a").write(os.path.join(blobs, h) + "\n")
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": "sha256:" + put(cfg), "size": len(cfg)},
                  "layers": layers}).encode()
mh = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
          "digest": "sha256:" + mh, "size": len(man),
          "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
          open(os.path.join(w, "img/index.json"), "w"))
open(os.path.join(w, "img/oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
rm -f "$work"/l?.tar
fi
du -sh "$work/img" >&2
# COLD=1 (as root) drops the page cache before every run: both commands then read from storage,
# the directory scan its files' headers, the image scan every byte of its blobs.
prepare=()
if [ "${COLD:-0}" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "image.sh: COLD=1 needs root (drop_caches)" >&2; exit 2; }
  prepare=(--prepare 'sync; echo 3 > /proc/sys/vm/drop_caches')
fi
mapfile -t blobs <"$work/blobs.txt"
hyperfine --warmup 1 --runs "${RUNS:-5}" "${prepare[@]}" --export-json "$work/r.json" \
  --command-name directory "$elfdeps scan $dir -q -f json -o /dev/null" \
  --command-name image "$elfdeps scan oci:$work/img:bench -q -f json -o /dev/null" \
  --command-name decompress "$decompress ${blobs[*]}" \
  --command-name decompress-parallel "$decompress --parallel ${blobs[*]}" \
  --command-name decompress-hash "$decompress --hash ${blobs[*]}"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "peak RSS (KiB): image $(rss "$elfdeps" scan "oci:$work/img:bench" -q -f json -o /dev/null)," \
  "directory $(rss "$elfdeps" scan "$dir" -q -f json -o /dev/null)," \
  "decompress $(rss "$decompress" "${blobs[@]}")"
python3 - "$work/r.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m = {k: v["mean"] for k, v in r.items()}
for k, v in r.items():
    print(f"{k:20} {v['mean']:.3f} s ± {v['stddev'] or 0:.3f}")
print(f"image/decompress = {m['image'] / m['decompress']:.2f}x, "
      f"image/decompress-parallel = {m['image'] / m['decompress-parallel']:.2f}x, "
      f"image/decompress-hash = {m['image'] / m['decompress-hash']:.2f}x, "
      f"image/directory = {m['image'] / m['directory']:.2f}x")
PY

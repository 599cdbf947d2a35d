#!/usr/bin/env bash
# Seed corpora for the fuzz targets, generated from real files (never committed):
#   elf_facts: ELF files of this machine (/usr/bin, /usr/lib) and of the cached test roots
#              (Debian, Alpine x86_64/aarch64/s390x: 32/64-bit, both byte orders, glibc and musl);
#   ld_cache:  the ld.so.cache files of this machine and of the cached roots;
#   ld_so_conf: ld.so.conf and its ld.so.conf.d files (this machine, the cached roots), crafted
#              includes (cycles, the huge file, globs over every kind of target).
# Usage: fuzz/seed.sh [MAX_ELF_FILES]   (default 400; corpus in fuzz/corpus/TARGET)
set -euo pipefail
cd "$(dirname "$0")"
max=${1:-400}
roots=()
if out=$(../scripts/prepare-roots 2>/dev/null); then
  while IFS='=' read -r _ dir; do [ -d "$dir" ] && roots+=("$dir"); done <<<"$out"
fi

mkdir -p corpus/elf_facts corpus/ld_cache corpus/apk_db corpus/dpkg_status corpus/rpm_header corpus/tar_layer corpus/ld_so_conf \
  corpus/dlopen_note corpus/nsswitch corpus/pam
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
# Package databases of the cached roots (APK installed db, dpkg status and diversions).
for r in "${roots[@]}"; do
  for f in lib/apk/db/installed; do [ -f "$r/$f" ] && head -c 1048576 "$r/$f" >"corpus/apk_db/$(basename "$r")"; done
  for f in var/lib/dpkg/status var/lib/dpkg/diversions; do
    [ -f "$r/$f" ] && head -c 1048576 "$r/$f" >"corpus/dpkg_status/$(basename "$r")-$(basename "$f")"
  done
done
# RPM header blobs: a small well-formed one (name, version, release, files) written here.
python3 - <<'PY'
import struct
def header(entries):
    data = b""; index = b""
    for tag, typ, value in entries:
        if typ == 6:
            off = len(data); data += value + b"\0"; count = 1
        elif typ == 8:
            off = len(data); data += b"".join(v + b"\0" for v in value); count = len(value)
        else:
            while len(data) % 4: data += b"\0"
            off = len(data); data += b"".join(struct.pack(">I", v) for v in value); count = len(value)
        index += struct.pack(">IIII", tag, typ, off, count)
    return struct.pack(">II", len(entries), len(data)) + index + data
blob = header([(1000, 6, b"hello"), (1001, 6, b"1.0"), (1002, 6, b"1"),
               (1116, 4, [0, 0]), (1117, 8, [b"hello", b"libhello.so.1"]), (1118, 8, [b"/usr/bin/"]),
               (1047, 8, [b"hello", b"libhello.so.1()(64bit)"])])
open("corpus/rpm_header/hello", "wb").write(blob)
PY
# ld.so.conf texts: each input is ld.so.conf, then the texts of the target's other files, with two
# NUL bytes between them (fuzz_targets/ld_so_conf.rs).
python3 - / "${roots[@]}" <<'PY'
import glob, hashlib, os, sys
def put(texts, name=None):
    data = b"\0\0".join(texts)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    open("corpus/ld_so_conf/" + name, "wb").write(data)
for r in sys.argv[1:]:
    conf = os.path.join(r, "etc/ld.so.conf")
    if os.path.isfile(conf):
        parts = [open(conf, "rb").read()]
        for f in sorted(glob.glob(os.path.join(r, "etc/ld.so.conf.d/*.conf")))[:7]:
            parts.append(open(f, "rb").read()[:4096])
        put(parts)
put([b"include /etc/ld.so.conf.d/*a*a*a*a*a*a*a*a*a*a*a*a*b\n/opt/lib\n"], "backtracking")
put([b"include /etc/ld.so.conf.d/*.conf\ninclude /etc/sub/*/*.conf /etc/sub/up/up/*\n/usr/local/lib\n",
     b"/opt/libc\n", b"include ../sub/deeper/*.conf\n/opt/x86_64//\n", b"/hidden\n",
     b"include [\n/odd\n", b"include star\\*.conf\n", b"include ../two\n/one\n", b"include ../ld.so.conf\n"],
    "includes")
put([b"include /etc/sub/huge.conf /etc/many/*.conf /etc/sub/escape.conf /etc/sub/abs.conf\n"], "bounds")
put([b"include /.*/.*/.*/.*/.*/.*/.*/.*/.*/.*/.*/.*/*\n", b"/x=libc6\nhwcap 0 nosegneg\nHWCAP x\n"], "dots")
put([b"include /etc/ld.so.conf.d/[[:alpha:]]*.conf /etc/ld.so.conf.d/[!a-z]* /etc/*/[\\]a-]*\n"], "brackets")
PY
# Layers: small tars (a directory tree, a symlink, a whiteout) made here.
python3 - <<'PY'
import io, tarfile
def tar(members, name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    open("corpus/tar_layer/" + name, "wb").write(buf.getvalue())
def f(n, data=b"x", kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(n); i.type = kind; i.size = len(data) if kind == tarfile.REGTYPE else 0; i.linkname = link
    return (i, data if kind == tarfile.REGTYPE else None)
tar([f("usr/", kind=tarfile.DIRTYPE), f("usr/bin/", kind=tarfile.DIRTYPE), f("usr/bin/a", b"\x7fELF" + b"\0" * 60),
     f("usr/lib/libz.so.1", kind=tarfile.SYMTYPE, link="libz.so.1.3"), f("etc/hosts", b"127.0.0.1 x\n"),
     f("usr/bin/b", kind=tarfile.LNKTYPE, link="usr/bin/a")], "tree")
tar([f("etc/.wh.hosts", b""), f("usr/.wh..wh..opq", b""), f("usr/new", b"y")], "whiteouts")
PY
# dlopen notes: descriptors (first byte 0) and a little-endian, 4-aligned note segment (first byte 1).
python3 - <<'PY'
import struct
good = b'[{"soname":["libz.so.1","libz.so"],"feature":"z","description":"d","priority":"required"},{"soname":["libx.so.2"],"x":{"y":[1]}}]\0'
open("corpus/dlopen_note/good", "wb").write(b"\0" + good)
open("corpus/dlopen_note/bad-names", "wb").write(b'\0[{"soname":["..","/a","","a\\u0000b",1]},{},2]')
desc = good + b"\0" * (-len(good) % 4)
seg = struct.pack("<III", 4, len(good), 0x407c0c0a) + b"FDO\0" + desc
gnu = struct.pack("<III", 4, 4, 1) + b"GNU\0" + b"\0\0\0\0"
open("corpus/dlopen_note/segment", "wb").write(b"\1" + gnu + seg)
PY
# nsswitch.conf and PAM service files of this machine and of the cached roots.
for r in / "${roots[@]}"; do
  f="$r/etc/nsswitch.conf"
  [ -f "$f" ] && head -c 65536 "$f" >"corpus/nsswitch/$(sha1sum <"$f" | cut -c1-16)"
  for f in "$r"/etc/pam.d/*; do
    [ -f "$f" ] && head -c 65536 "$f" >"corpus/pam/$(sha1sum <"$f" | cut -c1-16)"
  done
done
printf 'hosts: files [NOTFOUND=return] dns [!UNAVAIL=return success=continue] x\n' >corpus/nsswitch/actions
printf '@include login\nauth [success=1 default=ignore] pam_unix.so\n-session include other\n' >corpus/pam/includes
echo "seeds: $(ls corpus/elf_facts | wc -l) ELF files, $(ls corpus/ld_cache | wc -l) ld.so.cache files, $(ls corpus/ld_so_conf | wc -l) ld.so.conf texts, $(ls corpus/apk_db corpus/dpkg_status corpus/rpm_header corpus/tar_layer | wc -l) others" >&2

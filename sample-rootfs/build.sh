#!/usr/bin/env bash
# Build the elfdeps demo root filesystem.
#
#   sample-rootfs/build.sh [OUT]        default OUT: <repo>/target/sample-rootfs
#
# OUT is deleted and recreated on every run (and only OUT), so running it twice
# gives the same tree. Nothing pre-built is checked in: every program and library
# is compiled here from src/, and the glibc runtime is copied from the build
# machine's own glibc (Debian's libc6). See README.md for what each file shows.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname -- "$HERE")
SRC=$HERE/src

say() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

# --- where to build ----------------------------------------------------------
# ${1-...} (not ${1:-...}) so that an explicitly empty argument is refused below
# instead of silently falling back to the default.
OUT=${1-$REPO/target/sample-rootfs}
[[ -n $OUT ]] || die "refusing to use an empty OUT path"
OUT=$(realpath -m -- "$OUT")
[[ $OUT != / ]] || die "refusing to wipe /"
# Never wipe the repository (or a directory containing it) by mistake.
case "$REPO/" in "$OUT"/*) die "refusing to wipe $OUT: it contains the repository $REPO" ;; esac
# Only wipe what this script made: an existing, non-empty OUT must be a previous
# sample root (recognised by its etc/os-release), never e.g. cargo's target/.
if [[ -e $OUT && -n $(ls -A -- "$OUT" 2>/dev/null) ]] &&
    ! grep -qx 'ID=elfdeps-sample' "$OUT/etc/os-release" 2>/dev/null; then
    die "refusing to wipe $OUT: it exists and is not a sample root made by this script"
fi
# A proc/dev mounted inside OUT (e.g. for chroot tests) must not be wiped along
# with it: refuse, and rm below also stays on OUT's own filesystem.
if awk -v o="$OUT" '$5 == o || index($5, o "/") == 1 { f = 1 } END { exit !f }' \
    /proc/self/mountinfo 2>/dev/null; then
    die "something is mounted under $OUT; unmount it first"
fi

# --- build machine checks ----------------------------------------------------
# The root gets a copy of the build machine's x86_64 glibc, so we need one.
[[ $(uname -m) == x86_64 ]] || die "needs an x86_64 build machine (this is $(uname -m))"
HOST_LIBDIR=/lib/x86_64-linux-gnu
[[ -e $HOST_LIBDIR/libc.so.6 ]] || die "no glibc at $HOST_LIBDIR (needs a Debian/Ubuntu-like host with libc6)"
command -v gcc >/dev/null || die "gcc not found: install gcc (Debian: apt-get install gcc libc6-dev)"
[[ -f $(gcc -print-file-name=libc.a) ]] || die "static libc.a not found: install libc6-dev"
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
[[ -x $LDCONFIG ]] || die "ldconfig not found (Debian package libc-bin)"

# musl-gcc (Debian package musl-tools) builds the musl program. Install it if we
# can (root + apt-get); otherwise say exactly what is missing.
if ! command -v musl-gcc >/dev/null; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
        say "musl-gcc not found: installing musl-tools"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y musl-tools || { apt-get update && apt-get install -y musl-tools; }
    fi
    command -v musl-gcc >/dev/null ||
        die "musl-gcc not found: install it (Debian/Ubuntu: apt-get install musl-tools)"
fi

# Fixed flags and a fixed timestamp keep the output identical from run to run.
CFLAGS=(-O2 -Wall -Wextra -Werror)
EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
GLIBC_VERSION=$(getconf GNU_LIBC_VERSION | awk '{print $2}')   # e.g. 2.36

# Scratch directory for link-time-only files (libabsent, the newer libvers).
B=$(mktemp -d)
trap 'rm -rf -- "$B"' EXIT

say "building sample root in $OUT"

# --- compile -----------------------------------------------------------------
# Note on '$ORIGIN': single quotes so the shell does not expand it; the loader
# replaces it at run time with the directory of the object carrying the RUNPATH.
# --enable-new-dtags writes DT_RUNPATH (what modern distros use) instead of DT_RPATH.

say "libfmt.so.1.0.0   (soname libfmt.so.1; needs libm.so.6)"
gcc "${CFLAGS[@]}" -fPIC -shared -Wl,-soname,libfmt.so.1 \
    -o "$B/libfmt.so.1.0.0" "$SRC/libfmt.c" -lm
ln -s libfmt.so.1.0.0 "$B/libfmt.so.1"   # lets -rpath-link find it by soname below

say "libgreet.so.1.2.0 (soname libgreet.so.1; needs libfmt.so.1 via RUNPATH \$ORIGIN)"
# shellcheck disable=SC2016  # '$ORIGIN' is for the loader, not the shell
gcc "${CFLAGS[@]}" -fPIC -shared -Wl,-soname,libgreet.so.1 \
    -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
    -o "$B/libgreet.so.1.2.0" "$SRC/libgreet.c" "$B/libfmt.so.1.0.0"

say "greet             (PIE; needs libgreet.so.1 via RUNPATH \$ORIGIN/../lib/greet)"
# -rpath-link only helps the link-time linker find libfmt (libgreet's dependency);
# it is not recorded in the program.
# shellcheck disable=SC2016  # '$ORIGIN' is for the loader, not the shell
gcc "${CFLAGS[@]}" -fPIE -pie \
    -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib/greet' -Wl,-rpath-link,"$B" \
    -o "$B/greet" "$SRC/greet.c" "$B/libgreet.so.1.2.0"

say "needs-missing     (needs libabsent.so.1, which is not installed)"
gcc "${CFLAGS[@]}" -fPIC -shared -Wl,-soname,libabsent.so.1 \
    -o "$B/libabsent.so.1" "$SRC/absent.c"
gcc "${CFLAGS[@]}" -fPIE -pie -o "$B/needs-missing" "$SRC/needs-missing.c" "$B/libabsent.so.1"

say "libvers.so.1      (old build: VERS_1 only, installed; new build: VERS_1+VERS_2, link-time only)"
mkdir -p "$B/vers-old" "$B/vers-new"
gcc "${CFLAGS[@]}" -fPIC -shared -Wl,-soname,libvers.so.1 \
    -Wl,--version-script="$SRC/libvers-1.map" \
    -o "$B/vers-old/libvers.so.1.0.0" "$SRC/libvers.c"
gcc "${CFLAGS[@]}" -DLIBVERS_NEW -fPIC -shared -Wl,-soname,libvers.so.1 \
    -Wl,--version-script="$SRC/libvers-2.map" \
    -o "$B/vers-new/libvers.so.1.1.0" "$SRC/libvers.c"

say "needs-newer, vers-ok (both linked against the NEW libvers)"
gcc "${CFLAGS[@]}" -fPIE -pie -o "$B/needs-newer" "$SRC/needs-newer.c" "$B/vers-new/libvers.so.1.1.0"
gcc "${CFLAGS[@]}" -fPIE -pie -o "$B/vers-ok" "$SRC/vers-ok.c" "$B/vers-new/libvers.so.1.1.0"

say "hello             (PIE glibc, needs only libc.so.6)"
gcc "${CFLAGS[@]}" -fPIE -pie -o "$B/hello" "$SRC/hello.c"

say "hello-static      (static glibc)"
gcc "${CFLAGS[@]}" -static -o "$B/hello-static" "$SRC/hello-static.c"

say "hello-musl        (musl-gcc; interpreter /lib/ld-musl-x86_64.so.1 is absent from the root)"
musl-gcc "${CFLAGS[@]}" -o "$B/hello-musl" "$SRC/hello-musl.c"

# --- lay out the root --------------------------------------------------------
say "assembling root"
rm -rf --one-file-system -- "$OUT"
mkdir -p -- "$OUT"
cd -- "$OUT"   # every path below is relative to the root

# Written first: it also marks OUT as ours for the next run's wipe check.
mkdir -p etc
cat > etc/os-release <<'EOF'
NAME="elfdeps sample root"
PRETTY_NAME="elfdeps sample root filesystem (demo, not a real distribution)"
ID=elfdeps-sample
VERSION_ID=1
HOME_URL="https://example.invalid/elfdeps"
EOF

# Merged /usr like Debian: /lib, /lib64 and /bin are relative symlinks into usr/.
mkdir -p etc/apk etc/ld.so.conf.d usr/bin usr/lib usr/lib64 usr/include \
    usr/lib/greet usr/lib/x86_64-linux-gnu usr/lib/apk/db usr/share/man/man1 tmp
ln -s usr/lib lib
ln -s usr/lib64 lib64
ln -s usr/bin bin
chmod 1777 tmp
# Empty mount point for /proc: to expand $ORIGIN in the main program's RUNPATH,
# glibc's loader reads /proc/self/exe, so greet only runs in a chroot with /proc.
mkdir proc

# greet and its private library chain in /usr/lib/greet (outside the default path).
install -m 755 "$B/greet" usr/bin/greet
install -m 755 "$B/libgreet.so.1.2.0" usr/lib/greet/libgreet.so.1.2.0
ln -s libgreet.so.1.2.0 usr/lib/greet/libgreet.so.1   # soname link (runtime)
ln -s libgreet.so.1 usr/lib/greet/libgreet.so          # dev link (greet-dev)
install -m 755 "$B/libfmt.so.1.0.0" usr/lib/greet/libfmt.so.1.0.0
ln -s libfmt.so.1.0.0 usr/lib/greet/libfmt.so.1
install -m 644 "$SRC/greet.h" usr/include/greet.h
install -m 644 "$SRC/greet.1" usr/share/man/man1/greet.1

# The OLD libvers, in a default directory so the loader finds it via ld.so.cache.
install -m 755 "$B/vers-old/libvers.so.1.0.0" usr/lib/x86_64-linux-gnu/libvers.so.1.0.0
ln -s libvers.so.1.0.0 usr/lib/x86_64-linux-gnu/libvers.so.1
install -m 755 "$B/needs-newer" usr/bin/needs-newer
install -m 755 "$B/vers-ok" usr/bin/vers-ok

# libabsent.so.1 is deliberately not installed.
install -m 755 "$B/needs-missing" usr/bin/needs-missing

install -m 755 "$B/hello" usr/bin/hello
install -m 755 "$B/hello-static" usr/bin/hello-static
install -m 755 "$B/hello-musl" usr/bin/hello-musl

# glibc runtime copied from the build machine: the loader plus the libraries our
# programs need (libm for libfmt). -L: take the real file if the host uses symlinks.
GLIBC_LIBS=(ld-linux-x86-64.so.2 libc.so.6 libm.so.6)
for lib in "${GLIBC_LIBS[@]}"; do
    cp -L --preserve=mode -- "$HOST_LIBDIR/$lib" "usr/lib/x86_64-linux-gnu/$lib"
done
# The program interpreter path is /lib64/ld-linux-x86-64.so.2; Debian makes it an
# ABSOLUTE symlink, so a tool must resolve it inside the root, not on the host.
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 usr/lib64/ld-linux-x86-64.so.2

# Loader configuration as on Debian, then the cache. ldconfig -r reads OUT/etc/...
# and writes OUT/etc/ld.so.cache. -X: only build the cache, do not touch symlinks
# (we made them all above, and the package database below lists them).
cat > etc/ld.so.conf <<'EOF'
include /etc/ld.so.conf.d/*.conf

EOF
cat > etc/ld.so.conf.d/x86_64-linux-gnu.conf <<'EOF'
# Multiarch support
/usr/local/lib/x86_64-linux-gnu
/lib/x86_64-linux-gnu
/usr/lib/x86_64-linux-gnu
EOF
say "generating /etc/ld.so.cache with $LDCONFIG -r"
"$LDCONFIG" -X -r "$OUT"
cache=$("$LDCONFIG" -r "$OUT" -p)
for lib in libc.so.6 libm.so.6 libvers.so.1; do
    grep -q "^[[:space:]]$lib " <<<"$cache" || die "ld.so.cache in $OUT does not list $lib"
done

# --- APK installed database (real apk-tools format) --------------------------
say "writing /lib/apk/db/installed"

# Q1 + base64(sha1(stdin)): the apk checksum format used by C: and Z: lines.
q1sha1() {
    local hex
    hex=$(sha1sum | cut -d' ' -f1)
    # hex -> raw bytes with printf's \xHH escapes (coreutils only, no xxd needed)
    # shellcheck disable=SC2001  # sed needs the matched text (&)
    printf 'Q1%s\n' "$(printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" | base64)"
}

# File list part of a record: every directory (with its parents) as F:, then its
# files as R:. a: (uid:gid:mode) is only written when not 0:0:644, like apk.
# Z: is sha1 of the content, or of the link target for a symlink (as apk does).
apk_files() {
    local f d mode
    local -A dirs=()
    for f in "$@"; do
        d=$(dirname "$f")
        while [[ $d != . ]]; do dirs[$d]=1; d=$(dirname "$d"); done
    done
    while read -r d; do
        echo "F:$d"
        while read -r f; do
            [[ $(dirname "$f") == "$d" ]] || continue
            echo "R:${f##*/}"
            if [[ -L $f ]]; then
                echo "a:0:0:777"
                echo "Z:$(printf '%s' "$(readlink "$f")" | q1sha1)"
            else
                mode=$(stat -c %a "$f")
                [[ $mode == 644 ]] || echo "a:0:0:$mode"
                echo "Z:$(q1sha1 <"$f")"
            fi
        done < <(printf '%s\n' "$@" | LC_ALL=C sort)
    done < <(printf '%s\n' "${!dirs[@]}" | LC_ALL=C sort)
}

# apk_pkg NAME VERSION ORIGIN LICENSE DESCRIPTION DEPENDS PROVIDES FILE...
# FILE paths are relative to the root, as they appear in it (merged /usr).
apk_pkg() {
    local name=$1 version=$2 origin=$3 license=$4 desc=$5 depends=$6 provides=$7
    shift 7
    local isize apksize body
    # I: installed size (symlinks count as their own size); S: the .apk size,
    # approximated by gzipping a tar of the files.
    isize=$(stat -c %s "$@" | awk '{ s += $1 } END { print s }')
    apksize=$(tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
        -cf - "$@" | gzip -9n | wc -c)
    body=$(
        echo "P:$name"
        echo "V:$version"
        echo "A:x86_64"
        echo "S:$apksize"
        echo "I:$isize"
        echo "T:$desc"
        echo "U:https://example.invalid/elfdeps/$origin"
        echo "L:$license"
        echo "o:$origin"
        echo "m:elfdeps sample <sample@example.invalid>"
        echo "t:$EPOCH"
        [[ -z $depends ]] || echo "D:$depends"
        [[ -z $provides ]] || echo "p:$provides"
        apk_files "$@"
    )
    # C: identifies the package; real apk uses the sha1 of the package's control
    # data, here the sha1 of the rest of the record stands in for it.
    echo "C:$(q1sha1 <<<"$body")"
    echo "$body"
    echo
}

GREET_V=1.2.0-r0
VERS_V=1.0.0-r0
{
    apk_pkg greet "$GREET_V" greet MIT "Prints a framed greeting (RUNPATH demo)" \
        "so:libc.so.6 so:libgreet.so.1" "cmd:greet=$GREET_V" \
        usr/bin/greet
    apk_pkg libgreet "$GREET_V" greet MIT "Greeting library and its private formatter" \
        "so:libc.so.6 so:libm.so.6" "so:libgreet.so.1=1.2.0 so:libfmt.so.1=1.0.0" \
        usr/lib/greet/libgreet.so.1.2.0 usr/lib/greet/libgreet.so.1 \
        usr/lib/greet/libfmt.so.1.0.0 usr/lib/greet/libfmt.so.1
    apk_pkg greet-dev "$GREET_V" greet MIT "Prints a framed greeting (development files)" \
        "libgreet=$GREET_V" "" \
        usr/include/greet.h usr/lib/greet/libgreet.so
    apk_pkg greet-doc "$GREET_V" greet MIT "Prints a framed greeting (documentation)" \
        "" "" \
        usr/share/man/man1/greet.1
    apk_pkg libvers "$VERS_V" vers MIT "Library with versioned symbols (VERS_1 only)" \
        "so:libc.so.6" "so:libvers.so.1=1.0.0" \
        usr/lib/x86_64-linux-gnu/libvers.so.1.0.0 usr/lib/x86_64-linux-gnu/libvers.so.1
    apk_pkg vers-tools "$VERS_V" vers MIT "Programs using libvers symbol versions" \
        "so:libc.so.6 so:libvers.so.1" "cmd:needs-newer=$VERS_V cmd:vers-ok=$VERS_V" \
        usr/bin/needs-newer usr/bin/vers-ok
    apk_pkg needs-missing 1.0.0-r0 needs-missing MIT "Program needing a library that is not installed" \
        "so:libabsent.so.1 so:libc.so.6" "cmd:needs-missing=1.0.0-r0" \
        usr/bin/needs-missing
    apk_pkg hello 1.0.0-r0 hello MIT "Hello world: glibc, static glibc and musl builds" \
        "so:libc.musl-x86_64.so.1 so:libc.so.6" \
        "cmd:hello-musl=1.0.0-r0 cmd:hello-static=1.0.0-r0 cmd:hello=1.0.0-r0" \
        usr/bin/hello usr/bin/hello-static usr/bin/hello-musl
    glibc_provides=()
    glibc_files=()
    for lib in "${GLIBC_LIBS[@]}"; do
        glibc_provides+=("so:$lib=${lib##*.so.}")
        glibc_files+=("usr/lib/x86_64-linux-gnu/$lib")
    done
    apk_pkg glibc "$GLIBC_VERSION-r0" glibc LGPL-2.1-or-later \
        "GNU C library runtime (copied from the build machine)" \
        "" "${glibc_provides[*]}" \
        "${glibc_files[@]}" usr/lib64/ld-linux-x86-64.so.2 \
        etc/ld.so.conf etc/ld.so.conf.d/x86_64-linux-gnu.conf
} >usr/lib/apk/db/installed

printf '%s\n' greet hello needs-missing vers-tools >etc/apk/world

# /lib/apk/db/installed must resolve through the lib -> usr/lib symlink.
[[ -s lib/apk/db/installed ]] || die "lib/apk/db/installed does not resolve in $OUT"

say "done: $OUT"
find . -mindepth 1 \( -type f -printf '    /%P\n' \) -o \( -type l -printf '    /%P -> %l\n' \) |
    LC_ALL=C sort

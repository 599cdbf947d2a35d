#!/usr/bin/env bash
# Builds the two roots of loader hard cases the differential harness (tests/loader_diff.rs) checks
# against the real loaders:
#
#   tests/hard_cases/build.sh OUT ALPINE_X86_64_ROOT ALPINE_AARCH64_ROOT
#
#   OUT/glibc  a minimal glibc root: the host's glibc runtime (ld.so, libc, libm; Debian bookworm,
#              merged /usr) with an ld.so.cache made by `ldconfig -r`, plus the cases below
#   OUT/musl   a copy of the Alpine x86_64 minirootfs plus the cases below
#
# Everything is compiled here from tests/hard_cases/src (gcc, musl-gcc); the only foreign binaries
# are the host's glibc runtime, Alpine's own files and one aarch64 library copied from the Alpine
# aarch64 fixture (a real wrong-machine candidate). Needs root (ldconfig -r chroots).
#
# Each case is listed with the loader rule it exercises (loader-spec.md numbers in brackets).
set -euo pipefail

out=$1 alpine=$2 alpine_arm=$3
src=$(cd "$(dirname "$0")/src" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -d "$alpine/lib" ] || { echo "build.sh: $alpine is not an Alpine root" >&2; exit 2; }
[ -f "$alpine_arm/lib/libz.so.1.3.1" ] || { echo "build.sh: $alpine_arm has no lib/libz.so.1.3.1" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out"

# lib CC OUT SONAME FN [link args...]: a shared library defining FN with that DT_SONAME.
lib() {
  local cc=$1 o=$2 soname=$3 fn=$4
  shift 4
  mkdir -p "$(dirname "$o")"
  "$cc" -shared -fPIC -o "$o" -DFN="$fn" "$src/lib.c" -Wl,-soname,"$soname" -Wl,--no-as-needed "$@"
}
# exe CC OUT [link args...]: a program keeping every DT_NEEDED of its link line.
exe() {
  local cc=$1 o=$2
  shift 2
  mkdir -p "$(dirname "$o")"
  "$cc" -o "$o" "$src/main.c" -Wl,--no-as-needed "$@"
}
# patch FILE OFFSET BYTE: overwrite one byte (to make a wrong-class or bad-OSABI copy).
patch() { printf "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# hostile ROOT CC: hostile candidates on a RUNPATH, each in a directory searched before /opt/hc/ok,
# which has the real library: a directory, character devices with /dev/null's and /dev/zero's
# numbers, a symlink chain longer than the kernel's 40-link limit, a symlink through a regular file
# (ENOTDIR), a 2 GiB sparse file that
# starts with a real ELF header (no program headers behind it), a static executable (ET_EXEC, no
# PT_DYNAMIC), a PIE program, and (KINDS=debug, glibc only: musl crashes on it) a separate
# debug-info file of the library. The loader skips or stops at each as its rules say; the scanner
# must decide without opening a device, blocking, or reading the sparse file whole [issue 7].
hostile() {
  local r=$1 cc=$2 kinds=${3:-} h=$1/opt/hc
  lib "$cc" "$h/ok/libhc.so" libhc.so hc_fn
  mkdir -p "$h/dir/libhc.so" "$h/null" "$h/zero" "$h/loop" "$h/sparse" "$h/exec" "$h/debug" "$h/pie"
  mknod "$h/null/libhc.so" c 1 3
  mknod "$h/zero/libhc.so" c 1 5
  ln -s l1 "$h/loop/libhc.so"
  for i in $(seq 1 40); do ln -s "l$((i + 1))" "$h/loop/l$i"; done
  ln -s ../ok/libhc.so "$h/loop/l41"
  # ENOTDIR: a symlink through a regular file.
  mkdir -p "$h/notdir"
  echo 'not a directory' >"$h/afile"
  ln -s /opt/hc/afile/libhc.so "$h/notdir/libhc.so"
  head -c 64 "$h/ok/libhc.so" >"$h/sparse/libhc.so"
  truncate -s 2G "$h/sparse/libhc.so"
  "$cc" -static -o "$h/exec/libhc.so" "$src/main.c"
  exe "$cc" "$h/pie/libhc.so"
  objcopy --only-keep-debug "$h/ok/libhc.so" "$h/debug/libhc.so"
  for k in dir null zero loop notdir sparse exec pie $kinds; do
    exe "$cc" "$h/bin/$k-first" -L"$h/ok" -lhc -Wl,--enable-new-dtags -Wl,-rpath,"/opt/hc/$k:/opt/hc/ok"
  done
}

########################################################################################## glibc
g=$out/glibc
mkdir -p "$g"/usr/{bin,lib/x86_64-linux-gnu,lib64,local/lib} "$g"/etc/ld.so.conf.d/sub "$g"/opt
ln -s usr/bin "$g/bin"
ln -s usr/lib "$g/lib"
ln -s usr/lib64 "$g/lib64"
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6; do
  cp -L "/lib/x86_64-linux-gnu/$f" "$g/usr/lib/x86_64-linux-gnu/$f"
done
# Debian's absolute interpreter link [R1.1, R7.2]: resolved inside the root, not on the host.
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$g/usr/lib64/ld-linux-x86-64.so.2"
G=$g/usr/lib/x86_64-linux-gnu

printf 'include /etc/ld.so.conf.d/*.conf\n' >"$g/etc/ld.so.conf"
printf '/usr/local/lib\n' >"$g/etc/ld.so.conf.d/libc.conf"
printf '# multiarch\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' \
  >"$g/etc/ld.so.conf.d/x86_64-linux-gnu.conf"
# A relative, nested include [R2.6]: ldconfig puts /opt/conf/lib in the cache.
printf 'include sub/*.conf\n' >"$g/etc/ld.so.conf.d/nested.conf"
printf '/opt/conf/lib\n/opt/moved/lib\n/opt/gone/lib\n' >"$g/etc/ld.so.conf.d/sub/opt.conf"

gcc_=gcc
# RPATH is inherited along the loader chain, RUNPATH is not [R2.4; T1, T2].
lib $gcc_ "$g/opt/rp/a/liby.so" liby.so y_fn
lib $gcc_ "$g/opt/rp/b/libx.so" libx.so x_fn -L"$g/opt/rp/a" -ly
exe $gcc_ "$g/opt/rp/bin/rpath-chain" -L"$g/opt/rp/b" -lx -Wl,-rpath-link,"$g/opt/rp/a" \
  -Wl,--disable-new-dtags -Wl,-rpath,/opt/rp/a:/opt/rp/b
exe $gcc_ "$g/opt/rp/bin/runpath-chain" -L"$g/opt/rp/b" -lx -Wl,-rpath-link,"$g/opt/rp/a" \
  -Wl,--enable-new-dtags -Wl,-rpath,/opt/rp/a:/opt/rp/b

# ld.so.cache through a nested include [R2.6; T21].
lib $gcc_ "$g/opt/conf/lib/libconf.so.1.2.3" libconf.so.1 conf_fn
exe $gcc_ "$g/usr/bin/uses-conf" "$g/opt/conf/lib/libconf.so.1.2.3"

# Soname matching of an already loaded object [R2.2; T10]: the program needs liba.so (linked
# against a stub of that soname), the installed liba.so has DT_SONAME libcommon.so.1, and libb needs
# libcommon.so.1, which exists under no file name.
lib $gcc_ "$work/stub/liba.so" liba.so a_fn
lib $gcc_ "$g/opt/sn/liba.so" libcommon.so.1 a_fn
lib $gcc_ "$g/opt/sn/libb.so" libb.so b_fn -L"$g/opt/sn" -l:liba.so
exe $gcc_ "$g/opt/sn/bin/soname-match" -L"$work/stub" -l:liba.so -L"$g/opt/sn" -lb \
  -Wl,--disable-new-dtags -Wl,-rpath,/opt/sn

# Wrong class and wrong machine candidates are skipped, the search goes on [R2.5; T5, T6]; a bad
# OSABI and a text file stop it [T7, T8].
lib $gcc_ "$g/opt/wc/ok/libwc.so" libwc.so wc_fn
mkdir -p "$g/opt/wc/m32" "$g/opt/wc/arm" "$g/opt/wc/osabi" "$g/opt/wc/text"
gcc -m32 -shared -fPIC -nostdlib -o "$g/opt/wc/m32/libwc.so" -DFN=wc_fn "$src/lib.c" -Wl,-soname,libwc.so
cp "$alpine_arm/lib/libz.so.1.3.1" "$g/opt/wc/arm/libwc.so"
cp "$g/opt/wc/ok/libwc.so" "$g/opt/wc/osabi/libwc.so"
patch "$g/opt/wc/osabi/libwc.so" 7 09
printf 'INPUT(-lwc_real)\n' >"$g/opt/wc/text/libwc.so"
exe $gcc_ "$g/opt/wc/bin/wrong-first" -L"$g/opt/wc/ok" -lwc -Wl,--disable-new-dtags \
  -Wl,-rpath,/opt/wc/m32:/opt/wc/arm:/opt/wc/ok
exe $gcc_ "$g/opt/wc/bin/osabi-first" -L"$g/opt/wc/ok" -lwc -Wl,--disable-new-dtags \
  -Wl,-rpath,/opt/wc/osabi:/opt/wc/ok
exe $gcc_ "$g/opt/wc/bin/text-first" -L"$g/opt/wc/ok" -lwc -Wl,--enable-new-dtags \
  -Wl,-rpath,/opt/wc/text:/opt/wc/ok
# A wrong-class copy in a default directory shadows nothing: the cache and the search skip it.
cp "$g/opt/wc/m32/libwc.so" "$G/libwc32only.so"
lib $gcc_ "$work/stub/libwc32only.so" libwc32only.so wc_fn
exe $gcc_ "$g/usr/bin/uses-wc32only" -L"$work/stub" -lwc32only

# Absolute and escaping symlinks, resolved inside the root [R7.2, R7.4; T40].
lib $gcc_ "$g/opt/abs/real/libabs.so.1.0" libabs.so.1 abs_fn
lib $gcc_ "$g/opt/abs/real/libesc.so.1.0" libesc.so.1 esc_fn
mkdir -p "$g/opt/abs/lib"
ln -s /opt/abs/real/libabs.so.1.0 "$g/opt/abs/lib/libabs.so.1"
ln -s ../../../../../../../opt/abs/real/libesc.so.1.0 "$g/opt/abs/lib/libesc.so.1"
exe $gcc_ "$g/opt/abs/bin/abs-links" "$g/opt/abs/real/libabs.so.1.0" "$g/opt/abs/real/libesc.so.1.0" \
  -Wl,--enable-new-dtags -Wl,-rpath,/opt/abs/lib

# NEEDED containing a slash is opened as a path, not searched [R2.3]; one exists, one does not.
lib $gcc_ "$g/opt/slash/libslash.so" /opt/slash/libslash.so slash_fn
lib $gcc_ "$work/libnothere.so" /opt/slash/libnothere.so nothere_fn
exe $gcc_ "$g/usr/bin/slash-needed" "$g/opt/slash/libslash.so" "$work/libnothere.so"

# A version the installed library does not define [R4.2; T27].
gcc -shared -fPIC -o "$work/libv.so.1" "$src/vers_new.c" -Wl,-soname,libv.so.1 \
  -Wl,--version-script,"$src/vers_new.map"
gcc -o "$g/usr/bin/needs-vers2" "$src/uses_vf.c" "$work/libv.so.1"
gcc -shared -fPIC -o "$G/libv.so.1" "$src/vers_old.c" -Wl,-soname,libv.so.1 \
  -Wl,--version-script,"$src/vers_old.map"

# $ORIGIN of the program and of a library opened through a symlink in another directory [R2.9;
# T13, T14]; ${ORIGIN} spelling.
lib $gcc_ "$g/opt/app/lib/libr.so" libr.so r_fn
lib $gcc_ "$g/opt/app/lib/libq.so" libq.so q_fn -L"$g/opt/app/lib" -lr -Wl,--enable-new-dtags \
  -Wl,-rpath,'$ORIGIN'
lib $gcc_ "$g/opt/app/lib/libp.so" libp.so p_fn -L"$g/opt/app/lib" -lr -Wl,--enable-new-dtags \
  -Wl,-rpath,'${ORIGIN}'
mkdir -p "$g/opt/app/z"
ln -s ../lib/libq.so "$g/opt/app/z/libq.so"
exe $gcc_ "$g/opt/app/bin/app" -L"$g/opt/app/lib" -lp -Wl,--enable-new-dtags \
  -Wl,-rpath,'$ORIGIN/../lib'
exe $gcc_ "$g/opt/app/bin/app-via-link" -L"$g/opt/app/lib" -lq -Wl,-rpath-link,"$g/opt/app/lib" \
  -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../z'

# $LIB and $PLATFORM [R2.9; T15, T16].
lib $gcc_ "$g/opt/tok/lib/x86_64-linux-gnu/libtl.so" libtl.so tl_fn
lib $gcc_ "$g/opt/tok/x86_64/libtp.so" libtp.so tp_fn
exe $gcc_ "$g/opt/tok/bin/tokens" -L"$g/opt/tok/lib/x86_64-linux-gnu" -ltl -L"$g/opt/tok/x86_64" -ltp \
  -Wl,--disable-new-dtags -Wl,-rpath,'/opt/tok/$LIB:/opt/tok/${PLATFORM}'

# DF_1_NODEFLIB: neither the cache's default-directory entries nor the defaults [R2.4; T19].
exe $gcc_ "$g/usr/bin/nodeflib" -lm -Wl,-z,nodefaultlib

# glibc-hwcaps: a library only in glibc-hwcaps/x86-64-v2 under an RPATH directory [R2.8; T18].
lib $gcc_ "$g/opt/hw/lib/glibc-hwcaps/x86-64-v2/libhw.so" libhw.so hw_fn
exe $gcc_ "$g/opt/hw/bin/hwcaps" -L"$g/opt/hw/lib/glibc-hwcaps/x86-64-v2" -lhw \
  -Wl,--disable-new-dtags -Wl,-rpath,/opt/hw/lib

# Legacy capability subdirectories (glibc before 2.37): a library only in D/x86_64/ and one only
# in D/tls/, D on the RPATH [R2.8].
lib $gcc_ "$g/opt/legacy/lib/x86_64/libleg.so" libleg.so leg_fn
lib $gcc_ "$g/opt/legacy/lib/tls/libtls.so" libtls.so tls_fn
exe $gcc_ "$g/opt/legacy/bin/legacy" -L"$g/opt/legacy/lib/x86_64" -lleg -L"$g/opt/legacy/lib/tls" -ltls \
  -Wl,--disable-new-dtags -Wl,-rpath,/opt/legacy/lib

# The target CPU [issue 12]: what the loader picks depends on glibc's platform (haswell on Intel
# CPUs with AVX2), the legacy hwcaps (avx512_1) and the x86-64 ISA level, in the cache and on disk.
#   - libcpuplat.so.1 plain and in haswell/ of a cached directory: ldconfig gives the second
#     entry the haswell platform bit;
#   - libcpuavx.so.1 only in avx512_1/ of a cached directory (the avx512_1 hwcap bit);
#   - libisa.so.1 plain and in glibc-hwcaps/x86-64-v2/, the latter marked as needing x86-64-v4
#     (GNU_PROPERTY_X86_ISA_1_NEEDED): its cache entry is taken only on a v4 CPU;
#   - on a RUNPATH, libord.so in haswell/ and in avx512_1/ (the platform is searched first), and
#     libpow.so only in tls/haswell/avx512_1/x86_64/ (the power set's first entry).
u=$g/usr/lib/x86_64-linux-gnu
lib $gcc_ "$u/libcpuplat.so.1" libcpuplat.so.1 plat_fn
lib $gcc_ "$u/haswell/libcpuplat.so.1" libcpuplat.so.1 plat_fn
lib $gcc_ "$u/avx512_1/libcpuavx.so.1" libcpuavx.so.1 avx_fn
lib $gcc_ "$u/libisa.so.1" libisa.so.1 isa_fn
lib $gcc_ "$u/glibc-hwcaps/x86-64-v2/libisa.so.1" libisa.so.1 isa_fn -Wl,-z,x86-64-v4
exe $gcc_ "$g/usr/bin/uses-cpuplat" -L"$u" -l:libcpuplat.so.1
exe $gcc_ "$g/usr/bin/uses-cpuavx" -L"$u/avx512_1" -l:libcpuavx.so.1
exe $gcc_ "$g/usr/bin/uses-isa" -L"$u" -l:libisa.so.1
lib $gcc_ "$g/opt/cpu/lib/haswell/libord.so" libord.so ord_fn
lib $gcc_ "$g/opt/cpu/lib/avx512_1/libord.so" libord.so ord_fn
lib $gcc_ "$g/opt/cpu/lib/tls/haswell/avx512_1/x86_64/libpow.so" libpow.so pow_fn
exe $gcc_ "$g/opt/cpu/bin/legacy-order" -L"$g/opt/cpu/lib/haswell" -lord \
  -L"$g/opt/cpu/lib/tls/haswell/avx512_1/x86_64" -lpow -Wl,--enable-new-dtags -Wl,-rpath,/opt/cpu/lib

# A musl program and a musl library in a glibc root [R1.1, R6.5].
musl-gcc -o "$g/usr/bin/musl-hello" "$src/main.c"
musl-gcc -shared -fPIC -o "$g/usr/lib/musl-lib.so" -DFN=musl_fn "$src/lib.c" -Wl,--no-as-needed -lc

# Cached libraries, then the root changes without ldconfig (a stale cache) [R2.6; T22]:
lib $gcc_ "$g/opt/moved/lib/libmoved.so.1" libmoved.so.1 moved_fn
lib $gcc_ "$g/opt/gone/lib/libgone.so.1" libgone.so.1 gone_fn
exe $gcc_ "$g/usr/bin/uses-moved" "$g/opt/moved/lib/libmoved.so.1"
exe $gcc_ "$g/usr/bin/uses-gone" "$g/opt/gone/lib/libgone.so.1"
ldconfig -r "$g"
#   - moved to a default directory: the cached path fails, the default directories find it;
mv "$g/opt/moved/lib/libmoved.so.1" "$G/libmoved.so.1"
#   - deleted: the cached path fails and nothing else has it;
rm "$g/opt/gone/lib/libgone.so.1"
#   - added to /usr/local/lib after ldconfig ran: not in the cache, not a default directory.
lib $gcc_ "$g/usr/local/lib/libnew.so.1" libnew.so.1 new_fn
exe $gcc_ "$g/usr/bin/uses-new" "$g/usr/local/lib/libnew.so.1"

# /etc/ld.so.preload: one object that exists and one that does not [R2.10; T24]. It applies to
# every dynamic object of the root.
lib $gcc_ "$g/opt/pre/libpre.so" libpre.so pre_fn
printf '/opt/pre/libpre.so /nonexistent.so\n' >"$g/etc/ld.so.preload"

hostile "$g" $gcc_ debug

########################################################################################### musl
m=$out/musl
# Its contents, so that an Alpine root given as a symlink is copied, not the link.
mkdir -p "$m"
cp -a "$alpine/." "$m"
ML=$m/usr/lib
mgcc=musl-gcc

# A glibc program (its interpreter does not exist here) and a glibc extension module [R1.7, R6.5;
# T32, T33]: musl satisfies libc.so.6 itself.
gcc -o "$m/usr/bin/glibc-hello" "$src/main.c"
gcc -shared -fPIC -O2 -o "$ML/glibc-module.so" "$src/glibc_module.c"

# The path file replaces the default path and drops /usr/local/lib; newline and colon separators
# [R3.1, R3.2; T34, T35].
printf '/lib\n/usr/lib:/opt/mp\n' >"$m/etc/ld-musl-x86_64.path"
lib $mgcc "$m/usr/local/lib/liblocal.so" liblocal.so local_fn
exe $mgcc "$m/usr/bin/uses-local" -L"$m/usr/local/lib" -llocal
lib $mgcc "$m/opt/mp/libmp.so" libmp.so mp_fn
exe $mgcc "$m/usr/bin/uses-pathfile" -L"$m/opt/mp" -lmp

# RUNPATH is inherited on musl [R3.3; T3]; a path list with $LIB is ignored whole [R3.6; T17].
lib $mgcc "$m/opt/rp/a/liby.so" liby.so y_fn
lib $mgcc "$m/opt/rp/b/libx.so" libx.so x_fn -L"$m/opt/rp/a" -ly
exe $mgcc "$m/opt/rp/bin/runpath-chain" -L"$m/opt/rp/b" -lx -Wl,-rpath-link,"$m/opt/rp/a" \
  -Wl,--enable-new-dtags -Wl,-rpath,/opt/rp/a:/opt/rp/b
exe $mgcc "$m/opt/rp/bin/lib-token" -L"$m/opt/rp/b" -lx -Wl,-rpath-link,"$m/opt/rp/a" \
  -Wl,--enable-new-dtags -Wl,-rpath,'/opt/rp/$LIB:/opt/rp/a:/opt/rp/b'

# No soname matching on musl [R3.4; T11] (the glibc case above, built with musl-gcc).
lib $mgcc "$work/mstub/liba.so" liba.so a_fn
lib $mgcc "$m/opt/sn/liba.so" libcommon.so.1 a_fn
lib $mgcc "$m/opt/sn/libb.so" libb.so b_fn -L"$m/opt/sn" -l:liba.so
exe $mgcc "$m/opt/sn/bin/soname-match" -L"$work/mstub" -l:liba.so -L"$m/opt/sn" -lb \
  -Wl,--disable-new-dtags -Wl,-rpath,/opt/sn

# The first file that opens wins, whatever it is [R3.5; T9]: a text file stops the search; a copy
# with a patched e_machine loads.
lib $mgcc "$m/opt/wc/ok/libwc.so" libwc.so wc_fn
mkdir -p "$m/opt/wc/text" "$m/opt/wc/mach"
printf 'INPUT(-lwc_real)\n' >"$m/opt/wc/text/libwc.so"
cp "$m/opt/wc/ok/libwc.so" "$m/opt/wc/mach/libwc.so"
patch "$m/opt/wc/mach/libwc.so" 18 b7
exe $mgcc "$m/opt/wc/bin/text-first" -L"$m/opt/wc/ok" -lwc -Wl,--enable-new-dtags \
  -Wl,-rpath,/opt/wc/text:/opt/wc/ok
exe $mgcc "$m/opt/wc/bin/machine-first" -L"$m/opt/wc/ok" -lwc -Wl,--enable-new-dtags \
  -Wl,-rpath,/opt/wc/mach:/opt/wc/ok

# An absolute symlink on the search path [R7.2].
lib $mgcc "$m/opt/abs/libabs.so.1.0" libabs.so.1 abs_fn
ln -s /opt/abs/libabs.so.1.0 "$ML/libabs.so.1"
exe $mgcc "$m/usr/bin/abs-link" -L"$m/opt/abs" -l:libabs.so.1.0
# (its NEEDED is the soname, libabs.so.1, found through the link in /usr/lib)

hostile "$m" $mgcc

echo "built $g and $m" >&2

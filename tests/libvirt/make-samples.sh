#!/bin/sh
# make-samples.sh [OUTDIR]  -- build real libvirt save images of a paused
# 128 MiB pc guest holding an 8 MiB random blob at GPA 0x2000000, restore
# each one and compare guest RAM with the pre-save dump.
# Output (OUTDIR, default /tmp/fr-samples): libvirt-blob.bin (must stay in
# place: restoring re-runs qemu with -device loader,file=<it>),
# libvirt-src.ram, libvirt-{raw,zstd,gzip,bzip2,xz,lzop,sparse,sparse-par}.img
# Exit 0 all good, 1 failure, 77 skip.
set -u
here=$(dirname "$0")
. "$here/lib-libvirt.sh"
libvirt_require
out=${1:-/tmp/fr-samples}
mkdir -p "$out" && cd "$out" || exit 1
vm=${LIBVIRT_PREFIX}samples
trap 'libvirt_cleanup; rm -f libvirt-pre.ram libvirt-dst.ram' EXIT
[ -s libvirt-blob.bin ] || head -c 8388608 /dev/urandom >libvirt-blob.bin || exit 1
fail=0

libvirt_define_vm "$vm" libvirt-blob.bin 0x2000000 &&
    libvirt_dump_ram "$vm" libvirt-src.ram || exit 1
libvirt_cleanup

mk() { # FORMAT OUT [flags]
    fmt=$1 img=$2; shift 2
    libvirt_define_vm "$vm" libvirt-blob.bin 0x2000000 &&
        libvirt_dump_ram "$vm" libvirt-pre.ram || return 1
    cmp -s libvirt-pre.ram libvirt-src.ram ||
        echo "note: $img: pre-save RAM differs from libvirt-src.ram"
    t0=$(date +%s.%N)
    libvirt_save "$vm" "$img" "$fmt" "$@" || { echo "FAIL save $img"; return 1; }
    t1=$(date +%s.%N)
    echo "$img: saved in $(echo "$t1 - $t0" | bc) s; $(stat -c %s "$img") bytes," \
         "$(du -k "$img" | cut -f1) KiB allocated"
}
chk() { # IMG [restore flags]
    img=$1; shift
    if libvirt_restore "$img" "$vm" libvirt-dst.ram "$@" &&
       cmp -s libvirt-dst.ram libvirt-src.ram; then
        echo "restore $img $*: RAM equal"
    else
        echo "FAIL restore $img $*"; return 1
    fi
}
for f in raw zstd gzip bzip2 xz lzop sparse; do
    mk $f libvirt-$f.img || fail=1
done
mk sparse libvirt-sparse-par.img --parallel-channels 4 || fail=1
for f in raw zstd gzip bzip2 xz lzop sparse sparse-par; do
    chk libvirt-$f.img || fail=1
done
chk libvirt-sparse-par.img --parallel-channels 4 || fail=1
chk libvirt-sparse.img --bypass-cache || fail=1
exit $fail

#!/bin/sh
# A UEFI domain as libvirt and OpenStack run them (q35, SMM, firmware='efi'
# with secure boot: OVMF in pflash, an nvram file), saved by virsh while
# its firmware runs, as raw and as sparse.  convert keeps it a libvirt
# image: raw -> sparse -> zstd, sparse -> raw; virsh restore of each gives
# the guest RAM that the save itself restores to (the running source's
# pmemsave shows the SMBASE window, not the RAM under it: see 0816).
. "$TESTS_SRCDIR/lib.sh"
[ -f /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] ||
    skip "no Secure Boot OVMF (Debian package ovmf)"
use_libvirt "fr-lv-t0903-$$-"

dom=${LIBVIRT_PREFIX}efi

# check FILE FORMAT: a libvirt image of FORMAT for $dom
check() {
    $FIXEDRAM inspect --output=json "$1" > "$1.json" ||
        fail "inspect of $1 failed"
    json_get "$1.json" 'd["container"]["format"], d["container"]["domain"]' \
        > c.txt
    assert_eq "$(cat c.txt)" "$2 $dom" "container of $1"
}

# same_as REF FILE: virsh restore of FILE gives REF's RAM
same_as() {
    libvirt_restore "$2" "$dom" "$2.ram" || fail "virsh restore $2 failed"
    qemu_cmp_ram "$1" "$2.ram" || fail "$2: restored RAM differs from $1"
    rm -f "$2.ram"
}

for fmt in raw sparse; do
    libvirt_define_efi_vm "$dom" || fail "cannot start the UEFI domain"
    sleep 2     # the firmware runs
    libvirt_save "$dom" $fmt.img $fmt || fail "virsh save ($fmt) failed"
    libvirt_restore $fmt.img "$dom" $fmt.ref ||
        fail "virsh restore of its own $fmt save failed"
done
$FIXEDRAM convert stream-to-image raw.img raw.sparse &&
    $FIXEDRAM convert --zstd image-to-stream raw.sparse raw.zst &&
    $FIXEDRAM convert image-to-stream sparse.img sparse.raw ||
    fail "a conversion failed"
check raw.sparse sparse
check raw.zst zstd
check sparse.raw raw
same_as raw.ref raw.sparse
same_as raw.ref raw.zst
same_as sparse.ref sparse.raw
exit 0

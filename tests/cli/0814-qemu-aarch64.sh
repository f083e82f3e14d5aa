#!/bin/sh
# fixedram on another target: an aarch64 guest (qemu-system-aarch64,
# machine virt, -cpu max; $FR_QEMU_AARCH64 overrides), whose files carry
# the configuration/target-page-bits subsection, other devices (GIC,
# pl011, pflash) and RAM at 0x40000000.
#  - paused, with an 8 MiB random blob at RAM + 32 MiB, saved as a classic
#    stream and as a mapped-ram + multifd image: each converted to the other
#    layout restores to identical guest RAM (the image with multifd too),
#    extract of mach-virt.ram holds the blob at 32 MiB, and diff finds no
#    difference between a save and its conversion;
#  - saved live (the guest rewrites RAM 16..24 MiB: resent pages) as a
#    classic and an xbzrle stream: the image made of each restores to
#    identical RAM, and so does that image made a stream again; compact
#    makes the xbzrle stream smaller and its output restores to identical
#    RAM;
#  - saved live as a mapped-ram image: made a stream, it restores to
#    identical RAM;
#  - inspect --cpus shows the registers QEMU's "info registers" printed
#    for the paused and the live guests, and for a UEFI guest (AAVMF, MMU
#    on) a TTBR0_EL1 that points at a translation table in guest RAM, and
#    for a paused 32-bit Arm guest (qemu-system-arm, AArch32 state).
# "Identical" is pmemsave of the source (after the save) against pmemsave
# of the restored, paused guest.
. "$TESTS_SRCDIR/lib.sh"
QEMU=${FR_QEMU_AARCH64:-qemu-system-aarch64}
export QEMU
use_qemu

RAM=0x40000000
head -c 8388608 /dev/urandom > blob.bin

conv() { # DIRECTION IN OUT
    $FIXEDRAM convert "$1" "$2" "$3" ||
        fail "fixedram convert $1 $2 $3 failed"
}

save() { # NAME MODE [frqemu save options]: NAME.sav, its RAM in NAME.src
    _name=$1 _mode=$2
    shift 2
    "$PYTHON" "$FRQEMU" save --mode=$_mode --out=$_name.sav \
        --dump=$_name.src --stats=$_name.stats --timeout=90 "$@" ||
        fail "QEMU $QEMU_VERSION aarch64 save $_name ($_mode $*) failed"
}

# ---- paused, with the blob
for mode in classic mapped-ram-multifd; do
    save $mode $mode --blob=blob.bin --blob-addr=$((RAM + 0x2000000)) \
        --regs=$mode.regs
    # inspect --cpus: the registers QEMU's "info registers" shows
    qemu_cmp_regs $mode.sav $mode.regs ||
        fail "$mode.sav: the registers differ from QEMU's"
    rm -rf x && $FIXEDRAM extract -q --block=mach-virt.ram -o x $mode.sav ||
        fail "extract of $mode.sav failed"
    [ "$(wc -c < x/mach-virt.ram)" -eq 134217728 ] ||
        fail "$mode.sav: extracted mach-virt.ram is not 128 MiB"
    dd if=x/mach-virt.ram of=got.bin bs=1M skip=32 count=8 2>/dev/null
    cmp -s got.bin blob.bin ||
        fail "$mode.sav: the blob is not at 32 MiB of mach-virt.ram"
done
conv stream-to-image classic.sav classic.img
qemu_restore_cmp classic.src "the classic save as an image" --in=classic.img
qemu_restore_cmp classic.src "the classic save as an image, multifd" \
    --mode=mapped-ram-multifd --in=classic.img
$FIXEDRAM diff -q classic.sav classic.img ||
    fail "diff: the classic save and its image differ"
conv image-to-stream mapped-ram-multifd.sav multifd.stream
qemu_restore_cmp mapped-ram-multifd.src "the multifd image as a stream" \
    --in=multifd.stream
$FIXEDRAM diff -q mapped-ram-multifd.sav multifd.stream ||
    fail "diff: the multifd image and its stream differ"

# ---- live streams: resent pages, XBZRLE
for mode in classic xbzrle; do
    save live-$mode $mode --guest=live --regs=live-$mode.regs
    qemu_cmp_regs live-$mode.sav live-$mode.regs EL1h ||
        fail "live-$mode.sav: the registers differ from QEMU's"
    resent=$($FIXEDRAM inspect --output=json live-$mode.sav |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["records"]["resent"])')
    [ "$resent" -gt 0 ] ||
        fail "live-$mode.sav: no resent pages, not a live save"
    conv stream-to-image live-$mode.sav live-$mode.img
    qemu_restore_cmp live-$mode.src "the live $mode save as an image" \
        --in=live-$mode.img
    conv image-to-stream live-$mode.img live-$mode.img.stream
    qemu_restore_cmp live-$mode.src "the live $mode image as a stream" \
        --in=live-$mode.img.stream
done
json_get live-xbzrle.stats 'd["xbzrle-cache"]["pages"] > 0' > xbz.out
assert_eq "$(cat xbz.out)" True "the live save used XBZRLE"
$FIXEDRAM compact -q live-xbzrle.sav live-xbzrle.small ||
    fail "compact of live-xbzrle.sav failed"
[ "$(wc -c < live-xbzrle.small)" -lt "$(wc -c < live-xbzrle.sav)" ] ||
    fail "compact did not make live-xbzrle.sav smaller"
qemu_restore_cmp live-xbzrle.src "the compacted live xbzrle save" \
    --in=live-xbzrle.small

# ---- live mapped-ram image
save live-img mapped-ram --guest=live
conv image-to-stream live-img.sav live-img.stream
qemu_restore_cmp live-img.src "the live mapped-ram image as a stream" \
    --in=live-img.stream

# ---- UEFI firmware with its MMU on: the system registers inspect --cpus
# finds place a translation table in guest RAM
AAVMF=${FR_AAVMF_CODE:-/usr/share/AAVMF/AAVMF_CODE.fd}
if [ -f "$AAVMF" ] && [ -f "${AAVMF%CODE.fd}VARS.fd" ]; then
    cp "${AAVMF%CODE.fd}VARS.fd" avars.fd
    rm -f ./*.sav ./*.src ./*.img ./*.stream
    "$PYTHON" "$FRQEMU" save --mem=256M --firmware="$AAVMF,$SCRATCH/avars.fd" \
        --guest=firmware --run-time=4 --mode=classic --out=uefi.sav \
        --regs=uefi.regs --timeout=90 ||
        fail "QEMU $QEMU_VERSION aarch64 save of the UEFI guest failed"
    qemu_cmp_regs uefi.sav uefi.regs EL1h ||
        fail "uefi.sav: the registers differ from QEMU's"
    $FIXEDRAM extract -q --physical=uefi.phys uefi.sav ||
        fail "extract --physical uefi.sav"
    "$PYTHON" - uefi.sav.cpus uefi.phys <<'PY' || fail "uefi.sav: system registers"
import json, struct, sys
sysregs = json.load(open(sys.argv[1]))["cpus"][0]["system_registers"]
assert sysregs["sctlr_el1"] & 1, "SCTLR_EL1.M clear: %r" % sysregs
table = sysregs["ttbr0_el1"] & 0xfffffffff000
assert 0x40000000 <= table < 0x50000000, "TTBR0_EL1 %#x not in RAM" % table
with open(sys.argv[2], "rb") as f:
    f.seek(table)
    entries = struct.unpack("<512Q", f.read(4096))
# the identity map of RAM: a valid table or block descriptor somewhere
assert any(e & 1 for e in entries), "no valid descriptor at TTBR0_EL1"
PY
else
    echo "left out: the UEFI guest (no AAVMF at $AAVMF)" >&2
fi

# ---- a 32-bit Arm vCPU (qemu-system-arm, AArch32 state): R0-R15, PSR
ARM32=${FR_QEMU_ARM:-qemu-system-arm}
if QEMU=$ARM32 "$PYTHON" "$FRQEMU" version > /dev/null 2>&1; then
    QEMU=$ARM32 "$PYTHON" "$FRQEMU" save --mode=classic --out=arm32.sav \
        --regs=arm32.regs --timeout=60 ||
        fail "$ARM32 save of a paused guest failed"
    qemu_cmp_regs arm32.sav arm32.regs svc ||
        fail "arm32.sav: the registers differ from QEMU's"
    json_get arm32.sav.cpus 'd["cpus"][0]["arch"]' > arch.out
    assert_eq "$(cat arch.out)" arm "arm32.sav: arch"
else
    echo "left out: $ARM32 (QEMU >= 9.0) is not there" >&2
fi
exit 0

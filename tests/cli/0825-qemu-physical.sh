#!/bin/sh
# extract --physical against real QEMU: the file's bytes at each guest
# address equal QEMU's pmemsave of that address.  A 4 MiB random blob is
# loaded (-device loader) at 4 GiB, past the PCI hole, in paused guests:
#  - pc, 512 MiB as libvirt's two NUMA blocks ram-node0/ram-node1 of
#    256 MiB, max-ram-below-4g=384M: ram-node1 is split, its first 128 MiB
#    at 256 MiB and the rest at 4 GiB (the blob is at 128 MiB of
#    ram-node1); classic stream and mapped-ram image give the same file;
#  - q35, 2816 MiB, QEMU's own split: 2 GiB low, 768 MiB at 4 GiB (the
#    blob is at 2 GiB of pc.ram), from a mapped-ram image; the file is
#    sparse;
#  - a running pc guest (firmware only) migrated through exec: straight
#    into extract --physical;
#  - aarch64 virt, 128 MiB at 1 GiB, when qemu-system-aarch64 is there
#    ($FR_QEMU_AARCH64 overrides).
# Compared: the blob, and pmemsave of ranges around each piece's edges;
# for q35, inspect's physical_map too; for the NUMA guest, diff --physical
# against a guest with another blob.
. "$TESTS_SRCDIR/lib.sh"
use_qemu

MiB=1048576
GiB=1073741824
head -c $((4 * MiB)) /dev/urandom > blob.bin

# same_at PHYS DUMP DUMP-OFFSET ADDR LEN: LEN bytes at ADDR of the
# physical file are those at DUMP-OFFSET of the pmemsave dump
same_at() {
    cmp -i "$4:$3" -n "$5" "$1" "$2" ||
        fail "$1: $5 bytes at guest address $4 differ from pmemsave"
}

# ---- pc, NUMA blocks, max-ram-below-4g=384M
# dump: 4 MiB at 4 GiB, 4 MiB at 256 MiB (ram-node1's start), the last
# 4 MiB below 384 MiB, 1 MiB at 0
RANGES=0x100000000:4M,0x10000000:4M,0x17c00000:4M,0:1M
for mode in classic mapped-ram; do
    "$PYTHON" "$FRQEMU" save --mode=$mode --machine=pc,max-ram-below-4g=384M \
        --mem=512M --numa=2 --out=numa.$mode --blob=blob.bin \
        --blob-addr=0x100000000 --dump=numa.$mode.dump \
        --dump-ranges=$RANGES --timeout=60 ||
        fail "QEMU save of the NUMA pc guest ($mode) failed"
    $FIXEDRAM extract --physical=numa.$mode.phys --max-ram-below-4g=384M \
        numa.$mode > numa.$mode.map || fail "extract --physical numa.$mode"
    printf '%s\n' \
        "0x0000000000000000	268435456	ram-node0	0x0" \
        "0x0000000010000000	134217728	ram-node1	0x0" \
        "0x0000000100000000	134217728	ram-node1	0x8000000" > numa.want
    diff -u numa.want numa.$mode.map || fail "numa.$mode: the map"
    assert_eq "$(stat -c %s numa.$mode.phys)" $((4 * GiB + 128 * MiB)) \
        "numa.$mode: physical file length"
    cmp -i $((4 * GiB)):0 -n $((4 * MiB)) numa.$mode.phys blob.bin ||
        fail "numa.$mode: the blob is not at 4 GiB"
    same_at numa.$mode.phys numa.$mode.dump 0 $((4 * GiB)) $((4 * MiB))
    same_at numa.$mode.phys numa.$mode.dump $((4 * MiB)) $((256 * MiB)) \
        $((4 * MiB))
    same_at numa.$mode.phys numa.$mode.dump $((8 * MiB)) $((380 * MiB)) \
        $((4 * MiB))
    same_at numa.$mode.phys numa.$mode.dump $((12 * MiB)) 0 655360
    # QEMU put the blob at 128 MiB of ram-node1: the block is split there
    rm -rf numa.x && $FIXEDRAM extract -q -b ram-node1 -o numa.x numa.$mode
    cmp -i $((128 * MiB)):0 -n $((4 * MiB)) numa.x/ram-node1 blob.bin ||
        fail "numa.$mode: the blob is not at 128 MiB of ram-node1"
done
# diff --physical names the guest addresses that differ: a second guest
# with another blob differs at 4 GiB only, in ram-node1 from 128 MiB
head -c $((4 * MiB)) /dev/urandom > blob2.bin
"$PYTHON" "$FRQEMU" save --mode=classic --machine=pc,max-ram-below-4g=384M \
    --mem=512M --numa=2 --out=numa.other --blob=blob2.bin \
    --blob-addr=0x100000000 --timeout=60 ||
    fail "QEMU save of the NUMA pc guest with another blob failed"
expect_code 0 $FIXEDRAM diff numa.classic numa.mapped-ram > /dev/null
expect_code 1 $FIXEDRAM diff --physical --max-ram-below-4g=384M \
    numa.mapped-ram numa.other > numa.diff
printf '%s\n' \
    "ram block 'ram-node1': 1024 pages differ in 1 ranges" \
    "  0x8000000-0x83fffff (1024 pages) at guest 0x100000000-0x1003fffff" \
    > numa.diff.want
grep -v '^device state\|guest RAM differs$' numa.diff | diff -u numa.diff.want - ||
    fail "diff --physical of two real saves"
rm -f numa.other

# (a plain cmp would read 4 GiB of hole)
cmp -n $((384 * MiB)) numa.classic.phys numa.mapped-ram.phys &&
    cmp -i $((4 * GiB)) numa.classic.phys numa.mapped-ram.phys ||
    fail "the classic and mapped-ram saves give other physical files"

# ---- q35, 2816 MiB: QEMU's split at 2 GiB
"$PYTHON" "$FRQEMU" save --mode=mapped-ram --machine=q35 --mem=2816M \
    --out=q35.sav --blob=blob.bin --blob-addr=0x100000000 --dump=q35.dump \
    --dump-ranges=0x100000000:4M,0x7fc00000:4M --timeout=90 ||
    fail "QEMU save of the q35 guest failed"
$FIXEDRAM extract --physical=q35.phys q35.sav > q35.map ||
    fail "extract --physical q35.sav"
printf '%s\n' \
    "0x0000000000000000	2147483648	pc.ram	0x0" \
    "0x0000000100000000	805306368	pc.ram	0x80000000" > q35.want
diff -u q35.want q35.map || fail "q35: the map"
$FIXEDRAM inspect --output=json q35.sav > q35.json
assert_eq "$(json_get q35.json '[(p["address"], p["length"], p["offset"]) for p in d["physical_map"]]')" \
    "[(0, 2147483648, 0), (4294967296, 805306368, 2147483648)]" \
    "q35: inspect's physical_map"
same_at q35.phys q35.dump 0 $((4 * GiB)) $((4 * MiB))
same_at q35.phys q35.dump $((4 * MiB)) $((2 * GiB - 4 * MiB)) $((4 * MiB))
cmp -i $((4 * GiB)):0 -n $((4 * MiB)) q35.phys blob.bin ||
    fail "q35: the blob is not at 4 GiB"
[ $(($(stat -c %b q35.phys) * 512)) -lt $((64 * MiB)) ] ||
    fail "q35: the PCI hole (or the guest's zeros) is allocated"
rm -f q35.*

# ---- a running guest (the firmware) migrated into extract --physical
# through an exec: URI: memory acquisition without a file in between; the
# file is the guest's RAM once the migration completed (pmemsave), but
# for the video and ROM windows (640 KiB..1 MiB)
"$PYTHON" "$FRQEMU" save --mode=classic --guest=firmware --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM extract -q --physical=$SCRATCH/run.phys -" \
    --dump=run.dump --timeout=60 ||
    fail "QEMU migration of a running guest into extract --physical failed"
cmp -n 655360 run.phys run.dump && cmp -i 1048576 run.phys run.dump ||
    fail "extract --physical through exec: differs from the guest's RAM"
rm -f run.*

# ---- aarch64 virt: RAM at 1 GiB
QEMU=${FR_QEMU_AARCH64:-qemu-system-aarch64}
if v=$("$PYTHON" "$FRQEMU" version 2>&1); then
    "$PYTHON" "$FRQEMU" save --mode=classic --out=virt.sav --blob=blob.bin \
        --blob-addr=0x42000000 --dump=virt.dump --timeout=60 ||
        fail "QEMU aarch64 save failed"
    $FIXEDRAM extract -q --physical=virt.phys virt.sav ||
        fail "extract --physical virt.sav"
    assert_eq "$(stat -c %s virt.phys)" $((GiB + 128 * MiB)) \
        "virt: physical file length"
    same_at virt.phys virt.dump 0 $GiB $((128 * MiB))
    cmp -i $((GiB + 32 * MiB)):0 -n $((4 * MiB)) virt.phys blob.bin ||
        fail "virt: the blob is not at 0x42000000"
else
    echo "left out: $QEMU: $(printf '%s' "$v" | tail -n 1)" >&2
fi
exit 0

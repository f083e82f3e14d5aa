#!/bin/sh
# fixedram as QEMU's exec: peer, both ways, and --zstd:
#  - QEMU saves with migrate "exec:fixedram convert stream-to-image - OUT.img"
#    (a paused guest with a blob, and a live xbzrle save of the test guest);
#    QEMU restores OUT.img to the source's RAM;
#  - QEMU restores a mapped-ram image (its own, and the exec-made one)
#    through -incoming "exec:fixedram convert image-to-stream IMG -" without
#    the mapped-ram capability, to the source's RAM;
#  - image-to-stream --zstd writes a zstd stream (inspect: compression zstd)
#    that QEMU loads through exec:zstd -dc, and stream-to-image of the .zst
#    restores to the same RAM.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
command -v zstd > /dev/null || skip "zstd not installed"
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

head -c 8388608 /dev/urandom > blob.bin

restore_cmp() { # SOURCE-DUMP WHAT [frqemu restore options]
    qemu_restore_cmp "$@"
}

inspect_is() { # FILE KEY-EXPR VALUE
    $FIXEDRAM inspect --output=json "$1" > "$1.json" ||
        fail "fixedram inspect $1 failed"
    assert_eq "$(json_get "$1.json" "$2")" "$3" "$1: $2"
}

# ---- QEMU -> exec: fixedram convert stream-to-image - OUT
"$PYTHON" "$FRQEMU" save --mode=classic --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert stream-to-image - $SCRATCH/exec.img" \
    --blob=blob.bin --blob-addr=0x2000000 --dump=exec.src --timeout=60 ||
    fail "QEMU save through exec:fixedram failed"
inspect_is exec.img 'd["format"]' mapped-ram
inspect_is exec.img 'sum(b["present"] for b in d["ramblocks"]) >= 2048' True
restore_cmp exec.src "exec.img (written by exec:fixedram)" --in=exec.img

# --force: a live save that converged too early is tried again by frqemu,
# into the same file
"$PYTHON" "$FRQEMU" save --guest=live --mode=xbzrle --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert --force stream-to-image - $SCRATCH/live.img" \
    --dump=live.src --stats=live.stats --timeout=90 ||
    fail "QEMU live xbzrle save through exec:fixedram failed"
json_get live.stats 'd["xbzrle-cache"]["pages"] > 0' > xbz.out
assert_eq "$(cat xbz.out)" True "live save used XBZRLE"
inspect_is live.img 'd["format"]' mapped-ram
restore_cmp live.src "live.img (live xbzrle through exec:fixedram)" --in=live.img

# ---- fixedram convert image-to-stream IMG - -> QEMU -incoming exec:
"$PYTHON" "$FRQEMU" save --mode=mapped-ram --out=mapped.img \
    --blob=blob.bin --blob-addr=0x2000000 --dump=mapped.src --timeout=60 ||
    fail "QEMU mapped-ram save failed"
restore_cmp mapped.src "QEMU's mapped-ram image through exec:fixedram" \
    --mode=classic --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert image-to-stream $SCRATCH/mapped.img -"
restore_cmp exec.src "exec.img through exec:fixedram" \
    --mode=classic --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert image-to-stream $SCRATCH/exec.img -"

# ---- --zstd
$FIXEDRAM convert image-to-stream --zstd mapped.img mapped.zst ||
    fail "image-to-stream --zstd failed"
inspect_is mapped.zst 'd["compression"]' zstd
inspect_is mapped.zst 'd["format"]' stream
zstd -q -t mapped.zst || fail "mapped.zst is not a valid zstd file"
$FIXEDRAM convert image-to-stream mapped.img mapped.stream ||
    fail "image-to-stream failed"
zstd -q -d -c mapped.zst | cmp - mapped.stream ||
    fail "--zstd output does not decompress to the plain conversion"
restore_cmp mapped.src "mapped.zst through exec:zstd -dc" \
    --mode=classic --uri-prefix=exec: \
    --exec-cmd="zstd -q -d -c $SCRATCH/mapped.zst"
$FIXEDRAM convert stream-to-image mapped.zst mapped.zst.img ||
    fail "stream-to-image of the .zst failed"
inspect_is mapped.zst.img 'd["compression"]' None
restore_cmp mapped.src "mapped.zst.img" --in=mapped.zst.img
# and the .zst through a pipe into stream-to-image
cat mapped.zst | $FIXEDRAM convert stream-to-image - mapped.pipe.img ||
    fail "stream-to-image - of the .zst failed"
cmp mapped.zst.img mapped.pipe.img ||
    fail "stream-to-image of the .zst differs between file and pipe"
exit 0

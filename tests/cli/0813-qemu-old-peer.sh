#!/bin/sh
# fixedram between QEMU versions: an older QEMU (bookworm's 7.2, which has
# neither mapped-ram nor the file: URI; tests/install-deps.sh unpacks it to
# /opt/fixedram/qemu-7.2, $FR_OLD_QEMU overrides) is the other peer of the
# exec: pipes, with the 7.2 machine type on both sides:
#  - QEMU 10 saves a mapped-ram image; QEMU 7.2 restores it through
#    -incoming "exec:fixedram convert image-to-stream IMG -";
#  - QEMU 7.2 saves, paused and live (resent pages; and XBZRLE), through
#    migrate "exec:fixedram convert stream-to-image - IMG"; QEMU 10 restores
#    the image with mapped-ram, and with mapped-ram + multifd; the XBZRLE
#    one also goes back into QEMU 7.2 through image-to-stream.
# Every restore gives the source's guest RAM (pmemsave), byte for byte.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
OLD=${FR_OLD_QEMU:-/opt/fixedram/qemu-7.2/qemu-system-x86_64}
old_ver=$("$OLD" --version 2>/dev/null | sed -n 's/.*version \([0-9.]*\).*/\1/p')
[ -n "$old_ver" ] ||
    skip "no older QEMU at $OLD (tests/install-deps.sh unpacks bookworm's 7.2)"
case $old_ver in
[0-8].*) ;;
*) skip "$OLD is QEMU $old_ver, not older than mapped-ram (9.0)" ;;
esac
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"
M=--machine=pc-i440fx-7.2

head -c 8388608 /dev/urandom > blob.bin

restore_cmp() { # SOURCE-DUMP WHAT [frqemu restore options]
    _src=$1 _what=$2
    shift 2
    qemu_restore_cmp "$_src" "$_what" $M "$@"
}

# old_save NAME [frqemu save options]: QEMU 7.2 saves through
# exec:fixedram stream-to-image into NAME.img, which verifies clean; its
# RAM goes to NAME.src, query-migrate to NAME.stats
old_save() {
    _name=$1
    shift
    QEMU=$OLD "$PYTHON" "$FRQEMU" save $M --uri-prefix=exec: \
        --exec-cmd="$FIXEDRAM convert --force stream-to-image - $SCRATCH/$_name.img" \
        --dump=$_name.src --stats=$_name.stats --timeout=90 "$@" ||
        fail "QEMU $old_ver save $* through exec:fixedram failed"
    $FIXEDRAM verify $_name.img > $_name.verify ||
        fail "verify of $_name.img: $(cat $_name.verify)"
}

# ---- QEMU 10 mapped-ram image -> QEMU 7.2
"$PYTHON" "$FRQEMU" save $M --mode=mapped-ram --out=new.img \
    --blob=blob.bin --blob-addr=0x2000000 --dump=new.src --timeout=60 ||
    fail "QEMU $QEMU_VERSION mapped-ram save failed"
QEMU=$OLD restore_cmp new.src "QEMU $QEMU_VERSION's image in QEMU $old_ver" \
    --mode=classic --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert image-to-stream $SCRATCH/new.img -"

# ---- QEMU 7.2 -> mapped-ram image -> QEMU 10
old_save old --mode=classic --blob=blob.bin --blob-addr=0x2000000 --timeout=60
restore_cmp old.src "QEMU $old_ver's save as an image" --in=old.img
restore_cmp old.src "QEMU $old_ver's save as an image, multifd" \
    --mode=mapped-ram-multifd --in=old.img

old_save live --guest=live --mode=classic
json_get live.stats 'd["ram"]["dirty-sync-count"] >= 2' > syncs.out
assert_eq "$(cat syncs.out)" True "the live save iterated"
restore_cmp live.src "QEMU $old_ver's live save as an image" --in=live.img

# the same with XBZRLE pages, as QEMU 7.2 encodes them
old_save xbz --guest=live --mode=xbzrle
json_get xbz.stats 'd["xbzrle-cache"]["pages"] > 0' > xbz.out
assert_eq "$(cat xbz.out)" True "the live save used XBZRLE"
restore_cmp xbz.src "QEMU $old_ver's live xbzrle save as an image" --in=xbz.img
# and back into QEMU 7.2 from that image
QEMU=$OLD restore_cmp xbz.src "xbz.img back in QEMU $old_ver" \
    --mode=classic --uri-prefix=exec: \
    --exec-cmd="$FIXEDRAM convert image-to-stream $SCRATCH/xbz.img -"

#!/bin/sh
# A device state that is iterative and not RAM: with the dirty-bitmaps
# capability, QEMU sends a block node's dirty bitmap as a "dirty-bitmap"
# START section, then PART sections between the RAM sections, and an END.
# A VM with a 64 MiB block node whose bitmap has 1 MiB + 64 KiB dirty is
# saved paused (classic and mapped-ram + multifd) and live (classic:
# resent pages).  Each save converted to the other layout, and converted
# back, and the live one compacted, restores in QEMU to identical guest
# RAM with the same dirty bitmap (node, name, dirty bytes).  inspect shows
# the iterative section on one line with its parts.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

head -c 4194304 /dev/urandom > blob.bin
WANT="[['n0', 'b0', 1114112]]"

# restore_bitmap FILE SOURCE: RAM and dirty bitmap as saved in SOURCE.sav
restore_bitmap() {
    qemu_restore_cmp "$2.src" "$1" --dirty-bitmap --in="$1" \
        --stats=restored.stats
    json_get restored.stats 'd["fr-dirty-bitmaps"]' > got.txt
    assert_eq "$(cat got.txt)" "$WANT" "dirty bitmap restored from $1"
}

for how in paused:classic paused:mapped-ram-multifd live:classic; do
    guest=${how%%:*} mode=${how#*:} name=$guest-$mode
    "$PYTHON" "$FRQEMU" save --dirty-bitmap --guest=$guest --mode=$mode \
        --blob=blob.bin --blob-addr=0x2000000 --out=$name.sav \
        --dump=$name.src --stats=$name.stats --timeout=90 ||
        fail "QEMU save of $name with a dirty bitmap failed"
    json_get $name.stats 'd["fr-dirty-bitmaps"]' > saved.txt
    assert_eq "$(cat saved.txt)" "$WANT" "dirty bitmap of the $name save"
    $FIXEDRAM inspect $name.sav > $name.txt || fail "inspect of $name.sav"
    assert_grep '^device sections: [0-9]+ \(1 iterative, in [0-9]+ parts\)' \
        $name.txt
    assert_grep '^ +[0-9]+ dirty-bitmap .* bytes at 0x[0-9a-f]+, [0-9]+ parts$' \
        $name.txt
    case $mode in
    classic) to=stream-to-image back=image-to-stream ;;
    *) to=image-to-stream back=stream-to-image ;;
    esac
    $FIXEDRAM convert $to $name.sav $name.conv &&
        $FIXEDRAM convert $back $name.conv $name.back ||
        fail "conversion of $name.sav failed"
    restore_bitmap $name.conv $name
    restore_bitmap $name.back $name
done

$FIXEDRAM compact live-classic.sav live-classic.small ||
    fail "compact of live-classic.sav failed"
[ "$(wc -c < live-classic.small)" -lt "$(wc -c < live-classic.sav)" ] ||
    fail "compact did not make the live save smaller"
restore_bitmap live-classic.small live-classic
exit 0

#!/bin/sh
# A UEFI guest as libvirt and OpenStack run them: machine q35 with SMM, the
# Secure Boot build of OVMF in two pflash drives (their RAM blocks hold the
# firmware and its variables), 256 MiB.  The firmware runs for 2 s (no
# kernel: it ends up in its boot manager, still writing RAM), then QEMU
# saves it while it runs, as a classic stream, an xbzrle stream and a
# mapped-ram image.  Each save converted to the other layout, converted
# back, and (streams) compacted restores in QEMU to the guest RAM that the
# save itself restores to, and diff finds it the same as the save.
# (The reference is the save's own restore, not the source's pmemsave: the
# running source shows the SMBASE window at 0x30000 as 0xff, a restored
# paused guest shows the RAM under it.)
# $FR_OVMF_CODE and $FR_OVMF_VARS override Debian's ovmf files.
. "$TESTS_SRCDIR/lib.sh"
use_qemu

CODE=${FR_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.secboot.fd}
VARS=${FR_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}
[ -f "$CODE" ] && [ -f "$VARS" ] ||
    skip "no OVMF firmware at $CODE and $VARS (Debian package ovmf)"
cp "$VARS" vars.fd
VM="--machine=q35,smm=on --mem=256M --firmware=$CODE,$SCRATCH/vars.fd"

# same_as NAME FILE: FILE restores to NAME.ref, and diff finds it NAME.sav
same_as() {
    qemu_restore_cmp $1.ref "$2 (from $1.sav)" $VM --in=$2
    $FIXEDRAM diff -q $1.sav $2 || fail "diff: $2 differs from $1.sav"
}

for mode in classic xbzrle mapped-ram; do
    "$PYTHON" "$FRQEMU" save $VM --guest=firmware --run-time=2 \
        --mode=$mode --out=$mode.sav --timeout=90 ||
        fail "QEMU save of the running UEFI guest ($mode) failed"
    $FIXEDRAM inspect --output=json $mode.sav > $mode.json ||
        fail "inspect of $mode.sav failed"
    json_get $mode.json \
        '[b["present"] > 0 for b in d["ramblocks"] if "flash" in b["name"]]' \
        > flash.out
    assert_eq "$(cat flash.out)" "[True, True]" "$mode: pflash blocks with data"
    "$PYTHON" "$FRQEMU" restore $VM --in=$mode.sav --dump=$mode.ref \
        --timeout=60 || fail "QEMU cannot restore its own $mode save"
    case $mode in
    mapped-ram)
        $FIXEDRAM convert image-to-stream $mode.sav $mode.stream &&
            $FIXEDRAM convert stream-to-image $mode.stream $mode.back ||
            fail "conversion of $mode.sav failed"
        same_as $mode $mode.stream
        same_as $mode $mode.back
        ;;
    *)
        $FIXEDRAM convert stream-to-image $mode.sav $mode.img &&
            $FIXEDRAM convert image-to-stream $mode.img $mode.back &&
            $FIXEDRAM compact -q $mode.sav $mode.small ||
            fail "conversion or compact of $mode.sav failed"
        same_as $mode $mode.img
        same_as $mode $mode.back
        same_as $mode $mode.small
        ;;
    esac
    rm -f $mode.*
done
exit 0

#!/bin/sh
# fixedram with a newer QEMU than the system's (Debian testing's QEMU 11,
# which tests/install-deps.sh sets up in /opt/fixedram/qemu-next;
# $FR_NEW_QEMU overrides), on its own and against the system's QEMU 10:
#  - QEMU 11's paused saves (classic, mapped-ram + multifd) and a live
#    classic save (resent pages) verify clean, convert both ways, compact,
#    and QEMU 11 restores every result to the source's guest RAM;
#  - across versions, with the QEMU 10 machine type: QEMU 11's classic save
#    made an image restores in QEMU 10, and QEMU 10's mapped-ram save made a
#    stream restores in QEMU 11;
#  - x-ignore-shared (guest RAM in a shared memory file): QEMU 11's classic
#    save becomes an image laid out as QEMU 11's own mapped-ram save, which
#    QEMU 11 restores; QEMU 11's mapped-ram save becomes a stream that
#    QEMU 10 restores;
#  - inspect names the oldest QEMU that restores each: QEMU 11.x for its
#    own machine type, 11.0 for the x-ignore-shared image, 10.0 for the
#    stream of the 10.0 machine type.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
NEW=${FR_NEW_QEMU:-/opt/fixedram/qemu-next/qemu-system-x86_64}
new_ver=$(QEMU=$NEW "$PYTHON" "$FRQEMU" version 2> /dev/null) ||
    skip "no QEMU >= 9.0 at $NEW (tests/install-deps.sh sets up Debian testing's)"
[ "${new_ver%%.*}" -gt "${QEMU_VERSION%%.*}" ] ||
    skip "$NEW is QEMU $new_ver, not newer than the system's $QEMU_VERSION"
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"
SHM=/dev/shm/fr-0817-$$
trap 'rm -f "$SHM"; cleanup' EXIT

head -c 8388608 /dev/urandom > blob.bin

new_save() { # NAME [frqemu save options]: QEMU 11 saves NAME, RAM in NAME.src
    _name=$1
    shift
    QEMU=$NEW "$PYTHON" "$FRQEMU" save --out="$_name" --dump="$_name.src" \
        --timeout=90 "$@" || fail "QEMU $new_ver save $* failed"
    $FIXEDRAM verify "$_name" > "$_name.verify" ||
        fail "verify of QEMU $new_ver's $_name: $(cat "$_name.verify")"
}

conv() { # DIRECTION IN OUT
    $FIXEDRAM convert -q "$1" "$2" "$3" ||
        fail "fixedram convert $1 $2 $3 failed"
}

new_restore() { # FILE SOURCE-DUMP [frqemu restore options]
    _f=$1 _src=$2
    shift 2
    rm -f restored.ram
    QEMU=$NEW "$PYTHON" "$FRQEMU" restore --in="$_f" --dump=restored.ram \
        --timeout=60 "$@" || fail "QEMU $new_ver cannot restore $_f"
    qemu_cmp_ram "$_src" restored.ram ||
        fail "$_f in QEMU $new_ver: restored RAM differs from $_src"
}

old_restore() { # FILE SOURCE-DUMP [frqemu restore options]
    _f=$1 _src=$2
    shift 2
    qemu_restore_cmp "$_src" "$_f in QEMU $QEMU_VERSION" --in="$_f" "$@"
}

# ---- QEMU 11 alone: paused classic and mapped-ram + multifd, live classic
new_save c.bin --mode=classic --blob=blob.bin --blob-addr=0x2000000
min_qemu() { # FILE: what inspect says the oldest QEMU restoring it is
    $FIXEDRAM inspect --output=json "$1" > "$1.mq.json"
    json_get "$1.mq.json" '"%s (%s)" % (d["min_qemu"]["version"], d["min_qemu"]["reason"])'
}
assert_eq "$(min_qemu c.bin)" "${new_ver%.*} (machine type pc-i440fx-${new_ver%.*})" \
    "oldest QEMU to restore QEMU $new_ver's save"
conv stream-to-image c.bin c.img
conv image-to-stream c.img c.back
cmp c.bin c.back || fail "QEMU $new_ver's classic save -> image -> stream is not its own bytes"
new_restore c.img c.bin.src
$FIXEDRAM extract -q -o x --block=pc.ram c.img
dd if=x/pc.ram of=got.bin bs=1M skip=32 count=8 2> /dev/null
cmp blob.bin got.bin || fail "extract: the blob is not at 0x2000000"

new_save m.img --mode=mapped-ram-multifd --blob=blob.bin --blob-addr=0x2000000
conv image-to-stream m.img m.bin
conv stream-to-image m.bin m.back
new_restore m.bin m.img.src
new_restore m.back m.img.src --mode=mapped-ram-multifd
expect_code 0 $FIXEDRAM diff -q m.img c.img

new_save live.bin --mode=classic --guest=live
$FIXEDRAM inspect --output=json live.bin > live.json
[ "$(json_get live.json 'd["records"]["resent"]')" -gt 0 ] ||
    fail "QEMU $new_ver's live save resent no page"
conv stream-to-image live.bin live.img
conv image-to-stream live.img live.back
$FIXEDRAM -q compact live.bin live.c
new_restore live.img live.bin.src
new_restore live.back live.bin.src
new_restore live.c live.bin.src

# ---- across versions, with QEMU 10's machine type
M=--machine=pc-i440fx-${QEMU_VERSION%.*}
new_save c10.bin $M --mode=classic --blob=blob.bin --blob-addr=0x2000000
conv stream-to-image c10.bin c10.img
old_restore c10.img c10.bin.src $M
"$PYTHON" "$FRQEMU" save $M --mode=mapped-ram --out=o.img --dump=o.img.src \
    --blob=blob.bin --blob-addr=0x2000000 --timeout=60 ||
    fail "QEMU $QEMU_VERSION save failed"
conv image-to-stream o.img o.bin
new_restore o.bin o.img.src $M

# ---- x-ignore-shared: no pages of the shared block in any layout
shared() { # frqemu options for guest RAM in $SHM, ignored
    echo "--shared-mem=$SHM --ignore-shared"
}
rm -f "$SHM"
new_save ign.bin $M --mode=classic $(shared) --blob=blob.bin --blob-addr=0x2000000
$FIXEDRAM convert -f stream-to-image ign.bin ign.img 2> ign.err ||
    fail "x-ignore-shared stream-to-image: $(cat ign.err)"
assert_grep "note: QEMU loads a mapped-ram image with x-ignore-shared from version 11.0" ign.err
new_restore ign.img ign.bin.src $M $(shared)
assert_eq "$(min_qemu ign.img)" "11.0 (mapped-ram with x-ignore-shared)" \
    "oldest QEMU to restore an x-ignore-shared image"
assert_eq "$(min_qemu ign.bin)" "${QEMU_VERSION%.*} (machine type ${M#--machine=})" \
    "oldest QEMU to restore the x-ignore-shared stream"
new_save ign-m.img $M --mode=mapped-ram $(shared) --blob=blob.bin --blob-addr=0x2000000
offsets() { # FILE: each block's name and offsets
    $FIXEDRAM inspect --output=json "$1" > "$1.json"
    json_get "$1.json" '[(b["name"], b["bitmap_offset"], b["pages_offset"]) for b in d["ramblocks"]]'
}
assert_eq "$(offsets ign.img)" "$(offsets ign-m.img)" \
    "image layout of QEMU $new_ver's x-ignore-shared save"
conv image-to-stream ign-m.img ign-m.bin
old_restore ign-m.bin ign-m.img.src $M $(shared)

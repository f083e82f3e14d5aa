#!/bin/sh
# fixedram on files of two more targets, whose streams interleave an
# iterative device section with the RAM sections (its START, PART and END
# records must be carried byte for byte, in order):
#  - ppc64, machine pseries (spapr/htab), 256 MiB;
#  - s390x, machine s390-ccw-virtio (s390-storage_attributes), a
#    big-endian guest, 128 MiB.
# Each paused guest, with a 4 MiB random blob at 32 MiB, is saved as a
# classic stream and as a mapped-ram image; each file converted to the
# other layout, and converted back, restores to identical guest RAM
# (pmemsave); diff finds the conversions equal to their input; extract of
# the RAM block holds the blob at 32 MiB, and extract --physical equals
# QEMU's pmemsave of guest RAM (at 0 on both).  A target whose QEMU is missing
# ($FR_QEMU_PPC64, $FR_QEMU_S390X override) is left out; with neither, the
# test skips.
. "$TESTS_SRCDIR/lib.sh"

head -c 4194304 /dev/urandom > blob.bin

# target BINARY MACHINE MEM BLOCK ITERATIVE-SECTION
target() {
    QEMU=$1 M=--machine=$2 MEM=--mem=$3 block=$4 iter=$5
    export QEMU
    echo "== $QEMU_VERSION $2"
    for mode in classic mapped-ram; do
        "$PYTHON" "$FRQEMU" save $M $MEM --mode=$mode --out=$mode.sav \
            --dump=$mode.src --blob=blob.bin --blob-addr=0x2000000 \
            --timeout=60 || fail "QEMU $2 save ($mode) failed"
        $FIXEDRAM inspect --output=json $mode.sav > $mode.json ||
            fail "inspect of the $2 $mode save failed"
        json_get $mode.json \
            "sum(x['name'] == '$iter' for x in d['devices']) >= 2" > iter.out
        assert_eq "$(cat iter.out)" True "$2 $mode: $iter sections listed"
        rm -rf x && $FIXEDRAM extract -q --block=$block -o x $mode.sav ||
            fail "extract of the $2 $mode save failed"
        dd if=x/$block of=got.bin bs=1M skip=32 count=4 2>/dev/null
        cmp -s got.bin blob.bin ||
            fail "$2 $mode: the blob is not at 32 MiB of $block"
        $FIXEDRAM extract -q --physical=phys.raw $mode.sav ||
            fail "extract --physical of the $2 $mode save failed"
        cmp phys.raw $mode.src ||
            fail "$2 $mode: extract --physical differs from pmemsave"
        rm -f phys.raw
    done
    $FIXEDRAM convert stream-to-image classic.sav classic.img &&
        $FIXEDRAM convert image-to-stream classic.img classic.img.stream &&
        $FIXEDRAM convert image-to-stream mapped-ram.sav mapped-ram.stream &&
        $FIXEDRAM convert stream-to-image mapped-ram.stream \
            mapped-ram.stream.img || fail "a conversion of a $2 save failed"
    for f in classic.img classic.img.stream; do
        qemu_restore_cmp classic.src "$2: $f" $M $MEM --in=$f
        $FIXEDRAM diff -q classic.sav $f || fail "$2: diff classic.sav $f"
    done
    for f in mapped-ram.stream mapped-ram.stream.img; do
        qemu_restore_cmp mapped-ram.src "$2: $f" $M $MEM --in=$f
        $FIXEDRAM diff -q mapped-ram.sav $f || fail "$2: diff mapped-ram.sav $f"
    done
    rm -f ./*.sav ./*.src ./*.img ./*.stream
    ran=$((ran + 1))
}

# available BINARY: python3 and QEMU >= 9.0 are there (else say why not)
available() {
    QEMU=$1 && export QEMU
    QEMU_VERSION=$("$PYTHON" "$FRQEMU" version 2>&1) && return 0
    echo "left out: $QEMU: $(printf '%s' "$QEMU_VERSION" | tail -n 1)" >&2
    return 1
}

# the QEMU helpers, without use_qemu's check of the x86 QEMU
QEMU_LIB_DIR=$TESTS_SRCDIR/qemu
. "$QEMU_LIB_DIR/lib-qemu.sh"
ran=0
if available "${FR_QEMU_PPC64:-qemu-system-ppc64}"; then
    target "$QEMU" pseries 256M ppc_spapr.ram spapr/htab
fi
if available "${FR_QEMU_S390X:-qemu-system-s390x}"; then
    target "$QEMU" s390-ccw-virtio 128M s390.ram s390-storage_attributes
fi
[ $ran -gt 0 ] || skip "neither a ppc64 nor an s390x QEMU >= 9.0"
exit 0

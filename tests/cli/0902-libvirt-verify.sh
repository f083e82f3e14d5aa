#!/bin/sh
# verify, checksum and extract on libvirt save images made by a real
# libvirt (virsh save --image-format): a paused domain holding an 8 MiB
# random blob at 0x2000000 is saved as raw, zstd, sparse and gzip.  verify
# exits 0 on each (and --deep on the sparse one); a copy with the
# unfinished-save magic "LibvirtQemudPart" exits 2 naming it at offset 0;
# the raw image's checksum equals that of its stream-to-image conversion
# (a sparse image), verify --checksums passes on that, and the RAM lines of
# all four agree (the device state of another save differs: 2); extract of pc.ram from the sparse image holds exactly the
# blob at 0x2000000 and equals the domain's RAM dump outside
# 0xa0000-0xfffff.
. "$TESTS_SRCDIR/lib.sh"
use_libvirt "fr-lv-t0902-$$-"

dom=${LIBVIRT_PREFIX}vm
head -c 8388608 /dev/urandom > blob.bin

formats="raw zstd sparse"
command -v gzip > /dev/null && formats="$formats gzip"
for f in $formats; do
    libvirt_define_vm "$dom" blob.bin 0x2000000 ||
        fail "cannot start domain $dom"
    if [ $f = sparse ]; then
        libvirt_dump_ram "$dom" sparse.src || fail "cannot dump the RAM of $dom"
    fi
    libvirt_save "$dom" $f.img $f || fail "virsh save --image-format $f failed"
done

for f in $formats; do
    expect_code 0 $FIXEDRAM verify $f.img > $f.v
    assert_grep "^$f\.img: (stream|mapped-ram), clean: 0 errors, 0 warnings$" $f.v
done
expect_code 0 $FIXEDRAM verify --deep sparse.img > /dev/null

# The unfinished-save magic, on a raw and on a sparse image.
for f in raw sparse; do
    cp --sparse=always $f.img part-$f.img
    printf LibvirtQemudPart | dd of=part-$f.img conv=notrunc status=none
    expect_code 2 $FIXEDRAM verify part-$f.img > part-$f.v
    assert_grep "^part-$f\.img: error: offset 0x0: .*LibvirtQemudPart" part-$f.v
    $FIXEDRAM verify --output=json part-$f.img > part-$f.json || :
    assert_eq "$(json_get part-$f.json 'd["status"]')" corrupt "part-$f.img: status"
    rm -f part-$f.img
done

# Checksums do not depend on the container, compression or layout: the raw
# image and its conversion (a sparse image) print the same lines; every other
# save of the same paused guest has the same RAM (its device state differs:
# timers).
$FIXEDRAM convert -q stream-to-image raw.img raw-to.img ||
    fail "convert stream-to-image raw.img failed"
for f in raw raw-to $formats; do
    [ -s $f.sum ] && continue
    $FIXEDRAM checksum $f.img > $f.sum || fail "checksum $f.img failed"
    grep -v '@device-state$' $f.sum > $f.ram.sum
    [ "$(wc -l < $f.ram.sum)" -eq $(($(wc -l < $f.sum) - 1)) ] ||
        fail "$f.sum: no single @device-state line"
    expect_code 0 $FIXEDRAM verify --checksums=$f.sum $f.img > /dev/null
done
cmp raw.sum raw-to.sum || {
    diff raw.sum raw-to.sum >&2 || :
    fail "checksum of raw-to.img (stream-to-image raw.img) differs from raw.img"
}
expect_code 0 $FIXEDRAM verify --checksums=raw.sum raw-to.img > /dev/null
for f in $formats; do
    cmp raw.ram.sum $f.ram.sum || fail "raw.img and $f.img hold different RAM"
done
# another domain's device state: corruption
expect_code 2 $FIXEDRAM verify --checksums=raw.sum zstd.img > zstd-raw.v
assert_grep "device state does not match" zstd-raw.v

# extract pc.ram from the sparse image
$FIXEDRAM extract -o x --block=pc.ram sparse.img > x.out ||
    fail "extract --block=pc.ram sparse.img failed"
assert_eq "$(cat x.out)" "$(printf 'pc.ram\tpc.ram\t134217728')" "extract listing"
python3 - x/pc.ram sparse.src blob.bin <<'PY' ||
import sys
x, src, blob = (open(p, "rb").read() for p in sys.argv[1:4])
errs = []
if len(x) != 128 << 20:
    errs.append("length %d, not 128 MiB" % len(x))
if x[0x2000000:0x2000000 + len(blob)] != blob:
    errs.append("the blob is not at 0x2000000")
if x[:0xa0000] != src[:0xa0000] or x[0x100000:] != src[0x100000:]:
    errs.append("differs from the domain's RAM outside 0xa0000-0xfffff")
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
    fail "extract of pc.ram from sparse.img is not the domain's RAM"
exit 0

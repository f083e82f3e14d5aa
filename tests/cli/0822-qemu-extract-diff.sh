#!/bin/sh
# extract and diff on files written by a real QEMU.  A paused 128 MiB pc
# guest holds an 8 MiB random blob at 0x2000000 (-device loader) and is
# saved as a classic stream, a mapped-ram image and a mapped-ram + multifd
# image.  extract --block=pc.ram of each gives a sparse 128 MiB file that
# holds exactly the blob at 0x2000000 and equals QEMU's pmemsave dump
# outside 0xa0000-0xfffff (where the dump shows the BIOS shadow).
# diff: the classic save against its mapped-ram conversion and against the
# mapped-ram save of the same guest exits 0.  A second guest gets the blob
# with 5 known pages changed (2 adjacent pages and 2 single pages with a
# byte flipped, 1 page zeroed); its classic and mapped-ram saves differ from
# the first classic save in exactly those pages of pc.ram and nowhere else
# (JSON ranges and human output), exit 1, also with B read from a pipe.
. "$TESTS_SRCDIR/lib.sh"
use_qemu

BLOB_ADDR=0x2000000
head -c 8388608 /dev/urandom > blob.bin
# blob2: blob with pages changed at these blob offsets (start:pages:how)
CHANGES="0x10000:2:flip 0x400000:1:flip 0x500000:1:zero 0x7ff000:1:flip"
python3 - blob.bin blob2.bin "$CHANGES" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for spec in sys.argv[3].split():
    start, n, how = spec.split(":")
    start, n = int(start, 0), int(n)
    for p in range(start, start + n * 4096, 4096):
        if how == "zero":
            b[p:p + 4096] = bytes(4096)
        else:
            b[p + 1234] ^= 0xa5
open(sys.argv[2], "wb").write(b)
PY

save() { # NAME MODE BLOB: NAME.bin and NAME.src (guest RAM before the save)
    "$PYTHON" "$FRQEMU" save --mode="$2" --out="$1.bin" --dump="$1.src" \
        --blob="$3" --blob-addr=$BLOB_ADDR --timeout=60 ||
        fail "QEMU save of $1 ($2) failed"
}
save classic classic blob.bin
save mapped mapped-ram blob.bin
save mfd mapped-ram-multifd blob.bin
save b-classic classic blob2.bin
save b-mapped mapped-ram blob2.bin

# ---- extract
for f in classic mapped mfd; do
    $FIXEDRAM extract --output-dir=x-$f --block=pc.ram $f.bin > x-$f.out ||
        fail "extract --block=pc.ram $f.bin failed"
    assert_eq "$(cat x-$f.out)" "$(printf 'pc.ram\tpc.ram\t134217728')" \
        "extract $f.bin: its listing"
    assert_eq "$(ls x-$f)" pc.ram "extract $f.bin --block=pc.ram: files written"
    python3 - x-$f/pc.ram $f.src blob.bin $BLOB_ADDR <<'PY' ||
import os, sys
x, src, blob = (open(p, "rb").read() for p in sys.argv[1:4])
addr = int(sys.argv[4], 0)
errs = []
if len(x) != 128 << 20:
    errs.append("length %d, not 128 MiB" % len(x))
if x[addr:addr + len(blob)] != blob:
    errs.append("the blob is not at 0x%x" % addr)
for lo, hi in ((0, 0xa0000), (0x100000, len(src))):
    if x[lo:hi] != src[lo:hi]:
        p = next(i for i in range(lo, hi, 4096)
                 if x[i:i + 4096] != src[i:i + 4096])
        errs.append("differs from QEMU's dump at page 0x%x" % p)
alloc = os.stat(sys.argv[1]).st_blocks * 512
if alloc > 16 << 20:
    errs.append("%d bytes allocated: not sparse" % alloc)
for e in errs:
    print(sys.argv[1] + ": " + e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
        fail "extract of pc.ram from $f.bin is not the guest's RAM"
    rm -rf x-$f
done

# ---- diff: same guest RAM, whatever the layout (device state aside)
$FIXEDRAM convert -q stream-to-image classic.bin classic.img ||
    fail "convert classic.bin failed"
expect_code 0 $FIXEDRAM diff classic.bin classic.img > same1.out
assert_grep "same guest RAM" same1.out
expect_code 0 $FIXEDRAM diff classic.bin mapped.bin > same2.out
expect_code 0 $FIXEDRAM diff --output=json mfd.bin classic.img > same3.json
assert_eq "$(json_get same3.json 'd["same"]')" True "diff mfd.bin classic.img: same"

# ---- diff: exactly the changed pages
WANT_RANGES=$(python3 -c '
import sys
out = []
for spec in sys.argv[2].split():
    start, n, how = spec.split(":")
    out.append("%d+%d" % (int(sys.argv[1], 0) + int(start, 0), int(n) * 4096))
print(" ".join(out))' $BLOB_ADDR "$CHANGES")

check_diff() { # JSON HUMAN
    python3 - "$1" "$WANT_RANGES" <<'PY' || fail "diff ($1) does not report exactly the changed pages"
import json, sys
d = json.load(open(sys.argv[1]))
want = [tuple(int(x) for x in r.split("+")) for r in sys.argv[2].split()]
errs = []
if d["same"] is not False:
    errs.append("same is %r" % d["same"])
for b in d["ramblocks"]:
    if b["name"] == "pc.ram":
        got = [(r["start"], r["length"]) for r in b["ranges"]]
        if got != want:
            errs.append("pc.ram ranges %s, expected %s" % (
                [(hex(s), hex(l)) for s, l in got],
                [(hex(s), hex(l)) for s, l in want]))
        if b["status"] != "different":
            errs.append("pc.ram status %r" % b["status"])
        if b["differing_pages"] != sum(l for _, l in want) // 4096:
            errs.append("pc.ram differing_pages %r" % b["differing_pages"])
    elif b["status"] != "same" or b["ranges"]:
        errs.append("block %s: %r" % (b["name"], b))
if [b["name"] for b in d["ramblocks"]][:1] != ["pc.ram"]:
    errs.append("blocks %r" % [b["name"] for b in d["ramblocks"]])
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
    # the human output lists the same ranges, inclusive, in hex
    for r in $WANT_RANGES; do
        s=${r%+*} l=${r#*+}
        assert_grep "$(printf '0x%x-0x%x' "$s" $((s + l - 1)))" "$2"
    done
    assert_grep "guest RAM differs" "$2"
}
for b in b-classic b-mapped; do
    expect_code 1 $FIXEDRAM diff --output=json classic.bin $b.bin > $b.json
    expect_code 1 $FIXEDRAM diff classic.bin $b.bin > $b.out
    check_diff $b.json $b.out
done
# B from a pipe
expect_code 1 $FIXEDRAM diff --output=json classic.img - < b-classic.bin > pipe.json
expect_code 1 $FIXEDRAM diff classic.img - < b-classic.bin > pipe.out
check_diff pipe.json pipe.out
exit 0

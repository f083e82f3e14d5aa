#!/bin/sh
# compact on live saves written by a real QEMU: the test guest keeps
# rewriting 8 MiB of RAM (--guest=live), or also zeroes pages it wrote
# before (--guest=live-zeroing), while QEMU saves it as a classic stream,
# an xbzrle stream, a classic stream with pages sent as PAGE then ZERO, and
# a mapped-ram image with stale data under cleared bitmap bits.  For each:
# the compacted file is smaller (streams: bytes, stat %s; the image:
# allocated blocks, stat %b), verifies clean (0), has the same checksum
# and guest RAM (diff 0) as its input, QEMU restores it to RAM identical to
# the source's RAM at the end of the save, and compacting it again gives a
# byte-identical file.  A paused save with zero-page-detection=none loses
# its zero pages' data (ZERO records instead).  compact --in-place on a copy of the mapped-ram save
# frees blocks too, keeps it restorable to identical RAM, and verify then
# says 0.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

restore_cmp() { # FILE SOURCE-DUMP
    qemu_restore_cmp "$2" "$1" --in="$1"
}

same_content() { # A B: same checksum lines, and diff says same guest RAM
    $FIXEDRAM checksum "$1" > "$1.sum" || fail "checksum $1 failed"
    $FIXEDRAM checksum "$2" > "$2.sum" || fail "checksum $2 failed"
    cmp -s "$1.sum" "$2.sum" || {
        diff "$1.sum" "$2.sum" >&2 || :
        fail "checksum of $2 differs from that of $1"
    }
    expect_code 0 $FIXEDRAM diff "$1" "$2" > /dev/null
}

for spec in classic:classic:live xbzrle:xbzrle:live \
            zclassic:classic:live-zeroing zmapped:mapped-ram:live-zeroing; do
    name=${spec%%:*} rest=${spec#*:}
    mode=${rest%%:*} guest=${rest#*:}
    "$PYTHON" "$FRQEMU" save --guest=$guest --mode=$mode --out=$name.sav \
        --dump=$name.src --timeout=90 ||
        fail "QEMU $guest save ($mode) failed"
    case $mode in
    mapped-ram)
        expect_code 3 $FIXEDRAM verify $name.sav > $name.v
        assert_grep "stale data" $name.v
        ;;
    *)
        expect_code 0 $FIXEDRAM verify $name.sav > /dev/null
        ;;
    esac

    $FIXEDRAM compact $name.sav $name.cmp > $name.log 2>&1 ||
        { cat $name.log >&2; fail "compact $name.sav failed"; }
    assert_grep "saved" $name.log
    s0=$(stat -c %s $name.sav) s1=$(stat -c %s $name.cmp)
    b0=$(stat -c %b $name.sav) b1=$(stat -c %b $name.cmp)
    case $mode in
    mapped-ram)
        [ "$s1" -eq "$s0" ] || fail "$name.cmp: size $s1, the image had $s0"
        [ "$b1" -lt "$b0" ] ||
            fail "$name.cmp: $b1 blocks allocated, not fewer than $b0"
        ;;
    *)
        [ "$s1" -lt "$s0" ] || fail "$name.cmp: $s1 bytes, not fewer than $s0"
        ;;
    esac
    expect_code 0 $FIXEDRAM verify $name.cmp > /dev/null
    same_content $name.sav $name.cmp
    if [ $mode != mapped-ram ]; then
        # one record per page, XBZRLE resolved, same present/zero pages
        $FIXEDRAM inspect --output=json $name.sav > $name.sav.json
        $FIXEDRAM inspect --output=json $name.cmp > $name.cmp.json
        python3 - $name.sav.json $name.cmp.json <<'PY' ||
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
errs = []
r = b["records"]
if r["resent"] or r["xbzrle"]:
    errs.append("records %r: resent or XBZRLE records left" % r)
if a["records"]["resent"] == 0:
    errs.append("the input has no resent pages: not a live save")
key = lambda d: [(x["name"], x["present"], x["zero"], x["absent"])
                 for x in d["ramblocks"]]
if key(a) != key(b):
    errs.append("pages per block %r != %r" % (key(b), key(a)))
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
            fail "$name.cmp is not the compacted $name.sav"
    fi
    restore_cmp $name.cmp $name.src

    # idempotent
    $FIXEDRAM compact -q $name.cmp $name.cmp2 || fail "compact $name.cmp failed"
    cmp $name.cmp $name.cmp2 || fail "compacting $name.cmp again changed it"
    rm -f $name.cmp2
done

# A stream saved with zero-page-detection=none carries its zero pages as
# full PAGE records: compact makes them ZERO records, as QEMU sends them
# with detection on, and the stream shrinks to a fraction.
head -c 4194304 /dev/urandom > blob.bin
"$PYTHON" "$FRQEMU" save --mode=classic --zero-page-detection=none \
    --out=zpd.sav --blob=blob.bin --blob-addr=0x2000000 --dump=zpd.src \
    --timeout=60 || fail "QEMU save with zero-page-detection=none failed"
$FIXEDRAM compact -q zpd.sav zpd.cmp || fail "compact zpd.sav failed"
$FIXEDRAM inspect --output=json zpd.sav > zpd.sav.json
$FIXEDRAM inspect --output=json zpd.cmp > zpd.cmp.json
python3 - zpd.sav.json zpd.cmp.json <<'PY' || fail "zpd.cmp: zero pages not made ZERO records"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ra, rb = a["records"], b["records"]
assert ra["zero"] == 0 and ra["page"] >= 32768, ra     # full pages only
assert rb["page"] + rb["zero"] == ra["page"], (ra, rb)  # one record each
assert 1024 <= rb["page"] < ra["page"] // 4, (ra, rb)   # the blob's stay
PY
[ $(($(stat -c %s zpd.cmp) * 4)) -lt "$(stat -c %s zpd.sav)" ] ||
    fail "zpd.cmp is not a quarter of zpd.sav"
expect_code 0 $FIXEDRAM verify zpd.cmp > /dev/null
same_content zpd.sav zpd.cmp
restore_cmp zpd.cmp zpd.src
$FIXEDRAM compact -q zpd.cmp zpd.cmp2 || fail "compact zpd.cmp failed"
cmp zpd.cmp zpd.cmp2 || fail "compacting zpd.cmp again changed it"

# In place, on a copy of the live-zeroing mapped-ram image.
cp --sparse=always zmapped.sav inplace.sav
b0=$(stat -c %b inplace.sav)
$FIXEDRAM compact --in-place inplace.sav > inplace.log 2>&1 ||
    { cat inplace.log >&2; fail "compact --in-place failed"; }
assert_grep "saved" inplace.log
b1=$(stat -c %b inplace.sav)
[ "$b1" -lt "$b0" ] || fail "compact --in-place: $b1 blocks, not fewer than $b0"
[ "$(stat -c %s inplace.sav)" -eq "$(stat -c %s zmapped.sav)" ] ||
    fail "compact --in-place changed the size of the image"
expect_code 0 $FIXEDRAM verify inplace.sav > /dev/null
same_content zmapped.sav inplace.sav
restore_cmp inplace.sav zmapped.src
# and again: nothing left to do
cp --sparse=always inplace.sav inplace2.sav
$FIXEDRAM compact -q --in-place inplace2.sav || fail "second compact --in-place failed"
cmp inplace.sav inplace2.sav || fail "a second compact --in-place changed the image"
exit 0

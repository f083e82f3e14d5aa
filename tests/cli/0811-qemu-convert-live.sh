#!/bin/sh
# convert live saves, checked by a real QEMU: the test guest keeps rewriting
# 8 MiB of RAM while QEMU saves it as a classic stream, an xbzrle stream, a
# mapped-ram image and a mapped-ram + multifd image (resent pages, XBZRLE
# deltas, pages rewritten in place).  Each file is converted to the other
# layout and back; QEMU must restore both conversions to guest RAM
# byte-identical to the source's RAM once the migration completed, and the
# converted file must have the same present/zero/absent pages per block as
# its input (stream: last record of each page; image: bitmap).
. "$TESTS_SRCDIR/lib.sh"
use_qemu
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

conv() { # DIRECTION IN OUT
    $FIXEDRAM convert "$1" "$2" "$3" ||
        fail "fixedram convert $1 $2 $3 failed"
}

restore_cmp() { # FILE SOURCE-DUMP
    qemu_restore_cmp "$2" "$1" --in="$1"
}

# same_pages IN OUT FORMAT: inspect OUT has layout FORMAT and the same
# pages per block as IN.
same_pages() {
    for _f in "$1" "$2"; do
        [ -s "$_f.json" ] || $FIXEDRAM inspect --output=json "$_f" > "$_f.json" ||
            fail "fixedram inspect $_f failed"
    done
    python3 - "$1.json" "$2.json" "$3" <<'PY' ||
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
errs = []
if b["format"] != sys.argv[3]:
    errs.append("format %r, expected %r" % (b["format"], sys.argv[3]))
key = lambda d: [(x["name"], x["length"], x["present"], x["zero"], x["absent"])
                 for x in d["ramblocks"]]
if key(a) != key(b):
    errs.append("pages per block: %r != %r" % (key(b), key(a)))
if sum(x["absent"] for x in b["ramblocks"]) != 0:
    errs.append("absent pages in the output")
if b["machine"] != a["machine"]:
    errs.append("machine %r != %r" % (b["machine"], a["machine"]))
da = [(x["name"], x["instance"], x["size"]) for x in a["devices"]]
db = [(x["name"], x["instance"], x["size"]) for x in b["devices"]]
if da != db:
    errs.append("device sections differ")
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
        fail "$2 (from $1) does not hold the same pages"
}

for mode in classic xbzrle mapped-ram mapped-ram-multifd; do
    "$PYTHON" "$FRQEMU" save --guest=live --mode=$mode --out=$mode.sav \
        --dump=$mode.src --stats=$mode.stats --timeout=90 ||
        fail "QEMU live save ($mode) failed"
    case $mode in
    classic|xbzrle)
        resent=$($FIXEDRAM inspect --output=json $mode.sav |
                 python3 -c 'import json,sys; print(json.load(sys.stdin)["records"]["resent"])')
        [ "$resent" -gt 0 ] || fail "$mode.sav: no resent pages, not a live save"
        conv stream-to-image $mode.sav $mode.img
        same_pages $mode.sav $mode.img mapped-ram
        restore_cmp $mode.img $mode.src
        conv image-to-stream $mode.img $mode.img.stream
        same_pages $mode.sav $mode.img.stream stream
        restore_cmp $mode.img.stream $mode.src
        ;;
    *)
        conv image-to-stream $mode.sav $mode.stream
        same_pages $mode.sav $mode.stream stream
        restore_cmp $mode.stream $mode.src
        conv stream-to-image $mode.stream $mode.stream.img
        same_pages $mode.sav $mode.stream.img mapped-ram
        restore_cmp $mode.stream.img $mode.src
        ;;
    esac
    rm -f $mode.src
done
exit 0

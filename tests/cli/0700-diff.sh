#!/bin/sh
# diff: 0 same guest RAM whatever the layout, 1 different with exactly the
# pages that differ, 2 trouble.
. "$TESTS_SRCDIR/lib.sh"

$MKSTREAM --seed=1 --resend=200 --xbzrle=100 --blocks=pc.ram:4M,rom:64K s.bin
$FIXEDRAM convert stream-to-image s.bin s.img
expect_code 0 $FIXEDRAM diff s.bin s.img > same.out
assert_grep 'same guest RAM' same.out
cat s.img | expect_code 0 $FIXEDRAM diff s.bin - > /dev/null

# change exactly pages 5, 6 and 300 of pc.ram in the image
$FIXEDRAM inspect --output=json s.img > s.json
po=$(json_get s.json 'd["ramblocks"][0]["pages_offset"]')
bm=$(json_get s.json 'd["ramblocks"][0]["bitmap_offset"]')
cp s.img t.img
python3 - t.img "$po" "$bm" <<'PY'
import sys
path, po, bm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(path, "r+b")
for page in (5, 6, 300):
    f.seek(po + page * 4096 + 100)
    f.write(b"\xa5" * 10)
    f.seek(bm + page // 8)
    b = f.read(1)[0]
    f.seek(bm + page // 8)
    f.write(bytes([b | (1 << (page % 8))]))
PY
expect_code 1 $FIXEDRAM diff s.bin t.img > d.out
assert_grep "ram block 'pc.ram': 3 pages differ in 2 ranges" d.out
assert_grep '^  0x5000-0x6fff \(2 pages\)$' d.out
assert_grep '^  0x12c000-0x12cfff \(1 pages\)$' d.out
$FIXEDRAM diff --output=json s.bin t.img > d.json || true
assert_eq "$(json_get d.json 'd["same"], d["ramblocks"][0]["differing_pages"], d["ramblocks"][1]["status"]')" \
    "False 3 same" "json verdict"

# blocks added, removed, resized
$MKSTREAM --seed=1 --blocks=pc.ram:8M,other:4K u.bin
expect_code 1 $FIXEDRAM diff s.bin u.bin > u.out
assert_grep "ram block 'rom': only in s.bin" u.out
assert_grep "ram block 'other': only in u.bin" u.out
assert_grep "ram block 'pc.ram': length 4 MiB in s.bin, 8 MiB in u.bin" u.out

expect_code 2 $FIXEDRAM diff s.bin missing.bin
expect_code 64 $FIXEDRAM diff s.bin
expect_code 64 $FIXEDRAM diff - -

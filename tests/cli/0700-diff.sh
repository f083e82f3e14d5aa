#!/bin/sh
# diff: 0 same guest RAM whatever the layout, 1 different with exactly the
# pages that differ (and, with --physical, where the guest sees them), 2
# trouble.
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
# -q (after the command or before it) says nothing when the guest RAM is
# the same, as cmp -s; a difference is still reported
expect_code 0 $FIXEDRAM diff -q s.bin s.img > q.out
assert_eq "$(wc -c < q.out)" 0 "diff -q of the same guest RAM prints"
expect_code 0 $FIXEDRAM -q diff s.bin s.img > q.out
assert_eq "$(wc -c < q.out)" 0 "fixedram -q diff of the same guest RAM prints"
expect_code 1 $FIXEDRAM diff -q s.bin t.img > q.out
assert_grep "ram block 'pc.ram': 3 pages differ in 2 ranges" q.out

# A stream file without XBZRLE is compared where its records lie: the
# same answers, whichever side it is on, against an image, another stream
# or a pipe.  Resent pages count by their last copy.
$MKSTREAM --seed=2 --resend=300 --zero-percent=30 --blocks=pc.ram:4M,rom:64K r.bin
$FIXEDRAM convert stream-to-image r.bin r.img
expect_code 0 $FIXEDRAM diff r.bin r.img > /dev/null
expect_code 0 $FIXEDRAM diff r.img r.bin > /dev/null
expect_code 0 $FIXEDRAM diff r.bin r.bin > /dev/null
cat r.bin | expect_code 0 $FIXEDRAM diff - r.bin > /dev/null
# in the image: change a page with data, zero another, give data to two
# pages the stream leaves zero (one never sent); expect exactly those
$FIXEDRAM inspect --output=json r.img > r.json
po=$(json_get r.json 'd["ramblocks"][0]["pages_offset"]')
bm=$(json_get r.json 'd["ramblocks"][0]["bitmap_offset"]')
cp r.img q.img
want=$(python3 - q.img "$po" "$bm" <<'PY'
import sys
path, po, bm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(path, "r+b")
f.seek(bm)
bits = f.read(1024 // 8)
present = [p for p in range(1024) if bits[p // 8] >> (p % 8) & 1]
absent = [p for p in range(1024) if not bits[p // 8] >> (p % 8) & 1]
changed, zeroed, filled = present[3], present[10], absent[:2]
f.seek(po + changed * 4096 + 7)
f.write(b"\x5a")
f.seek(po + zeroed * 4096)
f.write(bytes(4096))
for p in filled:
    f.seek(po + p * 4096 + 4000)
    f.write(b"data")
    f.seek(bm + p // 8)
    b = f.read(1)[0]
    f.seek(bm + p // 8)
    f.write(bytes([b | 1 << (p % 8)]))
print(" ".join(str(p) for p in sorted([changed, zeroed] + filled)))
PY
)
pages_of() {
    json_get "$1" '" ".join(str(r["start"] // 4096 + i)
        for r in d["ramblocks"][0]["ranges"]
        for i in range(r["length"] // 4096))'
}
for pair in "r.bin q.img" "q.img r.bin"; do
    $FIXEDRAM diff --output=json $pair > q.json && fail "diff $pair: 0"
    assert_eq "$(pages_of q.json)" "$want" "pages that differ ($pair)"
done
$FIXEDRAM convert image-to-stream q.img q.bin
$FIXEDRAM diff --output=json r.bin q.bin > q.json && fail "diff streams: 0"
assert_eq "$(pages_of q.json)" "$want" "pages that differ (two streams)"
# pages never sent (x-ignore-shared): the stream read through a pipe,
# which goes through a temporary image, gives the same answer
$MKSTREAM --seed=2 --resend=300 --zero-percent=30 --blocks=pc.ram:4M,rom:64K \
    --caps=x-ignore-shared --ignored=rom x.bin
for other in q.img r.bin; do
    $FIXEDRAM diff --output=json x.bin $other > direct.json || true
    cat x.bin | $FIXEDRAM diff --output=json - $other > piped.json || true
    assert_eq "$(sed 's/"a": "[^"]*"//' direct.json)" \
        "$(sed 's/"a": "[^"]*"//' piped.json)" "direct = piped ($other)"
    assert_grep '"status": "different"' direct.json
done

# an image cut short: trouble, said with the offset
head -c $(($(stat -c %s r.img) - 5000)) r.img > cut.img
expect_code 2 $FIXEDRAM diff cut.img r.img 2> cut.err
assert_grep 'cut.img: offset 0x[0-9a-f]*: truncated' cut.err

# blocks added, removed, resized
$MKSTREAM --seed=1 --blocks=pc.ram:8M,other:4K u.bin
expect_code 1 $FIXEDRAM diff s.bin u.bin > u.out
assert_grep "ram block 'rom': only in s.bin" u.out
assert_grep "ram block 'other': only in u.bin" u.out
assert_grep "ram block 'pc.ram': length 4 MiB in s.bin, 8 MiB in u.bin" u.out

# --physical: where the differing ranges lie for the guest.  A pc guest of
# 64 MiB started with max-ram-below-4g=32M has pc.ram's first 32 MiB at 0
# and the rest at 4 GiB: a range across the split is in two pieces
$MKSTREAM --seed=11 --resend=300 --zero-percent=30 \
    --blocks=pc.ram:64M,vga.vram:8M p.bin
$FIXEDRAM convert stream-to-image p.bin p.img
$FIXEDRAM inspect --output=json p.img > p.json
po=$(json_get p.json 'd["ramblocks"][0]["pages_offset"]')
bm=$(json_get p.json 'd["ramblocks"][0]["bitmap_offset"]')
vpo=$(json_get p.json 'd["ramblocks"][1]["pages_offset"]')
vbm=$(json_get p.json 'd["ramblocks"][1]["bitmap_offset"]')
python3 - p.img "$po" "$bm" "$vpo" "$vbm" <<'PY'
import sys
path, po, bm, vpo, vbm = sys.argv[1], *map(int, sys.argv[2:])
f = open(path, "r+b")
for pages_off, bitmap_off, page in ((po, bm, 5), (po, bm, 8190),
                                    (po, bm, 8191), (po, bm, 8192),
                                    (po, bm, 8193), (vpo, vbm, 1)):
    f.seek(pages_off + page * 4096 + 100)
    f.write(b"\xa5" * 10)
    f.seek(bitmap_off + page // 8)
    b = f.read(1)[0]
    f.seek(bitmap_off + page // 8)
    f.write(bytes([b | 1 << (page % 8)]))
PY
expect_code 1 $FIXEDRAM diff --physical --max-ram-below-4g=32M p.bin p.img \
    > p.out
cat > p.want <<'EOF2'
ram block 'pc.ram': 5 pages differ in 2 ranges
  0x5000-0x5fff (1 pages) at guest 0x5000-0x5fff
  0x1ffe000-0x2001fff (4 pages) at guest 0x1ffe000-0x1ffffff, 0x100000000-0x100001fff
ram block 'vga.vram': 1 pages differ in 1 ranges
  0x1000-0x1fff (1 pages)
device state is the same
p.bin and p.img: guest RAM differs
EOF2
diff -u p.want p.out || fail "diff --physical"
expect_code 1 $FIXEDRAM diff --output=json --physical \
    --max-ram-below-4g=32M p.img p.bin > p.json
assert_eq "$(json_get p.json '[r.get("guest_physical") for b in d["ramblocks"] for r in b["ranges"]]')" \
    "[[{'address': 20480, 'length': 4096}], [{'address': 33546240, 'length': 8192}, {'address': 4294967296, 'length': 8192}], None]" \
    "diff --physical, json"
# without the option, the same ranges and no addresses
$FIXEDRAM diff --output=json p.img p.bin > p0.json || true
assert_eq "$(json_get p0.json '[sorted(r) for b in d["ramblocks"] for r in b["ranges"]]')" \
    "[['length', 'start'], ['length', 'start'], ['length', 'start']]" \
    "diff json without --physical"
# the default split of a pc guest this small: none
expect_code 1 $FIXEDRAM diff --physical p.bin p.img > p.out
assert_grep '^  0x1ffe000-0x2001fff \(4 pages\) at guest 0x1ffe000-0x2001fff$' \
    p.out
# a machine whose layout is not known: trouble, said
$MKSTREAM --machine=microvm --blocks=pc.ram:1M micro.bin
expect_code 2 $FIXEDRAM diff --physical micro.bin micro.bin 2> e.micro
assert_grep "^fixedram: micro.bin: the guest-physical layout of machine type 'microvm' is not known" \
    e.micro
expect_code 64 $FIXEDRAM diff --max-ram-below-4g=32M p.bin p.img 2> e.below
assert_grep "goes with --physical" e.below

expect_code 2 $FIXEDRAM diff s.bin missing.bin
expect_code 64 $FIXEDRAM diff s.bin
expect_code 64 $FIXEDRAM diff - -

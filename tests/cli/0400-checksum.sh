#!/bin/sh
# checksum depends on content only, follows its documented definition,
# and does not depend on the thread count.
. "$TESTS_SRCDIR/lib.sh"

$MKSTREAM --seed=3 --resend=300 --xbzrle=200 --blocks=pc.ram:4M,rom:16K s.bin
$FIXEDRAM convert stream-to-image s.bin s.img
$FIXEDRAM convert image-to-stream s.img s.back
$FIXEDRAM checksum s.bin > a.sum
$FIXEDRAM checksum s.img > b.sum
$FIXEDRAM checksum --threads=1 s.back > c.sum
$FIXEDRAM checksum --threads=7 s.bin > d.sum
cat s.bin | $FIXEDRAM checksum - > e.sum
for f in b c d e; do
    cmp a.sum $f.sum || fail "checksum $f differs"
done
[ "$(wc -l < a.sum)" -eq 3 ] || fail "expected 2 blocks and the device state"
assert_grep '^[0-9a-f]{32}  pc\.ram$' a.sum
assert_grep '^[0-9a-f]{32}  @device-state$' a.sum

# an image saved at an offset, read from a pipe: the leading zeros count
# for its offsets (it was 'ram block name is empty')
$MKSTREAM --seed=4 --layout=mapped-ram --blocks=pc.ram:64K,rom:8K \
    --base-offset=65536 off.img
$FIXEDRAM checksum off.img > off.sum
cat off.img | $FIXEDRAM checksum - | cmp - off.sum ||
    fail "checksum of an image at an offset from a pipe"
cat off.img | $FIXEDRAM diff off.img - > /dev/null ||
    fail "diff of an image at an offset from a pipe"

# The definition, recomputed with xxh128sum: the hash of the page hashes.
if command -v xxh128sum > /dev/null && command -v xxd > /dev/null; then
    $FIXEDRAM extract -o x s.bin > /dev/null
    split -b 4096 -a 4 x/rom pg.
    for p in pg.*; do
        xxh128sum "$p" | cut -c1-32
    done | xxd -r -p > hashes.bin
    want=$(xxh128sum hashes.bin | cut -c1-32)
    got=$(grep '  rom$' a.sum | cut -c1-32)
    assert_eq "$got" "$want" "block digest per the documented definition"
fi

# resent and re-zeroed pages without XBZRLE: hashed in one pass, the last
# copy's hash overwriting the earlier ones
$MKSTREAM --seed=9 --resend=2000 --blocks=pc.ram:4M,rom:16K,z:8K r.bin
$FIXEDRAM convert stream-to-image r.bin r.img
$FIXEDRAM checksum r.bin > r.sum
$FIXEDRAM checksum r.img > ri.sum
cmp r.sum ri.sum || fail "one-pass stream checksum differs from the image's"
cat r.bin | $FIXEDRAM checksum - | cmp - r.sum || fail "checksum from a pipe"
# more resent pages than the hashes of scattered pages kept in memory
# (65,536): some are written out before the walk ends
$MKSTREAM --seed=3 --resend=70000 --blocks=pc.ram:32M,rom:64K m.bin
$FIXEDRAM convert stream-to-image m.bin m.img
$FIXEDRAM checksum m.bin > m.sum
$FIXEDRAM checksum m.img | cmp - m.sum || fail "checksum with 70,000 resent pages"

# stale data under cleared bits among present pages (read along with
# them) is not the guest's: the image checksums like its compacted copy,
# with any thread count, and so does the stream converted from it
$MKSTREAM --seed=5 --layout=mapped-ram --resend=300 st.img
$FIXEDRAM verify st.img > st.v && fail "st.img has no stale data to test with"
assert_grep 'pages of stale data under cleared bitmap bits' st.v
$FIXEDRAM compact st.img st.c.img > /dev/null
$FIXEDRAM checksum st.c.img > st.sum
$FIXEDRAM checksum st.img | cmp - st.sum || fail "stale data was hashed"
$FIXEDRAM checksum --threads=3 st.img | cmp - st.sum ||
    fail "stale data was hashed (3 threads)"
$FIXEDRAM convert image-to-stream st.img st.bin
$FIXEDRAM checksum st.bin | cmp - st.sum ||
    fail "stale data went into the stream"

# different content, different digest; same RAM, same digest
$MKSTREAM --seed=4 --blocks=pc.ram:4M,rom:16K t.bin
$FIXEDRAM checksum t.bin > t.sum
[ "$(head -1 t.sum)" != "$(head -1 a.sum)" ] || fail "different RAM, same digest"

$FIXEDRAM checksum --output=json s.img > s.json
json_get s.json 'd["ramblocks"][0]["digest"]' > j.txt
assert_eq "$(cat j.txt)" "$(head -1 a.sum | cut -c1-32)" "json digest"
expect_code 64 $FIXEDRAM checksum --threads=0 s.bin
printf 'garbage' > g.bin
expect_code 1 $FIXEDRAM checksum g.bin

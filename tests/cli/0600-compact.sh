#!/bin/sh
# compact keeps the guest, shrinks live saves, and a second run is a no-op.
. "$TESTS_SRCDIR/lib.sh"

size() { stat -c %s "$1"; }
alloc() { stat -c %b "$1"; }

# a live-style stream: many resent pages and XBZRLE records
$MKSTREAM --seed=1 --resend=2000 --xbzrle=500 --dump-dir=s.ram s.bin
$FIXEDRAM compact s.bin c1.bin > c1.out
assert_grep 'saved' c1.out
$FIXEDRAM compact c1.bin c2.bin > c2.out
cmp c1.bin c2.bin || fail "compacting twice changed the stream"
same_ram s.ram c1.bin
[ "$(size c1.bin)" -lt "$(size s.bin)" ] || fail "stream did not shrink"
$FIXEDRAM inspect --output=json c1.bin > c1.json
assert_eq "$(json_get c1.json 'd["records"]["resent"], d["records"]["xbzrle"]')" \
    "0 0" "no resent or XBZRLE records left"
$FIXEDRAM checksum s.bin > a.sum
$FIXEDRAM checksum c1.bin > b.sum
cmp a.sum b.sum || fail "compact changed the device state or RAM"
expect_code 0 $FIXEDRAM diff s.bin c1.bin > d.out

# a ram section without END: the final copies go in a PART before EOF
$MKSTREAM --seed=4 --resend=400 --xbzrle=50 --no-ram-end --dump-dir=ne.ram \
    ne.bin
$FIXEDRAM compact ne.bin ne1.bin > /dev/null
$FIXEDRAM compact ne1.bin ne2.bin > /dev/null
cmp ne1.bin ne2.bin || fail "compacting a stream without END twice changed it"
same_ram ne.ram ne1.bin
$FIXEDRAM inspect --output=json ne.bin > ne.json
$FIXEDRAM inspect --output=json ne1.bin > ne1.json
sections=$(json_get ne.json 'd["ram_sections"]')
assert_eq "$(json_get ne1.json 'd["records"]["resent"], d["ram_sections"]')" \
    "0 $((sections + 1))" "no resent records, one more ram section (a PART)"

# without XBZRLE the final copies are read from the input again, the last
# section first; from zstd they go through a scratch image: same result
$MKSTREAM --seed=5 --resend=3000 --dump-dir=rb.ram rb.bin
$MKSTREAM --seed=5 --resend=3000 --zstd rbz.bin
$FIXEDRAM compact rb.bin rb1.bin > /dev/null
$FIXEDRAM compact rbz.bin rbz1.bin > /dev/null
same_ram rb.ram rb1.bin
same_ram rb.ram rbz1.bin
$FIXEDRAM compact rb1.bin rb2.bin > /dev/null
cmp rb1.bin rb2.bin || fail "compacting a read-back output twice changed it"
$FIXEDRAM inspect --output=json rb1.bin > rb1.json
assert_eq "$(json_get rb1.json 'd["records"]["resent"]')" 0 \
    "no resent records after reading back"
$MKSTREAM --seed=6 --resend=500 --no-ram-end --dump-dir=rbe.ram rbe.bin
$FIXEDRAM compact rbe.bin rbe1.bin > /dev/null
same_ram rbe.ram rbe1.bin

# a page twice in one section, and again in a later one: the last copy
# in the stream wins, wherever it lies
python3 - dup.bin <<'PY'
import struct, sys
def sec(kind, body):
    hdr = bytes([kind]) + struct.pack('>I', 1)
    if kind == 1:
        hdr += bytes([3]) + b'ram' + struct.pack('>II', 0, 4)
    return hdr + body + struct.pack('>Q', 0x10) + b'\x7e' + struct.pack('>I', 1)
def page(n, fill, first=False):
    rec = struct.pack('>Q', n * 4096 | 0x08 | (0 if first else 0x20))
    return rec + (bytes([6]) + b'pc.ram' if first else b'') + bytes([fill]) * 4096
out = b'QEVM' + struct.pack('>I', 3)
out += sec(1, struct.pack('>Q', 65536 | 4) + bytes([6]) + b'pc.ram' +
           struct.pack('>Q', 65536))
out += sec(2, page(0, 0xa1, True) + page(1, 0xb1) + page(0, 0xa2) +
              page(2, 0xc1))
out += sec(3, page(1, 0xb2, True))
open(sys.argv[1], 'wb').write(out + b'\x00')
PY
$FIXEDRAM -q compact dup.bin dup1.bin
$FIXEDRAM -q extract -o dup.x dup1.bin > /dev/null
python3 - dup.x/pc.ram <<'PY' || fail "compact lost the last copy of a page"
import sys
d = open(sys.argv[1], 'rb').read()
want = bytes([0xa2]) * 4096 + bytes([0xb2]) * 4096 + bytes([0xc1]) * 4096
assert d == want + bytes(65536 - len(want)), [d[i * 4096] for i in range(4)]
PY

# an image with stale data under cleared bits and all-zero present pages
$MKSTREAM --seed=2 --layout=mapped-ram --resend=500 --dump-dir=i.ram i.img
$FIXEDRAM compact i.img ic1.img > ic1.out
$FIXEDRAM compact ic1.img ic2.img > ic2.out
cmp ic1.img ic2.img || fail "compacting an image twice changed it"
# -p: progress on stderr only, for a stream, a stream from a pipe and an
# image; the same output
$FIXEDRAM compact -p s.bin p1.bin > p1.out 2> p1.err
check_progress p1.err
cmp c1.bin p1.bin || fail "-p changed the compacted stream"
cat s.bin | $FIXEDRAM compact -p - p2.bin > p2.out 2> p2.err
check_progress p2.err
$FIXEDRAM compact -p i.img p1.img > p1.out 2> p1.err
check_progress p1.err
cmp ic1.img p1.img || fail "-p changed the compacted image"
same_ram i.ram ic1.img
[ "$(alloc ic1.img)" -lt "$(alloc i.img)" ] || fail "image did not shrink"
expect_code 3 $FIXEDRAM verify i.img > v1.out
expect_code 0 $FIXEDRAM verify ic1.img > v2.out

# --in-place: same content, fewer blocks, and then verify is clean
cp i.img ip.img
$FIXEDRAM compact --in-place ip.img > ip.out
assert_grep 'saved' ip.out
same_ram i.ram ip.img
[ "$(alloc ip.img)" -lt "$(alloc i.img)" ] || fail "--in-place did not shrink"
expect_code 0 $FIXEDRAM verify ip.img > v3.out
$FIXEDRAM compact --in-place ip.img > ip2.out
assert_grep ': 0 B saved' ip2.out

# libvirt and zstd containers are kept
$MKSTREAM --seed=3 --libvirt=zstd --resend=300 --domain=dom lz.img
$FIXEDRAM compact lz.img lzc.img > /dev/null
# (the output was made longer at first: nothing may follow the zstd data)
expect_code 0 $FIXEDRAM verify lzc.img > lzc.out
$FIXEDRAM inspect --output=json lzc.img > lz.json
assert_eq "$(json_get lz.json 'd["container"]["format"], d["container"]["domain"]')" \
    "zstd dom" "libvirt zstd container kept"

# refusals
expect_code 1 $FIXEDRAM compact --in-place s.bin 2> e1
assert_grep "mapped-ram images only" e1
expect_code 64 $FIXEDRAM compact s.bin
expect_code 64 $FIXEDRAM compact --in-place ip.img out.img
expect_code 1 $FIXEDRAM compact s.bin c1.bin 2> e2
assert_grep "output exists" e2

# x-ignore-shared: read twice, the ignored block keeps no pages
$MKSTREAM --seed=8 --resend=300 --caps=x-ignore-shared --ignored=shared \
    --blocks=pc.ram:4M,shared:4M ign.bin
$FIXEDRAM -q compact ign.bin ign.c
$FIXEDRAM checksum ign.bin > ign.sum
$FIXEDRAM checksum ign.c | cmp - ign.sum || fail "x-ignore-shared content"
$FIXEDRAM inspect --output=json ign.c > ign.json
assert_eq "$(json_get ign.json '[(b["name"], b["present"], b["zero"]) for b in d["ramblocks"] if b["name"] == "shared"]')" \
    "[('shared', 0, 0)]" "shared block without pages"
assert_eq "$(json_get ign.json 'd["records"]["resent"]')" 0 \
    "no resent pages left"
# ... and an x-ignore-shared image keeps its layout: the same guest RAM,
# the shared block still without pages, verify clean
$MKSTREAM --seed=8 --layout=mapped-ram --resend=300 --caps=x-ignore-shared \
    --ignored=shared --blocks=pc.ram:4M,shared:1M,rom:64K igi.img
$FIXEDRAM -q compact igi.img igi.c
$FIXEDRAM checksum igi.img > igi.sum
$FIXEDRAM checksum igi.c | cmp - igi.sum || fail "x-ignore-shared image content"
expect_code 0 $FIXEDRAM verify igi.c > /dev/null
$FIXEDRAM inspect --output=json igi.c > igi.json
assert_eq "$(json_get igi.json '[(b["name"], b["present"], b["absent"]) for b in d["ramblocks"] if b["name"] == "shared"]')" \
    "[('shared', 0, 256)]" "shared block of an image without pages"
# from a pipe it goes through an image: the same guest RAM
cat s.bin | $FIXEDRAM -q compact - piped.c
$FIXEDRAM diff s.bin piped.c > /dev/null || fail "compact from a pipe"
# an image from a pipe is refused at once, in one line
cat i.img | expect_code 1 $FIXEDRAM compact - piped.img 2> ep
assert_grep "^fixedram: -: compacting a mapped-ram image needs a seekable" ep
[ ! -e piped.img ] || fail "output left for an image from a pipe"
# a full disk under the write-behind thread is a clean error
if [ -w /dev/full ]; then
    expect_code 1 $FIXEDRAM compact --threads=2 s.bin /dev/full 2> ef
    assert_grep "/dev/full: write to the output failed at offset 0x0: No sp" ef
fi
# never over its own input, not even with --force (nor through stdin)
cp s.bin self.bin
cp i.img self.img
for f in self.bin self.img; do
    expect_code 1 $FIXEDRAM compact --force $f $f 2> es
    assert_grep "^fixedram: $f: output is the input file" es
done
expect_code 1 $FIXEDRAM compact --force - self.bin < self.bin 2> es
assert_grep "output is the input file" es
cmp self.bin s.bin && cmp self.img i.img || fail "compact replaced its input"

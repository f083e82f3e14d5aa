#!/bin/sh
# Every --threads count gives the same output, byte for byte: checksum,
# verify --deep, extract, compact, convert (zstd uses its threaded mode
# for any N; from 2 threads, stream-to-image and extract of a stream
# write from a thread of their own).  The pieces are 1 MiB, so a 24 MiB
# block has many.  --bypass-cache (O_DIRECT reads) changes nothing either.
. "$TESTS_SRCDIR/lib.sh"

$MKSTREAM --seed=11 --resend=3000 --xbzrle=500 --zero-percent=40 \
    --blocks=pc.ram:24M,vga.vram:4M,tiny:4K --dump-dir=ram s.bin
$FIXEDRAM convert stream-to-image s.bin s.img

for n in 1 2 3 8; do
    $FIXEDRAM checksum --threads=$n s.bin > "sum.s.$n"
    $FIXEDRAM checksum --threads=$n s.img > "sum.i.$n"
    $FIXEDRAM verify --deep --output=json --threads=$n s.img > "v.$n" ||
        fail "verify --deep --threads=$n"
    $FIXEDRAM extract --threads=$n -o "x.i.$n" s.img > /dev/null
    $FIXEDRAM extract --threads=$n -o "x.s.$n" s.bin > /dev/null
    $FIXEDRAM -q compact --threads=$n s.img "c.i.$n"
    $FIXEDRAM -q compact --threads=$n s.bin "c.s.$n"
    $FIXEDRAM convert --threads=$n --zstd image-to-stream s.img "z.$n"
    $FIXEDRAM convert --threads=$n stream-to-image "c.s.$n" "i.$n"
    $FIXEDRAM convert --threads=$n stream-to-image s.bin "j.$n"
    $FIXEDRAM convert --threads=$n --bypass-cache stream-to-image s.bin "k.$n"
done
for n in 2 3 8; do
    for f in sum.s sum.i v c.i c.s z i j k; do
        cmp "$f.1" "$f.$n" || fail "$f differs between 1 and $n threads"
    done
    for b in pc.ram vga.vram tiny; do
        cmp "x.i.1/$b" "x.i.$n/$b" || fail "extract $b, $n threads"
        cmp "x.s.1/$b" "x.s.$n/$b" || fail "extract $b, $n threads (stream)"
    done
done
# and what they agree on is right
cmp j.1 k.1 || fail "--bypass-cache changes the image"
cmp x.i.1/pc.ram ram/000.ram || fail "extracted pc.ram"
cmp x.s.1/vga.vram ram/001.ram || fail "extracted vga.vram"
cmp sum.s.1 sum.i.1 || fail "stream and image checksums"
$FIXEDRAM checksum c.i.1 | cmp - sum.s.1 || fail "compacted image checksum"

# --bypass-cache reads an image's pages with O_DIRECT: the same results
for n in 1 3; do
    $FIXEDRAM checksum --threads=$n --bypass-cache s.img | cmp - sum.i.1 ||
        fail "checksum --bypass-cache, $n threads"
    $FIXEDRAM verify --deep --output=json --threads=$n --bypass-cache \
        s.img > "vb.$n" || fail "verify --deep --bypass-cache"
    cmp v.1 "vb.$n" || fail "verify --deep --bypass-cache, $n threads"
    $FIXEDRAM verify --bypass-cache --threads=$n --checksums=sum.s.1 \
        s.img > /dev/null || fail "verify --checksums --bypass-cache"
    $FIXEDRAM extract --threads=$n --bypass-cache -o "xb.$n" s.img > /dev/null
    cmp "xb.$n/pc.ram" ram/000.ram || fail "extract --bypass-cache, $n threads"
    $FIXEDRAM -q compact --threads=$n --bypass-cache s.img "cb.$n"
    cmp c.i.1 "cb.$n" || fail "compact --bypass-cache, $n threads"
done
cp c.i.1 ip.img
$FIXEDRAM -q compact --in-place --bypass-cache ip.img
cmp c.i.1 ip.img || fail "compact --in-place --bypass-cache"

expect_code 64 $FIXEDRAM verify --threads=0 s.img
expect_code 64 $FIXEDRAM extract --threads=x -o y s.img
expect_code 64 $FIXEDRAM compact --threads=257 s.img y

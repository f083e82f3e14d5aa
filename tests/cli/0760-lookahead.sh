#!/bin/sh
# From --threads=2, stream-to-image and extract of a stream file have a
# second reader walk it ahead, so that each resent page's last copy is
# placed once, where the page is met first.  It changes no result:
# FIXEDRAM_TEST_LOOKAHEAD=wait lets it finish before the main pass starts
# (every resent page goes its way), =off leaves it out (every copy is
# placed as it comes).  Nor does it change which pages are allocated.  One stream resends pages every way; the other has
# XBZRLE pages too, whose XBZRLE last copies are placed as they come; a
# third is wrapped in a libvirt header (the last copies lie past it).
. "$TESTS_SRCDIR/lib.sh"

$MKSTREAM --seed=12 --resend=6000 --zero-percent=40 \
    --blocks=pc.ram:16M,vga.vram:4M --dump-dir=ram.s s.bin
$MKSTREAM --seed=13 --resend=3000 --xbzrle=800 --zero-percent=40 \
    --blocks=pc.ram:16M,vga.vram:4M --dump-dir=ram.x x.bin
$MKSTREAM --seed=14 --resend=4000 --zero-percent=40 --libvirt=raw \
    --blocks=pc.ram:16M,vga.vram:4M --dump-dir=ram.l l.bin

for f in s x l; do
    for m in off wait; do
        export FIXEDRAM_TEST_LOOKAHEAD=$m
        $FIXEDRAM convert --threads=2 stream-to-image $f.bin $f.$m.img
        $FIXEDRAM extract --threads=2 -o $f.$m.x $f.bin > /dev/null
    done
    unset FIXEDRAM_TEST_LOOKAHEAD
    cmp $f.off.img $f.wait.img || fail "$f: the lookahead changes the image"
    for m in off wait; do
        cmp $f.$m.x/pc.ram ram.$f/000.ram || fail "$f: extracted pc.ram ($m)"
        cmp $f.$m.x/vga.vram ram.$f/001.ram ||
            fail "$f: extracted vga.vram ($m)"
    done
    $FIXEDRAM checksum $f.bin > $f.sum
    $FIXEDRAM checksum $f.wait.img | cmp - $f.sum ||
        fail "$f: checksum of the stream and of its image"
    expect_code 0 $FIXEDRAM diff $f.bin $f.wait.img > /dev/null
    # nor which pages the image and the extracted files allocate: a page
    # that ends zero is a hole unless a copy before the last had data
    # (place.c)
    for out in img x/pc.ram x/vga.vram; do
        data_runs $f.off.$out > runs.off
        data_runs $f.wait.$out > runs.wait
        cmp runs.off runs.wait ||
            fail "$f: $out allocates other runs with the lookahead"
    done
done


#!/bin/sh
# convert -S/--sparse-size: a run of zero pages shorter than SIZE between
# pages with data is written as zeros, not left as a hole.  The image
# reads the same, byte for byte, with any thread count; it has fewer
# islands of data and allocates more.
. "$TESTS_SRCDIR/lib.sh"

# isolated zero pages, and resent pages: later rounds write data into
# gaps filled before, and must not zero data written before
$MKSTREAM --seed=5 --blocks=pc.ram:32M,vga.vram:4M --zero-percent=40 \
    --resend=3000 s.bin
$FIXEDRAM convert -q stream-to-image s.bin plain.img
for t in 1 2; do
    $FIXEDRAM convert -q --threads=$t -S 64K stream-to-image s.bin s-$t.img
    cmp plain.img s-$t.img || fail "-S 64K --threads=$t: not the same bytes"
done
FIXEDRAM_TEST_LOOKAHEAD=wait $FIXEDRAM convert -q -S 8K \
    stream-to-image s.bin s-wait.img
cmp plain.img s-wait.img || fail "-S 8K with the lookahead: not the same bytes"
$FIXEDRAM verify s-1.img > /dev/null || fail "-S 64K: verify found problems"

# islands_and_blocks FILE: its runs of data and 512-byte blocks
islands_and_blocks() {
    echo "$(data_runs "$1" | wc -l) $(stat -c %b "$1")"
}
set -- $(islands_and_blocks plain.img)
plain_islands=$1 plain_blocks=$2
set -- $(islands_and_blocks s-1.img)
echo "islands: $plain_islands -> $1; blocks: $plain_blocks -> $2"
if [ "$plain_islands" -le 2 ]; then
    echo "the file system reports no holes: islands not compared"
else
    [ "$1" -lt $((plain_islands / 10)) ] ||
        fail "-S 64K left $1 islands of $plain_islands"
    [ "$2" -gt "$plain_blocks" ] || fail "-S 64K allocated no more blocks"
fi

# one page is the default: the same file as without -S
$FIXEDRAM convert -q -S 4K stream-to-image s.bin s-4k.img
cmp plain.img s-4k.img || fail "-S 4K: not the same bytes"
set -- $(islands_and_blocks s-4k.img)
assert_eq "$1" "$plain_islands" "-S 4K islands"

# usage errors
expect_code 64 $FIXEDRAM convert -S 64K image-to-stream plain.img out.bin \
    2> e
assert_grep "sparse-size applies to stream-to-image only" e
expect_code 64 $FIXEDRAM convert -S 0 stream-to-image s.bin out.img 2> e
assert_grep "invalid size '0'" e
expect_code 64 $FIXEDRAM convert --sparse-size=5X stream-to-image s.bin \
    out.img 2> e
assert_grep "invalid size '5X'" e
[ ! -e out.img ] && [ ! -e out.bin ] || fail "a usage error left an output"

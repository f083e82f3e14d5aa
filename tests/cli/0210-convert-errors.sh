#!/bin/sh
# convert refuses what it cannot do, names the file and the offset, never
# leaves a partial output behind, and never touches its input.
. "$TESTS_SRCDIR/lib.sh"

no_leftovers() {
    ls -a | grep -q '^\.fixedram-tmp' && fail "temporary file left behind"
    return 0
}

$MKSTREAM --seed=1 --resend=100 s.bin
$MKSTREAM --seed=2 --layout=mapped-ram i.img
cp s.bin s.orig

# wrong direction for the input
expect_code 1 $FIXEDRAM convert stream-to-image i.img o.img 2> e1
assert_grep "already a mapped-ram image" e1
expect_code 1 $FIXEDRAM convert image-to-stream s.bin o.stream 2> e2
assert_grep "not a mapped-ram image" e2
[ ! -e o.img ] && [ ! -e o.stream ] || fail "output left after a refusal"

# an existing output is kept without --force, replaced with it
echo precious > out.img
expect_code 1 $FIXEDRAM convert stream-to-image s.bin out.img 2> e3
assert_grep "out.img: output exists" e3
assert_eq "$(cat out.img)" precious "existing output untouched"
$FIXEDRAM convert stream-to-image --force s.bin out.img
$FIXEDRAM inspect out.img > /dev/null
# never over the input itself
expect_code 1 $FIXEDRAM convert stream-to-image --force s.bin s.bin 2> e4
assert_grep "output is the input" e4
cmp s.bin s.orig || fail "input modified"

# ... also when it appears while the output is written
mkfifo race.fifo
$FIXEDRAM convert stream-to-image - race.img < race.fifo 2> er &
pid=$!
exec 7> race.fifo
head -c 100000 s.bin >&7
for i in $(seq 100); do
    ls -A | grep -q '^\.fixedram-tmp' && break
    sleep 0.1
done
echo precious > race.img
tail -c +100001 s.bin >&7
exec 7>&-
rc=0
wait $pid || rc=$?
assert_eq "$rc" 1 "exit status when the output appeared meanwhile"
assert_grep "race.img: output appeared while it was written" er
assert_eq "$(cat race.img)" precious "output that appeared meanwhile"

# images need a regular file; image-to-stream needs a seekable input
expect_code 1 $FIXEDRAM convert stream-to-image s.bin - 2> e5 | cat
assert_grep "regular file" e5
cat i.img | expect_code 1 $FIXEDRAM convert image-to-stream - o.stream 2> e6
assert_grep "seekable" e6
no_leftovers

# a stream without a ram section: a clean refusal from every command
# that places pages (it was a crash), from a file and from a pipe
printf 'QEVM\000\000\000\003\000' > noram.bin
for cmd in "convert stream-to-image" "compact"; do
    expect_code 1 $FIXEDRAM $cmd noram.bin nr.out 2> en
    assert_grep "^fixedram: noram.bin: the stream has no ram section" en
    expect_code 1 $FIXEDRAM $cmd - nr.out < noram.bin 2> en
    assert_grep "^fixedram: -: the stream has no ram section" en
done
expect_code 1 $FIXEDRAM extract -o nr.dir noram.bin 2> en
assert_grep "^fixedram: noram.bin: the stream has no ram section" en
[ ! -e nr.out ] && [ -z "$(ls -A nr.dir 2> /dev/null)" ] ||
    fail "output left for a stream without ram"
no_leftovers

# usage errors
expect_code 64 $FIXEDRAM convert
expect_code 64 $FIXEDRAM convert sideways s.bin o
expect_code 64 $FIXEDRAM convert stream-to-image s.bin
expect_code 64 $FIXEDRAM convert stream-to-image --zstd s.bin o.img
expect_code 64 $FIXEDRAM convert image-to-stream --zstd=99 i.img o

# a missing directory
expect_code 1 $FIXEDRAM convert stream-to-image s.bin nodir/o.img 2> e7
assert_grep "^fixedram: nodir/o.img: " e7

# truncated input: exit 1, the offset in the message, no output
size=$(wc -c < s.bin)
for cut in 7 100 $((size / 3)) $((size / 2)) $((size - 10)); do
    head -c $cut s.bin > t.bin
    expect_code 1 $FIXEDRAM convert stream-to-image t.bin t.img 2> et
    assert_grep "^fixedram: t.bin: offset 0x[0-9a-f]+: " et
    [ ! -e t.img ] || fail "output left from a truncated input (cut $cut)"
    no_leftovers
done

# a full disk is a clean error and removes the partial output
if [ -w /dev/full ]; then
    expect_code 1 $FIXEDRAM convert image-to-stream i.img /dev/full 2> ef
    assert_grep "No space left on device" ef
fi

# SIGTERM and SIGINT remove the temporary file
for sig in TERM INT; do
    (cat s.bin; sleep 30) | $FIXEDRAM convert stream-to-image - sig.img &
    pid=$!
    n=0
    until ls -a | grep -q '^\.fixedram-tmp'; do
        n=$((n + 1))
        [ $n -lt 200 ] || fail "conversion never started"
        sleep 0.05
    done
    pkill -$sig -f "convert stream-to-image - sig.img"
    wait $pid 2>/dev/null || true
    [ ! -e sig.img ] || fail "output left after SIG$sig"
    no_leftovers
done

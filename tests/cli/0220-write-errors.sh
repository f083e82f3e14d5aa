#!/bin/sh
# A failed write-out seen only by a background flush still fails the
# command and removes the partial output: the kernel reports it once per
# open file, so the final fsync would not.  The failure comes from an
# LD_PRELOAD shim (tests/gen/fr-failsync.c) built here.
. "$TESTS_SRCDIR/lib.sh"

${CC:-cc} -shared -fPIC -o failsync.so "$TESTS_SRCDIR/gen/fr-failsync.c" ||
    skip "no C compiler to build the fdatasync shim"
# the sanitizer build's runtime must otherwise come first in the list
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"

# enough data pages (about 230 MiB) for the background flush to run
$MKSTREAM --seed=3 --blocks=pc.ram:256M --zero-percent=10 s.bin
$MKSTREAM --seed=3 --blocks=pc.ram:256M --zero-percent=10 \
    --layout=mapped-ram i.img
before=$(cksum < s.bin)

no_output() {
    [ ! -e "$1" ] || fail "$1 left after a failed write-out"
    ls -a | grep -q '^\.fixedram-tmp' && fail "temporary file left behind"
    return 0
}

for cmd in "convert stream-to-image s.bin out" \
           "convert image-to-stream i.img out" \
           "compact s.bin out"; do
    expect_code 1 env LD_PRELOAD=$PWD/failsync.so $FIXEDRAM $cmd 2> e
    assert_grep "^fixedram: out: cannot write the output: Input/output error" e
    no_output out
done
expect_code 1 env LD_PRELOAD=$PWD/failsync.so \
    $FIXEDRAM extract --output-dir=x s.bin > /dev/null 2> e
assert_grep "^fixedram: x/pc.ram: cannot write the output: Input/output error" e
[ -z "$(ls -A x 2>/dev/null)" ] || fail "extract left files after a failed write-out"

# without the shim the conversion succeeds; --no-sync flushes nothing, so
# the shim changes nothing there
$FIXEDRAM convert stream-to-image s.bin out
LD_PRELOAD=$PWD/failsync.so $FIXEDRAM convert --no-sync --force \
    stream-to-image s.bin out
$FIXEDRAM verify -q out
assert_eq "$(cksum < s.bin)" "$before" "input untouched"

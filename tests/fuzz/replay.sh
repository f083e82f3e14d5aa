#!/bin/sh
# Replay the fuzzing corpus: run every input of tests/fuzz/corpus/<target>/
# through tests/fuzz/replay-<target> (the fuzz target linked with replay.c
# instead of libFuzzer), so that every crasher ever found stays a
# regression test.  In a --enable-sanitizers build the replays run under
# ASan and UBSan; with FR_VALGRIND=1 under valgrind.
#
# The replay binaries are looked for next to $FIXEDRAM (the build
# directory), or in $FR_REPLAY_DIR.

# before lib.sh, which may prefix FIXEDRAM with valgrind
: "${FIXEDRAM:?FIXEDRAM must point at the fixedram binary}"
REPLAY_DIR=${FR_REPLAY_DIR:-$(dirname "$FIXEDRAM")/tests/fuzz}
. "$TESTS_SRCDIR/lib.sh"

VG=
if [ "${FR_VALGRIND:-0}" = 1 ]; then
    VG="valgrind -q --error-exitcode=99 --leak-check=full"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99:abort_on_error=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=99:print_stacktrace=1"

for t in savevm mappedram libvirt vmdesc xbzrle qcow2; do
    bin=$REPLAY_DIR/replay-$t
    [ -x "$bin" ] || fail "$bin is missing (make check builds it)"
    dir=$TESTS_SRCDIR/fuzz/corpus/$t
    [ -d "$dir" ] || fail "no corpus for $t in $dir"
    set +e
    $VG "$bin" "$dir"
    code=$?
    set -e
    if [ "$code" -ne 0 ]; then
        # again, naming each input: the last one named is the culprit
        $VG "$bin" -v "$dir" 2>&1 | grep -v '^replay: .*bytes)$' || true
        $VG "$bin" -v "$dir" 2>&1 | grep '^replay: .*bytes)$' | tail -n 1
        fail "replay-$t failed (exit $code) on $dir"
    fi
done

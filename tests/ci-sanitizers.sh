#!/bin/sh
# CI's second job: the whole suite again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the test that triggered it),
# then a short libFuzzer run of every fuzz target when clang has libFuzzer.
# Ends with the suite's "N passed, N failed, N skipped" line.
#
#   sh tests/ci-sanitizers.sh [BUILD_DIR] [FUZZ_SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build-sanitizers}
fuzz_seconds=${2:-20}

# A clean copy of the tracked sources: the tree itself may be configured in
# place already, and autoconf refuses other build directories then.
src=$dir-src
rm -rf "$src"
mkdir -p "$src"
(cd "$top" && git ls-files -z | xargs -0 cp --parents -t "$src")
(cd "$src" && autoreconf -fi > /dev/null 2>&1)
top=$src

export ASAN_OPTIONS=detect_leaks=1:exitcode=99:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99

fuzz_status=0
if command -v clang > /dev/null &&
   echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
       clang -x c -fsanitize=fuzzer -o /dev/null - 2> /dev/null; then
    mkdir -p "$dir-fuzz"
    (cd "$dir-fuzz" && "$top/configure" -q CC=clang --enable-fuzzing &&
     make -j2 fuzz-targets) > "$dir-fuzz.log" 2>&1 || {
        tail -20 "$dir-fuzz.log"
        echo "fuzz build failed"
        fuzz_status=1
    }
    for t in savevm mappedram libvirt vmdesc xbzrle qcow2; do
        [ $fuzz_status -eq 0 ] || break
        work=$(mktemp -d)
        cp "$top/tests/fuzz/corpus/$t/"* "$work/" 2> /dev/null || true
        if "$dir-fuzz/tests/fuzz/fuzz-$t" -max_total_time="$fuzz_seconds" \
               -max_len=65536 -timeout=10 -artifact_prefix="$work/" \
               "$work" > "$work.log" 2>&1; then
            echo "fuzz-$t: $(grep -o 'Done [0-9]* runs' "$work.log" | tail -1)"
        else
            tail -30 "$work.log"
            echo "fuzz-$t: FAILED (crashing input kept in $work)"
            fuzz_status=1
        fi
        [ $fuzz_status -ne 0 ] || rm -rf "$work" "$work.log"
    done
else
    echo "fuzz: skipped (clang with libFuzzer not found)"
fi

mkdir -p "$dir"
cd "$dir"
"$top/configure" -q --enable-sanitizers
make -j2 > build.log 2>&1 || { tail -30 build.log; exit 1; }
status=0
make test || status=$?
[ $fuzz_status -eq 0 ] || status=1
exit $status

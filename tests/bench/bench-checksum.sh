#!/bin/sh
# Benchmark (not part of make check): fixedram checksum against xxh128sum
# of the same file's bytes, on a stream and a mapped-ram image of a guest
# with real data.  Prints seconds (median of RUNS, warm cache) and ratios.
#
#   tests/bench/bench-checksum.sh        (from the top, after make in build/)
#   BENCH_GUEST=2G BENCH_ZERO=30 BENCH_RUNS=3 BENCH_DIR=/var/tmp/x
set -eu
BUILD=${BUILD:-build}
F=$BUILD/fixedram
GEN=$BUILD/tests/gen/fr-mkstream
guest=${BENCH_GUEST:-2G}
zero=${BENCH_ZERO:-30}
runs=${BENCH_RUNS:-3}
dir=${BENCH_DIR:-$(mktemp -d /var/tmp/fr-bench-sum.XXXXXX)}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

median() {
    # median wall time of "$@" over $runs runs
    for i in $(seq "$runs"); do
        s=$(date +%s.%N)
        "$@" > /dev/null
        e=$(date +%s.%N)
        awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'
    done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

"$GEN" --blocks=pc.ram:$guest --zero-percent=$zero --devices=6 "$dir/s.bin"
"$F" convert stream-to-image "$dir/s.bin" "$dir/s.img"
echo "guest $guest, $zero% zero pages; $(nproc) CPUs"
printf '%-8s %14s %10s %12s %10s %8s\n' file bytes xxh128sum "fixedram" threads ratio
for f in s.bin s.img; do
    bytes=$(stat -c %s "$dir/$f")
    cat "$dir/$f" > /dev/null       # warm the cache for both
    x=$(median xxh128sum "$dir/$f")
    for t in 1 $(nproc); do
        c=$(median "$F" checksum --threads=$t "$dir/$f")
        printf '%-8s %14s %9.2fs %11.2fs %10s %7.2fx\n' "$f" "$bytes" "$x" "$c" "$t" \
            "$(awk -v c="$c" -v x="$x" 'BEGIN { print c / x }')"
    done
done
"$F" checksum "$dir/s.bin" > "$dir/a"
"$F" checksum "$dir/s.img" > "$dir/b"
cmp -s "$dir/a" "$dir/b" && echo "stream and image digests agree" ||
    { echo "DIGESTS DIFFER"; exit 1; }

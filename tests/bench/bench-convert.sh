#!/bin/bash
# Benchmark: fixedram convert against cp of the same input, both directions.
#
# Not part of "make check": it writes several GiB and takes minutes.  Run
# it from the top of the source tree after "make" in build/:
#
#   tests/bench/bench-convert.sh
#
# Environment (all optional):
#   BUILD=build            where fixedram and tests/gen/fr-mkstream are
#   FIXEDRAM=...           the binary to measure (default $BUILD/fixedram)
#   BENCH_DIR=DIR          scratch directory (default: mktemp -d in
#                          /var/tmp); removed at the end unless KEEP=1
#   BENCH_GUEST=2G         guest RAM of the timed runs
#   BENCH_ZERO=30          percentage of zero pages
#   BENCH_RESEND=20000     pages sent twice (later rounds)
#   BENCH_RUNS=3           runs per measurement (the median is shown)
#   BENCH_BIG=4G           guest for the peak-memory check ("" to skip)
#   BENCH_ARGS=            extra convert options, e.g. --bypass-cache
#   BENCH_COLD=auto        cold-cache runs: auto (if root), yes, no
#   BENCH_PAGE_REPORTING=pause  pause a VM's free page reporting to its
#                          host for the run (as root; see lib-bench.sh),
#                          or keep it
#
# Every run starts with "sync", so that writeback left over from the
# previous run is not charged to the next one.  fixedram fsyncs its output
# before renaming it into place and cp does not, so the table also shows
# "cp+fsync" (cp, then "sync OUT"): the same work with the same durability.
# Cold runs drop the page cache first (echo 3 > /proc/sys/vm/drop_caches).
set -eu
export LC_ALL=C

BUILD=${BUILD:-build}
FIXEDRAM=${FIXEDRAM:-$BUILD/fixedram}
MKSTREAM=${MKSTREAM:-$BUILD/tests/gen/fr-mkstream}
GUEST=${BENCH_GUEST:-2G}
ZERO=${BENCH_ZERO:-30}
RESEND=${BENCH_RESEND:-20000}
RUNS=${BENCH_RUNS:-3}
BIG=${BENCH_BIG-4G}
COLD=${BENCH_COLD:-auto}
read -r -a ARGS <<< "${BENCH_ARGS:-}"

for f in "$FIXEDRAM" "$MKSTREAM"; do
    if [ ! -x "$f" ]; then
        echo "bench-convert: $f not found (build first, or set BUILD)" >&2
        exit 1
    fi
done
FIXEDRAM=$(readlink -f "$FIXEDRAM")
MKSTREAM=$(readlink -f "$MKSTREAM")

if [ -n "${BENCH_DIR:-}" ]; then
    mkdir -p "$BENCH_DIR"
    DIR=$(mktemp -d "$BENCH_DIR/fr-bench.XXXXXX")
else
    DIR=$(mktemp -d /var/tmp/fr-bench.XXXXXX)
fi
. "$(cd "$(dirname "$0")" && pwd)/lib-bench.sh"   # measure, page reporting
cleanup() {
    resume_page_reporting
    if [ "${KEEP:-0}" = 1 ]; then
        echo "scratch kept in $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
pause_page_reporting
echo "free page reporting to the host: $PAGE_REPORTING"

# Cold cache needs root; "auto" uses it when it works.
can_drop() {
    sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
}
case $COLD in
auto) if can_drop; then COLD=yes; else COLD=no; fi ;;
yes) can_drop || { echo "bench-convert: cannot drop caches" >&2; exit 1; } ;;
esac

# timed CACHE OUT CMD...: run CMD once; sets SECS and RSS_KIB.
timed() {
    local cache=$1 out=$2 t0 t1
    shift 2
    rm -f "$out"
    sync
    if [ "$cache" = cold ]; then
        echo 3 > /proc/sys/vm/drop_caches
    fi
    t0=$(date +%s%N)
    measure "$@"
    t1=$(date +%s%N)
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    RSS_KIB=$(tail -n 1 "$DIR/rss")
}

# median of the arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        h = int(NR / 2)
        print (NR % 2) ? v[h + 1] : (v[h] + v[h + 1]) / 2 }'
}

# The three commands measured, by number: cp, cp then fsync, fixedram.
NAMES=(cp cp+fsync fixedram)
run_tool() {    # run_tool N DIRECTION CACHE IN OUT
    local in=$4 out=$5
    # shellcheck disable=SC2016  # $1 and $2 are the inner sh's
    case $1 in
    0) timed "$3" "$out" cp "$in" "$out" ;;
    1) timed "$3" "$out" sh -c 'cp "$1" "$2" && sync "$2"' sh "$in" "$out" ;;
    2) timed "$3" "$out" "$FIXEDRAM" -q convert ${ARGS[@]+"${ARGS[@]}"} \
           "$2" "$in" "$out" ;;
    esac
}

# bench DIRECTION CACHE IN OUT: RUNS rounds of the three commands, taken in
# turn so that a load from elsewhere on the machine hits them alike; sets
# MED[i], RSS[i] (largest seen) and OUTB[i].
bench() {
    local dir=$1 cache=$2 in=$3 out=$4 i ts=("" "" "")
    RSS=(0 0 0)
    for _ in $(seq "$RUNS"); do
        for i in 0 1 2; do
            run_tool "$i" "$dir" "$cache" "$in" "$out"
            ts[i]="${ts[i]} $SECS"
            [ "$RSS_KIB" -gt "${RSS[i]}" ] && RSS[i]=$RSS_KIB
            OUTB[i]=$(stat -c %s "$out")
            rm -f "$out"
        done
    done
    # shellcheck disable=SC2086  # word splitting wanted
    MED=("$(median ${ts[0]})" "$(median ${ts[1]})" "$(median ${ts[2]})")
}

row() {    # direction cache command in-bytes out-bytes secs ratio ratio2 rss
    awk -v d="$1" -v c="$2" -v n="$3" -v i="$4" -v o="$5" -v s="$6" \
        -v r="$7" -v r2="$8" -v m="$9" 'BEGIN {
        printf "%-15s %-4s %-9s %11.0f %11.0f %7.3f %8.0f %6s %7s %7.1f\n",
            d, c, n, i, o, s, i / s / 1e6, r, r2, m / 1024 }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

echo "== machine"
echo "kernel: $(uname -r)  cpus: $(nproc)  $(grep -m1 'model name' \
    /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
free -h
df -h "$DIR"
echo "fixedram: $FIXEDRAM ${ARGS[*]:-}"
echo

echo "== inputs: guest $GUEST, $ZERO% zero pages, $RESEND resent pages"
"$MKSTREAM" --seed=7 --blocks="pc.ram:$GUEST,vga.vram:16M" \
    --zero-percent="$ZERO" --resend="$RESEND" --devices=6 "$DIR/in.stream"
"$FIXEDRAM" -q convert stream-to-image "$DIR/in.stream" "$DIR/in.img"
for f in in.stream in.img; do
    echo "$f: $(stat -c %s "$DIR/$f") bytes, $(du -B1 "$DIR/$f" | cut -f1)" \
         "allocated"
done
echo

caches=warm
[ "$COLD" = yes ] && caches="cold warm"

echo "== $RUNS runs each, median wall time; ratio = fixedram / cp" \
     "(< 1 is faster)"
printf '%-15s %-4s %-9s %11s %11s %7s %8s %6s %7s %7s\n' direction cache \
    command bytes-in bytes-out seconds MB/s vs-cp vs-cp+f RSS-MiB
for dir in stream-to-image image-to-stream; do
    if [ "$dir" = stream-to-image ]; then
        in=$DIR/in.stream
    else
        in=$DIR/in.img
    fi
    inb=$(stat -c %s "$in")
    for cache in $caches; do
        bench "$dir" "$cache" "$in" "$DIR/out"
        for i in 0 1 2; do
            r=- r2=-
            if [ "$i" = 2 ]; then
                r=$(ratio "${MED[2]}" "${MED[0]}")
                r2=$(ratio "${MED[2]}" "${MED[1]}")
            fi
            row "$dir" "$cache" "${NAMES[$i]}" "$inb" "${OUTB[$i]}" \
                "${MED[$i]}" "$r" "$r2" "${RSS[$i]}"
        done
    done
done
rm -f "$DIR/in.stream" "$DIR/in.img"

if [ -n "$BIG" ]; then
    echo
    echo "== peak memory, guest $BIG (limit 64 MiB)"
    "$MKSTREAM" --seed=8 --blocks="pc.ram:$BIG" --zero-percent="$ZERO" \
        --devices=6 "$DIR/big.stream"
    status=0
    timed warm "$DIR/big.img" "$FIXEDRAM" -q convert ${ARGS[@]+"${ARGS[@]}"} \
        stream-to-image "$DIR/big.stream" "$DIR/big.img"
    echo "stream-to-image: $SECS s, peak RSS $((RSS_KIB / 1024)) MiB"
    [ "$RSS_KIB" -lt 65536 ] || status=1
    rm -f "$DIR/big.stream"
    timed warm "$DIR/big.out" "$FIXEDRAM" -q convert \
        ${ARGS[@]+"${ARGS[@]}"} image-to-stream "$DIR/big.img" "$DIR/big.out"
    echo "image-to-stream: $SECS s, peak RSS $((RSS_KIB / 1024)) MiB"
    [ "$RSS_KIB" -lt 65536 ] || status=1
    if [ "$status" = 0 ]; then
        echo "peak RSS: ok (under 64 MiB)"
    else
        echo "peak RSS: OVER 64 MiB"
        exit 1
    fi
fi

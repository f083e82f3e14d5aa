#!/bin/bash
# Benchmark suite (issue 6): every fixedram command on every data path,
# against cp, cp+fsync, cat or xxh128sum of the same bytes measured in the
# same run, at several guest sizes, plus thread scaling; writes a CSV, the
# printed tables and an SVG chart.
#
# Not part of "make check": it writes tens of GiB and takes minutes.  Run
# it from anywhere after "make" and "make tests/gen/fr-mkstream" in the
# build directory:
#
#   BUILD=build tests/bench/bench-suite.sh
#
# Environment (all optional):
#   BUILD=DIR              where fixedram and tests/gen/fr-mkstream are
#                          (default: build/ in the source tree)
#   FIXEDRAM=, MKSTREAM=   the binaries themselves (default: under BUILD)
#   BENCH_OUT=DIR          where results.csv, results.txt and chart.svg go
#                          (default: tests/bench/results/ in the source
#                          tree); written only when the run completes
#   BENCH_DIR=DIR          scratch parent (default /var/tmp); a mktemp -d
#                          in it is removed at the end unless KEEP=1
#   BENCH_SIZES="1G 2G"    guest sizes (pc.ram; K/M/G suffix) to measure
#   BENCH_RUNS=3           runs per measurement (the median is shown)
#   BENCH_COLD=auto        also measure with a cold page cache: auto (when
#                          the caches can be dropped, i.e. as root), yes, no
#   BENCH_COLD_SIZES=      the guests measured cold too (default: the last
#                          of BENCH_SIZES)
#   BENCH_ZERO=40          percentage of zero pages (first pass)
#   BENCH_ZERO_RUN=256     mean length of a run of zero pages, in pages
#   BENCH_LOW_ENTROPY=50   percentage of data pages that are low-entropy
#   BENCH_RESEND=8000      resent pages per GiB of guest (live migration)
#   BENCH_LIVE_SIZE=1G     guest of the busy-live scenario: as realistic,
#                          with BENCH_LIVE_RESEND resent pages/GiB ("" to
#                          skip; warm cache only)
#   BENCH_LIVE_RESEND=262144  one resend per guest page on average, spread
#                          over the generator's later rounds at random
#   BENCH_WORST_SIZE=512M  guest of the worst-case scenario, isolated zero
#                          pages, warm cache only ("" to skip)
#   BENCH_SCALE_SIZE=      guest of the thread-scaling runs, warm cache
#                          (default: the first of BENCH_SIZES; "" to skip)
#   BENCH_THREADS=         thread counts (default: 1..nproc and at least
#                          1 2 4; powers of two and nproc above 8 CPUs)
#   BENCH_PAGE_REPORTING=pause  pause a VM's free page reporting to its
#                          host for the run (as root; see lib-bench.sh),
#                          or keep it
#
# Inputs come from the independent generator tests/gen/fr-mkstream: a
# classic stream of pc.ram (the guest size) and vga.vram (16 MiB) with
# random, low-entropy and zero pages, the zero pages in runs as in
# never-touched guest memory, and pages resent as by a live migration;
# its mapped-ram image is made with "fixedram convert stream-to-image".
#
# Every timed run starts with "sync", so that writeback left over from
# the previous one is not charged to it; cold runs then drop the page
# cache.  The variants of one measurement take turns, round after round,
# each round starting with the next one, so that a load from elsewhere on
# the machine hits them alike.  fixedram
# syncs its outputs before renaming them into place, so its default is
# compared with "cp IN OUT && sync OUT" (cp+fsync); with --no-sync (when
# the command has it) it is compared with plain cp.  stream-to-image also
# reads its stream from a pipe, "cat IN | fixedram ... - OUT", as QEMU's
# exec: peer, compared with "cat IN | cat > OUT" (and && sync OUT for the
# default).  Read-only commands
# are compared with "cat IN > /dev/null", checksum with xxh128sum.  The
# ratio is fixedram's time over the baseline's: below 1 is faster.
# Where the output is sparse (an image, extracted RAM) while the input
# is not, cp of the input writes no holes, and a file system pays for
# each run of data (ext4: one extent, one disk request per run).  Those
# cases are also compared with cp of fixedram's own output, made before
# the runs ("cp-output", "cp-output+fsync"): the same bytes, the same
# holes, written by cp.
# MB/s is the input's apparent size (holes of an image included, as cp
# and cat see it) over the median time.
set -eu
export LC_ALL=C
START=$(date +%s)

HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$SRCDIR/build}
FIXEDRAM=${FIXEDRAM:-$BUILD/fixedram}
MKSTREAM=${MKSTREAM:-$BUILD/tests/gen/fr-mkstream}
read -r -a SIZES <<< "${BENCH_SIZES:-1G 2G}"
RUNS=${BENCH_RUNS:-3}
COLD=${BENCH_COLD:-auto}
OUT=${BENCH_OUT:-$SRCDIR/tests/bench/results}
ZERO=${BENCH_ZERO:-40}
ZERO_RUN=${BENCH_ZERO_RUN:-256}
LOW=${BENCH_LOW_ENTROPY:-50}
RESEND=${BENCH_RESEND:-8000}

die() {
    echo "bench-suite: $*" >&2
    exit 1
}

# ---- prerequisites ---------------------------------------------------------

[ "${#SIZES[@]}" -gt 0 ] || die "BENCH_SIZES is empty"
WORST=${BENCH_WORST_SIZE-512M}
LIVE=${BENCH_LIVE_SIZE-1G}
LIVE_RESEND=${BENCH_LIVE_RESEND:-262144}
SCALE=${BENCH_SCALE_SIZE-${SIZES[0]}}
read -r -a COLD_SIZES <<< "${BENCH_COLD_SIZES-${SIZES[${#SIZES[@]} - 1]}}"
case $RUNS in
'' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;;
esac
for s in "${SIZES[@]}" $WORST $LIVE $SCALE \
    ${COLD_SIZES[@]+"${COLD_SIZES[@]}"}; do
    [[ $s =~ ^[1-9][0-9]*[KMG]$ ]] ||
        die "guest size '$s': expected a number with K, M or G"
done

[ -x "$FIXEDRAM" ] ||
    die "$FIXEDRAM not found: run make in the build directory (or set BUILD)"
[ -x "$MKSTREAM" ] ||
    die "$MKSTREAM not found: run 'make tests/gen/fr-mkstream' in the build" \
        "directory (or set BUILD)"
FIXEDRAM=$(readlink -f "$FIXEDRAM")
MKSTREAM=$(readlink -f "$MKSTREAM")
for t in python3 xxh128sum cp cat sync awk sort stat du df date mktemp; do
    command -v "$t" > /dev/null || die "needs '$t' (not found in PATH)"
done
. "$HERE/lib-bench.sh"      # measure

case $OUT in
/*) ;;
*) OUT=$PWD/$OUT ;;
esac
mkdir -p "${BENCH_DIR:-/var/tmp}"
DIR=$(mktemp -d "${BENCH_DIR:-/var/tmp}/fr-bench-suite.XXXXXX")
DIR=$(readlink -f "$DIR")
cleanup() {
    resume_page_reporting
    if [ "${KEEP:-0}" = 1 ]; then
        echo "bench-suite: scratch kept in $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
cd "$DIR"
# a copy, so that a rebuild during the run does not mix two versions
FIXEDRAM_BUILT=$FIXEDRAM
cp "$FIXEDRAM" "$DIR/fixedram"
FIXEDRAM=$DIR/fixedram
# fixedram's own temporary images (streams read by content) go there too
export TMPDIR=$DIR/tmp
mkdir "$TMPDIR"

pause_page_reporting

# Cold cache needs root; "auto" uses it when it works.
drop_caches() {
    echo 3 2> /dev/null > /proc/sys/vm/drop_caches
}
case $COLD in
auto) if sync && drop_caches; then COLD=yes; else COLD=no; fi ;;
yes) { sync && drop_caches; } || die "cannot drop caches (BENCH_COLD=yes)" ;;
no) ;;
*) die "BENCH_COLD must be auto, yes or no" ;;
esac
# caches GUEST: the cache states GUEST is measured with
caches() {
    local g
    if [ "$COLD" = yes ]; then
        for g in ${COLD_SIZES[@]+"${COLD_SIZES[@]}"}; do
            if [ "$g" = "$1" ]; then
                echo cold warm
                return
            fi
        done
    fi
    echo warm
}

# Thread counts: 1..nproc and at least 1 2 4 (powers of two above 8 CPUs).
NPROC=$(nproc)
if [ -n "${BENCH_THREADS:-}" ]; then
    read -r -a THREADS <<< "$BENCH_THREADS"
else
    THREADS=()
    for ((i = 1; i <= (NPROC > 4 ? NPROC : 4); i++)); do
        if ((i <= 2 || i == 4 || (i <= NPROC && (NPROC <= 8 ||
            i == NPROC || (i & (i - 1)) == 0)))); then
            THREADS+=("$i")
        fi
    done
fi

# Which commands have --no-sync and --threads (both are being added).
has_option() {    # has_option CMD OPTION
    "$FIXEDRAM" "$1" --help | grep -q -- "$2"
}
has_threads() {    # a --threads that only sizes zstd compression is not it
    "$FIXEDRAM" "$1" --help | grep -- --threads |
        grep -vq 'Compression threads'
}
declare -A NOSYNC THREADED
for c in convert checksum verify extract compact diff inspect; do
    NOSYNC[$c]=no
    THREADED[$c]=no
    if has_option "$c" --no-sync; then NOSYNC[$c]=yes; fi
    if has_threads "$c"; then THREADED[$c]=yes; fi
done

# ---- measuring -------------------------------------------------------------

TXT=$DIR/results.txt
CSV=$DIR/results.csv
: > "$TXT"
csv_row() {    # csv_row FIELD...: one line of results.csv
    local IFS=,
    echo "$*" >> "$CSV"
}
csv_row scenario cache command path guest guest_bytes tool variant threads \
    bytes_in alloc_in runs seconds mb_s baseline baseline_seconds ratio \
    rss_kib
CHECKED=''

say() {     # print a line of the report and keep it for results.txt
    printf '%s\n' "$*" | tee -a "$TXT"
}

# timed CACHE CMD...: one run of CMD (stdout discarded); sets SECS and
# RSS_KIB; stops the suite when CMD fails.
timed() {
    local cache=$1 t0 t1 rc=0
    shift
    sync
    if [ "$cache" = cold ]; then
        drop_caches
    fi
    t0=$(date +%s%N)
    measure "$@" > /dev/null 2> "$DIR/stderr" || rc=$?
    t1=$(date +%s%N)
    if [ "$rc" != 0 ]; then
        cat "$DIR/stderr" >&2
        die "exit status $rc: $*"
    fi
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    RSS_KIB=$(tail -n 1 "$DIR/rss")
}

# a progress line on standard error, when it is a terminal
progress() {
    if [ -t 2 ]; then
        printf '\r%-79.79s\r' "$*" >&2
    fi
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        h = int(NR / 2)
        printf "%.3f\n", (NR % 2) ? v[h + 1] : (v[h] + v[h + 1]) / 2 }'
}

# The case being measured (set by set_case): fixedram CASE_CMD with
# CASE_ARGS (options go between them), its inputs CASE_IN, its output
# CASE_OUT ("" for read-only commands) and its kind: write, read or sum.
CASE_CMD='' CASE_LABEL='' CASE_PATH='' CASE_KIND='' CASE_OUT=''
CASE_ARGS=() CASE_IN=()

# set_case NAME STREAM IMAGE
set_case() {
    local s=$2 i=$3 o=$DIR/out
    CASE_OUT=$o
    CASE_KIND='write'
    case $1 in
    s2i-pipe)
        # as QEMU's exec: peer: the stream comes through a pipe
        CASE_CMD=convert CASE_KIND=pipe
        CASE_LABEL="convert stream-to-image" CASE_PATH=pipe
        CASE_ARGS=(stream-to-image - "$o") CASE_IN=("$s")
        ;;
    s2i | i2s)
        CASE_CMD=convert
        if [ "$1" = s2i ]; then
            CASE_LABEL="convert stream-to-image" CASE_PATH=stream
            CASE_ARGS=(stream-to-image "$s" "$o") CASE_IN=("$s")
        else
            CASE_LABEL="convert image-to-stream" CASE_PATH=image
            CASE_ARGS=(image-to-stream "$i" "$o") CASE_IN=("$i")
        fi
        ;;
    checksum-* | verify-* | inspect-* | extract-* | compact-*)
        CASE_CMD=${1%-*} CASE_PATH=${1#*-} CASE_LABEL=${1%-*}
        CASE_IN=("$i")
        [ "$CASE_PATH" = image ] || CASE_IN=("$s")
        case $CASE_CMD in
        checksum) CASE_KIND=sum CASE_OUT='' ;;
        verify) CASE_KIND=read CASE_OUT='' CASE_LABEL="verify --deep" ;;
        inspect) CASE_KIND=read CASE_OUT='' ;;
        esac
        case $CASE_CMD in
        verify) CASE_ARGS=(--deep "${CASE_IN[0]}") ;;
        extract) CASE_ARGS=("--output-dir=$o" "${CASE_IN[0]}") ;;
        compact) CASE_ARGS=("${CASE_IN[0]}" "$o") ;;
        *) CASE_ARGS=("${CASE_IN[0]}") ;;
        esac
        ;;
    diff)
        CASE_CMD=diff CASE_LABEL=diff CASE_PATH=stream:image CASE_KIND=read
        CASE_OUT='' CASE_ARGS=("$s" "$i") CASE_IN=("$s" "$i")
        ;;
    *) die "internal error: unknown case $1" ;;
    esac
}
CASES=(s2i s2i-pipe i2s checksum-stream checksum-image verify-image
       verify-stream extract-image extract-stream compact-stream
       compact-image diff inspect-stream inspect-image)

# timed_cp CACHE SRC VARIANT: one timed cp of SRC (a file, or the
# directory extract wrote) to the case's output, then, for a VARIANT
# ending in +fsync, sync of what it wrote
timed_cp() {
    if [ "${3%+fsync}" = "$3" ]; then
        timed "$1" cp -r "$2" "$CASE_OUT"
        return
    fi
    # shellcheck disable=SC2016  # $1 and $2 are the inner sh's
    timed "$1" sh -c 'cp -r "$1" "$2" &&
        if [ -d "$2" ]; then sync "$2"/* "$2"; else sync "$2"; fi' sh \
        "$2" "$CASE_OUT"
}

# run_variant VARIANT CACHE: one timed run of the current case
run_variant() {
    local v=$1 cache=$2
    [ -z "$CASE_OUT" ] || rm -rf "$CASE_OUT"
    # a pipe case reads its input through "cat IN |"
    local feed=()
    if [ "$CASE_KIND" = pipe ]; then
        feed=(sh -c 'f=$1; shift; cat "$f" | "$@"' sh "${CASE_IN[0]}")
    fi
    # shellcheck disable=SC2016  # $1 and $2 are the inner sh's
    case $v in
    default)
        timed "$cache" ${feed[@]+"${feed[@]}"} "$FIXEDRAM" -q "$CASE_CMD" \
            "${CASE_ARGS[@]}" ;;
    no-sync)
        timed "$cache" ${feed[@]+"${feed[@]}"} "$FIXEDRAM" -q "$CASE_CMD" \
            --no-sync "${CASE_ARGS[@]}" ;;
    threads=*)
        # with --no-sync when there is one, so that fsync does not hide
        # the scaling
        local o=("--threads=${v#threads=}")
        [ -z "$CASE_OUT" ] || [ "${NOSYNC[$CASE_CMD]}" = no ] ||
            o+=(--no-sync)
        timed "$cache" "$FIXEDRAM" -q "$CASE_CMD" "${o[@]}" \
            "${CASE_ARGS[@]}" ;;
    cp | cp+fsync) timed_cp "$cache" "${CASE_IN[0]}" "$v" ;;
    cp-output | cp-output+fsync) timed_cp "$cache" "$DIR/ref.out" "$v" ;;
    'cat|cat') timed "$cache" sh -c 'cat "$1" | cat > "$2"' sh \
        "${CASE_IN[0]}" "$CASE_OUT" ;;
    'cat|cat+fsync')
        timed "$cache" sh -c 'cat "$1" | cat > "$2" && sync "$2"' sh \
            "${CASE_IN[0]}" "$CASE_OUT" ;;
    cat) timed "$cache" cat "${CASE_IN[@]}" ;;
    xxh128sum) timed "$cache" xxh128sum "${CASE_IN[0]}" ;;
    *) die "internal error: unknown variant $v" ;;
    esac
}

# baseline_of VARIANT: what a fixedram variant is compared with
baseline_of() {
    case $CASE_KIND:$1 in
    *:threads=*) echo threads=1 ;;
    write:default) echo cp+fsync ;;
    write:no-sync) echo cp ;;
    pipe:default) echo 'cat|cat+fsync' ;;
    pipe:no-sync) echo 'cat|cat' ;;
    read:*) echo cat ;;
    sum:*) echo xxh128sum ;;
    esac
}

# bench_case SCENARIO GUEST CACHE VARIANT...: RUNS rounds of the variants
# in turn; sets MED[v] and RSS[v] (the largest seen).
declare -A MED RSS
bench_case() {
    local scen=$1 guest=$2 cache=$3 v r
    shift 3
    declare -A ts=()
    MED=() RSS=()
    if [ "$cache" = warm ]; then
        cat "${CASE_IN[@]}" > /dev/null     # not charged to the first run
    fi
    for r in $(seq "$RUNS"); do
        # each round starts with another variant: whatever the first run
        # after a deletion pays (on a VM, memory the host took back) is
        # shared out; the last round keeps the given order, so that the
        # output checked is the last variant's
        local order=("$@") k=$(((r - 1) % $#))
        if [ "$r" != "$RUNS" ]; then
            order=("${@:k+1}" "${@:1:k}")
        fi
        for v in "${order[@]}"; do
            progress "$scen $guest $cache: $CASE_LABEL ($CASE_PATH) $v," \
                "run $r/$RUNS"
            run_variant "$v" "$cache"
            ts[$v]="${ts[$v]:-} $SECS"
            if [ "$RSS_KIB" -gt "${RSS[$v]:-0}" ]; then
                RSS[$v]=$RSS_KIB
            fi
            # keep the last fixedram output for the correctness check
            if [ "$r" != "$RUNS" ] || [ "$v" != "${*: -1}" ]; then
                [ -z "$CASE_OUT" ] || rm -rf "$CASE_OUT"
            fi
        done
    done
    progress ''
    for v in "$@"; do
        # shellcheck disable=SC2086  # word splitting wanted
        MED[$v]=$(median ${ts[$v]})
    done
}

# bytes and allocated bytes of the inputs of the current case
in_bytes() {
    local f n=0 a=0
    for f in "${CASE_IN[@]}"; do
        n=$((n + $(stat -c %s "$f")))
        a=$((a + $(du -B1 "$f" | cut -f1)))
    done
    IN_BYTES=$n IN_ALLOC=$a
}

# emit SCENARIO CACHE GUEST GUEST_BYTES VARIANT THREADS [BASELINE]: one
# CSV row, one table row for a measured variant of the current case,
# compared with its baseline (baseline_of) or BASELINE
emit() {
    local scen=$1 cache=$2 guest=$3 gbytes=$4 v=$5 thr=$6 tool base=''
    local bsecs='' ratio='' mbs
    case $v in
    default | no-sync | threads=*)
        tool=fixedram
        base=${7:-$(baseline_of "$v")}
        if [ -n "${MED[$base]:-}" ]; then
            bsecs=${MED[$base]}
            ratio=$(awk -v a="${MED[$v]}" -v b="$bsecs" \
                'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        else
            base=''
        fi
        ;;
    *) tool=$v ;;
    esac
    local variant=$v
    case $v in
    threads=*) variant=default
        [ -z "$CASE_OUT" ] || [ "${NOSYNC[$CASE_CMD]}" = no ] ||
            variant=no-sync ;;
    default | no-sync) ;;
    *) variant=- ;;
    esac
    mbs=$(awk -v b="$IN_BYTES" -v s="${MED[$v]}" \
        'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }')
    csv_row "$scen" "$cache" "$CASE_LABEL" "$CASE_PATH" "$guest" \
        "$gbytes" "$tool" "$variant" "$thr" "$IN_BYTES" "$IN_ALLOC" \
        "$RUNS" "${MED[$v]}" "$mbs" "$base" "$bsecs" "$ratio" "${RSS[$v]}"
    if [ -n "$thr" ]; then
        local speedup
        speedup=$(awk -v a="${MED[$v]}" -v b="$bsecs" \
            'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
        say "$(printf '%-24s %-12s %-8s %7s %12s %8s %9s %7sx %8.1f' \
            "$CASE_LABEL" "$CASE_PATH" "$variant" "$thr" "$IN_BYTES" \
            "${MED[$v]}" "$mbs" "$speedup" \
            "$(awk -v k="${RSS[$v]}" 'BEGIN { print k / 1024 }')")"
    else
        say "$(printf '%-24s %-12s %-15s %-8s %12s %8s %9s %-15s %6s %8.1f' \
            "$CASE_LABEL" "$CASE_PATH" "$tool" "$variant" "$IN_BYTES" \
            "${MED[$v]}" "$mbs" "${base:--}" "${ratio:+${ratio}x}" \
            "$(awk -v k="${RSS[$v]}" 'BEGIN { print k / 1024 }')")"
    fi
}

table_header() {
    say "$(printf '%-24s %-12s %-15s %-8s %12s %8s %9s %-15s %6s %8s' \
        command path tool variant bytes-in seconds MB/s baseline ratio \
        RSS-MiB)"
}

guest_bytes() {
    local n=${1%?}
    case $1 in
    *K) echo $((n << 10)) ;;
    *M) echo $((n << 20)) ;;
    *G) echo $((n << 30)) ;;
    esac
}

# make_inputs SCENARIO GUEST: DIR/in.stream and DIR/in.img
make_inputs() {
    local scen=$1 guest=$2 gb resend zr=() r=$RESEND
    gb=$(guest_bytes "$guest")
    [ "$scen" != live ] || r=$LIVE_RESEND
    resend=$(awk -v g="$gb" -v r="$r" 'BEGIN {
        printf "%d", g / 1073741824 * r }')
    [ "$scen" = worst ] || zr=("--zero-run=$ZERO_RUN")
    rm -f "$DIR/in.stream" "$DIR/in.img"
    echo "bench-suite: generating the $scen $guest guest" >&2
    "$MKSTREAM" --seed=7 --blocks="pc.ram:$guest,vga.vram:16M" \
        --zero-percent="$ZERO" "${zr[@]}" --low-entropy-percent="$LOW" \
        --resend="$resend" --devices=6 "$DIR/in.stream"
    "$FIXEDRAM" -q convert stream-to-image "$DIR/in.stream" "$DIR/in.img"
    "$FIXEDRAM" checksum "$DIR/in.stream" > "$DIR/ref.sum"
    "$FIXEDRAM" inspect --output=json "$DIR/in.stream" > "$DIR/in.json"
    python3 - "$DIR/in.json" "$DIR/in.stream" "$DIR/in.img" "$ZERO" \
        "${zr[0]:-}" "$LOW" << 'EOF' | tee -a "$TXT"
import json, os, sys
d = json.load(open(sys.argv[1]))
p = z = a = 0
for b in d["ramblocks"]:
    p, z, a = p + b["present"], z + b["zero"], a + b["absent"]
n = p + z + a
runs = sys.argv[5] or "isolated zero pages (worst case)"
print("inputs: %d pages: %.1f%% data, %.1f%% zero (%s %% zero, %s), "
      "%d resent; %s%% of data pages low-entropy"
      % (n, 100.0 * p / n, 100.0 * z / n, sys.argv[4], runs,
         d["records"]["resent"], sys.argv[6]))
for f in sys.argv[2:4]:
    st = os.stat(f)
    print("  %-10s %14d bytes, %14d allocated" % (os.path.basename(f),
          st.st_size, st.st_blocks * 512))
EOF
}

# check_output: the output the last run left is the same guest
check_output() {
    [ -n "$CASE_OUT" ] && [ -f "$CASE_OUT" ] || return 0
    "$FIXEDRAM" checksum "$CASE_OUT" > "$DIR/out.sum"
    if cmp -s "$DIR/ref.sum" "$DIR/out.sum"; then
        CHECKED="$CHECKED $CASE_LABEL($CASE_PATH)"
    else
        die "$CASE_LABEL ($CASE_PATH): output checksums differ from input"
    fi
}

# sparse_output CASE: whether the case writes a sparse file (an image, or
# guest RAM with holes), which cp of the input cannot stand for: cp of a
# dense input writes no holes
sparse_output() {
    case $1 in
    s2i | s2i-pipe | extract-* | compact-image) return 0 ;;
    *) return 1 ;;
    esac
}

# make_ref_output: DIR/ref.out, the current case's output, for cp-output
# (written out by sync, untimed)
make_ref_output() {
    local o=()
    [ "${NOSYNC[$CASE_CMD]}" = no ] || o=(--no-sync)
    rm -rf "$CASE_OUT" "$DIR/ref.out"
    "$FIXEDRAM" -q "$CASE_CMD" ${o[@]+"${o[@]}"} "${CASE_ARGS[@]}" \
        < "${CASE_IN[0]}" > /dev/null
    mv "$CASE_OUT" "$DIR/ref.out"
    sync
}

# scenario_table SCENARIO GUEST CACHES: every case, every variant, each
# cache state
scenario_table() {
    local scen=$1 guest=$2 caches=$3 gb cache name v vs
    gb=$(guest_bytes "$guest")
    for cache in $caches; do
        say ""
        if [ "$scen" = worst ]; then
            say "== WORST CASE (isolated zero pages at random), guest" \
                "$guest, $cache cache, median of $RUNS"
        elif [ "$scen" = live ]; then
            say "== busy live guest $guest ($LIVE_RESEND resent pages/GiB," \
                "at random), $cache cache, median of $RUNS"
        else
            say "== realistic guest $guest, $cache cache, median of $RUNS"
        fi
        table_header
        CHECKED=''
        for name in "${CASES[@]}"; do
            set_case "$name" "$DIR/in.stream" "$DIR/in.img"
            case $CASE_KIND in
            write)
                vs=(cp cp+fsync default)
                if [ "${NOSYNC[$CASE_CMD]}" = yes ]; then vs+=(no-sync); fi
                ;;
            pipe) vs=('cat|cat' 'cat|cat+fsync' default no-sync) ;;
            read) vs=(cat default) ;;
            sum) vs=(xxh128sum default) ;;
            esac
            if sparse_output "$name"; then
                make_ref_output
                vs=("${vs[@]:0:2}" cp-output cp-output+fsync "${vs[@]:2}")
            fi
            bench_case "$scen" "$guest" "$cache" "${vs[@]}"
            [ "$cache" = cold ] || check_output
            [ -z "$CASE_OUT" ] || rm -rf "$CASE_OUT"
            in_bytes
            for v in "${vs[@]}"; do
                emit "$scen" "$cache" "$guest" "$gb" "$v" ''
            done
            if sparse_output "$name"; then
                emit "$scen" "$cache" "$guest" "$gb" default '' \
                    cp-output+fsync
                [ "${NOSYNC[$CASE_CMD]}" = no ] ||
                    emit "$scen" "$cache" "$guest" "$gb" no-sync '' cp-output
                rm -rf "$DIR/ref.out"
            fi
        done
        [ "$cache" = cold ] ||
            say "outputs with the input's checksums:$CHECKED"
    done
}

# scaling_table GUEST: --threads=N for every command that has it
scaling_table() {
    local guest=$1 gb name v vs=() t
    gb=$(guest_bytes "$guest")
    for t in "${THREADS[@]}"; do vs+=("threads=$t"); done
    say ""
    say "== thread scaling, realistic guest $guest, warm cache, median of" \
        "$RUNS; speedup over --threads=1"
    say "$(printf '%-24s %-12s %-8s %7s %12s %8s %9s %8s %8s' command path \
        variant threads bytes-in seconds MB/s speedup RSS-MiB)"
    for name in "${CASES[@]}"; do
        set_case "$name" "$DIR/in.stream" "$DIR/in.img"
        [ "${THREADED[$CASE_CMD]}" = yes ] || continue
        [ "$CASE_KIND" != pipe ] || continue    # the same work as s2i
        bench_case realistic "$guest" warm "${vs[@]}"
        check_output
        [ -z "$CASE_OUT" ] || rm -rf "$CASE_OUT"
        in_bytes
        for v in "${vs[@]}"; do
            emit realistic warm "$guest" "$gb" "$v" "${v#threads=}"
        done
    done
    local none=''
    for c in convert checksum verify extract compact diff inspect; do
        [ "${THREADED[$c]}" = yes ] || none="$none $c"
    done
    say "no --threads (not scaled):${none:- none}"
}

# ---- the run ---------------------------------------------------------------

CPU=$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | sed 's/.*: //')
RAM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
FS=$(df -T "$DIR" | awk 'NR == 2 { print $2 }')
KERNEL="$(uname -s) $(uname -r)"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(git -C "$SRCDIR" describe --always --dirty 2> /dev/null || echo '?')
MACHINE="${CPU:-unknown CPU}, $NPROC CPUs, $RAM RAM, $FS, $KERNEL"

say "fixedram benchmark suite, $DATE"
say "machine: $MACHINE"
say "fixedram: $FIXEDRAM_BUILT ($("$FIXEDRAM" --version | head -n 1)," \
    "source $REV)"
say "scratch: $DIR ($(df -h "$DIR" | awk 'NR == 2 { print $4 }') free)"
say "guests: ${SIZES[*]}; zero $ZERO% in runs of $ZERO_RUN pages on" \
    "average; low-entropy $LOW% of data pages; $RESEND resent pages/GiB"
if [ "$COLD" = yes ]; then
    say "cold cache too: ${COLD_SIZES[*]:-none}"
else
    say "cold cache: no"
fi
say "free page reporting to the host: $PAGE_REPORTING"
say "--no-sync: $(for c in convert compact extract; do
    printf '%s=%s ' "$c" "${NOSYNC[$c]}"; done)"
say "threads: $(for c in convert checksum verify extract compact; do
    printf '%s=%s ' "$c" "${THREADED[$c]}"; done)(counts ${THREADS[*]})"

for guest in "${SIZES[@]}"; do
    say ""
    make_inputs realistic "$guest"
    scenario_table realistic "$guest" "$(caches "$guest")"
    if [ "$guest" = "$SCALE" ]; then
        scaling_table "$guest"
        SCALE=''
    fi
done
if [ -n "$SCALE" ]; then
    say ""
    make_inputs realistic "$SCALE"
    scaling_table "$SCALE"
fi
if [ -n "$LIVE" ]; then
    say ""
    make_inputs live "$LIVE"
    scenario_table live "$LIVE" warm
fi
if [ -n "$WORST" ]; then
    say ""
    make_inputs worst "$WORST"
    scenario_table worst "$WORST" warm
fi
rm -f "$DIR/in.stream" "$DIR/in.img"

# Summary: fixedram against its baseline, per guest.
say ""
say "== summary: fixedram time / baseline time (warm cache; < 1 is faster)"
python3 - "$CSV" << 'EOF' | tee -a "$TXT"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))
        if r["tool"] == "fixedram" and not r["threads"]
        and r["cache"] == "warm"]
cols, keys = [], []
for r in rows:
    c = (r["scenario"], r["guest"])
    k = (r["command"], r["path"], r["variant"], r["baseline"])
    if c not in cols:
        cols.append(c)
    if k not in keys:
        keys.append(k)
val = {((r["scenario"], r["guest"]), (r["command"], r["path"],
        r["variant"], r["baseline"])): r["ratio"] for r in rows}
print("%-24s %-12s %-8s %-15s" % ("command", "path", "variant", "vs") +
      "".join(" %10s" % (g if s == "realistic" else g + "-" + s)
              for s, g in cols))
for k in keys:
    print("%-24s %-12s %-8s %-15s" % k + "".join(
        " %10s" % (val[(c, k)] + "x" if val.get((c, k)) else "-")
        for c in cols))
EOF

ELAPSED=$(( $(date +%s) - START ))
say ""
say "elapsed: $((ELAPSED / 60)) min $((ELAPSED % 60)) s"

python3 "$HERE/chart.py" --machine "$MACHINE" --date "$DATE" \
    --source "$REV" "$CSV" "$DIR/chart.svg"
mkdir -p "$OUT"
cp "$CSV" "$TXT" "$DIR/chart.svg" "$OUT/"
echo "bench-suite: wrote $OUT/results.csv, results.txt and chart.svg" >&2

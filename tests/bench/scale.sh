#!/bin/sh
# Scale check (not part of make check): a guest of SIZE (default 256G)
# with about 1% real data goes through every command; prints wall time and
# peak RSS of each, checks the RSS bound (64 MiB + one bit per guest page)
# and that all layouts checksum alike.
#
#   tests/bench/scale.sh [SIZE] [DATA_PERCENT]     (run from a build dir;
#                                                   SIZE in GiB: 256G)
#   BENCH_DIR=/big/disk tests/bench/scale.sh 256G 1
set -eu
size=${1:-256G}
pct=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$PWD}
F=$build/fixedram
dir=${BENCH_DIR:-$(mktemp -d /var/tmp/fr-scale.XXXXXX)}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
[ -x "$F" ] || { echo "run from a build dir" >&2; exit 1; }
command -v /usr/bin/time > /dev/null || { echo "needs GNU time" >&2; exit 1; }

pages=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)([KMGT]?)', sys.argv[1]); print(int(m[1]) * 1024**' KMGT'.index(m[2] or ' ') // 4096)" "$size")
bound_kib=$((64 * 1024 + pages / 8 / 1024))
fail=0

run() {
    name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$dir/time" "$@" > "$dir/$name.out"
    read -r secs kib < "$dir/time"
    ok=ok
    [ "$kib" -le "$bound_kib" ] || { ok="OVER BOUND"; fail=1; }
    printf '%-26s %8s s %8s KiB peak RSS  %s\n' "$name" "$secs" "$kib" "$ok"
}

echo "guest $size ($pages pages), ${pct}% data; RSS bound $bound_kib KiB;" \
     "$(nproc) CPUs, $(free -g | awk '/Mem/ {print $2}') GiB RAM"
echo "scratch: $dir ($(df -h "$dir" | awk 'NR==2 {print $4}') free)"
gib=${size%G}
/usr/bin/time -f "generator: %e s" \
    python3 "$here/mkbig.py" "$gib" "$pct" 20000 "$dir/s.bin"
ls -ls "$dir/s.bin" | awk '{printf "stream: %.0f bytes, %.0f KiB allocated\n", $6, $1}'

run inspect-stream "$F" inspect "$dir/s.bin"
run stream-to-image "$F" convert stream-to-image "$dir/s.bin" "$dir/s.img"
ls -ls "$dir/s.img" | awk '{printf "image: %.0f bytes, %.0f KiB allocated\n", $6, $1}'
run image-to-stream "$F" convert image-to-stream "$dir/s.img" "$dir/b.bin"
run checksum-stream "$F" checksum "$dir/s.bin"
cp "$dir/checksum-stream.out" "$dir/a.sum"
run checksum-image "$F" checksum "$dir/s.img"
cp "$dir/checksum-image.out" "$dir/b.sum"
run checksum-back "$F" checksum "$dir/b.bin"
run verify-deep-image "$F" verify --deep "$dir/s.img"
run verify-stream "$F" verify "$dir/s.bin"
run extract-image "$F" extract -o "$dir/x" "$dir/s.img"
ls -ls "$dir/x/pc.ram" | awk '{printf "extracted pc.ram: %.0f bytes, %.0f KiB allocated\n", $6, $1}'
rm -rf "$dir/x"
run extract-stream "$F" extract -o "$dir/x" "$dir/s.bin"
rm -rf "$dir/x"
run compact-stream "$F" compact "$dir/s.bin" "$dir/c.bin"
run compact-image "$F" compact "$dir/s.img" "$dir/c.img"
rm -f "$dir/c.bin" "$dir/c.img"
run diff-stream-image "$F" diff "$dir/s.bin" "$dir/s.img"

if cmp -s "$dir/a.sum" "$dir/b.sum" &&
   cmp -s "$dir/a.sum" "$dir/checksum-back.out"; then
    echo "checksums: stream, image and stream converted back agree"
else
    echo "checksums DIFFER"
    fail=1
fi
exit $fail

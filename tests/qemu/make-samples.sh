#!/bin/sh
# make-samples.sh OUTDIR - write the team's reference migration files with a
# real QEMU, check that each one loads back to the same guest RAM, and print
# a summary line per file.
#
# For each NAME: NAME.bin (the file), NAME.stats.json (final query-migrate
# reply of the source), NAME.ram (source guest RAM 0..128M: before the save
# for a paused guest, after completion for a live one).  All use -M pc -m 128M
# and an 8 MiB random blob (OUTDIR/blob.bin, kept if present) at 0x2000000.
#
#   classic  classic,            paused      live   classic,    live guest
#   mapped   mapped-ram,         paused      xbz    xbzrle,     live guest
#   mfd      mapped-ram+multifd, paused      mlive  mapped-ram, live guest
#
# Exit 77 when QEMU >= 9.0, python3 or the guest toolchain is missing.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
QEMU_LIB_DIR=$(cd "$(dirname "$0")" && pwd)
. "$QEMU_LIB_DIR/lib-qemu.sh"
qemu_require

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/fr-samples.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
qemu_build_guest "$work/guest"

blob=$out/blob.bin
if [ ! -f "$blob" ] || [ "$(wc -c < "$blob")" -ne 8388608 ]; then
    head -c 8388608 /dev/urandom > "$blob"
fi

rc=0
for spec in classic:classic:paused mapped:mapped-ram:paused \
            mfd:mapped-ram-multifd:paused live:classic:live \
            xbz:xbzrle:live mlive:mapped-ram:live; do
    name=${spec%%:*}; rest=${spec#*:}; mode=${rest%%:*}; guest=${rest#*:}
    "$PYTHON" "$FRQEMU" save --mode="$mode" --guest="$guest" \
        --out="$out/$name.bin" --stats="$out/$name.stats.json" \
        --blob="$blob" --blob-addr=0x2000000 --dump="$out/$name.ram"
    "$PYTHON" "$FRQEMU" restore --in="$out/$name.bin" --dump="$work/r.ram"
    if qemu_cmp_ram "$out/$name.ram" "$work/r.ram"; then
        verdict=restores-identical
    else
        verdict=MISMATCH; rc=1
    fi
    "$PYTHON" - "$out/$name" "$verdict" <<'EOF'
import json, os, sys
base, verdict = sys.argv[1], sys.argv[2]
info = json.load(open(base + ".stats.json"))
r = info["ram"]
st = os.stat(base + ".bin")
print("%-7s size=%d alloc=%dK total=%d normal=%d duplicate=%d "
      "transferred=%d dirty-sync-count=%d xbzrle-pages=%s %s"
      % (os.path.basename(base), st.st_size, st.st_blocks // 2,
         r["total"], r["normal"], r["duplicate"], r["transferred"],
         r["dirty-sync-count"], info.get("xbzrle-cache", {}).get("pages", "-"),
         verdict))
EOF
done
exit $rc

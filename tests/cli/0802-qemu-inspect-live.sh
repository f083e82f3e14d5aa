#!/bin/sh
# inspect of live saves: the test guest keeps rewriting 8 MiB of its RAM
# while a real QEMU saves it (classic and xbzrle), so pages are sent several
# times.  The record counts must match QEMU's query-migrate statistics and an
# independent record counter (tests/qemu/ram-records.py):
#   records.page == ram.normal, records.zero == ram.duplicate,
#   records.resent > 0 and == page + zero + xbzrle - pages (all pages sent),
#   xbzrle: records.xbzrle > 0 and <= xbzrle-cache.pages - overflow.
# (Since QEMU 5.1 xbzrle-cache.pages also counts cache hits whose page had
# not changed and was skipped, so it is an upper bound, not the record count.)
. "$TESTS_SRCDIR/lib.sh"
use_qemu
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

for mode in classic xbzrle; do
    "$PYTHON" "$FRQEMU" save --guest=live --mode=$mode --out=$mode.bin \
        --stats=$mode.stats --timeout=90 ||
        fail "QEMU live save ($mode) failed"
    $FIXEDRAM inspect --output=json $mode.bin > $mode.json ||
        fail "fixedram inspect $mode.bin failed"
    python3 "$TESTS_SRCDIR/qemu/ram-records.py" $mode.bin > $mode.rr ||
        fail "ram-records.py cannot read QEMU's $mode stream"
    python3 - $mode.json $mode.stats $mode.rr $mode <<'PY' ||
import json, sys
d, q, r = (json.load(open(p)) for p in sys.argv[1:4])
mode = sys.argv[4]
ram, rec, blocks = q["ram"], d["records"], d["ramblocks"]
errs = []
def eq(what, got, want):
    if got != want:
        errs.append("%s: inspect says %r, expected %r" % (what, got, want))
eq("format", d["format"], "stream")
eq("ram_total vs QEMU ram.total", d["ram_total"], ram["total"])
eq("sum of lengths vs QEMU ram.total", sum(b["length"] for b in blocks),
   ram["total"])
eq("records.page vs QEMU ram.normal", rec["page"], ram["normal"])
eq("records.zero vs QEMU ram.duplicate", rec["zero"], ram["duplicate"])
pages = ram["total"] // 4096
eq("sum(absent)", sum(b["absent"] for b in blocks), 0)
for b in blocks:
    eq("%s present+zero+absent" % b["name"],
       b["present"] + b["zero"] + b["absent"], b["length"] // 4096)
    eq("%s per-block records" % b["name"],
       sum(b["records"][k] for k in ("page", "zero", "xbzrle")) -
       b["records"]["resent"], b["present"] + b["zero"] + b["absent"])
for k in ("page", "zero", "xbzrle", "resent"):
    eq("records.%s = sum over blocks" % k,
       sum(b["records"][k] for b in blocks), rec[k])
if rec["resent"] <= 0:
    errs.append("records.resent is %r, expected > 0 (live save)" % rec["resent"])
eq("records.resent = page + zero + xbzrle - pages", rec["resent"],
   rec["page"] + rec["zero"] + rec["xbzrle"] - pages)
if mode == "xbzrle":
    xc = q["xbzrle-cache"]
    if not 0 < rec["xbzrle"] <= xc["pages"] - xc["overflow"]:
        errs.append("records.xbzrle %d not in (0, xbzrle-cache.pages %d - "
                    "overflow %d]" % (rec["xbzrle"], xc["pages"], xc["overflow"]))
else:
    eq("records.xbzrle", rec["xbzrle"], 0)
eq("records vs ram-records.py", {k: rec[k] for k in r["records"]}, r["records"])
eq("ramblocks vs ram-records.py",
   [{k: b[k] for k in ("name", "length", "present", "zero", "absent")}
    for b in blocks], r["ramblocks"])
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
        fail "inspect of QEMU's live $mode save disagrees with QEMU"
done
exit 0

#!/bin/sh
# Issue "inspect reports exactly QEMU's own figures": a paused 128 MiB pc
# guest holding an 8 MiB random blob at 0x2000000 is saved by a real QEMU
# (migrate file:) as a classic stream, a mapped-ram image and a mapped-ram +
# multifd image; `fixedram inspect --output=json` must agree with QEMU's own
# query-migrate statistics, with the vmdesc QEMU appended, and with an
# independent record counter (tests/qemu/ram-records.py).  The classic file
# must give the same figures through a pipe and zstd-compressed, the
# mapped-ram image through a pipe, and a mapped-ram image written at
# file:PATH,offset=0x1005c the same figures with stream_offset 0x1005c.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
command -v zstd > /dev/null || skip "zstd not installed"

head -c 8388608 /dev/urandom > blob.bin

# save MODE OUT [frqemu save options]: OUT and OUT.stats (query-migrate).
save() {
    _mode=$1 _out=$2
    shift 2
    "$PYTHON" "$FRQEMU" save --mode="$_mode" --out="$_out" \
        --stats="$_out.stats" --blob=blob.bin --blob-addr=0x2000000 \
        --timeout=60 "$@" || fail "QEMU save ($_mode $*) failed"
}

# inspect FILE JSON: inspect --output=json FILE into JSON ("-": stdin).
inspect() {
    $FIXEDRAM inspect --output=json "$1" > "$2" ||
        fail "fixedram inspect $1 failed"
}

cat > check.py <<'PY'
import json, os, sys

errs = []
def eq(what, got, want):
    if got != want:
        errs.append("%s: inspect says %r, expected %r" % (what, got, want))

def core(d):
    """The figures that must not depend on how the file is read."""
    return {
        "machine": d["machine"], "capabilities": d["capabilities"],
        "page_size": d["page_size"], "ram_total": d["ram_total"],
        "format": d["format"], "version": d["version"],
        "ramblocks": [(b["name"], b["length"], b["pages"], b["present"],
                       b["zero"], b["absent"], b.get("records"))
                      for b in d["ramblocks"]],
        "records": d["records"],
        "devices": [(x["id"], x["name"], x["instance"], x["version"],
                     x["type"], x["size"]) for x in d["devices"]],
        "device_bytes": d["device_bytes"],
        "commands": [(c["name"], c["cmd"], c["length"]) for c in d["commands"]],
        "vmdesc_length": d["vmdesc"] and d["vmdesc"]["length"],
    }

def check(path, ij, stats, kind, qemu_version):
    d = json.load(open(ij))
    ram = json.load(open(stats))["ram"]
    st = os.stat(path)
    eq("file_size", d["file_size"], st.st_size)
    eq("allocated_size", d["allocated_size"], st.st_blocks * 512)
    eq("container", d["container"], None)
    eq("compression", d["compression"], None)
    eq("format", d["format"], "stream" if kind == "classic" else "mapped-ram")
    if not str(d["machine"]).startswith("pc-i440fx-"):
        errs.append("machine %r does not start with pc-i440fx-" % d["machine"])
    eq("capabilities", d["capabilities"],
       [] if kind == "classic" else ["mapped-ram"])
    eq("version", d["version"], 3)
    eq("page_size", d["page_size"], 4096)
    eq("page_size vs QEMU", d["page_size"], ram["page-size"])
    eq("stream_offset", d["stream_offset"], 0)
    eq("trailing_bytes", d["trailing_bytes"], 0)
    eq("stream_end", d["stream_end"], st.st_size)
    blocks = d["ramblocks"]
    eq("first block", (blocks[0]["name"], blocks[0]["length"]),
       ("pc.ram", 128 << 20))
    eq("ram_total vs QEMU ram.total", d["ram_total"], ram["total"])
    eq("sum of ramblocks[].length vs QEMU ram.total",
       sum(b["length"] for b in blocks), ram["total"])
    eq("sum(present) vs QEMU ram.normal",
       sum(b["present"] for b in blocks), ram["normal"])
    eq("sum(zero) vs QEMU ram.duplicate",
       sum(b["zero"] for b in blocks), ram["duplicate"])
    eq("sum(absent)", sum(b["absent"] for b in blocks), 0)
    for b in blocks:
        n = b["length"] // 4096
        eq("%s pages" % b["name"], b["pages"], n)
        eq("%s present+zero+absent" % b["name"],
           b["present"] + b["zero"] + b["absent"], n)
    rec = d["records"]
    if kind == "classic":
        eq("records.page vs QEMU ram.normal", rec["page"], ram["normal"])
        eq("records.zero vs QEMU ram.duplicate", rec["zero"], ram["duplicate"])
        eq("records.xbzrle", rec["xbzrle"], 0)
        eq("records.resent", rec["resent"], 0)
        for b in blocks:    # paused guest: every page sent exactly once
            eq("%s records" % b["name"],
               (b["records"]["page"], b["records"]["zero"],
                b["records"]["xbzrle"], b["records"]["resent"]),
               (b["present"], b["zero"], 0, 0))
    else:
        eq("records (mapped-ram)",
           (rec["page"], rec["zero"], rec["xbzrle"], rec["resent"]),
           (0, 0, 0, 0))
        for b in blocks:
            eq("%s mapped_ram_version" % b["name"], b["mapped_ram_version"], 1)
            eq("%s stray_bits" % b["name"], b["stray_bits"], 0)
            eq("%s pages_offset %% 1 MiB" % b["name"],
               b["pages_offset"] % (1 << 20), 0)
    # The device sections are exactly those QEMU describes in its vmdesc.
    if d["vmdesc"] is None:
        errs.append("no vmdesc reported")
    else:
        with open(path, "rb") as f:
            f.seek(d["stream_end"] - d["vmdesc"]["length"])
            vm = json.loads(f.read(d["vmdesc"]["length"]))
        eq("devices (name, instance) vs QEMU's vmdesc",
           [(x["name"], x["instance"]) for x in d["devices"]],
           [(x["name"], x["instance_id"]) for x in vm["devices"]])
        eq("device versions vs QEMU's vmdesc",
           [x["version"] for x in d["devices"]],
           [x["version"] for x in vm["devices"]])
    eq("device types", sorted(set(x["type"] for x in d["devices"])), ["full"])
    eq("device_bytes", d["device_bytes"], sum(x["size"] for x in d["devices"]))
    if qemu_version.startswith("10.0."):
        # observed with QEMU 10.0.2 (FORMAT.md section 9)
        eq("number of device sections", len(d["devices"]), 30)
        eq("ramblocks", [(b["name"], b["length"]) for b in blocks],
           [("pc.ram", 0x8000000), ("/rom@etc/acpi/tables", 0x20000),
            ("pc.bios", 0x40000), ("pc.rom", 0x20000),
            ("/rom@etc/table-loader", 0x1000), ("/rom@etc/acpi/rsdp", 0x1000)])

def same(a, b, what, compression, stream_offset):
    da, db = json.load(open(a)), json.load(open(b))
    ca, cb = core(da), core(db)
    for k in ca:
        eq("%s: %s" % (what, k), cb[k], ca[k])
    eq("%s: compression" % what, db["compression"], compression)
    eq("%s: stream_offset" % what, db["stream_offset"], stream_offset)
    if b.endswith(".pipe.json"):
        eq("%s: file_size" % what, db["file_size"], None)

def records(ij, rr):
    d, r = json.load(open(ij)), json.load(open(rr))
    eq("records vs ram-records.py",
       {k: d["records"][k] for k in r["records"]}, r["records"])
    eq("ramblocks vs ram-records.py",
       [{k: b[k] for k in ("name", "length", "present", "zero", "absent")}
        for b in d["ramblocks"]], r["ramblocks"])

cmd = sys.argv[1]
if cmd == "check":
    check(*sys.argv[2:])
elif cmd == "same":
    a, b, what, comp, off = sys.argv[2:]
    same(a, b, what, None if comp == "null" else comp, int(off, 0))
else:
    records(*sys.argv[2:])
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY

# ---- the three layouts, against QEMU's statistics and vmdesc
save classic classic.bin
save mapped-ram mapped.bin
save mapped-ram-multifd mfd.bin
for f in classic mapped mfd; do
    inspect $f.bin $f.json
    kind=mapped
    [ $f = classic ] && kind=classic
    python3 check.py check $f.bin $f.json $f.bin.stats $kind "$QEMU_VERSION" ||
        fail "inspect of QEMU's $f save disagrees with QEMU"
done
# Same guest, same RAM, same devices: the three agree block by block.
python3 - classic.json mapped.json mfd.json <<'PY' || fail "layouts disagree"
import json, sys
ds = [json.load(open(p)) for p in sys.argv[1:]]
key = lambda d: ([(b["name"], b["length"], b["present"], b["zero"])
                  for b in d["ramblocks"]], d["machine"],
                 [(x["name"], x["instance"]) for x in d["devices"]])
assert key(ds[0]) == key(ds[1]) == key(ds[2]), [key(d) for d in ds]
PY

# ---- an independent reader counts the same records in the classic file
python3 "$TESTS_SRCDIR/qemu/ram-records.py" classic.bin > classic.rr ||
    fail "ram-records.py cannot read QEMU's classic stream"
python3 check.py records classic.json classic.rr ||
    fail "inspect and ram-records.py disagree on classic.bin"

# ---- the classic file through a pipe, zstd-compressed (file and pipe)
# (cat, not <: stdin must be a real pipe, not a seekable file)
cat classic.bin | $FIXEDRAM inspect --output=json - > classic.pipe.json ||
    fail "inspect - of the classic stream failed"
python3 check.py same classic.json classic.pipe.json "pipe" null 0 ||
    fail "inspect - differs from inspect FILE"
zstd -q -c classic.bin > classic.bin.zst
inspect classic.bin.zst classic.zst.json
python3 check.py same classic.json classic.zst.json "zstd file" zstd 0 ||
    fail "inspect of the zstd copy differs"
cat classic.bin.zst | $FIXEDRAM inspect --output=json - > classic.zst.pipe.json ||
    fail "inspect - of the zstd copy failed"
python3 check.py same classic.json classic.zst.pipe.json "zstd pipe" zstd 0 ||
    fail "inspect - of the zstd copy differs"

# ---- the mapped-ram image through a pipe (regions come in file order)
cat mapped.bin | $FIXEDRAM inspect --output=json - > mapped.pipe.json ||
    fail "inspect - of the mapped-ram image failed"
python3 check.py same mapped.json mapped.pipe.json "mapped-ram pipe" null 0 ||
    fail "inspect - of the mapped-ram image differs"

# ---- human output names every block and the layout
$FIXEDRAM inspect mfd.bin > mfd.txt || fail "inspect (human) failed"
assert_grep '^layout: ' mfd.txt
for b in pc.ram pc.bios /rom@etc/acpi/rsdp; do
    grep -qF -- "$b" mfd.txt || fail "human output does not name $b"
done

# ---- mapped-ram written at file:PATH,offset=0x1005c (QEMU leaves the
# first 0x1005c bytes to its caller; libvirt puts its header there)
save mapped-ram offset.bin --offset=0x1005c
inspect offset.bin offset.json
python3 check.py same mapped.json offset.json "offset=0x1005c" null 0x1005c ||
    fail "inspect of the offset=0x1005c image differs"
exit 0

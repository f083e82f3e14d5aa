#!/bin/sh
# inspect reports exactly what the generator wrote, for every layout,
# container and feature, from a file and through a pipe.
. "$TESTS_SRCDIR/lib.sh"

check() {
    name=$1
    shift
    $MKSTREAM --expect="$name.expect" "$@" "$name.bin" ||
        fail "generator failed for $name"
    $FIXEDRAM inspect --output=json "$name.bin" > "$name.json" ||
        fail "inspect failed on $name"
    python3 "$TESTS_SRCDIR/expect.py" "$name.expect" "$name.json" ||
        fail "inspect of $name differs from the generator"
    # The same through a pipe (no seeking, no vmdesc read ahead).
    cat "$name.bin" | $FIXEDRAM inspect --output=json - > "$name.pipe.json" ||
        fail "inspect - failed on $name"
    python3 "$TESTS_SRCDIR/expect.py" "$name.expect" "$name.pipe.json" ||
        fail "inspect - of $name differs from the generator"
    # The human report names every block.
    $FIXEDRAM inspect "$name.bin" > "$name.txt"
    assert_grep '^layout: ' "$name.txt"
}

check plain --seed=1
check resend --seed=2 --resend=300 --xbzrle=200 --parts=5
check flush --seed=3 --multifd-flush --advise
check nofoot --seed=4 --no-footers
check noconf --seed=5 --no-config --no-switchover
check novmdesc --seed=6 --no-vmdesc
check ignshared --seed=7 --caps=x-ignore-shared --ignored=pc.ram
check zstd --seed=8 --zstd --resend=50
check mapped --seed=9 --layout=mapped-ram
check mapped-live --seed=10 --layout=mapped-ram --resend=200
check mapped-off --seed=11 --layout=mapped-ram --base-offset=65628
check lv-raw --seed=12 --libvirt=raw --domain=guest1
check lv-zstd --seed=13 --libvirt=zstd --xbzrle=20
check lv-sparse --seed=14 --libvirt=sparse
check lv-part --seed=15 --libvirt=raw --libvirt-partial
check lv-swapped --seed=16 --libvirt=raw --libvirt-swapped
for fmt in gzip bzip2 xz lzop; do
    if command -v $fmt > /dev/null; then
        check "lv-$fmt" --seed=17 --libvirt=$fmt --resend=20
    fi
done

# --map: extents cover every page exactly once, in order.
$FIXEDRAM inspect --map --output=json resend.bin > map.json
python3 - map.json <<'PY' || fail "--map extents do not tile the blocks"
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["ramblocks"]:
    pos, counts = 0, {"present": 0, "zero": 0, "absent": 0}
    for e in b["extents"]:
        assert e["start"] == pos, (b["name"], e, pos)
        assert e["length"] > 0
        counts[e["state"]] += e["length"] // d["page_size"]
        pos += e["length"]
    assert pos == b["length"], (b["name"], pos)
    for k, v in counts.items():
        assert v == b[k], (b["name"], k, v, b[k])
PY
$FIXEDRAM inspect --map mapped.bin > map.txt
assert_grep 'present +0x' map.txt

# --xml prints the domain XML as libvirt stored it (up to its NUL), and
# --vmdesc the JSON QEMU appended, from a file or a pipe; each refuses a
# file without one.
$FIXEDRAM inspect --xml lv-raw.bin > xml.out
$FIXEDRAM inspect --vmdesc lv-raw.bin > vmdesc.out
python3 - lv-raw.bin lv-raw.json xml.out vmdesc.out <<'PY' ||
import json, sys
data = open(sys.argv[1], "rb").read()
v = json.load(open(sys.argv[2]))["vmdesc"]
xml = data[92:data.index(b"\0", 92)]
assert b"<name>guest1</name>" in xml
def stored(b):
    return b if b.endswith(b"\n") else b + b"\n"
assert open(sys.argv[3], "rb").read() == stored(xml), "xml"
vmdesc = data[v["offset"] + 5:v["offset"] + 5 + v["length"]]
assert vmdesc.startswith(b"{") and vmdesc.endswith(b"}")
assert open(sys.argv[4], "rb").read() == stored(vmdesc), "vmdesc"
PY
    fail "--xml or --vmdesc differs from what the file holds"
$FIXEDRAM inspect --vmdesc lv-zstd.bin > vmdesc.z.out
cat lv-zstd.bin | $FIXEDRAM inspect --vmdesc - > vmdesc.pipe.out
cmp vmdesc.z.out vmdesc.pipe.out || fail "--vmdesc through a pipe"
json_get vmdesc.z.out 'len(d["devices"])' > /dev/null
# --xml reads no payload: the decompressor of a gzip image is stopped
# unfinished, without a word on stderr (it used to race to "Broken pipe")
if command -v gzip > /dev/null; then
    $MKSTREAM --seed=18 --libvirt=gzip --blocks=pc.ram:128M big-gz.bin
    for i in 1 2 3 4 5 6 7 8 9 10; do
        $FIXEDRAM inspect --xml big-gz.bin > /dev/null 2> gz.err
        assert_eq "$(cat gz.err)" "" "stderr of inspect --xml of a gzip image"
    done
fi
expect_code 1 $FIXEDRAM inspect --xml plain.bin 2> noxml.err
assert_grep "^fixedram: plain.bin: not a libvirt save image" noxml.err
expect_code 1 $FIXEDRAM inspect --vmdesc novmdesc.bin 2> novmdesc.err
assert_grep "^fixedram: novmdesc.bin: the stream has no vmdesc JSON" novmdesc.err
expect_code 64 $FIXEDRAM inspect --xml --vmdesc lv-raw.bin

# Not a migration file at all; a missing file; a directory.
printf 'hello world, not a stream\n' > text.txt
expect_code 1 $FIXEDRAM inspect text.txt 2> text.err
assert_grep "^fixedram: text.txt: offset 0x0: not a QEMU migration file" text.err
expect_code 1 $FIXEDRAM inspect missing.bin 2> missing.err
assert_grep "^fixedram: missing.bin: cannot open: No such file" missing.err
expect_code 1 $FIXEDRAM inspect . 2> dir.err
assert_grep "is a directory" dir.err

# 70,000 tiny PART sections of a device and as many commands: beyond
# 65,536 they are counted, not listed, so memory stays bounded.
python3 - many.bin <<'PY'
import struct, sys
footer = b'\x7e' + struct.pack('>I', 1)
out = bytearray(b'QEVM' + struct.pack('>I', 3))
out += (b'\x01' + struct.pack('>IB', 1, 3) + b'dev' +
        struct.pack('>II', 0, 1) + b'\x00' + footer)
for i in range(70000):
    out += b'\x02' + struct.pack('>I', 1) + b'\x00\x01' + footer
    out += b'\x08' + struct.pack('>HH', 11, 0)
out += b'\x03' + struct.pack('>I', 1) + b'\x00' + footer + b'\x00'
open(sys.argv[1], 'wb').write(out)
PY
$FIXEDRAM inspect --output=json many.bin > many.json ||
    fail "inspect failed on many tiny sections"
python3 - many.json <<'PY' || fail "wrong listing of many tiny sections"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["devices"]) == 1 + 65536, len(d["devices"])
assert d["devices"][-1]["name"] == "dev" and d["devices"][-1]["type"] == "part"
assert d["devices_not_listed"] == 70001 - 65536, d["devices_not_listed"]
assert d["device_bytes"] == 2 * 70000 + 2, d["device_bytes"]
assert len(d["commands"]) == 65536 and d["commands_not_listed"] == 4464
PY
$FIXEDRAM inspect many.bin > many.txt
assert_grep '^device sections: 1 \(1 iterative, in 70002 parts\), 140002 bytes' many.txt
assert_grep ' dev  .* 131073 bytes at 0x[0-9a-f]+, 65537 parts$' many.txt
assert_grep '(4465 more part and end sections, not listed)' many.txt
assert_grep '(4464 more, not listed)' many.txt

# The oldest QEMU that restores the file: the machine type's version, and
# for a mapped-ram image at least 9.0 (11.0 with x-ignore-shared); nothing
# without a versioned machine type or a configuration.
min_qemu() { # NAME GENERATOR-OPTIONS...: inspect's min_qemu as text
    _n=$1
    shift
    $MKSTREAM --seed=30 "$@" "$_n.bin"
    $FIXEDRAM inspect --output=json "$_n.bin" > "$_n.json"
    $FIXEDRAM inspect "$_n.bin" > "$_n.txt"
    json_get "$_n.json" 'd["min_qemu"] and "%s (%s)" % (d["min_qemu"]["version"], d["min_qemu"]["reason"])'
}
assert_eq "$(min_qemu mq1 --machine=pc-q35-11.1)" \
    "11.1 (machine type pc-q35-11.1)" "min_qemu of a stream"
assert_grep "^restores in: +QEMU 11\.1 or later \(machine type pc-q35-11\.1\)$" mq1.txt
assert_eq "$(min_qemu mq2 --machine=pc-i440fx-8.2 --layout=mapped-ram)" \
    "9.0 (mapped-ram)" "min_qemu of an image of an older machine type"
assert_eq "$(min_qemu mq3 --machine=pc-i440fx-10.0 --layout=mapped-ram \
    --caps=x-ignore-shared --ignored=shared --blocks=pc.ram:1M,shared:1M)" \
    "11.0 (mapped-ram with x-ignore-shared)" "min_qemu with x-ignore-shared"
assert_eq "$(min_qemu mq4 --machine=virt-10.2 --layout=mapped-ram)" \
    "10.2 (machine type virt-10.2)" "min_qemu: machine type over mapped-ram"
for m in microvm pc-1.0-x; do
    assert_eq "$(min_qemu mq5 --machine=$m)" None "min_qemu of machine $m"
    ! grep -q "^restores in:" mq5.txt || fail "restores in: for machine $m"
done
assert_eq "$(min_qemu mq6 --no-config --no-switchover)" None "min_qemu without a configuration"

# Where the guest sees its RAM (QEMU's default rules, as extract
# --physical): physical_map, and the guest-physical lines; null and no
# lines where the machine type's layout is unknown
$MKSTREAM --seed=31 --machine=pc-q35-10.0 --blocks=vga.vram:1M,pc.ram:8M pm1.bin
$FIXEDRAM inspect --output=json pm1.bin > pm1.json
assert_eq "$(json_get pm1.json 'd["physical_map"]')" \
    "[{'address': 0, 'length': 8388608, 'block': 'pc.ram', 'offset': 0}]" \
    "physical_map of a q35 guest"
$FIXEDRAM inspect pm1.bin > pm1.txt
assert_grep "^guest-physical:  0x0000000000000000-0x00000000007fffff pc.ram \+0x0$" pm1.txt
$MKSTREAM --seed=31 --machine=virt-10.0 --blocks=ram-node1:1M,ram-node0:2M pm2.bin
$FIXEDRAM inspect --output=json pm2.bin > pm2.json
assert_eq "$(json_get pm2.json '[(p["address"], p["block"]) for p in d["physical_map"]]')" \
    "[(1073741824, 'ram-node0'), (1075838976, 'ram-node1')]" \
    "physical_map of an arm virt guest with NUMA blocks"
$MKSTREAM --seed=31 --machine=microvm pm3.bin
$FIXEDRAM inspect --output=json pm3.bin > pm3.json
assert_eq "$(json_get pm3.json 'd["physical_map"]')" None "physical_map of microvm"
$FIXEDRAM inspect pm3.bin > pm3.txt
! grep -q "^guest-physical:" pm3.txt || fail "guest-physical lines for microvm"

# --cpus: no "cpus" key without it; the generator's "cpu" section is not
# described as an x86 vCPU; without a vmdesc nothing places the registers
assert_eq "$(json_get pm3.json '"cpus" in d')" False "cpus without --cpus"
$FIXEDRAM inspect --cpus --output=json pm3.bin > cpus.json
assert_eq "$(json_get cpus.json '[(c["instance"], c["arch"], c["error"]) for c in d["cpus"]]')" \
    "[(0, None, 'neither an x86 nor an Arm vCPU (no field env.regs)')]" "cpus of a synthetic vCPU"
$MKSTREAM --seed=31 --no-vmdesc nodesc.bin
$FIXEDRAM inspect --cpus nodesc.bin > cpus.txt
assert_grep '^vCPU sections:   1$' cpus.txt
assert_grep '^vCPU 0 \(body at 0x[0-9a-f]+\): registers unknown: the file has no vmdesc JSON to place them$' cpus.txt
$MKSTREAM --seed=31 --devices=0 nodev.bin
$FIXEDRAM inspect --cpus --output=json nodev.bin > cpus.json
assert_eq "$(json_get cpus.json '(d["cpus"], d["cpus_not_listed"])')" \
    "([], 0)" "cpus of a file without vCPU sections"
# a vmdesc that cannot be read leaves the registers unknown, saying where
python3 - pm3.bin badesc.bin <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = b.rindex(b'"devices"')
open(sys.argv[2], "wb").write(b[:i] + b'"devicez"' + b[i + 9:])
PY
$FIXEDRAM inspect --cpus badesc.bin > cpus.txt || fail "inspect --cpus badesc.bin"
assert_grep "^vCPU 0 \(body at 0x[0-9a-f]+\): registers unknown: vmdesc: no 'devices' array \(at 0x[0-9a-f]+\)$" cpus.txt

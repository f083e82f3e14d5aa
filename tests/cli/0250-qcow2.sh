#!/bin/sh
# The VM state of qcow2 internal snapshots (as savevm stores it) is read
# by every command, through images written by an independent generator
# (tests/gen/fr-mkqcow2.py): versions 2 and 3, small and big clusters,
# extended L2, zero and unallocated clusters; damaged images fail cleanly.
. "$TESTS_SRCDIR/lib.sh"
MKQCOW2="python3 $TESTS_SRCDIR/gen/fr-mkqcow2.py"

# patch FILE OFFSET BE64|BE32|BYTE VALUE: overwrite a big-endian field
patch() {
    python3 - "$@" <<'PY'
import struct, sys
path, off, kind, val = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], int(sys.argv[4], 0)
fmt = {"BE64": ">Q", "BE32": ">I", "BYTE": ">B"}[kind]
with open(path, "r+b") as f:
    f.seek(off)
    f.write(struct.pack(fmt, val))
PY
}

$MKSTREAM --seed=5 --resend=100 --xbzrle=50 --low-entropy-percent=90 \
    --blocks=pc.ram:4M,pc.bios:256K --dump-dir=ram1 s1
$MKSTREAM --seed=6 --low-entropy-percent=90 \
    --blocks=pc.ram:4M,pc.bios:256K --dump-dir=ram2 s2
$FIXEDRAM checksum s1 > s1.sum
$FIXEDRAM checksum s2 > s2.sum

# ---- choosing the snapshot -------------------------------------------------
# IDs 1 and 3 hold VM states, 2 is disk-only; the snapshot named "3" (ID 5)
# loses to ID 3, as with loadvm
$MKQCOW2 --snapshot=1:before:s1 --snapshot=2:disk: --snapshot=3:after:s2 \
    --snapshot=5:3:s1 --layout=d.json d.qcow2
md5sum d.qcow2 > d.md5
$FIXEDRAM checksum -l before d.qcow2 | cmp - s1.sum || fail "-l before"
$FIXEDRAM checksum --snapshot=1 d.qcow2 | cmp - s1.sum || fail "-l 1"
$FIXEDRAM checksum -l after d.qcow2 | cmp - s2.sum || fail "-l after"
$FIXEDRAM checksum -l 3 d.qcow2 | cmp - s2.sum || fail "-l 3 (ID first)"
expect_code 64 $FIXEDRAM checksum d.qcow2 2> e
assert_grep "^fixedram: d.qcow2: 3 snapshots hold a VM state \(1 'before', 3 'after', 5 '3'\): choose one with --snapshot$" e
expect_code 1 $FIXEDRAM inspect -l disk d.qcow2 2> e
assert_grep "^fixedram: d.qcow2: snapshot 2 'disk' holds no VM state \(a disk-only snapshot\)$" e
expect_code 64 $FIXEDRAM extract -o x -l nosuch d.qcow2 2> e
assert_grep "no snapshot 'nosuch' \(snapshots with a VM state: 1 'before', 3 'after', 5 '3'\)" e
expect_code 63 $FIXEDRAM verify -l disk d.qcow2 > e
expect_code 64 $FIXEDRAM verify d.qcow2 2> e
assert_grep "choose one with --snapshot" e
$MKQCOW2 --snapshot=1:disk: --snapshot=2:disk2: disks.qcow2
expect_code 63 $FIXEDRAM verify disks.qcow2 > e
assert_grep "qcow2 image without a VM state: none of its 2 snapshots holds one" e
$MKQCOW2 none.qcow2
expect_code 1 $FIXEDRAM inspect none.qcow2 2> e
assert_grep "^fixedram: none.qcow2: qcow2 image without snapshots, so without a VM state$" e
# not for other inputs, nor from a pipe
expect_code 64 $FIXEDRAM checksum -l before s1 2> e
assert_grep "^fixedram: s1: --snapshot selects a snapshot of a qcow2 image, and this is not one$" e
cat d.qcow2 | expect_code 1 $FIXEDRAM checksum -l before - 2> e
assert_grep "^fixedram: -: offset 0x0: a qcow2 image is read from a file, not a pipe" e

# ---- every command ------------------------------------------------------------
$MKQCOW2 --snapshot=1:only:s1 --snapshot=2:disk: one.qcow2
$FIXEDRAM inspect one.qcow2 > i.txt
assert_grep "^container: +qcow2 image, version 3, 64 KiB clusters, 64 MiB disk$" i.txt
assert_grep "^snapshot: +1 'only', taken 2026-11-23 02:13:20 UTC, VM clock 0.000 s \(1 of 2 hold a VM state\)$" i.txt
assert_grep "^VM state: +$(wc -c < s1) bytes" i.txt
$FIXEDRAM inspect --output=json one.qcow2 > i.json
assert_eq "$(json_get i.json "d['container']['type'], d['container']['snapshot']['name'], d['container']['snapshot']['vmstate_size'] == $(wc -c < s1), [s['vmstate_size'] > 0 for s in d['container']['snapshots']]")" \
    "qcow2 only True [True, False]" "inspect JSON"
$FIXEDRAM inspect --output=json s1 > s1.json
assert_eq "$(json_get i.json "d['ramblocks']")" "$(json_get s1.json "d['ramblocks']")" \
    "inspect ramblocks of the snapshot"
$FIXEDRAM verify one.qcow2 > v.txt || fail "verify"
assert_grep "clean" v.txt
$FIXEDRAM verify --checksums=s1.sum one.qcow2 > /dev/null || fail "verify --checksums"
same_ram ram1 one.qcow2
$FIXEDRAM extract -q --physical=one.phys -l only one.qcow2
cmp one.phys ram1/000.ram || fail "extract --physical of the snapshot"
$FIXEDRAM convert stream-to-image s1 s1.img
$FIXEDRAM convert stream-to-image -p one.qcow2 one.img 2> p.txt
check_progress p.txt
cmp one.img s1.img || fail "stream-to-image of the snapshot"
$FIXEDRAM compact s1 s1.c > /dev/null
$FIXEDRAM compact one.qcow2 one.c > /dev/null
cmp one.c s1.c || fail "compact of the snapshot"
expect_code 1 $FIXEDRAM convert image-to-stream one.qcow2 x.st 2> e
assert_grep "is a classic stream" e
# diff: twice, A's then B's; once, for the qcow2 inputs only
expect_code 1 $FIXEDRAM diff -q -l before -l after d.qcow2 d.qcow2 > /dev/null
$FIXEDRAM diff -l before -l 5 d.qcow2 d.qcow2 > /dev/null || fail "diff of equal snapshots"
$FIXEDRAM diff -l after s2 d.qcow2 > /dev/null || fail "diff -l with B the qcow2"
$FIXEDRAM diff -l after d.qcow2 s2 > /dev/null || fail "diff -l with A the qcow2"
expect_code 2 $FIXEDRAM diff -l after s1 s2 2> e
assert_grep "^fixedram: s1: --snapshot selects" e
md5sum -c --quiet d.md5 || fail "an input changed"

# ---- layouts: versions, cluster sizes, extended L2, zeros ----------------------
for opts in "--version=2" "--cluster-bits=9" "--cluster-bits=21" \
        "--extended-l2 --reverse" "--extended-l2 --cluster-bits=14" \
        "--zeros=data --reverse" "--zeros=flag --cluster-bits=9" \
        "--cluster-bits=12 --disk-size=1000000"; do
    # shellcheck disable=SC2086
    $MKQCOW2 $opts --snapshot=1:a:s2 v.qcow2
    $FIXEDRAM checksum v.qcow2 | cmp - s2.sum || fail "checksum with $opts"
done
$MKQCOW2 --cluster-bits=9 --snapshot=1:a:s2 --layout=z.json z.qcow2
nz=$(json_get z.json "-(-d['snapshots'][0]['vmstate_size'] // 512) - len(d['snapshots'][0]['data_offsets'])")
[ "$nz" -gt 10 ] || fail "too few zero clusters to test them ($nz)"

# ---- damaged images -------------------------------------------------------------
l1=$(json_get d.json "d['snapshots'][0]['l1_offset']")
l1i=$(json_get d.json "d['snapshots'][0]['base'] // (65536 * 8192)")
l2=$(json_get d.json "d['snapshots'][0]['l2_offsets'][0]")
data=$(json_get d.json "d['snapshots'][0]['data_offsets'][0]")
entry=$(json_get d.json "d['snapshots'][0]['entry_offset']")
# damaged OFFSET BE64|BE32 VALUE PATTERN: b.qcow2 is d.qcow2 with the field
# at OFFSET set to VALUE; checksum -l before fails (1) with PATTERN on stderr
damaged() {
    cp d.qcow2 b.qcow2
    patch b.qcow2 "$1" "$2" "$3"
    expect_code 1 $FIXEDRAM checksum -l before b.qcow2 2> e
    assert_grep "$4" e
}
damaged "$l2" BE64 $((data | (1 << 62))) \
    "^fixedram: b.qcow2: offset 0x[0-9a-f]+: qcow2 compressed cluster in the VM state: not supported$"
damaged $((l1 + 8 * l1i)) BE64 $((l2 + 512)) \
    "^fixedram: b.qcow2: offset $(printf '0x%x' $((l1 + 8 * l1i))): qcow2 L1 entry: L2 table offset $(printf '0x%x' $((l2 + 512))) is not cluster-aligned$"
expect_code 2 $FIXEDRAM verify -l before b.qcow2 > /dev/null 2>&1
damaged $((l1 + 8 * l1i)) BE64 $((1 << 40)) \
    "^fixedram: b.qcow2: offset 0x10000000000: truncated qcow2 L2 table"
damaged "$l2" BE64 0x8000010000000000 \
    "^fixedram: b.qcow2: offset 0x10000000000: truncated qcow2 cluster of the VM state"
damaged 32 BE32 1 \
    "^fixedram: b.qcow2: offset 0x20: encrypted qcow2 images are not supported$"
damaged 72 BE64 4 \
    "offset 0x48: qcow2 images with an external data file are not supported"
damaged 72 BE64 32 "unknown incompatible features 0x20"
damaged 4 BE32 4 "offset 0x4: qcow2 version 4 is not supported"
damaged 20 BE32 30 "offset 0x14: qcow2 cluster bits 30 out of range"
damaged 60 BE32 100000 "qcow2 image with 100000 snapshots"
damaged $((entry + 8)) BE32 0 \
    "^fixedram: b.qcow2: offset $(printf '0x%x' "$entry"): qcow2 snapshot 'before': its [0-9]+-byte VM state lies beyond its L1 table$"
damaged $((entry + 36)) BE32 5000 "5000 bytes of extra data"
# a VM state that is not a stream
head -c 100000 /dev/urandom > junk
$MKQCOW2 --snapshot=1:junk:junk j.qcow2
expect_code 63 $FIXEDRAM verify j.qcow2 > e
assert_grep "^j.qcow2: error: offset 0x0: the VM state of snapshot 1 'junk' is not a QEMU migration stream$" e
expect_code 1 $FIXEDRAM checksum j.qcow2 2> e
assert_grep "^fixedram: j.qcow2: offset 0x0: the VM state of snapshot 1 'junk' is not a QEMU migration stream$" e
# a truncated header
head -c 50 d.qcow2 > t.qcow2
expect_code 1 $FIXEDRAM checksum -l before t.qcow2 2> e
assert_grep "truncated qcow2 header" e
md5sum -c --quiet d.md5 || fail "an input changed"

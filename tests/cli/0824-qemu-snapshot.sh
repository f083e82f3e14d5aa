#!/bin/sh
# qcow2 internal snapshots made by a real QEMU (HMP savevm into a -blockdev
# qcow2 node, as virt-manager and "virsh snapshot-create" do).
#   - Two snapshots of paused 128 MiB pc guests in one qemu-img image, the
#     second with 5 pages of the 8 MiB blob at 0x2000000 changed: verify
#     is clean; extract -l of pc.ram holds each blob at 0x2000000; diff
#     between the two finds exactly the changed pages; the snapshot,
#     converted to a mapped-ram image and that back to a stream, restores
#     in QEMU to the RAM QEMU dumped before the savevm.
#   - A snapshot of the booted live guest (stopped before savevm) in images
#     with extended L2 (128 KiB clusters) and of version 2 (compat=0.10):
#     converted, it restores identical; checksum of the snapshot equals that
#     of the conversion.
#   - After qemu-img resize past an L1 boundary, the snapshot reads the same.
#   - The images are never modified, and qemu-img check stays clean.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
command -v qemu-img > /dev/null || skip "qemu-img not found (package qemu-utils)"

BLOB_ADDR=0x2000000
head -c 8388608 /dev/urandom > blob.bin
python3 - blob.bin blob2.bin <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for p in (0x10000, 0x11000, 0x400000, 0x7ff000):
    b[p + 99] ^= 0x5a
b[0x500000:0x501000] = bytes(4096)
open(sys.argv[2], "wb").write(b)
PY

savevm() { # DISK TAG DUMP [frqemu options]
    _disk=$1 _tag=$2 _dump=$3
    shift 3
    "$PYTHON" "$FRQEMU" savevm --disk="$_disk" --tag="$_tag" \
        --dump="$_dump" --timeout=90 "$@" ||
        fail "QEMU savevm $_tag into $_disk failed"
}

qemu-img create -q -f qcow2 disk.qcow2 64M
savevm disk.qcow2 first a.src --blob=blob.bin --blob-addr=$BLOB_ADDR
savevm disk.qcow2 second b.src --blob=blob2.bin --blob-addr=$BLOB_ADDR
md5sum disk.qcow2 > disk.md5

$FIXEDRAM inspect --output=json -l first disk.qcow2 > i.json
assert_eq "$(json_get i.json "d['container']['type'], [(s['id'], s['name']) for s in d['container']['snapshots']], d['format']")" \
    "qcow2 [('1', 'first'), ('2', 'second')] stream" "inspect of the snapshots"
expect_code 64 $FIXEDRAM verify disk.qcow2 2> e
assert_grep "2 snapshots hold a VM state \(1 'first', 2 'second'\)" e
for t in first second; do
    $FIXEDRAM verify -l $t disk.qcow2 > v.txt || fail "verify -l $t: $(cat v.txt)"
    assert_grep "stream, clean" v.txt
done

# ---- extract: each blob where QEMU loaded it
for t in first:blob.bin second:blob2.bin; do
    $FIXEDRAM extract -l "${t%%:*}" -o "x-${t%%:*}" --block=pc.ram disk.qcow2 > /dev/null
    python3 - "x-${t%%:*}/pc.ram" "${t#*:}" $BLOB_ADDR <<'PY' ||
import sys
x, blob = (open(p, "rb").read() for p in sys.argv[1:3])
a = int(sys.argv[3], 0)
assert len(x) == 128 << 20, len(x)
assert x[a:a + len(blob)] == blob
PY
        fail "extract -l ${t%%:*}: pc.ram does not hold ${t#*:} at $BLOB_ADDR"
done

# ---- diff: exactly the changed pages
expect_code 1 $FIXEDRAM diff --output=json -l first -l second disk.qcow2 disk.qcow2 > d.json
assert_eq "$(json_get d.json "[(b['name'], b['status'], [(hex(r['start']), r['length']) for r in b['ranges']]) for b in d['ramblocks'] if b['status'] != 'same']")" \
    "[('pc.ram', 'different', [('0x2010000', 8192), ('0x2400000', 4096), ('0x2500000', 4096), ('0x27ff000', 4096)])]" \
    "diff between the snapshots"

# ---- restore: the snapshot as an image, and back as a stream
$FIXEDRAM convert stream-to-image -l first disk.qcow2 first.img
qemu_restore_cmp a.src "the image of snapshot 'first'" --in=first.img
$FIXEDRAM convert image-to-stream first.img first.st
qemu_restore_cmp a.src "the stream of snapshot 'first'" --in=first.st
$FIXEDRAM convert stream-to-image -l 2 disk.qcow2 second.img
qemu_restore_cmp b.src "the image of snapshot 2" --in=second.img

# ---- other layouts: extended L2, version 2; a booted guest
for opts in "extended_l2=on,cluster_size=128k" "compat=0.10"; do
    rm -f o.qcow2 o.img
    qemu-img create -q -f qcow2 -o "$opts" o.qcow2 64M
    savevm o.qcow2 booted o.src --guest=live
    $FIXEDRAM inspect --output=json o.qcow2 > o.json
    assert_eq "$(json_get o.json "d['container']['extended_l2'], d['container']['version']")" \
        "$(case $opts in extended*) echo "True 3";; *) echo "False 2";; esac)" \
        "inspect of the $opts image"
    $FIXEDRAM convert stream-to-image o.qcow2 o.img
    $FIXEDRAM checksum o.qcow2 > o.sum
    $FIXEDRAM checksum o.img | cmp - o.sum || fail "checksum of the $opts snapshot"
    qemu_restore_cmp o.src "the snapshot of the $opts image" --in=o.img
    qemu-img check -q o.qcow2 || fail "qemu-img check of the $opts image"
done

# the disk grown past an L1 boundary after the snapshots: the VM state is
# where the snapshot's own disk size put it
$FIXEDRAM checksum -l first disk.qcow2 > first.sum
cp disk.qcow2 grown.qcow2
qemu-img resize -q grown.qcow2 2G
$FIXEDRAM checksum -l first grown.qcow2 | cmp - first.sum ||
    fail "the snapshot of the resized image"

md5sum -c --quiet disk.md5 || fail "fixedram changed the image"
qemu-img check -q disk.qcow2 || fail "qemu-img check"

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

# Not a migration file at all; a missing file; a directory.
printf 'hello world, not a stream\n' > text.txt
expect_code 1 $FIXEDRAM inspect text.txt 2> text.err
assert_grep "^fixedram: text.txt: offset 0x0: not a QEMU migration file" text.err
expect_code 1 $FIXEDRAM inspect missing.bin 2> missing.err
assert_grep "^fixedram: missing.bin: cannot open: No such file" missing.err
expect_code 1 $FIXEDRAM inspect . 2> dir.err
assert_grep "is a directory" dir.err

#!/bin/sh
# convert both ways keeps every page's final content (checked against the
# generator's own dump of guest RAM), the device state, and the container.
. "$TESTS_SRCDIR/lib.sh"

roundtrip() {
    name=$1
    shift
    $MKSTREAM --dump-dir="$name.ram" --expect="$name.expect" "$@" "$name.in"
    fmt=$(json_get "$name.expect" 'd["format"]')
    if [ "$fmt" = stream ]; then there=stream-to-image back=image-to-stream
    else there=image-to-stream back=stream-to-image; fi
    $FIXEDRAM convert $there "$name.in" "$name.out" || fail "$name: $there"
    $FIXEDRAM convert $back "$name.out" "$name.back" || fail "$name: $back"
    for f in "$name.in" "$name.out" "$name.back"; do
        same_ram "$name.ram" "$f"
    done
    $FIXEDRAM checksum "$name.in" > "$name.sum.in"
    $FIXEDRAM checksum "$name.out" > "$name.sum.out"
    $FIXEDRAM checksum "$name.back" > "$name.sum.back"
    cmp -s "$name.sum.in" "$name.sum.out" || fail "$name: checksums differ after $there"
    cmp -s "$name.sum.in" "$name.sum.back" || fail "$name: checksums differ after $back"
    $FIXEDRAM inspect --output=json "$name.out" > "$name.out.json"
    json_get "$name.out.json" 'd["format"]' > f.txt
    if [ "$fmt" = stream ]; then want=mapped-ram; else want=stream; fi
    assert_eq "$(cat f.txt)" "$want" "$name: layout after $there"
    json_get "$name.out.json" '"mapped-ram" in d["capabilities"]' > c.txt
    assert_eq "$(cat c.txt)" "$([ $want = mapped-ram ] && echo True || echo False)" \
        "$name: mapped-ram capability after $there"
}

roundtrip plain --seed=1
roundtrip live --seed=2 --resend=400 --xbzrle=300 --parts=6
roundtrip flush --seed=3 --multifd-flush --advise --no-switchover
roundtrip nofoot --seed=4 --no-footers --resend=30
roundtrip novmdesc --seed=5 --no-vmdesc
roundtrip zstd --seed=6 --zstd --xbzrle=50
roundtrip zero --seed=7 --zero-percent=100
roundtrip full --seed=8 --zero-percent=0
roundtrip image --seed=9 --layout=mapped-ram
roundtrip image-live --seed=10 --layout=mapped-ram --resend=300
roundtrip image-off --seed=11 --layout=mapped-ram --base-offset=65628
roundtrip lv-raw --seed=12 --libvirt=raw --domain=vm1 --resend=20
roundtrip lv-zstd --seed=13 --libvirt=zstd --domain=vm2
roundtrip lv-sparse --seed=14 --libvirt=sparse --domain=vm3

# The libvirt container follows: raw -> sparse -> raw, zstd with --zstd.
container() {
    $FIXEDRAM inspect --output=json "$1" > ct.json
    json_get ct.json '(d["container"] or {}).get("format")'
}
assert_eq "$(container lv-raw.out)" sparse "libvirt raw -> image"
assert_eq "$(container lv-raw.back)" raw "libvirt image -> stream"
assert_eq "$(container lv-zstd.out)" sparse "libvirt zstd -> image"
$FIXEDRAM convert image-to-stream --zstd=5 lv-sparse.in lv.zst
assert_eq "$(container lv.zst)" zstd "libvirt image -> stream --zstd"
same_ram lv-sparse.ram lv.zst
$FIXEDRAM inspect --output=json lv.zst > lv.json
json_get lv.json 'd["container"]["domain"], d["container"]["complete"]' > dom.txt
assert_eq "$(cat dom.txt)" "vm3 True" "domain and magic kept"
$FIXEDRAM convert image-to-stream --no-container lv-sparse.in bare.stream
assert_eq "$(container bare.stream)" None "--no-container"
same_ram lv-sparse.ram bare.stream

# A first-pass stream in one PART comes back byte for byte.
$MKSTREAM --seed=20 --parts=1 one.stream
$FIXEDRAM convert stream-to-image one.stream one.img
$FIXEDRAM convert image-to-stream one.img one.back
cmp one.stream one.back || fail "stream -> image -> stream is not identical"

# Pipes: a stream from stdin, a stream to stdout.
cat live.in | $FIXEDRAM convert stream-to-image - pipe.img
same_ram live.ram pipe.img
$FIXEDRAM convert image-to-stream image.in - > pipe.stream
same_ram image.ram pipe.stream
cmp pipe.stream image.out || fail "image-to-stream to stdout differs from a file"
# zstd streams in and out
$FIXEDRAM convert image-to-stream --zstd image.in image.zst
$FIXEDRAM inspect --output=json image.zst > z.json
assert_eq "$(json_get z.json 'd["compression"]')" zstd "--zstd output"
same_ram image.ram image.zst

# --bypass-cache (O_DIRECT for the pages regions, buffered where refused)
$FIXEDRAM convert --bypass-cache stream-to-image live.in bc.img
same_ram live.ram bc.img
$FIXEDRAM convert --bypass-cache image-to-stream bc.img bc.stream
same_ram live.ram bc.stream

# x-ignore-shared: the blocks never sent (those QEMU ignored) get no bitmap
# and no pages in the image (offsets 0, as QEMU 11 writes them), and no
# records back in a stream; the image needs QEMU 11, which a note says.
roundtrip ign --seed=22 --resend=40 --caps=x-ignore-shared --ignored=shared \
    --blocks=pc.ram:4M,shared:2M,rom:64K
$FIXEDRAM convert -f stream-to-image ign.in ign.img 2> ign.err
assert_grep "ign.img: note: QEMU loads a mapped-ram image with x-ignore-shared from version 11.0" ign.err
$FIXEDRAM convert -q -f stream-to-image ign.in ign.img 2> ign.err
[ ! -s ign.err ] || fail "-q printed: $(cat ign.err)"
expect_code 0 $FIXEDRAM verify ign.img > /dev/null
shared_layout() {
    $FIXEDRAM inspect --output=json "$1" > "$1.json"
    json_get "$1.json" '[(b["present"], b["zero"], b["absent"], b.get("bitmap_offset"), b.get("pages_offset")) for b in d["ramblocks"] if b["name"] == "shared"]'
}
assert_eq "$(shared_layout ign.img)" "[(0, 0, 512, 0, 0)]" "ignored block in the image"
assert_eq "$(shared_layout ign.back)" "[(0, 0, 512, None, None)]" "ignored block back in a stream"
# the other blocks are laid out as before, from offset 0x100000 on
json_get ign.img.json '[b["pages_offset"] % 1048576 for b in d["ramblocks"] if b["name"] != "shared"]' > ign.off
assert_eq "$(cat ign.off)" "[0, 0]" "pages regions 1 MiB aligned"
# which blocks QEMU ignored is known only at the end of the stream
cat ign.in | expect_code 1 $FIXEDRAM convert stream-to-image - ign2.img 2> ign.err
assert_grep "an x-ignore-shared stream is converted from a file, not a pipe" ign.err
[ ! -e ign2.img ] || fail "output left after a refused pipe"
# ... but a file on standard input is a file
$FIXEDRAM convert -q stream-to-image - ign3.img < ign.in
cmp ign.img ign3.img || fail "x-ignore-shared stream from a redirected file"

# -p: progress on stderr, as qemu-img convert -p, and only there (not in a
# stream written to stdout); -q silences it
$FIXEDRAM convert -p -f stream-to-image live.in prog.img 2> prog.err
check_progress prog.err
cmp prog.img live.out || fail "-p changed the image"
cat live.in | $FIXEDRAM convert -p -f stream-to-image - prog.img 2> prog.err
check_progress prog.err
$FIXEDRAM convert -p image-to-stream image.in - > prog.stream 2> prog.err
check_progress prog.err
cmp prog.stream image.out || fail "-p changed the stream on stdout"
$FIXEDRAM convert -p -q -f stream-to-image live.in prog.img 2> prog.err
[ ! -s prog.err ] || fail "-p -q printed: $(cat prog.err)"

# The image is sparse: zero pages are holes.
json_get zero.out.json 'd["allocated_size"] < 2 * 1024 * 1024' > sp.txt
assert_eq "$(cat sp.txt)" True "an all-zero guest converts to a sparse image"

# --no-sync skips only the fsync: the same bytes, in place at the end
$MKSTREAM --seed=21 --resend=50 --blocks=pc.ram:2M ns.bin
$FIXEDRAM convert stream-to-image ns.bin ns1.img
$FIXEDRAM convert --no-sync stream-to-image ns.bin ns2.img
cmp ns1.img ns2.img || fail "--no-sync image differs"
$FIXEDRAM -q compact --no-sync ns.bin ns.c
$FIXEDRAM -q compact ns.bin ns.c2
cmp ns.c ns.c2 || fail "--no-sync compact differs"
$FIXEDRAM extract --no-sync -o nsx ns.bin > /dev/null
$FIXEDRAM extract -o nsx2 ns.bin > /dev/null
cmp nsx/pc.ram nsx2/pc.ram || fail "--no-sync extract differs"
[ -z "$(ls -A . | grep fixedram-tmp)" ] || fail "temporary file left"
expect_code 64 $FIXEDRAM compact --in-place --no-sync ns1.img

# Commands only a destination taking part in the migration acts on
# (OPEN_RETURN_PATH, PING, POSTCOPY_ADVISE with page sizes: from a save with
# return-path or postcopy-ram) are left out, so that QEMU loads the output
# (a mapped-ram destination cannot have postcopy-ram); the empty
# POSTCOPY_ADVISE of dirty-bitmaps stays.
$MKSTREAM --seed=11 --dump-dir=rp.ram rp.in
$FIXEDRAM inspect --output=json rp.in > rp.json
insert_commands rp.in rp.bin "$(json_get rp.json 'd["eof_offset"]')" \
    1:0 2:4 3:16 3:0
# without_postcopy FILE EXPR WANT WHAT: FILE verifies clean, EXPR of its
# inspect JSON is WANT, and it holds rp.in's guest RAM
without_postcopy() {
    expect_code 0 $FIXEDRAM verify -q $1
    $FIXEDRAM inspect --output=json $1 > $1.json
    json_get $1.json "$2" > got.txt
    assert_eq "$(cat got.txt)" "$3" "$4 $1"
    same_ram rp.ram $1
}
$FIXEDRAM convert stream-to-image rp.bin rp.img
$FIXEDRAM convert image-to-stream rp.img rp.back
for f in rp.img rp.back; do
    without_postcopy $f '[(c["name"], c["length"]) for c in d["commands"]]' \
        "[('switchover-start', 0), ('postcopy-advise', 0)]" "commands left in"
done
# With POSTCOPY_ADVISE's page sizes go the page sizes of hugepage-backed
# blocks in the block list; the output has neither.
python3 - rp.in pc.bin <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
hdr = b.index(b"\x03ram" + struct.pack(">II", 0, 4))
start, body = hdr - 5, hdr + 4 + 8      # the ram START token; its body
entry_end = body + 8 + 1 + b[body + 8] + 8      # first block: name, length
advise = b"\x08" + struct.pack(">HHQQ", 3, 16, (2 << 20) | 4096, 4096)
open(sys.argv[2], "wb").write(b[:start] + advise + b[start:entry_end] +
                              struct.pack(">Q", 2 << 20) + b[entry_end:])
PY
$FIXEDRAM inspect --output=json pc.bin > pc.json
json_get pc.json 'd["ramblocks"][0].get("page_size")' > ps.txt
assert_eq "$(cat ps.txt)" 2097152 "page size of the crafted postcopy stream"
same_ram rp.ram pc.bin
$FIXEDRAM convert stream-to-image pc.bin pc.img
$FIXEDRAM convert image-to-stream pc.img pc.back
for f in pc.img pc.back; do
    without_postcopy $f '[b.get("page_size") for b in d["ramblocks"]][0]' \
        None "postcopy page size left in"
done

# Outputs hold guest RAM: they get the input's permission bits less the
# umask, as cp gives them, and 0600 (as QEMU's own files) from a pipe.
mode() { stat -c %a "$1"; }
chmod 600 ns.bin
$FIXEDRAM convert stream-to-image ns.bin m600.img
$FIXEDRAM convert image-to-stream m600.img m600.bin
$FIXEDRAM -q compact ns.bin m600.c
$FIXEDRAM extract -o m600x ns.bin > /dev/null
assert_eq "$(mode m600.img) $(mode m600.bin) $(mode m600.c) $(mode m600x/pc.ram)" \
    "600 600 600 600" "outputs of a 0600 input"
chmod 644 ns.bin
(umask 027 && $FIXEDRAM convert stream-to-image ns.bin m640.img)
(umask 0 && $FIXEDRAM -q compact ns.bin m644.c)
assert_eq "$(mode m640.img) $(mode m644.c)" "640 644" \
    "outputs of a 0644 input under umask 027 and 0"
(umask 0 && cat ns.bin | $FIXEDRAM convert stream-to-image - mpipe.img)
assert_eq "$(mode mpipe.img)" 600 "output of a pipe"

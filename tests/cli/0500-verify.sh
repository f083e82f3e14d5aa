#!/bin/sh
# verify: 0 on intact files, 2 with a precise message (and the offset) on
# each crafted corruption, 3 on stale data only, 63 on non-migration files.
. "$TESTS_SRCDIR/lib.sh"

# patch FILE OFFSET HEXBYTES: overwrite bytes in place
patch() {
    python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2], 0))
f.write(bytes.fromhex(sys.argv[3]))' "$@"
}

# corrupt NAME PATTERN: verify must exit 2 and say PATTERN with an offset
corrupt() {
    expect_code 2 $FIXEDRAM verify "$1" > "$1.out"
    assert_grep "error: offset 0x[0-9a-f]+: .*$2" "$1.out"
    assert_grep 'corrupt: [1-9][0-9]* errors' "$1.out"
}

$MKSTREAM --seed=1 --resend=100 --xbzrle=50 s.bin
$MKSTREAM --seed=2 --layout=mapped-ram i.img
$MKSTREAM --seed=3 --libvirt=sparse lv.img
for f in s.bin i.img lv.img; do
    expect_code 0 $FIXEDRAM verify "$f" > "$f.out"
    assert_grep 'clean: 0 errors, 0 warnings' "$f.out"
done
# -q: nothing at all for a clean file, the findings and summary otherwise
expect_code 0 $FIXEDRAM verify -q s.bin > q.out
assert_eq "$(wc -c < q.out)" 0 "verify -q of a clean file prints"
$FIXEDRAM inspect --output=json s.bin > s.json
$FIXEDRAM inspect --output=json i.img > i.json
size=$(wc -c < s.bin)

# truncation anywhere
head -c $((size / 2)) s.bin > trunc.bin
corrupt trunc.bin 'truncated'
expect_code 2 $FIXEDRAM verify -q trunc.bin > q.out
assert_grep 'error: offset 0x[0-9a-f]+: .*truncated' q.out
assert_grep 'corrupt: [1-9][0-9]* errors' q.out
head -c $(($(json_get i.json 'd["ramblocks"][1]["pages_offset"]') - 5)) i.img > trunc.img
corrupt trunc.img 'past the end|truncated'

# garbage after the last section
cp s.bin tail.bin
printf 'garbage' >> tail.bin
corrupt tail.bin 'bytes of garbage after the end of the stream'

# what a save with capability return-path or postcopy-ram writes to a file
# (it then reports failure): OPEN_RETURN_PATH, PING and POSTCOPY_ADVISE
# with page sizes.  QEMU 10 loads the first two from a file, the third only
# with postcopy-ram set: warnings.  POSTCOPY_LISTEN cannot load: an error.
eof=$(json_get s.json 'd["eof_offset"]')
insert_commands s.bin rp.bin $eof 1:0 2:4 3:16
expect_code 3 $FIXEDRAM verify rp.bin > rp.out
assert_grep 'warning: offset 0x[0-9a-f]+: command open-return-path is for a destination that answers' rp.out
assert_grep 'warning: offset 0x[0-9a-f]+: command ping is for a destination that answers' rp.out
assert_grep 'warning: offset 0x[0-9a-f]+: command postcopy-advise with page sizes: QEMU loads this file only with capability postcopy-ram' rp.out
assert_grep 'warnings: 0 errors, 3 warnings' rp.out
# the empty POSTCOPY_ADVISE of capability dirty-bitmaps is fine
insert_commands s.bin adv0.bin $eof 3:0
expect_code 0 $FIXEDRAM verify adv0.bin > adv0.out
insert_commands s.bin listen.bin $eof 4:0
corrupt listen.bin 'command postcopy-listen cannot be loaded from a file'

# a bitmap bit past the end of a block (pc.rom-like 4 KiB block: 1 page)
$MKSTREAM --seed=4 --layout=mapped-ram --blocks=pc.ram:1M,tiny:4K bit.img
$FIXEDRAM inspect --output=json bit.img > bit.json
bm=$(json_get bit.json 'd["ramblocks"][1]["bitmap_offset"]')
patch bit.img "$bm" 03
corrupt bit.img "1 bitmap bits set past the end of the block"

# bad mapped-ram header version
cp i.img ver.img
patch ver.img "$(json_get i.json 'd["ramblocks"][0]["header_offset"]')" 00000002
corrupt ver.img "mapped-ram header version 2 is not supported"

# misaligned pages region
cp i.img align.img
po=$(json_get i.json 'd["ramblocks"][0]["header_offset"] + 20')
patch align.img "$po" "$(json_get i.json '"%016x" % (d["ramblocks"][0]["pages_offset"] + 512)')"
corrupt align.img "not aligned"

# overlapping regions: block 1's bitmap inside block 0's pages
cp i.img overlap.img
po=$(json_get i.json 'd["ramblocks"][1]["header_offset"] + 12')
patch overlap.img "$po" "$(json_get i.json '"%016x" % d["ramblocks"][0]["pages_offset"]')"
corrupt overlap.img "overlaps"

# a header and a bitmap inside a big pages region, with an empty region
# (a block of length 0) sorting between them: still overlaps
python3 - nested.img <<'PY'
import struct, sys
be32 = lambda v: struct.pack('>I', v)
be64 = lambda v: struct.pack('>Q', v)
name = lambda s: bytes([len(s)]) + s.encode()
mrhdr = lambda bitmap, pages: be32(1) + be64(4096) + be64(bitmap) + be64(pages)
M = 1 << 20
buf = bytearray()
def put(off, data):
    buf.extend(bytes(max(0, off + len(data) - len(buf))))
    buf[off:off + len(data)] = data
caps = name('configuration/capabilities') + be32(1) + be32(1)
h = (be32(0x5145564D) + be32(3) + b'\x07' + be32(14) + b'pc-i440fx-10.0' +
     b'\x05' + caps + name('mapped-ram') +
     b'\x01' + be32(2) + name('ram') + be32(0) + be32(4) +
     be64((4 * M + 4096) | 4))
a = name('A') + be64(4 * M)             # pages at [1 MiB, 5 MiB)
put(0, h + a + mrhdr(len(h) + len(a) + 28, M) + b'\xff' * 128)
put(M, b'\x11' * (4 * M))
put(5 * M, name('B') + be64(0) + mrhdr(2 * M, 3 * M))     # empty
c = name('C') + be64(4096)              # header and bitmap at 3 MiB
put(3 * M, c + mrhdr(3 * M + len(c) + 28, 6 * M) + b'\x01' + bytes(7))
put(6 * M, b'\x22' * 4096)
end = be64(0x10) + b'\x7e' + be32(2)
put(6 * M + 4096, end + b'\x03' + be32(2) + end + b'\x00')
open(sys.argv[1], 'wb').write(buf)
PY
corrupt nested.img "header of 'C' overlaps pages of 'A'"
assert_grep "bitmap of 'C' overlaps pages of 'A'" nested.img.out

# bad page flags in a stream: the first record after the block list
first_rec=$(python3 - s.bin <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
# the first PART section: 02 + be32 id (1 in the generator) after START
i = b.index(bytes.fromhex("020000000100000000"), 16)
print(i + 5)
PY
)
cp s.bin flags.bin
patch flags.bin $((first_rec + 6)) 0180
corrupt flags.bin 'RAM flags|compressed page|hook'

# a footer with the wrong section id
cp s.bin foot.bin
off=$(json_get s.json 'd["devices"][0]["offset"] + 14 + len(d["devices"][0]["name"]) + d["devices"][0]["size"]')
patch foot.bin $((off + 1)) 0000abcd
corrupt foot.bin "mismatched section id in footer|no footer where the vmdesc says"

# an unfinished libvirt save
cp lv.img part.img
printf 'LibvirtQemudPart' | dd of=part.img conv=notrunc status=none
corrupt part.img "LibvirtQemudPart"

# stale data under cleared bits only: exit 3
$MKSTREAM --seed=5 --layout=mapped-ram --resend=300 stale.img
expect_code 3 $FIXEDRAM verify stale.img > stale.out
assert_grep 'warning: offset 0x[0-9a-f]+: .*stale data under cleared bitmap bits' stale.out
# every stale page is counted
assert_grep "ram block 'pc.ram': 90 pages of stale data" stale.out
# the same where the file system has no FIEMAP (tmpfs: SEEK_DATA instead)
if [ "$(stat -f -c %T /dev/shm 2> /dev/null)" = tmpfs ]; then
    shm=$(mktemp -d /dev/shm/fr-0500.XXXXXX)
    code=0
    cp --sparse=always stale.img "$shm/stale.img" &&
        $FIXEDRAM verify "$shm/stale.img" > shm.out || code=$?
    rm -rf "$shm"
    assert_eq "$code" 3 "verify of the stale image on tmpfs"
    assert_grep "ram block 'pc.ram': 90 pages of stale data" shm.out
fi

# not a migration file: 63; a missing file: 1
printf 'just text\n' > text.txt
expect_code 63 $FIXEDRAM verify text.txt > text.out
assert_grep 'not-migration-file' text.out
expect_code 1 $FIXEDRAM verify missing.bin > missing.out

# checksums: a manifest of the stream matches its image, not another file
$FIXEDRAM checksum s.bin > s.sum
$FIXEDRAM convert stream-to-image s.bin s.img
expect_code 0 $FIXEDRAM verify --checksums=s.sum s.img > cs.out
$MKSTREAM --seed=9 other.bin
expect_code 2 $FIXEDRAM verify --checksums=s.sum other.bin > cs2.out
assert_grep "does not match its checksum" cs2.out

# --deep reads every page; JSON output
expect_code 0 $FIXEDRAM verify --deep i.img > deep.out
$FIXEDRAM verify --output=json trunc.bin > t.json || true
assert_eq "$(json_get t.json 'd["status"], d["exit_status"]')" "corrupt 2" "json status"
expect_code 64 $FIXEDRAM verify --checksums=s.sum -

# what QEMU would load but fixedram cannot check is "incomplete" (1), not
# "corrupt": --deep of an image on a pipe, a stream whose device sections
# have neither footers nor a vmdesc to find their ends by
cat i.img | expect_code 1 $FIXEDRAM verify --deep - > pipe.out
assert_grep "positioned read on an input that is not seekable" pipe.out
assert_grep "incomplete: 1 errors" pipe.out
$MKSTREAM --seed=6 --no-footers --no-vmdesc nf.bin
expect_code 1 $FIXEDRAM verify nf.bin > nf.out
assert_grep "cannot find the end of device section" nf.out
assert_grep "incomplete: 1 errors" nf.out

# a vmdesc that gives a device section the wrong size: QEMU goes by the
# footers, and so does fixedram, from a file as from a pipe (it was a
# fatal "no footer where the vmdesc says" for the file): a warning, 3
$MKSTREAM --seed=7 --devices=3 vm.bin
python3 - vm.bin vmbad.bin <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
m = re.search(rb'"size": (\d\d\d+), "fields": \[\{"name": "data", "size": \d+',
              d)
n = int(m.group(1))
bad = m.group(0).replace(str(n).encode(), str(n - 6).encode())
open(sys.argv[2], 'wb').write(d[:m.start()] + bad + d[m.end():])
PY
expect_code 3 $FIXEDRAM verify vmbad.bin > vmbad.out
assert_grep "warning: offset 0x[0-9a-f]+: device .*: vmdesc says [0-9]+ bytes, the section has" vmbad.out
cat vmbad.bin | expect_code 3 $FIXEDRAM verify - > vmbad-pipe.out
assert_grep "vmdesc says" vmbad-pipe.out
$FIXEDRAM checksum vm.bin | sed 's/vm.bin/F/' > vm.sum
$FIXEDRAM checksum vmbad.bin | sed 's/vmbad.bin/F/' | cmp - vm.sum ||
    fail "checksum of a file with a wrong vmdesc size"

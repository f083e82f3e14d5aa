#!/bin/sh
# verify and checksum on what a real QEMU writes (paused guest with an 8 MiB
# random blob at 0x2000000, and the live test guest):
#  * verify exits 0 on every intact file: classic, live classic, live
#    xbzrle, mapped-ram, mapped-ram + multifd, mapped-ram saved at
#    file:PATH,offset=0x1005c, an x-ignore-shared classic save (RAM in a
#    shared memory-backend-file "mem"; convert, diff and extract read it
#    too), the
#    bare classic stream in a hand-made libvirt header, and a non-sparse
#    copy of a mapped-ram image (zero bytes under clear bits are no stale
#    data); --deep too on the
#    mapped-ram ones; and exits 3 with "stale data" on a live mapped-ram save
#    of the zeroing guest (--guest=live-zeroing), whose inspect shows more
#    allocated bytes than present pages.  The classic live-zeroing save has
#    pages sent as PAGE and later as ZERO, and verifies clean.
#  * corruptions of those real files, each exit 2 with an error finding at
#    the right offset: truncations (3 exactly after the EOF marker: no
#    vmdesc), a bitmap bit past the end of /rom@etc/acpi/rsdp, mapped-ram
#    header version 2, pages_offset + 512, a device footer with another id,
#    a page record with flags 0x180, garbage appended, the libvirt Part
#    magic; and 300 random byte mutations of the classic file and of the
#    first 1 MiB of the mapped-ram file give 0/1/2/3/63 within 10 s each.
#  * checksum of each file equals that of its conversion and of that
#    converted back; verify --checksums= passes on the conversion and gives
#    2 on another save, naming each differing block at its offset in the
#    file checked.
# The checks after the saves report every failure, then fail.
. "$TESTS_SRCDIR/lib.sh"
use_qemu
command -v truncate > /dev/null || skip "truncate is missing"
qemu_build_guest "$SCRATCH/guest" || fail "cannot build the live test guest"

# The x-ignore-shared save keeps guest RAM in a shared file (tmpfs if there).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    SHM=/dev/shm/fr-0820-$$-ign
else
    SHM=$SCRATCH/ign.mem
fi
trap 'rm -f "$SHM"; cleanup' EXIT

FAILS=0
bad() { # report a failure, go on; the test fails at the end
    echo "FAIL: $*" >&3
    FAILS=$((FAILS + 1))
}

head -c 8388608 /dev/urandom > blob.bin
save() { # NAME MODE [frqemu options]
    _n=$1 _m=$2
    shift 2
    "$PYTHON" "$FRQEMU" save --mode="$_m" --out="$_n.bin" --timeout=90 "$@" ||
        fail "QEMU save of $_n ($_m $*) failed"
}
B="--blob=blob.bin --blob-addr=0x2000000"
save classic classic $B
save mapped mapped-ram $B
save mfd mapped-ram-multifd $B
save offset mapped-ram --offset=0x1005c $B
save ign classic --shared-mem="$SHM" --ignore-shared $B
rm -f "$SHM"
save live classic --guest=live
save xbzrle xbzrle --guest=live
save zmapped mapped-ram --guest=live-zeroing
save zclassic classic --guest=live-zeroing

# ---- intact files -----------------------------------------------------------

# vcode CODE FILE [verify options]: verify exits CODE (else report, return 1);
# vcheck: the same as a plain command.
vcode() {
    _want=$1 _f=$2
    shift 2
    set +e
    $FIXEDRAM verify "$@" "$_f" > "$_f.v" 2>&1
    _got=$?
    set -e
    if [ "$_got" -ne "$_want" ]; then
        cat "$_f.v" >&2
        bad "verify ${*:+$* }$_f exited $_got, expected $_want"
        return 1
    fi
}
vcheck() { vcode "$@" || :; }

for f in classic live xbzrle zclassic ign mapped mfd offset; do
    vcode 0 $f.bin && assert_grep ": (stream|mapped-ram), clean: 0 errors, 0 warnings$" $f.bin.v
done
for f in mapped mfd offset; do
    vcheck 0 $f.bin --deep
done
grep -q "capabilities:.*x-ignore-shared" <<EOF || bad "ign.bin: inspect does not show x-ignore-shared"
$($FIXEDRAM inspect ign.bin)
EOF

# A copy without holes: the bytes under clear bits are zero, not stale data.
cp --sparse=never mapped.bin full.bin
vcode 0 full.bin || bad "a non-sparse copy of an intact mapped-ram image is not clean (zero bytes taken for stale data)"
rm -f full.bin

# The live-zeroing mapped-ram save: pages zeroed after they were written
# keep their old data under a clear bit.
vcode 3 zmapped.bin && {
    assert_grep "^zmapped\.bin: warning: offset 0x[0-9a-f]+: ram block 'pc\.ram': [0-9]+ pages of stale data under cleared bitmap bits" zmapped.bin.v
    assert_grep ": mapped-ram, warnings: 0 errors, 1 warnings$" zmapped.bin.v
}
vcheck 3 zmapped.bin --deep
$FIXEDRAM inspect --output=json zmapped.bin > zmapped.json
python3 - zmapped.json zmapped.bin.v <<'PY' || bad "inspect of zmapped.bin does not show the stale data"
import json, re, sys
d = json.load(open(sys.argv[1]))
present = sum(b["present"] for b in d["ramblocks"]) * d["page_size"]
extra = d["allocated_size"] - present
# at least the stale pages verify found are allocated beyond the present
# ones (how many depends on how many passes the live save took)
m = re.search(r"(\d+) pages of stale data", open(sys.argv[2]).read())
stale = int(m.group(1)) if m else 0
if not stale or extra < stale * d["page_size"]:
    sys.exit("allocated %d bytes, present pages %d bytes: only %d more, "
             "for %d stale pages" % (d["allocated_size"], present, extra,
                                     stale))
PY

# The live-zeroing classic save: pages sent with data, then as zero pages.
python3 - zclassic.bin <<'PY' || bad "zclassic.bin has no page sent as PAGE and later as ZERO"
import re, sys
data = open(sys.argv[1], "rb").read()
m = re.compile(rb"\x01(....)\x03ram\x00\x00\x00\x00\x00\x00\x00\x04",
               re.S).search(data, 8, 1 << 16)
sid, pos = m.group(1), m.end()
blocks, seen, cur, turned = {}, {}, None, 0
def rd(n):
    global pos
    pos += n
    return data[pos - n:pos]
def body(first):
    global cur, turned
    while True:
        w = int.from_bytes(rd(8), "big")
        fl, addr = w & 0xfff, w & ~0xfff
        if first and fl & 0x04:
            total = addr
            while total:
                name = rd(rd(1)[0])
                blocks[name] = int.from_bytes(rd(8), "big")
                total -= blocks[name]
            first = False
            continue
        if fl & 0x10:
            return
        if not fl & 0x20:
            cur = rd(rd(1)[0])
        key = (cur, addr)
        if fl & 0x02:
            rd(1)
            if seen.get(key) == "data":
                turned += 1
            seen[key] = "zero"
        elif fl & 0x08:
            rd(4096)
            seen[key] = "data"
        elif fl & 0x40:
            rd(1)
            rd(int.from_bytes(rd(2), "big"))
            seen[key] = "data"
        else:
            sys.exit("record flags 0x%x at 0x%x" % (fl, pos))
body(True)
while True:
    assert rd(5) == b"\x7e" + sid
    kind = rd(1)[0]
    if kind == 0x08:
        rd(2)
        rd(int.from_bytes(rd(2), "big"))
        kind = rd(1)[0]
    assert kind in (2, 3) and rd(4) == sid, "section 0x%x at 0x%x" % (kind, pos)
    body(False)
    if kind == 3:
        break
print("pages sent as PAGE, later as ZERO: %d" % turned)
sys.exit(0 if turned >= 64 else 1)
PY

# ---- corruptions of the real files ----------------------------------------

# corrupt CODE FILE REGEX [LO [HI]]: verify FILE exits CODE and reports a
# finding of that severity ("FILE: error: offset 0xOFF: WHAT", or warning
# for 3) whose WHAT matches REGEX at offset LO, or within LO..HI, or at any
# offset when LO is empty.  FILE is removed afterwards.
corrupt() {
    _code=$1 _f=$2 _re=$3 _lo=${4:-} _hi=${5:-${4:-}}
    vcode "$_code" "$_f" || return 0
    _sev=error
    [ "$_code" -ne 3 ] || _sev=warning
    _ok=
    # shellcheck disable=SC2013
    for _o in $(sed -n "s/^$_f: $_sev: offset 0x\([0-9a-f]*\): .*/\1/p" "$_f.v"); do
        grep -E "^$_f: $_sev: offset 0x$_o: " "$_f.v" | grep -Eq -- "$_re" ||
            continue
        if [ -z "$_lo" ] ||
           { [ $((0x$_o)) -ge $((_lo)) ] && [ $((0x$_o)) -le $((_hi)) ]; }; then
            _ok=1
        fi
    done
    if [ -z "$_ok" ]; then
        cat "$_f.v" >&2
        bad "$_f: no '$_sev: offset 0x...: ' finding matching /$_re/ at ${_lo:-any offset}${_lo:+..$_hi}"
    fi
    rm -f "$_f"
}

jget() { # FILE EXPR: from the inspect JSON of FILE (cached)
    [ -s "$1.inspect" ] || $FIXEDRAM inspect --output=json "$1" > "$1.inspect"
    json_get "$1.inspect" "$2"
}

poke() { # SRC DST OFFSET HEXBYTES: sparse copy of SRC with bytes replaced
    cp --sparse=always "$1" "$2"
    python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(bytes.fromhex(sys.argv[3]))' "$2" "$3" "$4"
}

# Truncated at several points: inside the headers, the pages, the device
# sections, the vmdesc.  Right after the EOF marker only the vmdesc is
# missing, which QEMU tolerates: 3.
for f in classic mapped; do
    size=$(stat -c %s $f.bin)
    eof=$(jget $f.bin 'd["eof_offset"]')
    dev=$(jget $f.bin 'd["devices"][3]["offset"]')
    for n in 100 3000 5000000 $((dev + 7)) $eof $((size - 1000)); do
        cp --sparse=always $f.bin t-$f-$n.bin
        truncate -s $n t-$f-$n.bin
        corrupt 2 t-$f-$n.bin 'truncat|past the end|end of (the )?file' 0 $n
    done
    cp --sparse=always $f.bin t-$f-eof.bin
    truncate -s $((eof + 1)) t-$f-eof.bin
    corrupt 3 t-$f-eof.bin 'no vmdesc' $((eof + 1))
done

# A bitmap bit past the end of the 1-page block /rom@etc/acpi/rsdp.
idx=$(jget mapped.bin '[b["name"] for b in d["ramblocks"]].index("/rom@etc/acpi/rsdp")')
bmo=$(jget mapped.bin "d['ramblocks'][$idx]['bitmap_offset']")
byte=$(od -An -tx1 -j "$bmo" -N1 mapped.bin | tr -d ' ')
poke mapped.bin stray.bin "$bmo" "$(printf %02x $((0x$byte | 0x02)))"
set +e
$FIXEDRAM verify --output=json stray.bin > stray.json
got=$?
set -e
python3 - stray.json "$bmo" $got <<'PY' || bad "verify --output=json stray.bin is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
off, code = int(sys.argv[2]), int(sys.argv[3])
errs = []
for k, v in (("status", "corrupt"), ("exit_status", 2), ("format", "mapped-ram"),
             ("file", "stray.bin")):
    if d.get(k) != v:
        errs.append("%s is %r, expected %r" % (k, d.get(k), v))
if code != 2:
    errs.append("exit status %d" % code)
if d["errors"] != sum(f["severity"] == "error" for f in d["findings"]):
    errs.append("errors %r does not count the error findings" % d["errors"])
if not [f for f in d["findings"] if f["severity"] == "error" and
        f["offset"] == off and "rsdp" in f["message"]]:
    errs.append("no error about rsdp at offset %d" % off)
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
corrupt 2 stray.bin "rsdp.*bitmap bit.*past the end" "$bmo"

# pc.ram's mapped-ram header: version 2; pages_offset + 512.
hdr=$(jget mapped.bin 'd["ramblocks"][0]["header_offset"]')
poke mapped.bin ver2.bin "$hdr" 00000002
corrupt 2 ver2.bin "pc\.ram.*version 2" "$hdr"
pgo=$(jget mapped.bin 'd["ramblocks"][0]["pages_offset"]')
poke mapped.bin pgo.bin $((hdr + 20)) "$(printf %016x $((pgo + 512)))"
corrupt 2 pgo.bin "pc\.ram.*(align|pages offset)" "$hdr" $((hdr + 27))

# The footer of the first device section (timer) with another section id.
for f in classic mapped; do
    foot=$(python3 - $f.bin.inspect $f.bin <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["devices"][0]
foot = s["offset"] + 1 + 4 + 1 + len(s["name"]) + 4 + 4 + s["size"]
with open(sys.argv[2], "rb") as f:
    f.seek(foot)
    assert f.read(5) == b"\x7e" + s["id"].to_bytes(4, "big"), "no footer"
print(foot)
PY
) || fail "$f.bin: cannot find the footer of its first device section"
    poke $f.bin foot-$f.bin $((foot + 1)) 0000007b
    corrupt 2 foot-$f.bin "timer|footer|section" "$foot"
done

# The first page record of the classic stream (right after the START
# section's footer and the PART header) with flags 0x180.
rec=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read(1 << 16)
print(d.index(b"\x7e\x00\x00\x00\x01\x02\x00\x00\x00\x01") + 10)' classic.bin)
word=$(od -An -tx1 -j "$rec" -N8 classic.bin | tr -d ' \n')
poke classic.bin flags.bin "$rec" "$(printf %016x $(( (0x$word & ~0xfff) | 0x180 )))"
corrupt 2 flags.bin "." "$rec"

# Garbage after the stream.
for f in classic mapped; do
    cp --sparse=always $f.bin garbage-$f.bin
    head -c 1000 /dev/urandom >> garbage-$f.bin
    corrupt 2 garbage-$f.bin "garbage|trailing|after the (end|stream)" "$(stat -c %s $f.bin)"
done

# The classic stream in a libvirt header (92 bytes + XML): clean with the
# Save magic, corrupt with the Part magic of an unfinished save.
python3 - classic.bin <<'PY'
import struct, sys
xml = b"<domain type='qemu'><name>fr-0820</name></domain>\n\0" + bytes(4000)
hdr = struct.pack("<5I", 2, len(xml), 0, 0, 0) + bytes(56)
body = open(sys.argv[1], "rb").read()
for name, magic in (("lv-save.img", b"LibvirtQemudSave"),
                    ("lv-part.img", b"LibvirtQemudPart")):
    open(name, "wb").write(magic + hdr + xml + body)
PY
vcheck 0 lv-save.img
corrupt 2 lv-part.img "LibvirtQemudPart" 0

# 300 random byte mutations of each, made in place and undone after each
# run: verify gives one of the documented statuses within 10 s, never a
# crash or a hang.
sum0=$(cksum classic.bin; head -c 1048576 mapped.bin | cksum)
FIXEDRAM="$FIXEDRAM" python3 - classic.bin mapped.bin <<'PY' ||
import os, random, shlex, subprocess, sys
fixedram = shlex.split(os.environ["FIXEDRAM"])
bad = []
counts = {}
for path, limit in ((sys.argv[1], None), (sys.argv[2], 1 << 20)):
    size = os.path.getsize(path)
    hi = min(size, limit) if limit else size
    rnd = random.Random("fixedram-0820:" + os.path.basename(path))
    fd = os.open(path, os.O_RDWR)
    for i in range(300):
        spots = set()
        for _ in range(rnd.choice([1, 1, 2, 3, 8])):
            zone = rnd.choice(["head", "any"] + ([] if limit else ["tail"]))
            if zone == "head":          # the headers and the block list
                spots.add(rnd.randrange(min(4096, hi)))
            elif zone == "tail":        # device sections and vmdesc
                spots.add(rnd.randrange(max(0, size - 131072), size))
            else:
                spots.add(rnd.randrange(hi))
        orig = {o: os.pread(fd, 1, o) for o in spots}
        for o in sorted(spots):
            v = orig[o][0]
            new = rnd.choice([v ^ (1 << rnd.randrange(8)), rnd.randrange(256),
                              0, 0xff])
            os.pwrite(fd, bytes([new if new != v else v ^ 1]), o)
        desc = ", ".join("0x%x:%02x->%02x" % (o, orig[o][0],
                                              os.pread(fd, 1, o)[0])
                         for o in sorted(spots))
        args = ["verify"] + (["--deep"] if i % 3 == 0 else []) + [path]
        try:
            rc = subprocess.run(fixedram + args, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                timeout=10).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        counts[rc] = counts.get(rc, 0) + 1
        if rc not in (0, 1, 2, 3, 63):
            bad.append("%s mutant %d (%s): %s -> exit %s"
                       % (os.path.basename(path), i, desc, " ".join(args), rc))
        for o in spots:
            os.pwrite(fd, orig[o], o)
    os.close(fd)
print("mutants: exit statuses %s" % sorted(counts.items(), key=str))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    bad "a mutant of a real QEMU file crashed or hung verify"
[ "$(cksum classic.bin; head -c 1048576 mapped.bin | cksum)" = "$sum0" ] ||
    fail "the mutated files were not restored"

# ---- checksum: the same for a file, its conversion, and that converted back

sums() { # FILE: FILE.sum
    $FIXEDRAM checksum "$1" > "$1.sum" || { bad "checksum $1 failed"; return 1; }
    # one line per block and one for the device state: 32 hex digits, two
    # spaces, the name
    grep -Evq '^[0-9a-f]{32}  [^ ]' "$1.sum" && bad "$1.sum: a line is not 'HEX  NAME'"
    [ "$(tail -n 1 "$1.sum" | cut -c35-)" = @device-state ] ||
        bad "$1.sum: the last line is not @device-state"
    [ "$(wc -l < "$1.sum")" -eq $(($(jget "$1" 'len(d["ramblocks"])') + 1)) ] ||
        bad "$1.sum: not one line per block plus @device-state"
}
roundtrip() { # FILE DIRECTION BACK-DIRECTION
    sums $1 || return 0
    $FIXEDRAM convert -q $2 $1 $1.conv || { bad "convert $2 $1 failed"; return 0; }
    $FIXEDRAM convert -q $3 $1.conv $1.back || { bad "convert $3 $1.conv failed"; return 0; }
    for g in $1.conv $1.back; do
        sums $g || continue
        cmp -s $1.sum $g.sum || {
            diff $1.sum $g.sum >&2 || :
            bad "checksum of $g differs from that of $1"
        }
    done
    vcheck 0 $1.conv --checksums=$1.sum
    rm -f $1.conv $1.back
}
for f in classic live xbzrle zclassic; do
    roundtrip $f.bin stream-to-image image-to-stream
done
for f in mapped mfd offset zmapped; do
    roundtrip $f.bin image-to-stream stream-to-image
done
# x-ignore-shared: checksummed; made an image as QEMU 11 lays it out
# (which only QEMU 11 loads, as a note says; 0817 restores one there) that
# verifies against the same sums and becomes QEMU's own stream again
sums ign.bin && vcheck 0 ign.bin --checksums=ign.bin.sum
$FIXEDRAM convert stream-to-image ign.bin ign.img 2> ign.err ||
    bad "x-ignore-shared stream-to-image: $(cat ign.err)"
assert_grep "^fixedram: ign\.img: note: .*x-ignore-shared from version 11\.0" ign.err
vcheck 0 ign.img --checksums=ign.bin.sum
$FIXEDRAM convert -q image-to-stream ign.img ign.back ||
    bad "x-ignore-shared image-to-stream failed"
cmp -s ign.bin ign.back || bad "x-ignore-shared: stream -> image -> stream is not QEMU's own file"
# ... and the commands that only read it
set +e
$FIXEDRAM diff ign.bin ign.bin > ign.diff 2>&1
got=$?
set -e
[ $got -eq 0 ] || { cat ign.diff >&2; bad "diff ign.bin ign.bin exited $got, expected 0"; }
$FIXEDRAM extract -o ign.x --block=pc.bios ign.bin > ign.x.out 2>&1 ||
    { cat ign.x.out >&2; bad "extract --block=pc.bios ign.bin failed"; }
# compact reads it twice, no image: the shared blocks stay without pages
$FIXEDRAM -q compact ign.bin ign.cmp || bad "compact ign.bin failed"
$FIXEDRAM checksum ign.cmp | cmp -s - ign.bin.sum ||
    bad "compact of ign.bin: checksums differ"
$FIXEDRAM inspect ign.bin | sed -n '/RAM BLOCK/,/^$/p' > ign.blocks
$FIXEDRAM inspect ign.cmp | sed -n '/RAM BLOCK/,/^$/p' > ign.cmp.blocks
cmp -s ign.blocks ign.cmp.blocks || bad "compact of ign.bin: pages differ"

# Another save: its differing blocks are corruption, each named at its own
# offset in the file checked (the counted name in its START block list).
vcheck 2 live.bin --checksums=classic.bin.sum
vcheck 2 zmapped.bin --checksums=mapped.bin.sum
for f in live zmapped; do
    python3 - $f.bin $f.bin.v <<'PY' || bad "verify --checksums: $f.bin's block offsets are not those of $f.bin"
import re, sys
f = open(sys.argv[1], "rb")
lines = [l for l in open(sys.argv[2]) if "does not match its checksum" in l]
errs = []
for l in lines:
    m = re.search(r"error: offset 0x([0-9a-f]+): ram block '([^']*)'", l)
    if not m:
        if "device state" not in l:
            errs.append("no offset: " + l.strip())
        continue
    off, name = int(m.group(1), 16), m.group(2).encode()
    f.seek(off)
    got = f.read(1 + len(name))
    if got != bytes([len(name)]) + name:
        errs.append("block %r reported at 0x%x, where the file has %r"
                    % (name, off, got))
if not any("pc.ram" in l for l in lines):
    errs.append("pc.ram not reported")
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
done

[ "$FAILS" -eq 0 ] || fail "$FAILS checks failed"
exit 0

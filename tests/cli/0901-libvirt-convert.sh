#!/bin/sh
# libvirt save images made by a real libvirt (virsh save --image-format):
# a paused domain holding an 8 MiB random blob is saved as raw, zstd, sparse
# and gzip.  inspect shows the container (format, domain, complete) and the
# layout; convert keeps the libvirt header: raw/zstd/gzip -> image gives a
# "sparse" libvirt image, sparse -> stream a "raw" one, and with --zstd a
# "zstd" one; virsh restore of every output gives guest RAM byte-identical
# to the domain's RAM before the save (one output of each format also with
# --bypass-cache, a sparse one with --parallel-channels).  --no-container writes the bare QEMU
# stream/image (inspect: container null), which QEMU itself restores.
# extract --physical of raw, zstd and sparse images is the domain's RAM.
. "$TESTS_SRCDIR/lib.sh"
use_libvirt "fr-lv-t0901-$$-"

dom=${LIBVIRT_PREFIX}vm
# The blob must still be there at restore time (the saved XML loads it).
head -c 8388608 /dev/urandom > blob.bin

lv_save() { # FORMAT: FORMAT.img, and FORMAT.src = guest RAM before the save
    libvirt_define_vm "$dom" blob.bin 0x2000000 ||
        fail "cannot start domain $dom"
    libvirt_dump_ram "$dom" "$1.src" || fail "cannot dump the RAM of $dom"
    libvirt_save "$dom" "$1.img" "$1" || fail "virsh save --image-format $1 failed"
}

lv_restore_cmp() { # FILE SOURCE-DUMP [virsh restore flags]
    _f=$1 _src=$2
    shift 2
    libvirt_restore "$_f" "$dom" "$_f.ram" "$@" ||
        fail "virsh restore $* $_f failed"
    qemu_cmp_ram "$_src" "$_f.ram" ||
        fail "$_f: restored RAM ($*) differs from $_src"
    rm -f "$_f.ram"
}

conv() { # [OPTIONS] DIRECTION IN OUT
    $FIXEDRAM convert "$@" || fail "fixedram convert $* failed"
}

# check FILE CONTAINER-FORMAT|null LAYOUT COMPRESSION|null [REFERENCE]:
# inspect FILE shows that container and layout, the domain name, and (with
# REFERENCE, another file) the same pages per block and libvirt XML length.
check() {
    $FIXEDRAM inspect --output=json "$1" > "$1.json" ||
        fail "fixedram inspect $1 failed"
    python3 - "$1.json" "$2" "$3" "$4" "$dom" "${5:+$5.json}" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
cfmt, layout, comp, dom, ref = sys.argv[2:7]
errs = []
def eq(what, got, want):
    if got != want:
        errs.append("%s: inspect says %r, expected %r" % (what, got, want))
c = d["container"]
if cfmt == "null":
    eq("container", c, None)
else:
    if c is None:
        errs.append("container: inspect says None, expected libvirt")
        c = {}
    eq("container.type", c.get("type"), "libvirt")
    eq("container.format", c.get("format"), cfmt)
    eq("container.domain", c.get("domain"), dom)
    eq("container.complete", c.get("complete"), True)
    eq("container.was_running", c.get("was_running"), False)
eq("format", d["format"], layout)
eq("compression", d["compression"], None if comp == "null" else comp)
eq("capabilities", d["capabilities"],
   ["mapped-ram"] if layout == "mapped-ram" else [])
b0 = d["ramblocks"][0]
eq("first block", (b0["name"], b0["length"]), ("pc.ram", 128 << 20))
eq("sum(absent)", sum(b["absent"] for b in d["ramblocks"]), 0)
if b0["present"] < 2048:
    errs.append("pc.ram has %d present pages, the blob alone is 2048"
                % b0["present"])
if ref:
    r = json.load(open(ref))
    key = lambda x: [(b["name"], b["length"], b["present"], b["zero"],
                      b["absent"]) for b in x["ramblocks"]]
    eq("pages per block vs %s" % ref, key(d), key(r))
    eq("devices vs %s" % ref,
       [(x["name"], x["instance"], x["size"]) for x in d["devices"]],
       [(x["name"], x["instance"], x["size"]) for x in r["devices"]])
    if c and r["container"]:
        eq("container.xml_length vs %s" % ref, c.get("xml_length"),
           r["container"]["xml_length"])
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
        fail "inspect of $1 is not what was expected"
    # the domain XML as libvirt stored it: well-formed, and this domain's
    [ "$2" = null ] && return
    $FIXEDRAM inspect --xml "$1" > "$1.xml" || fail "inspect --xml $1 failed"
    python3 -c 'import sys, xml.etree.ElementTree as E
sys.exit(E.parse(sys.argv[1]).find("name").text != sys.argv[2])' \
        "$1.xml" "$dom" || fail "inspect --xml $1: not the XML of $dom"
}

# same_xml OUT IN: a conversion keeps the domain XML byte for byte
same_xml() {
    cmp "$1.xml" "$2.xml" || fail "the domain XML of $1 is not that of $2"
}

# ---- virsh save in four formats
formats="raw zstd sparse"
command -v gzip > /dev/null && formats="$formats gzip"
for f in $formats; do
    lv_save $f
done
check raw.img raw stream null
check zstd.img zstd stream zstd raw.img
check sparse.img sparse mapped-ram null raw.img
[ ! -e gzip.img ] || check gzip.img gzip stream gzip raw.img

# ---- extract --physical: libvirt names the RAM backend pc.ram; the file
# is the guest RAM pmemsave shows, but for 640 KiB..1 MiB, where pmemsave
# reads the (paused, never run) guest's video and ROM windows
for f in raw zstd sparse; do
    $FIXEDRAM extract -q --physical=$f.phys $f.img ||
        fail "extract --physical $f.img failed"
    cmp -n 655360 $f.phys $f.src && cmp -i 1048576 $f.phys $f.src ||
        fail "extract --physical $f.img differs from the domain's RAM"
    rm -f $f.phys
done

# ---- conversions keep the libvirt container; virsh restores them
conv stream-to-image raw.img raw-to.img
check raw-to.img sparse mapped-ram null raw.img
same_xml raw-to.img raw.img
lv_restore_cmp raw-to.img raw.src
# the converted sparse image also loads with parallel channels (multifd),
# and past the page cache (O_DIRECT)
lv_restore_cmp raw-to.img raw.src --parallel-channels 2
lv_restore_cmp raw-to.img raw.src --bypass-cache

conv stream-to-image zstd.img zstd-to.img
check zstd-to.img sparse mapped-ram null zstd.img
same_xml zstd-to.img zstd.img
lv_restore_cmp zstd-to.img zstd.src

conv image-to-stream sparse.img sparse-to.img
check sparse-to.img raw stream null sparse.img
same_xml sparse-to.img sparse.img
lv_restore_cmp sparse-to.img sparse.src
lv_restore_cmp sparse-to.img sparse.src --bypass-cache

conv image-to-stream --zstd sparse.img sparse-to-zstd.img
check sparse-to-zstd.img zstd stream zstd sparse.img
same_xml sparse-to-zstd.img sparse.img
lv_restore_cmp sparse-to-zstd.img sparse.src
lv_restore_cmp sparse-to-zstd.img sparse.src --bypass-cache

if [ -e gzip.img ]; then
    conv stream-to-image gzip.img gzip-to.img
    check gzip-to.img sparse mapped-ram null gzip.img
    same_xml gzip-to.img gzip.img
    lv_restore_cmp gzip-to.img gzip.src
fi

# ---- --no-container: the bare QEMU stream / image, restored by QEMU itself
conv --no-container image-to-stream sparse.img bare.stream
check bare.stream null stream null sparse.img
"$PYTHON" "$FRQEMU" restore --in=bare.stream --dump=bare.stream.ram \
    --timeout=60 || fail "QEMU cannot restore bare.stream"
qemu_cmp_ram sparse.src bare.stream.ram ||
    fail "bare.stream: restored RAM differs from sparse.src"
rm -f bare.stream.ram
conv --no-container stream-to-image raw.img bare.img
check bare.img null mapped-ram null raw.img
"$PYTHON" "$FRQEMU" restore --in=bare.img --dump=bare.img.ram \
    --timeout=60 || fail "QEMU cannot restore bare.img"
qemu_cmp_ram raw.src bare.img.ram ||
    fail "bare.img: restored RAM differs from raw.src"
exit 0

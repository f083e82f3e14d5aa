#!/usr/bin/env python3
"""make-seeds.py - (re)make the seed inputs of tests/fuzz/corpus/.

    tests/fuzz/make-seeds.py MKSTREAM CORPUS_DIR [QEMU_STREAM]

MKSTREAM is build/tests/gen/fr-mkstream; CORPUS_DIR is tests/fuzz/corpus.
Seeds are written as CORPUS_DIR/<target>/seed-<name>; other files there
(crashers, inputs kept from fuzzing runs) are left alone.  Same inputs =>
same bytes.

QEMU_STREAM (optional) is a classic stream written by a real QEMU (e.g.
tests/qemu/frqemu.py save --mode=classic --mem=16M --out=q.bin).  From it
only device state and vmdesc JSON are taken, never RAM: a few device
sections go into savevm seeds and cut-down vmdescs into vmdesc seeds.

The seeds are kept small (a few KiB): small RAM blocks, libvirt headers
re-packed without their 64 KiB of XML padding, and mapped-ram images
re-laid out with each pages region at the next 4 KiB boundary instead of
1 MiB (the readers only require page alignment).
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile

PAGE = 4096
# Prefix that tests/fuzz/fuzz-mappedram.c puts before its input.
MAPPED_PREFIX_LEN = 91


def be32(v):
    return struct.pack(">I", v)


def be64(v):
    return struct.pack(">Q", v)


def counted(s):
    if isinstance(s, str):
        s = s.encode()
    return bytes([len(s)]) + s


class Gen:
    def __init__(self, mkstream, tmp):
        self.mkstream = mkstream
        self.tmp = tmp
        self.n = 0

    def __call__(self, *args):
        self.n += 1
        out = os.path.join(self.tmp, "g%d" % self.n)
        subprocess.run([self.mkstream] + list(args) + [out], check=True)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return data


# ---- stream building ------------------------------------------------------

def header():
    return be32(0x5145564D) + be32(3)


def config(machine="pc-i440fx-10.0", caps=(), page_bits=None, uuid=None):
    b = b"\x07" + be32(len(machine)) + machine.encode()
    if page_bits is not None:
        b += b"\x05" + counted("configuration/target-page-bits") + be32(1)
        b += be32(page_bits)
    if caps:
        b += b"\x05" + counted("configuration/capabilities") + be32(1)
        b += be32(len(caps)) + b"".join(counted(c) for c in caps)
    if uuid is not None:
        b += b"\x05" + counted("configuration/uuid") + be32(1) + uuid
    return b


def sec_open(typ, sid, name, inst=0, ver=1):
    return bytes([typ]) + be32(sid) + counted(name) + be32(inst) + be32(ver)


def sec_cont(typ, sid):
    return bytes([typ]) + be32(sid)


def footer(sid):
    return b"\x7e" + be32(sid)


def command(cmd, payload=b""):
    return b"\x08" + struct.pack(">HH", cmd, len(payload)) + payload


def vmdesc(obj):
    j = json.dumps(obj).encode()
    return b"\x06" + be32(len(j)) + j


def old_vmdesc(devs):
    """vmdesc of old-style devices: [(name, instance, size)]."""
    return {"page_size": PAGE, "devices": [
        {"name": n, "instance_id": i, "vmsd_name": n, "version": 1,
         "size": s, "fields": [{"name": "data", "type": "buffer",
                                "size": s}]} for n, i, s in devs]}


# ---- mapped-ram re-layout ---------------------------------------------------

def find_ram_start(data, base):
    """Offset of the MEM_SIZE word of the ram START section."""
    pat = b"\x03ram" + be32(0) + be32(4)
    i = data.index(pat, base)
    return i + len(pat)


def relayout_mapped(data, base, new_base, ignore_shared=False,
                    align=PAGE):
    """The mapped-ram stream at DATA[BASE:], moved to file offset NEW_BASE
    with each pages region at the next ALIGN boundary: returns the new
    stream bytes (to be placed at NEW_BASE)."""
    ms = find_ram_start(data, base)
    total = struct.unpack(">Q", data[ms:ms + 8])[0] & ~(PAGE - 1)
    out = bytearray(data[base:ms + 8])
    cur = ms + 8
    while total:
        n = data[cur]
        length = struct.unpack(">Q", data[cur + 1 + n:cur + 9 + n])[0]
        hdr = cur + 9 + n + (8 if ignore_shared else 0)
        out += data[cur:hdr]
        ver, psz, bmo, pgo = struct.unpack(">IQQQ", data[hdr:hdr + 28])
        npages = length // psz
        bmsize = (npages + 63) // 64 * 8
        if bmo == 0 and pgo == 0:
            out += data[hdr:hdr + 28]
            cur = hdr + 28
        else:
            nbmo = new_base + len(out) + 28
            npgo = -(-(nbmo + bmsize) // align) * align
            out += struct.pack(">IQQQ", ver, psz, nbmo, npgo)
            out += data[bmo:bmo + bmsize]
            out += bytes(npgo - new_base - len(out))
            out += data[pgo:pgo + length]
            cur = pgo + length
        total -= length
    out += data[cur:]
    return bytes(out)


# ---- libvirt re-packing -----------------------------------------------------

def libvirt_repack(img, pad=64, mapped=False):
    """IMG with its data area shrunk to XML + cookie + PAD bytes."""
    swapped = img[16:20] != b"\x02\x00\x00\x00"
    fmt = ">" if swapped else "<"
    ver, dlen, run, form, cook = struct.unpack(fmt + "5I", img[16:36])
    data = img[92:92 + dlen]
    xml = data[:data.index(b"\0")]
    cookie = b""
    if cook:
        cookie = data[cook:data.index(b"\0", cook)]
    area = xml + b"\0"
    ncook = 0
    if cookie:
        ncook = len(area)
        area += cookie + b"\0"
    area += bytes(pad)
    hdr = img[:16] + struct.pack(fmt + "5I", ver, len(area), run, form,
                                 ncook) + img[36:92]
    payload_off = 92 + dlen
    if mapped:
        stream = relayout_mapped(img, payload_off, 92 + len(area))
    else:
        stream = img[payload_off:]
    return hdr + area + stream


# ---- xbzrle -------------------------------------------------------------------

def uleb(v):
    assert v < 16384
    return bytes([v]) if v < 0x80 else bytes([(v & 0x7f) | 0x80, v >> 7])


def xbzrle_encode(old, new):
    """QEMU's encoding of NEW against OLD (no trailing zero run)."""
    out = bytearray()
    i = 0
    n = len(old)
    while i < n:
        z = i
        while i < n and old[i] == new[i]:
            i += 1
        if i == n:
            break
        zrun = i - z
        nz = i
        while i < n and old[i] != new[i]:
            i += 1
        out += uleb(zrun) + uleb(i - nz) + new[nz:i]
    return bytes(out)


# ---- seeds ------------------------------------------------------------------

def write(corpus, target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def savevm_seeds(gen, put, qemu):
    small = ["--blocks=pc.ram:8K,rom:4K", "--zero-percent=60"]
    s = gen("--seed=1", *small, "--devices=3", "--resend=2", "--xbzrle=6")
    put("basic", s)
    for cut in (9, 40, 120, len(s) // 2, len(s) - 3):
        put("trunc-%d" % cut, s[:cut])
    put("nofooters", gen("--seed=2", *small, "--devices=3", "--no-footers",
                         "--xbzrle=4"))
    put("noconfig", gen("--seed=3", *small, "--devices=2", "--no-config",
                        "--no-vmdesc", "--no-switchover"))
    put("advise-flush", gen("--seed=4", *small, "--devices=2", "--advise",
                            "--multifd-flush", "--parts=1", "--resend=3"))
    put("ignshared", gen("--seed=5", "--blocks=pc.ram:8K,mem:16K",
                         "--zero-percent=90", "--devices=1",
                         "--caps=x-ignore-shared", "--ignored=mem"))
    put("manyparts", gen("--seed=6", "--blocks=a:4K,b:4K,c:4K,d:4K",
                         "--zero-percent=75", "--devices=4", "--parts=5",
                         "--resend=2", "--xbzrle=5"))
    # mapped-ram through the generic walk: compact and truncated
    m = gen("--seed=7", "--layout=mapped-ram", "--blocks=pc.ram:4K,rom:4K",
            "--devices=2", "--resend=3")
    put("mapped", relayout_mapped(m, 0, 0))
    put("mapped-trunc", m[:4096])
    mi = gen("--seed=8", "--layout=mapped-ram", "--blocks=pc.ram:4K,mem:8K",
             "--devices=1", "--caps=x-ignore-shared", "--ignored=mem")
    put("mapped-ignshared", relayout_mapped(mi, 0, 0, ignore_shared=True))

    # hand-made: 1 KiB target pages, a uuid, commands, footer look-alikes
    rnd = random.Random(11)
    pg = bytes(rnd.randrange(256) for _ in range(1024))
    b = header() + config(page_bits=10, uuid=bytes(range(16)))
    b += sec_open(1, 2, "ram", 0, 4) + be64(0x800 | 4) + counted("pc.ram")
    b += be64(0x800) + be64(0x10) + footer(2)
    b += command(11)
    b += sec_cont(2, 2) + be64(0x8) + counted("pc.ram") + pg
    b += be64(0x400 | 0x22) + b"\0"
    b += be64(0x40 | 0x20) + b"\x01" + struct.pack(">H", 4)
    b += b"\x00\x02\xaa\xbb"                     # xbzrle over page 0
    b += be64(0x10) + footer(2)
    body = b"\x7e" + be32(9) + b"\x04junk" + bytes(8)   # fake footer inside
    b += sec_open(4, 9, "dev0", 0, 1) + body + footer(9)
    b += sec_cont(3, 2) + be64(0x10) + footer(2)
    b += b"\x00" + vmdesc(old_vmdesc([("dev0", 0, len(body))]))
    put("pagebits10", b)

    # 64 KiB target pages; POSTCOPY_ADVISE(16) makes the block list carry
    # a page size for blocks whose page size differs ("huge")
    b = header() + config(page_bits=16)
    b += command(3, be64(0x10000) + be64(0x10000))
    b += sec_open(1, 0, "ram", 0, 4) + be64(0x20000 | 4)
    b += counted("pc.ram") + be64(0x10000) + counted("huge")
    b += be64(0x10000) + be64(0x40000)
    b += be64(0x10) + footer(0)
    b += sec_cont(3, 0) + be64(0x2) + counted("huge") + b"\0"
    b += be64(0x200) + be64(0x10) + footer(0)
    b += b"\x00"
    put("pagebits16-advise", b)

    # 40 sections: the section table grows (rehash) past 32
    b = header() + config()
    b += sec_open(1, 1000, "ram", 0, 4) + be64(0x1000 | 4)
    b += counted("pc.ram") + be64(0x1000) + be64(0x10) + footer(1000)
    for k in range(40):
        sid = k * 37 + 2001
        b += sec_open(4, sid, "d%d" % k, k, 1) + bytes([k]) + footer(sid)
    b += sec_cont(3, 1000) + be64(0x2) + counted("pc.ram") + b"\0"
    b += be64(0x10) + footer(1000) + b"\x00"
    put("manysections", b)

    if qemu:
        put("qemu-devices", qemu_stream(qemu, footers=True))
        put("qemu-devices-nofooters", qemu_stream(qemu, footers=False))


def mapped_seeds(gen, put):
    def cut(img):
        assert img[:MAPPED_PREFIX_LEN] == MAPPED_PREFIX, "prefix changed"
        return img[MAPPED_PREFIX_LEN:]
    m = gen("--seed=1", "--layout=mapped-ram", "--blocks=pc.ram:4K,rom:4K",
            "--devices=2")
    put("basic", cut(relayout_mapped(m, 0, 0)))
    put("trunc-1m", cut(m[:2048]))
    put("resend", cut(relayout_mapped(
        gen("--seed=2", "--layout=mapped-ram", "--blocks=pc.ram:8K,r:4K",
            "--devices=1", "--resend=6"), 0, 0)))
    # a 65-page block: a 2-word bitmap; cut in its pages region
    t = cut(relayout_mapped(
        gen("--seed=3", "--layout=mapped-ram",
            "--blocks=a:4K,b:260K,/rom@etc/acpi/tables:4K",
            "--zero-percent=98", "--devices=2", "--parts=2"), 0, 0))
    put("bigbitmap-trunc", t[:0x3000])
    put("nofooters", cut(relayout_mapped(
        gen("--seed=4", "--layout=mapped-ram", "--blocks=pc.ram:4K",
            "--devices=2", "--no-footers"), 0, 0)))
    put("oneblock", cut(relayout_mapped(
        gen("--seed=5", "--layout=mapped-ram", "--blocks=pc.ram:4K",
            "--devices=1", "--no-vmdesc"), 0, 0)))
    # hand-made: an ignored block with (0, 0) offsets, and a bitmap with a
    # stray bit past the block
    ms = MAPPED_PREFIX_LEN
    body = be64(0x2000 | 4)
    body += counted("gone") + be64(0x1000)
    body += struct.pack(">IQQQ", 1, PAGE, 0, 0)
    off = ms + len(body) + 1 + 2 + 8
    bm = off + 28
    pg = 0x1000 * ((bm + 8 + 0xfff) // 0x1000)
    body += counted("pc") + be64(0x1000)
    body += struct.pack(">IQQQ", 1, PAGE, bm, pg)
    body += struct.pack("<Q", 0b11)           # bit 1 is past 1 page
    body += bytes(pg - ms - len(body)) + b"\x5a" * 0x1000
    body += be64(0x10) + footer(1) + b"\x00"
    put("handmade-nodata-stray", body)
    # offsets that overflow when the block length is added
    body = be64(0x1000 | 4) + counted("pc") + be64(0x1000)
    body += struct.pack(">IQQQ", 1, PAGE, ms + 8 + 3 + 8 + 28,
                        0xfffffffffffff000) + bytes(8) + be64(0x10)
    put("handmade-overflow", body)


MAPPED_PREFIX = (header() + config(caps=("mapped-ram",)) +
                 sec_open(1, 1, "ram", 0, 4))


def libvirt_seeds(gen, put):
    small = ["--blocks=pc.ram:4K,rom:4K", "--zero-percent=60",
             "--devices=2"]
    put("raw", libvirt_repack(gen("--seed=1", *small, "--libvirt=raw",
                                  "--xbzrle=2", "--resend=2")))
    put("raw-swapped", libvirt_repack(gen("--seed=2", *small,
                                          "--libvirt=raw",
                                          "--libvirt-swapped")))
    put("raw-partial", libvirt_repack(gen("--seed=3", *small,
                                          "--libvirt=raw",
                                          "--libvirt-partial",
                                          "--domain=a<b>")))
    put("zstd", libvirt_repack(gen("--seed=4", *small, "--libvirt=zstd")))
    put("sparse", libvirt_repack(gen("--seed=5", *small, "--layout=mapped-ram",
                                     "--libvirt=sparse"), mapped=True))
    g = libvirt_repack(gen("--seed=6", *small, "--libvirt=gzip"))
    put("gzip-header", g[:600])
    put("raw-trunc", libvirt_repack(gen("--seed=7", *small,
                                        "--libvirt=raw"))[:400])


def vmdesc_seeds(gen, put, qemu):
    def take(stream):
        i = stream.rindex(b"\x00\x06")
        return stream[i + 6:]
    put("gen", take(gen("--seed=1", "--blocks=pc.ram:4K", "--devices=4")))
    hand = {
        "empty-devices": b'{"devices": []}',
        "old-style": json.dumps(old_vmdesc([("a", 0, 4), ("b/c", 7, 0)])
                                ).encode(),
        "new-style": json.dumps({
            "page_size": 4096,
            "configuration": {"vmsd_name": "configuration"},
            "devices": [{
                "name": "cpu", "instance_id": 0, "vmsd_name": "cpu",
                "version": 12,
                "fields": [
                    {"name": "regs", "array_len": 16, "type": "uint64",
                     "size": 8},
                    {"name": "e", "index": 0, "type": "struct", "size": 3},
                    {"name": "e", "index": 1, "type": "struct", "size": 3},
                    {"name": "e", "type": "struct", "size": 3},
                    {"name": "p", "array_len": 5, "type": "uint32",
                     "size": 4},
                    {"name": "p", "array_len": 2, "type": "nullptr",
                     "size": 1},
                    {"name": "p", "type": "uint32", "size": 4}],
                "subsections": [{
                    "vmsd_name": "cpu/sub", "version": 1,
                    "fields": [{"name": "x", "type": "bool", "size": 1}],
                    "subsections": [{"vmsd_name": "cpu/sub/sub",
                                     "version": 1, "fields": []}]}]}]}
        ).encode(),
        "unicode": '{"devices":[{"name":"\\u00e9\\ud83d\\ude00\\n\\/","instance_id":1,"size":0,"x":[1.5e-3,-0,true,false,null,"\u00e9"]}]}'.encode(),
        "deep": b'{"devices":[],"x":' + b"[" * 62 + b"]" * 62 + b"}",
        "too-deep": b"[" * 65 + b"]" * 65,
        "numbers": b'{"devices":[{"name":"n","instance_id":4294967295,'
                   b'"size":18446744073709551615,"fields":[{"size":'
                   b'18446744073709551615,"array_len":2}]}],'
                   b'"page_size":0}',
        "bad-tail": b'{"devices":[]} x',
    }
    for k, v in hand.items():
        put(k, v)
    if qemu:
        j = qemu_vmdesc(qemu)
        pick = lambda names: dict(j, devices=[d for d in j["devices"]
                                              if d["name"] in names])
        put("qemu-small", json.dumps(pick(
            {"timer", "cpu_common", "apic", "mc146818rtc", "fw_cfg",
             "pckbd", "globalstate"})).encode())
        put("qemu-cpu", json.dumps(pick({"cpu"})).encode())
        put("qemu-fdc-ide", json.dumps(pick(
            {"fdc", "0000:00:01.1/ide"})).encode())


def xbzrle_seeds(put):
    rnd = random.Random(5)
    old = bytes(rnd.randrange(256) for _ in range(PAGE))
    new = bytearray(old)
    for i in (0, 1, 100, 101, 102, 4095):
        new[i] ^= 0xff
    put("sparse", xbzrle_encode(old, bytes(new)))
    new = bytearray(old)
    new[200:1400] = bytes(rnd.randrange(1, 256) ^ b for b in old[200:1400])
    put("long-run", xbzrle_encode(old, bytes(new)))
    put("first-zero-run", b"\x00\x01\xfa")
    put("to-the-end", uleb(4000) + uleb(96) + bytes(range(96)))
    put("bad-3byte-uleb", b"\x80\x80\x01\x01\x00")
    put("bad-past-page", uleb(4095) + uleb(2) + b"ab")
    put("bad-empty-zrun", b"\x00\x01a\x00\x01b")
    put("bad-short", b"\x05")


def qemu_sections(data):
    """(id, name, inst, ver, body) of the FULL sections of a QEMU stream
    with footers, and its vmdesc JSON (read with the vmdesc sizes)."""
    end = data.rindex(b"\x00\x06")
    j = json.loads(data[end + 6:])
    out = []
    i = 0
    # find each FULL section by its header, in vmdesc order
    for name, inst in [(d["name"], d["instance_id"]) for d in j["devices"]]:
        pat = counted(name) + be32(inst)
        at = data.index(pat, i)
        h = at - 5
        assert data[h] == 4
        sid = struct.unpack(">I", data[h + 1:h + 5])[0]
        ver = struct.unpack(">I", data[at + len(pat):at + len(pat) + 4])[0]
        body = at + len(pat) + 4
        foot = data.index(footer(sid), body)
        out.append((sid, name, inst, ver, data[body:foot]))
        i = foot
    return out, j


def qemu_vmdesc(path):
    with open(path, "rb") as f:
        return qemu_sections(f.read())[1]


def qemu_stream(path, footers):
    """A small classic stream with a few real QEMU device sections (no
    RAM from QEMU) and the matching part of its vmdesc."""
    with open(path, "rb") as f:
        secs, j = qemu_sections(f.read())
    keep = ("timer", "cpu_common", "apic", "mc146818rtc", "fdc", "pckbd",
            "globalstate")
    b = header() + config()
    b += sec_open(1, 2, "ram", 0, 4) + be64(0x1000 | 4) + counted("pc.ram")
    b += be64(0x1000) + be64(0x10) + (footer(2) if footers else b"")
    b += sec_cont(2, 2) + be64(0x2) + counted("pc.ram") + b"\0" + be64(0x10)
    b += footer(2) if footers else b""
    b += command(11)
    b += sec_cont(3, 2) + be64(0x10) + (footer(2) if footers else b"")
    for sid, name, inst, ver, body in secs:
        if name in keep:
            b += sec_open(4, sid, name, inst, ver) + body
            b += footer(sid) if footers else b""
    j = dict(j, devices=[d for d in j["devices"] if d["name"] in keep])
    return b + b"\x00" + vmdesc(j)


def qcow2_seeds(gen, put, tmp):
    """qcow2 images (tests/gen/fr-mkqcow2.py) holding small streams."""
    mkqcow2 = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, "gen", "fr-mkqcow2.py")
    st = os.path.join(tmp, "q.st")
    with open(st, "wb") as f:
        f.write(gen("--seed=9", "--blocks=pc.ram:16K,rom:4K",
                    "--zero-percent=50", "--devices=2", "--resend=2"))
    variants = {
        "v3": ["--disk-size=4096"],
        "v2": ["--version=2", "--disk-size=1000"],
        "extl2": ["--extended-l2", "--cluster-bits=14", "--reverse",
                  "--disk-size=0"],
        "zeros": ["--zeros=flag", "--disk-size=512"],
        "twosnaps": ["--disk-size=512", "--snapshot=2:b:" + st,
                     "--snapshot=3:disk:"],
    }
    for name, opts in variants.items():
        out = os.path.join(tmp, name + ".qcow2")
        if "--cluster-bits=14" not in opts:
            opts = ["--cluster-bits=9"] + opts
        subprocess.run([sys.executable, mkqcow2, "--snapshot=1:a:" + st]
                       + opts + [out], check=True)
        with open(out, "rb") as f:
            put(name, f.read())


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    mkstream, corpus = sys.argv[1], sys.argv[2]
    qemu = sys.argv[3] if len(sys.argv) == 4 else None
    with tempfile.TemporaryDirectory() as tmp:
        gen = Gen(mkstream, tmp)
        savevm_seeds(gen, lambda n, d: write(corpus, "savevm", n, d), qemu)
        mapped_seeds(gen, lambda n, d: write(corpus, "mappedram", n, d))
        libvirt_seeds(gen, lambda n, d: write(corpus, "libvirt", n, d))
        vmdesc_seeds(gen, lambda n, d: write(corpus, "vmdesc", n, d), qemu)
        xbzrle_seeds(lambda n, d: write(corpus, "xbzrle", n, d))
        qcow2_seeds(gen, lambda n, d: write(corpus, "qcow2", n, d), tmp)


if __name__ == "__main__":
    main()

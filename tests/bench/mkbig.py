#!/usr/bin/env python3
"""Write a classic QEMU migration stream for a big guest without holding it
in memory: block pc.ram of SIZE bytes in which every Nth page carries
pseudo-random data (N = 100 / DATA_PERCENT), a ZERO record every 64th page,
the rest never sent (absent); then a second PART resends RESEND data pages.
Framing as QEMU writes it: configuration, START/PART/END with footers, one
device section, EOF, vmdesc.  For the scale benchmark only.

    mkbig.py SIZE_GIB DATA_PERCENT RESEND OUTPUT
"""
import json
import os
import random
import struct
import sys

PAGE = 4096


def counted(s):
    b = s.encode()
    return bytes([len(b)]) + b


def main():
    gib, pct, resend, out = int(sys.argv[1]), float(sys.argv[2]), \
        int(sys.argv[3]), sys.argv[4]
    length = gib << 30
    npages = length // PAGE
    step = max(1, int(round(100 / pct)))
    rnd = random.Random(1)
    pool = rnd.randbytes(1 << 20)
    f = open(out, "wb", buffering=8 << 20)
    w = f.write
    w(struct.pack(">II", 0x5145564D, 3))
    machine = b"pc-i440fx-10.0"
    w(b"\x07" + struct.pack(">I", len(machine)) + machine)
    ram_id = 1
    # START: block list
    w(b"\x01" + struct.pack(">I", ram_id) + counted("ram") +
      struct.pack(">II", 0, 4))
    w(struct.pack(">Q", length | 0x04) + counted("pc.ram") +
      struct.pack(">Q", length))
    w(struct.pack(">Q", 0x10) + b"\x7e" + struct.pack(">I", ram_id))

    def page(n, named):
        off = (n * 977) % ((1 << 20) - PAGE)
        flags = 0x08 | (0 if named else 0x20)
        hdr = struct.pack(">Q", n * PAGE | flags)
        return hdr + (b"" if not named else counted("pc.ram")) + \
            struct.pack(">Q", n) + pool[off:off + PAGE - 8]

    # PART 1: the first pass
    w(b"\x02" + struct.pack(">I", ram_id))
    named = True
    for base in range(0, npages, 64):
        # in each 64-page window: its data pages, and a ZERO for page 1
        first = -(-base // step) * step
        pages = set(range(first, min(base + 64, npages), step))
        for n in sorted(pages | {base + 1}):
            if n in pages:
                w(page(n, named))
                named = False
            elif n < npages:
                w(struct.pack(">Q", n * PAGE | 0x02 | 0x20) + b"\x00")
    w(struct.pack(">Q", 0x10) + b"\x7e" + struct.pack(">I", ram_id))
    # PART 2: resent pages
    w(b"\x02" + struct.pack(">I", ram_id))
    for i in range(resend):
        n = rnd.randrange(0, npages // step) * step
        w(page(n, False)[:8 + PAGE - 8] + struct.pack(">Q", i))
    w(struct.pack(">Q", 0x10) + b"\x7e" + struct.pack(">I", ram_id))
    w(b"\x08" + struct.pack(">HH", 11, 0))
    w(b"\x03" + struct.pack(">I", ram_id) + struct.pack(">Q", 0x10) +
      b"\x7e" + struct.pack(">I", ram_id))
    body = rnd.randbytes(300)
    w(b"\x04" + struct.pack(">I", 0) + counted("timer") +
      struct.pack(">II", 0, 2) + body + b"\x7e" + struct.pack(">I", 0))
    w(b"\x00")
    desc = json.dumps({"page_size": PAGE, "devices": [
        {"name": "timer", "instance_id": 0, "vmsd_name": "timer",
         "version": 2, "fields": [{"name": "data", "type": "buffer",
                                   "size": len(body)}]}]}).encode()
    w(b"\x06" + struct.pack(">I", len(desc)) + desc)
    f.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ram-records.py FILE - count the RAM page records of a classic QEMU stream.

An independent (stdlib only, deliberately naive) reader used to cross-check
`fixedram inspect` on streams written by a real QEMU: it walks the "ram"
section's START, PART and END bodies (FORMAT.md section 3) and ignores
everything else.  The stream must start at offset 0, be uncompressed and use
4 KiB target pages without postcopy/x-ignore-shared extras.

Prints one JSON object:
  {"records": {"page", "zero", "xbzrle", "resent", "multifd_flush"},
   "ramblocks": [{"name", "length", "present", "zero", "absent"}, ...]}
where a page's state is that of its last record (PAGE/XBZRLE: present).
Exit 0, or 1 with a message when the stream is not understood.
"""
import json
import re
import struct
import sys

PAGE = 4096
F_ZERO, F_MEM_SIZE, F_PAGE, F_EOS = 0x02, 0x04, 0x08, 0x10
F_CONTINUE, F_XBZRLE, F_HOOK, F_MULTIFD_FLUSH = 0x20, 0x40, 0x80, 0x200


class Bad(Exception):
    pass


def main(path):
    data = open(path, "rb").read()
    if data[:8] != b"QEVM\x00\x00\x00\x03":
        raise Bad("no QEVM v3 header at offset 0")
    m = re.compile(rb"\x01(....)\x03ram\x00\x00\x00\x00\x00\x00\x00\x04",
                   re.S).search(data, 8, 1 << 16)
    if not m:
        raise Bad("no START section for 'ram' in the first 64 KiB")
    sid = m.group(1)
    footer = b"\x7e" + sid
    pos = m.end()
    blocks, order, state = {}, [], {}
    cur = None      # the block of CONTINUE records, kept across sections
    rec = {"page": 0, "zero": 0, "xbzrle": 0, "resent": 0, "multifd_flush": 0}

    def u8():
        nonlocal pos
        pos += 1
        return data[pos - 1]

    def be(n):
        nonlocal pos
        pos += n
        return int.from_bytes(data[pos - n:pos], "big")

    def body(first):
        nonlocal pos, cur
        while True:
            if pos + 8 > len(data):
                raise Bad("stream ends inside a ram section")
            word = be(8)
            flags, addr = word & 0xfff, word & ~0xfff
            if first and flags & F_MEM_SIZE:
                total = addr
                while total > 0:
                    name = data[pos + 1:pos + 1 + data[pos]].decode()
                    pos += 1 + data[pos]
                    length = be(8)
                    blocks[name] = length
                    order.append(name)
                    total -= length
                first = False
                continue
            if flags & F_EOS:
                return
            if flags & F_MULTIFD_FLUSH:
                rec["multifd_flush"] += 1
                continue
            if flags & F_HOOK:
                continue
            if not flags & F_CONTINUE:
                n = u8()
                cur = data[pos:pos + n].decode()
                pos += n
            if cur not in blocks:
                raise Bad("record at 0x%x for unknown block %r" % (pos, cur))
            key = (cur, addr // PAGE)
            if key in state:
                rec["resent"] += 1
            if flags & F_ZERO:
                pos += 1
                rec["zero"] += 1
                state[key] = "zero"
            elif flags & F_PAGE:
                pos += PAGE
                rec["page"] += 1
                state[key] = "present"
            elif flags & F_XBZRLE:
                pos += 1
                n = be(2)
                pos += n
                rec["xbzrle"] += 1
                state[key] = "present"
            else:
                raise Bad("unknown record flags 0x%x at 0x%x" % (flags, pos))

    def end_section():
        nonlocal pos
        if data[pos:pos + 5] != footer:
            raise Bad("no section footer at 0x%x" % pos)
        pos += 5

    body(True)
    end_section()
    while True:
        kind = u8()
        if kind == 0x08:                    # COMMAND
            be(2)
            n = be(2)
            pos += n
        elif kind in (0x02, 0x03):          # PART, END
            if data[pos:pos + 4] != sid:
                raise Bad("section 0x%x of another device at 0x%x"
                          % (kind, pos - 1))
            pos += 4
            body(False)
            end_section()
            if kind == 0x03:
                break
        else:
            raise Bad("unexpected section type 0x%x at 0x%x" % (kind, pos - 1))

    out = []
    for name in order:
        pages = blocks[name] // PAGE
        st = [v for (b, _), v in state.items() if b == name]
        present, zero = st.count("present"), st.count("zero")
        out.append({"name": name, "length": blocks[name], "present": present,
                    "zero": zero, "absent": pages - present - zero})
    json.dump({"records": rec, "ramblocks": out}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except (Bad, IndexError, UnicodeDecodeError) as e:
        sys.stderr.write("ram-records: %s: %s\n" % (sys.argv[1], e))
        sys.exit(1)

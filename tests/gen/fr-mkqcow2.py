#!/usr/bin/env python3
"""fr-mkqcow2 - write a qcow2 image whose internal snapshots hold given VM states.

An implementation independent of src/qcow2.c, after QEMU's
docs/interop/qcow2.txt, for the tests: header (version 2 or 3), refcount
table and blocks (refcount 1 for every cluster used, so that
`qemu-img check` passes), an empty active L1 table, the snapshot table,
and per snapshot its L1 table, L2 tables and the clusters of its VM state
at the first L1 boundary past the end of the virtual disk, as QEMU's
savevm puts them.

Usage: fr-mkqcow2.py [OPTIONS] OUT
  --snapshot=ID:NAME:FILE   a snapshot whose VM state is FILE's bytes
                            (FILE empty: a disk-only snapshot); repeatable
  --version=2|3             (default 3)
  --cluster-bits=N          9 to 21 (default 16)
  --extended-l2             32 subclusters per cluster (version 3)
  --disk-size=N             virtual disk size in bytes (default 64 MiB)
  --zeros=MODE              all-zero clusters (subclusters): "mixed"
                            (default: alternately unallocated and, in
                            version 3, zero-flagged), "unallocated",
                            "flag" or "data" (written out)
  --reverse                 give the VM state's clusters host clusters in
                            reverse order (no two adjacent)
  --layout=FILE             write the offsets of every structure as JSON,
                            for tests that damage them
"""

import argparse
import json
import struct
import sys

MAGIC = 0x514649FB
OFFSET_MASK = 0x00FFFFFFFFFFFE00


def ceil_div(a, b):
    return -(-a // b)


class Image:
    def __init__(self, args):
        self.a = args
        self.cb = args.cluster_bits
        self.cs = 1 << self.cb
        self.ext = args.extended_l2
        self.l2_bits = self.cb - (4 if self.ext else 3)
        self.l1_cov = self.cs << self.l2_bits
        self.clusters = {}          # cluster index -> bytes
        self.next = 0
        self.zero_toggle = 0

    def alloc(self, n=1, data=None):
        first = self.next
        self.next += n
        if data is not None:
            for i in range(n):
                self.clusters[first + i] = data[i * self.cs:(i + 1) * self.cs]
        return first * self.cs

    def put(self, off, data):
        """Write DATA at OFF, which lies in clusters allocated before."""
        for i in range(0, len(data), self.cs):
            c = (off + i) // self.cs
            self.clusters[c] = data[i:i + self.cs]

    def zero_mode(self):
        mode = self.a.zeros
        if mode == "mixed":
            self.zero_toggle ^= 1
            if self.zero_toggle or self.a.version == 2:
                return "unallocated"
            return "flag"
        return mode

    def vmstate_tables(self, state):
        """L1 entries and clusters for STATE; returns (l1, layout)."""
        cs = self.cs
        base = ceil_div(self.a.disk_size, self.l1_cov) * self.l1_cov
        end = base + len(state)
        l1_size = ceil_div(end, self.l1_cov)
        l1 = [0] * l1_size
        l2s = {}
        # data clusters first, so that --reverse can hand them out backwards
        pieces = []
        for g in range(base, end, cs) if state else []:
            chunk = state[g - base:g - base + cs]
            chunk = chunk + bytes(cs - len(chunk))
            pieces.append((g, chunk))
        wanted = [p for p in pieces if any(p[1]) or self.a.zeros == "data"]
        hosts = [self.alloc() for _ in wanted]
        if self.a.reverse:
            hosts.reverse()
        host_of = {p[0]: h for p, h in zip(wanted, hosts)}
        for g, chunk in pieces:
            l1i = g // self.l1_cov
            if l1i not in l2s:
                l2s[l1i] = bytearray(cs)
            entry_size = 16 if self.ext else 8
            at = ((g // cs) & ((1 << self.l2_bits) - 1)) * entry_size
            if g in host_of:
                self.clusters[host_of[g] // cs] = chunk
                entry = host_of[g] | (1 << 63)
                bitmap = 0
                if self.ext:
                    sc = cs // 32
                    for i in range(32):
                        if any(chunk[i * sc:(i + 1) * sc]) or \
                                self.a.zeros == "data":
                            bitmap |= 1 << i
                        elif self.zero_mode() == "flag":
                            bitmap |= 1 << (32 + i)
            else:
                mode = self.zero_mode()
                entry = 1 if mode == "flag" and not self.ext else 0
                bitmap = (0xFFFFFFFF << 32) if mode == "flag" else 0
            struct.pack_into(">Q", l2s[l1i], at, entry)
            if self.ext:
                struct.pack_into(">Q", l2s[l1i], at + 8, bitmap)
        l2_offsets = {}
        for l1i in sorted(l2s):
            off = self.alloc(1, bytes(l2s[l1i]))
            l1[l1i] = off | (1 << 63)
            l2_offsets[l1i] = off
        return l1, {"base": base, "l2_offsets": sorted(l2_offsets.values()),
                    "data_offsets": sorted(hosts)}

    def table_bytes(self, entries):
        raw = b"".join(struct.pack(">Q", e) for e in entries)
        return raw + bytes(ceil_div(len(raw), self.cs) * self.cs - len(raw))

    def build(self):
        a, cs = self.a, self.cs
        self.alloc()                            # the header
        rt_clusters = 1
        layout = {"snapshots": []}
        # refcount table and blocks come last; their count is found below
        active_l1_size = ceil_div(a.disk_size, self.l1_cov)
        active_l1 = self.alloc(ceil_div(active_l1_size * 8, cs) or 1)
        snaps = []
        for spec in a.snapshot:
            sid, name, path = spec.split(":", 2)
            state = open(path, "rb").read() if path else b""
            l1, lay = self.vmstate_tables(state)
            if not state:
                l1 = [0] * active_l1_size
            l1_bytes = self.table_bytes(l1)
            l1_off = self.alloc(len(l1_bytes) // cs, l1_bytes)
            lay.update(l1_offset=l1_off, l1_size=len(l1), id=sid, name=name,
                       vmstate_size=len(state))
            snaps.append(lay)
        entries = b""
        for s in snaps:
            sid, name = s["id"].encode(), s["name"].encode()
            s["entry_offset"] = len(entries)
            extra = struct.pack(">QQQ", s["vmstate_size"], a.disk_size,
                                0xFFFFFFFFFFFFFFFF)
            e = struct.pack(">QIHHIIQII", s["l1_offset"], s["l1_size"],
                            len(sid), len(name), 1795400000, 0, 0,
                            s["vmstate_size"] & 0xFFFFFFFF, len(extra))
            e += extra + sid + name
            e += bytes(-len(e) % 8)
            entries += e
        snap_off = 0
        if entries:
            n = ceil_div(len(entries), cs)
            snap_off = self.alloc(n, entries + bytes(n * cs - len(entries)))
        for s in snaps:
            s["entry_offset"] += snap_off
        layout["snapshots"] = snaps
        # refcounts: 16-bit, one per cluster, every used cluster at 1
        per_block = cs // 2
        nb = 1
        while True:
            need_nb = ceil_div(self.next + rt_clusters + nb, per_block)
            need_rt = ceil_div(need_nb, cs // 8)
            if need_nb <= nb and need_rt <= rt_clusters:
                break
            nb, rt_clusters = max(nb, need_nb), max(rt_clusters, need_rt)
        rt_off = self.alloc(rt_clusters)
        rb_first = self.next
        self.alloc(nb)
        total = self.next
        table = []
        for b in range(nb):
            blk = bytearray(cs)
            for i in range(per_block):
                if b * per_block + i < total:
                    struct.pack_into(">H", blk, 2 * i, 1)
            self.clusters[rb_first + b] = bytes(blk)
            table.append((rb_first + b) * cs)
        self.put(rt_off, self.table_bytes(table)[:rt_clusters * cs])
        hdr = struct.pack(">IIQIIQIIQQIIQ", MAGIC, a.version, 0, 0, self.cb,
                          a.disk_size, 0, active_l1_size, active_l1, rt_off,
                          rt_clusters, len(snaps), snap_off)
        if a.version == 3:
            hdr += struct.pack(">QQQII", (1 << 4) if self.ext else 0, 0, 0,
                               4, 112) + bytes(8)
        self.clusters[0] = hdr + bytes(cs - len(hdr))
        layout.update(cluster_size=cs, snapshot_table=snap_off,
                      refcount_table=rt_off, active_l1=active_l1)
        return layout

    def write(self, path):
        with open(path, "wb") as f:
            for c in sorted(self.clusters):
                f.seek(c * self.cs)
                f.write(self.clusters[c])
            f.truncate(self.next * self.cs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--snapshot", action="append", default=[])
    p.add_argument("--version", type=int, choices=(2, 3), default=3)
    p.add_argument("--cluster-bits", type=int, default=16)
    p.add_argument("--extended-l2", action="store_true")
    p.add_argument("--disk-size", type=int, default=64 << 20)
    p.add_argument("--zeros", default="mixed",
                   choices=("mixed", "unallocated", "flag", "data"))
    p.add_argument("--reverse", action="store_true")
    p.add_argument("--layout")
    a = p.parse_args()
    if not 9 <= a.cluster_bits <= 21:
        p.error("--cluster-bits: 9 to 21")
    if a.extended_l2 and (a.version == 2 or a.cluster_bits < 14):
        p.error("--extended-l2 needs version 3 and clusters of 16 KiB+")
    if a.zeros == "flag" and a.version == 2:
        p.error("--zeros=flag needs version 3")
    img = Image(a)
    layout = img.build()
    img.write(a.out)
    if a.layout:
        with open(a.layout, "w") as f:
            json.dump(layout, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

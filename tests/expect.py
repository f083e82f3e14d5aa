#!/usr/bin/env python3
"""Compare `fixedram inspect --output=json` with what fr-mkstream --expect
says the file holds.  Exit 1 with every difference listed."""
import json
import sys


def main():
    want = json.load(open(sys.argv[1]))
    got = json.load(open(sys.argv[2]))
    diffs = []

    def check(path, a, b):
        if a != b:
            diffs.append(f"{path}: inspect says {a!r}, generator {b!r}")

    for key in ("format", "machine", "capabilities", "page_size",
                "ram_total"):
        check(key, got.get(key), want.get(key))
    wc, gc = want.get("container"), got.get("container")
    # inspect names the compression of the QEMU stream, also inside a
    # libvirt image; the generator names it in the container format
    compression = want.get("compression")
    if wc and wc["format"] in ("zstd", "gzip", "bzip2", "xz", "lzop"):
        compression = wc["format"]
    check("compression", got.get("compression"), compression)
    if wc is None or gc is None:
        check("container", gc, wc)
    else:
        check("container.type", gc["type"], wc["type"])
        check("container.format", gc["format"], wc["format"])
        check("container.complete", gc["complete"], wc["complete"])
        check("container.domain", gc["domain"], wc["domain"])
    check("ramblocks.count", len(got["ramblocks"]), len(want["ramblocks"]))
    for g, w in zip(got["ramblocks"], want["ramblocks"]):
        for k in ("name", "length", "present", "zero", "absent"):
            check(f"ramblocks[{w['name']}].{k}", g[k], w[k])
        pages = g["present"] + g["zero"] + g["absent"]
        check(f"ramblocks[{w['name']}] page sum", pages,
              g["length"] // got["page_size"])
    for k in ("page", "zero", "xbzrle", "resent"):
        check(f"records.{k}", got["records"][k], want["records"][k])
    check("devices.count", len(got["devices"]), len(want["devices"]))
    for g, w in zip(got["devices"], want["devices"]):
        for k in ("id", "name", "instance", "version", "size"):
            check(f"devices[{w['name']}].{k}", g[k], w[k])
    check("vmdesc", got["vmdesc"] is not None, want["vmdesc"])
    for d in diffs:
        print(d, file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""cmp-regs - compare fixedram inspect --cpus --output=json with QEMU's
HMP "info registers -a" (frqemu --regs).

    cmp-regs.py REGS.txt INSPECT.json [MODE]

Every vCPU of REGS.txt ("CPU#N" blocks, in order) must be in the JSON's
"cpus" with the same registers: for x86 the general registers, RIP,
RFLAGS, CR0/2/3/4, EFER, segment registers, LDT, TR, GDT and IDT; for
aarch64 PC, X0-X30, SP and PSTATE; for 32-bit Arm R0-R15 and the PSR.  QEMU prints a vCPU outside long
mode with 32-bit names (EAX=, EIP=, 8-digit bases): those compare on the
low 32 bits.  qemu-system-i386 does not migrate EFER with the other
registers (it is not among the fields of its "cpu" section), so it is not
compared there.  MODE, if given, is what every vCPU's "mode" must be.
Prints each difference; exit 0 all equal, 1 not.
"""

import json
import re
import sys

GPR = {"AX": "rax", "BX": "rbx", "CX": "rcx", "DX": "rdx", "SI": "rsi",
       "DI": "rdi", "BP": "rbp", "SP": "rsp"}


def parse_hmp(text):
    """[{name: (value, bits)}] per vCPU; segments as name.selector ..."""
    cpus = []
    for block in re.split(r"^CPU#\d+\s*$", text, flags=re.M)[1:]:
        regs = {}
        for m in re.finditer(r"\b([A-Z][A-Z0-9]*)\s*=\s*([0-9a-f]+)\b", block):
            name, val = m.group(1), m.group(2)
            bits = 64 if len(val) == 16 else 32
            if re.fullmatch(r"X\d\d", name):      # aarch64
                regs["x%d" % int(name[1:])] = (int(val, 16), 64)
            elif name in ("PC", "SP", "PSTATE"):
                regs[name.lower()] = (int(val, 16), 64)
            elif re.fullmatch(r"R\d\d", name):   # 32-bit Arm
                regs["r%d" % int(name[1:])] = (int(val, 16), 64)
            elif name == "PSR":
                regs["cpsr"] = (int(val, 16), 64)
            elif name[0] in "RE" and name[1:] in GPR:
                regs[GPR[name[1:]]] = (int(val, 16), bits)
            elif re.fullmatch(r"R(8|9|1[0-5])", name):
                regs[name.lower()] = (int(val, 16), 64)
            elif name in ("RIP", "EIP"):
                regs["rip"] = (int(val, 16), bits)
            elif name in ("RFL", "EFL"):
                regs["rflags"] = (int(val, 16), 64)
            elif name in ("CR0", "CR2", "CR3", "CR4", "EFER"):
                regs[name.lower()] = (int(val, 16), bits)
        for m in re.finditer(r"^(ES|CS|SS|DS|FS|GS|LDT|TR) ?=([0-9a-f]{4}) "
                             r"([0-9a-f]+) ([0-9a-f]{8}) ([0-9a-f]{8})",
                             block, flags=re.M):
            seg = m.group(1).lower()
            bits = 64 if len(m.group(3)) == 16 else 32
            regs[seg + ".selector"] = (int(m.group(2), 16), 64)
            regs[seg + ".base"] = (int(m.group(3), 16), bits)
            regs[seg + ".limit"] = (int(m.group(4), 16), 64)
            regs[seg + ".flags"] = (int(m.group(5), 16), 64)
        for m in re.finditer(r"^(GDT|IDT)=\s+([0-9a-f]+) ([0-9a-f]{8})",
                             block, flags=re.M):
            seg = m.group(1).lower()
            bits = 64 if len(m.group(2)) == 16 else 32
            regs[seg + ".base"] = (int(m.group(2), 16), bits)
            regs[seg + ".limit"] = (int(m.group(3), 16), 64)
        cpus.append(regs)
    return cpus


def flatten(cpu):
    out = dict(cpu.get("registers", {}))
    for seg, v in cpu.get("segments", {}).items():
        for k, x in v.items():
            out[seg + "." + k] = x
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        hmp = parse_hmp(f.read())
    with open(sys.argv[2]) as f:
        got = json.load(f).get("cpus", [])
    bad = []
    if not hmp:
        bad.append("no CPU# block in %s" % sys.argv[1])
    if len(got) != len(hmp):
        bad.append("%d vCPUs in the JSON, %d in QEMU's" % (len(got), len(hmp)))
    for i, (want, cpu) in enumerate(zip(hmp, got)):
        if cpu.get("instance") != i:
            bad.append("vCPU %d: instance %s" % (i, cpu.get("instance")))
        if len(sys.argv) == 4 and cpu.get("mode") != sys.argv[3]:
            bad.append("vCPU %d: mode %s, expected %s"
                       % (i, cpu.get("mode"), sys.argv[3]))
        have = flatten(cpu)
        least = {"aarch64": 34, "arm": 17}.get(cpu.get("arch"), 30)
        if len(want) < least:
            bad.append("vCPU %d: only %d registers in QEMU's output"
                       % (i, len(want)))
        if cpu.get("arch") == "i386":
            want.pop("efer", None)
        for name, (val, bits) in sorted(want.items()):
            mask = (1 << bits) - 1
            if name not in have:
                bad.append("vCPU %d: %s missing (QEMU: %#x)" % (i, name, val))
            elif have[name] & mask != val:
                bad.append("vCPU %d: %s = %#x, QEMU: %#x"
                           % (i, name, have[name], val))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

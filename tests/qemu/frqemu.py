#!/usr/bin/env python3
"""frqemu - drive a real QEMU to write and load migration files for fixedram tests.

Stdlib only.  Subcommands:

  save    --mode=MODE --out=FILE [--stats=S.json] [--blob=F --blob-addr=A]
          [--guest=paused|live|live-zeroing|firmware] [--mem=128M]
          [--machine=M] [--firmware=CODE,VARS]
          [--dump=RAM.bin] [--uri-prefix=file:|exec:] [--exec-cmd=CMD]
          [--offset=N] [--shared-mem=PATH [--ignore-shared]]
          [--zero-page-detection=none|legacy|multifd] [--dirty-bitmap]
          [--regs=REGS.txt]
  restore --mode=MODE|auto --in=FILE --dump=RAM.bin [--stats=S.json]
          [--regs=REGS.txt]
          [--uri-prefix=file:|exec:] [--exec-cmd=CMD] [--offset=N]
          [--shared-mem=PATH [--ignore-shared]] [--dirty-bitmap]
  savevm  --disk=D.qcow2 --tag=TAG [--blob=F --blob-addr=A] [--dump=RAM.bin]
          [--guest=paused|live]
  version prints QEMU's version; exit 77 if QEMU is missing or older than 9.0

MODE: classic, xbzrle, mapped-ram, mapped-ram-multifd (2 channels),
mapped-ram-multifd-dio (multifd + direct-io; without direct-io, with a note
on stderr, when the target filesystem refuses O_DIRECT).  restore --mode=auto
(default) picks mapped-ram from the file's configuration section.

Paused guest (-S): --dump is taken right before the save.  --regs writes
HMP's "info registers -a" (every vCPU) when --dump is taken, or for
restore after the load.  Live guest: the
multiboot kernel of build-guest.sh (or --kernel / $FRQEMU_KERNEL) rewrites
guest RAM 16..24 MiB forever; after --run-time the save runs with
max-bandwidth --bandwidth and downtime-limit 1 ms, so it cannot converge,
until dirty-sync-count >= --min-syncs (and, for xbzrle, xbzrle-cache.pages >=
--min-xbzrle-pages); then the limits are lifted.  --dump is taken after
completion (source stopped).  A live guest's QEMU runs at nice -5 where
allowed (root), and a save that converged early anyway (vCPU descheduled)
is retried (--attempts, default 5).  exec: saves wait for the command to
finish.  $QEMU overrides qemu-system-x86_64.

An aarch64 QEMU ($QEMU named qemu-system-aarch64...) runs machine virt
with -cpu max; guest RAM (and so --dump) starts at 0x40000000, which
--blob-addr must account for.  Its live guest is a loop of ten
instructions loaded at RAM + 2 MiB (no kernel; QEMU puts its device tree
at the start) that stores a pass counter at word +8 of each page of RAM
16..24 MiB, forever; there is no live-zeroing.  A 32-bit Arm QEMU
(qemu-system-arm) runs machine virt with its default CPU, RAM at
0x40000000 too, and paused guests only.

--guest=live-zeroing boots the same kernel with `-append frguest=zeroing`:
besides rewriting the even pages of 16..24 MiB, it fills half of the odd
pages with data and zeroes the other half on every pass, alternating, so a
live save sends many pages first with data and later as zero pages (classic:
PAGE then ZERO records; mapped-ram: clear bitmap bits over stale data).

--firmware=CODE,VARS loads UEFI firmware as two pflash drives (CODE read
only; VARS written by the guest), the first one secure (for an SMM build
on machine q35,smm=on); restore needs the same.  --guest=firmware runs
the VM without a kernel for --run-time seconds, so the firmware writes
RAM, then saves it while it runs, with no limits; --dump is taken after
completion.

--shared-mem=PATH backs guest RAM with a shared memory-backend-file (id
"mem", e.g. PATH=/dev/shm/NAME; created, and left for the caller to remove);
--ignore-shared also sets the x-ignore-shared capability, so that the save
lists the "mem" block but sends none of its pages (restore needs the same
PATH and --ignore-shared).

--dirty-bitmap gives the VM a 64 MiB null-co block node "n0" and sets the
dirty-bitmaps capability, so that the stream carries an iterative
"dirty-bitmap" section; save adds bitmap "b0" (64 KiB granularity) to n0
and dirties 1 MiB at 0 and 64 KiB at 8 MiB before saving.  --stats then
also holds "fr-dirty-bitmaps": [[node, bitmap, dirty bytes], ...] of the
saved or restored VM (restore needs --dirty-bitmap too).

savevm stores an internal snapshot TAG, with its VM state, in the qcow2
image D (a -blockdev node of the VM, attached to no device) through HMP
savevm, as virt-manager and "virsh snapshot-create" do.  --guest=live boots
the live guest kernel, lets it run --run-time seconds and stops it first,
so that --dump (taken right before savevm) is the RAM the snapshot holds.

Exit status: 0 success, 1 failure (QEMU's error and stderr on stderr),
2 usage, 77 QEMU missing/too old.  Nothing is printed on success except
`version` output.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MODES = ("classic", "xbzrle", "mapped-ram", "mapped-ram-multifd",
         "mapped-ram-multifd-dio")
MIN_VERSION = (9, 0)
HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "frqemu"


class Failure(Exception):
    """A failure to report: message, plus QEMU's stderr if any."""


class QMPError(Failure):
    def __init__(self, cmd, err):
        self.cmd = cmd
        self.err_class = err.get("class", "")
        self.desc = err.get("desc", str(err))
        super().__init__("QMP %s failed: %s" % (cmd, self.desc))


# --------------------------------------------------------------------------
# helpers

def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % text)
    mult = {"": 1 << 20, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
            "t": 1 << 40}[m.group(2).lower()]
    # QEMU's -m takes a bare number as MiB
    return int(m.group(1)) * mult


def parse_int(text):
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("bad number %r" % text)


def qemu_binary():
    return os.environ.get("QEMU", "qemu-system-x86_64")


def target_arch():
    name = os.path.basename(qemu_binary())
    if "aarch64" in name:
        return "aarch64"
    return "arm" if name.startswith("qemu-system-arm") else "x86_64"


# Where guest RAM starts, per target.
RAM_BASE = {"x86_64": 0, "aarch64": 0x40000000, "arm": 0x40000000}

# The aarch64 live guest, loaded at RAM + 2 MiB (the device tree is at
# the start) with the vCPU's PC there (MMU off):
#   movz x0, #0x4100, lsl #16   x0 = RAM + 16 MiB
#   movz x2, #0                 x2 = pass counter
# pass:
#   add  x2, x2, #1
#   mov  x1, x0
#   movz x3, #2048              pages in 16..24 MiB
# page:
#   str  x2, [x1, #8]
#   add  x1, x1, #1, lsl #12    next page
#   subs x3, x3, #1
#   b.ne page
#   b    pass
AARCH64_LIVE_GUEST = [
    0xD2A82000, 0xD2800002, 0x91000442, 0xAA0003E1, 0xD2810003,
    0xF9000422, 0x91400421, 0xF1000463, 0x54FFFFA1, 0x17FFFFF9,
]


def qemu_version(binary):
    """Return (major, minor, micro, text) or None if not runnable."""
    try:
        out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30,
                             check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0),
            "%s.%s.%s" % (m.group(1), m.group(2), m.group(3) or 0))


def o_direct_ok(directory):
    """Can files in DIRECTORY be opened with O_DIRECT?  (tmpfs says no.)"""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False, "O_DIRECT not supported on this platform"
    fd, path = tempfile.mkstemp(prefix=".frqemu-dio-", dir=directory)
    os.close(fd)
    try:
        fd = os.open(path, os.O_RDWR | flag)
        os.close(fd)
        return True, ""
    except OSError as e:
        return False, e.strerror
    finally:
        os.unlink(path)


def read_file_caps(path, offset=0):
    """Capabilities recorded in a stream's configuration section (list)."""
    with open(path, "rb") as f:
        f.seek(offset)
        buf = f.read(4096)
    if len(buf) < 8 or buf[:4] != b"QEVM":
        raise Failure("%s: not a QEMU migration stream (no QEVM magic at "
                      "offset %d)" % (path, offset))
    pos = 8
    caps = []
    if pos < len(buf) and buf[pos] == 0x07:
        n = int.from_bytes(buf[pos + 1:pos + 5], "big")
        pos += 5 + n
        while pos < len(buf) and buf[pos] == 0x05:
            ln = buf[pos + 1]
            name = buf[pos + 2:pos + 2 + ln].decode("ascii", "replace")
            pos += 2 + ln + 4               # name, version_id
            if name == "configuration/capabilities":
                count = int.from_bytes(buf[pos:pos + 4], "big")
                pos += 4
                for _ in range(count):
                    ln = buf[pos]
                    caps.append(buf[pos + 1:pos + 1 + ln].decode("ascii",
                                                                 "replace"))
                    pos += 1 + ln
            elif name == "configuration/target-page-bits":
                pos += 4
            elif name == "configuration/uuid":
                pos += 16
            else:
                break
    return caps


# --------------------------------------------------------------------------
# QMP

class QMP:
    def __init__(self, path, deadline):
        self.deadline = deadline
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")
        self.next_id = 0
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise Failure("unexpected QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def _read(self):
        # the overall deadline is enforced by the callers' polling loops;
        # a single reply gets 30 s of grace beyond it
        remaining = max(self.deadline - time.monotonic(), 0) + 30
        self.sock.settimeout(remaining)
        try:
            line = self.rfile.readline()
        except socket.timeout:
            raise Failure("timed out waiting for a QMP reply")
        if not line:
            raise Failure("QEMU closed the QMP connection")
        return json.loads(line)

    def cmd(self, name, **args):
        self.next_id += 1
        req = {"execute": name, "id": self.next_id}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read()
            if "event" in msg:
                self.events.append(msg)
                continue
            if msg.get("id") != self.next_id:
                continue
            if "error" in msg:
                raise QMPError(name, msg["error"])
            return msg.get("return")

    def close(self):
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


def raise_priority():
    """In the child: run ahead of the rest of a parallel test run, where
    allowed (root), so that a live guest's vCPU is not starved."""
    try:
        os.nice(-5)
    except OSError:
        pass


class Qemu:
    """One QEMU process with a QMP socket in a private temp dir (BOOST:
    with raise_priority)."""

    def __init__(self, args, tmpdir, deadline, boost=False):
        self.boost = boost
        self.tmpdir = tmpdir
        self.deadline = deadline
        self.sock_path = os.path.join(tmpdir, "qmp.sock")
        self.log_path = os.path.join(tmpdir, "qemu.log")
        self.proc = None
        self.qmp = None
        self.binary = qemu_binary()
        self.argv = [self.binary, "-qmp",
                     "unix:%s,server=on,wait=off" % self.sock_path] + args

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """QEMU always ends; an exception keeps it for show_stderr()."""
        if exc is not None:
            exc.frqemu_vm = self
        self.kill()
        return False

    def start(self):
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         start_new_session=True,
                                         preexec_fn=raise_priority
                                         if self.boost else None)
        except OSError as e:
            raise Failure("cannot run %s: %s" % (self.binary, e.strerror))
        finally:
            log.close()
        while True:
            if self.proc.poll() is not None:
                raise Failure("QEMU exited with status %d at startup"
                              % self.proc.returncode)
            if os.path.exists(self.sock_path):
                try:
                    self.qmp = QMP(self.sock_path, self.deadline)
                    return
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            if time.monotonic() > self.deadline:
                raise Failure("timed out waiting for QEMU's QMP socket")
            time.sleep(0.02)

    def cmd(self, name, **args):
        if self.qmp is None:
            raise Failure("QEMU is not running")
        try:
            return self.qmp.cmd(name, **args)
        except (OSError, ValueError) as e:
            raise Failure("QMP %s: %s" % (name, e))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def quit(self):
        """Orderly shutdown; falls back to kill()."""
        if not self.alive():
            return
        try:
            self.cmd("quit")
        except Failure:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self):
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.proc is None:
            return
        # QEMU runs in its own session: this also ends exec: helpers.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# --------------------------------------------------------------------------
# migration settings

def mode_caps(mode, side, args=None):
    caps = {}
    if args is not None and getattr(args, "ignore_shared", False):
        caps["x-ignore-shared"] = True
    if args is not None and getattr(args, "dirty_bitmap", False):
        caps["dirty-bitmaps"] = True
    if mode == "xbzrle" and side == "src":
        caps["xbzrle"] = True
    if mode.startswith("mapped-ram"):
        caps["mapped-ram"] = True
    if mode.startswith("mapped-ram-multifd"):
        caps["multifd"] = True
    return caps


def set_caps(vm, caps):
    if caps:
        vm.cmd("migrate-set-capabilities",
               capabilities=[{"capability": k, "state": v}
                             for k, v in caps.items()])


def resolve_dio(mode, path):
    """For *-dio modes: is O_DIRECT usable next to PATH?  Warn if not."""
    if mode != "mapped-ram-multifd-dio":
        return False
    ok, why = o_direct_ok(os.path.dirname(os.path.abspath(path)) or ".")
    if not ok:
        sys.stderr.write(
            "%s: note: the filesystem of %s refuses O_DIRECT (%s); "
            "falling back to mapped-ram-multifd without direct-io\n"
            % (PROG, os.path.dirname(os.path.abspath(path)), why))
    return ok


def exec_command(args, path, direction, rcfile=None):
    """The shell command of an exec: URI.

    On close QEMU SIGTERMs and 10 ms later SIGKILLs the /bin/sh it started if
    that has not exited yet, which can cut off a writer still flushing.  So
    for saves the user's command runs in a background job (stdin passed on
    fd 3) that survives its parent, and records its exit status in RCFILE;
    the caller waits for that file.
    """
    if args.exec_cmd:
        cmd = args.exec_cmd
    else:
        q = shlex.quote(os.path.abspath(path))
        cmd = "cat > %s" % q if direction == "out" else "cat %s" % q
    if direction == "in":
        return cmd
    rc = shlex.quote(rcfile)
    return ("exec 3<&0 </dev/null; { (\n%s\n) <&3 3<&-; "
            "echo $? > %s.tmp; mv %s.tmp %s; } & exec 3<&-; wait"
            % (cmd, rc, rc, rc))


def wait_exec_rc(rcfile, deadline):
    while not os.path.exists(rcfile):
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for the exec: command to finish")
        time.sleep(0.02)
    with open(rcfile) as f:
        rc = f.read().strip()
    if rc != "0":
        raise Failure("the exec: command exited with status %s" % rc)


def migration_uri(args, path, direction, rcfile=None):
    if args.uri_prefix == "exec:":
        return "exec:" + exec_command(args, path, direction, rcfile)
    uri = "file:" + os.path.abspath(path)
    if args.offset:
        uri += ",offset=%d" % args.offset
    return uri


def machine_args(args, paused):
    machine = args.machine or ("pc" if target_arch() == "x86_64" else "virt")
    a = []
    if args.shared_mem:
        a += ["-object", "memory-backend-file,id=mem,size=%dM,mem-path=%s,"
              "share=on" % (args.mem >> 20, os.path.abspath(args.shared_mem))]
        machine += ",memory-backend=mem"
    for node in range(args.numa):
        # libvirt's names for the blocks of NUMA nodes
        a += ["-object", "memory-backend-ram,id=ram-node%d,size=%dM"
              % (node, (args.mem // args.numa) >> 20),
              "-numa", "node,nodeid=%d,memdev=ram-node%d" % (node, node)]
    a = ["-M", machine, "-m", "%dM" % (args.mem >> 20), "-accel", "tcg",
         "-display", "none", "-nodefaults"] + a
    if target_arch() == "aarch64":
        a += ["-cpu", "max"]
    if getattr(args, "smp", 1) > 1:
        a += ["-smp", str(args.smp)]
    if getattr(args, "dirty_bitmap", False):
        a += ["-blockdev", "driver=null-co,node-name=n0,size=67108864"]
    if getattr(args, "firmware", None):
        code, _, vars_ = args.firmware.partition(",")
        a += ["-global", "driver=cfi.pflash01,property=secure,value=on",
              "-drive", "if=pflash,format=raw,unit=0,file=%s,readonly=on"
              % os.path.abspath(code),
              "-drive", "if=pflash,format=raw,unit=1,file=%s"
              % os.path.abspath(vars_)]
    if paused:
        a.append("-S")
    return a


def wait_migration(vm, deadline, hook=None):
    """Poll query-migrate until completed; return its reply."""
    last = None
    while True:
        if not vm.alive():
            raise Failure("QEMU exited during migration (status %s)"
                          % vm.proc.returncode)
        info = vm.cmd("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status in ("failed", "cancelled"):
            raise Failure("migration %s: %s"
                          % (status, info.get("error-desc", "(no error-desc)")))
        if hook:
            hook(info)
        last = status
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for the migration (status %s, "
                          "ram %s)" % (last, json.dumps(info.get("ram", {}))))
        time.sleep(0.05)


def guest_kernel(args, tmpdir):
    if args.kernel:
        return args.kernel
    if os.environ.get("FRQEMU_KERNEL"):
        return os.environ["FRQEMU_KERNEL"]
    script = os.path.join(HERE, "build-guest.sh")
    r = subprocess.run(["sh", script, os.path.join(tmpdir, "guest")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False)
    if r.returncode != 0:
        raise Failure("building the live guest failed (exit %d):\n%s"
                      % (r.returncode, r.stderr.decode("utf-8", "replace")))
    return r.stdout.decode().strip().splitlines()[-1]


def live_guest_args(args, tmpdir):
    """QEMU options that start the live guest."""
    if target_arch() == "aarch64":
        if args.guest != "live":
            raise Failure("no %s guest for aarch64" % args.guest)
        code = os.path.join(tmpdir, "aarch64-guest.bin")
        with open(code, "wb") as f:
            for insn in AARCH64_LIVE_GUEST:
                f.write(insn.to_bytes(4, "little"))
        return ["-device", "loader,file=%s,addr=0x%x,cpu-num=0"
                % (code, RAM_BASE["aarch64"] + (2 << 20))]
    a = ["-kernel", guest_kernel(args, tmpdir)]
    if args.guest == "live-zeroing":
        a += ["-append", "frguest=zeroing"]
    return a


def guest_counter(vm):
    """Pass counter of the live guest (word +8 of its first dirty page)."""
    addr = RAM_BASE[target_arch()] + 0x1000008
    out = vm.cmd("human-monitor-command",
                 **{"command-line": "xp /1wx 0x%x" % addr})
    m = re.search(r":\s*0x([0-9a-fA-F]+)", out or "")
    return int(m.group(1), 16) if m else None


def dirty_bitmaps(vm):
    """[[node, bitmap, dirty bytes], ...] of VM's block nodes."""
    return [[n["node-name"], b["name"], b["count"]]
            for n in vm.cmd("query-named-block-nodes", flat=True)
            for b in n.get("dirty-bitmaps", [])]


def add_dirty_bitmap(vm):
    """Bitmap b0 on n0, with 1 MiB at 0 and 64 KiB at 8 MiB dirty."""
    # a transaction: "name" would clash with Qemu.cmd's own argument
    vm.cmd("transaction", actions=[{
        "type": "block-dirty-bitmap-add",
        "data": {"node": "n0", "name": "b0", "granularity": 65536}}])
    for io in ("write 0 1M", "write 8M 64k"):
        # qemu-io reports on QEMU's stdout, and errors in the reply
        out = vm.cmd("human-monitor-command",
                     **{"command-line": 'qemu-io n0 "%s"' % io})
        if out:
            raise Failure("qemu-io %s on n0: %s" % (io, out))


def pmemsave(vm, args, path):
    ranges = getattr(args, "dump_ranges", None)
    if not ranges:
        vm.cmd("pmemsave", val=RAM_BASE[target_arch()], size=args.mem,
               filename=os.path.abspath(path))
        return
    # the ranges one after the other
    with open(path, "wb") as out:
        for i, (addr, size) in enumerate(ranges):
            part = os.path.abspath("%s.%d" % (path, i))
            vm.cmd("pmemsave", val=addr, size=size, filename=part)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
            os.unlink(part)


def write_regs(vm, path):
    if path:
        out = vm.cmd("human-monitor-command",
                     **{"command-line": "info registers -a"})
        with open(path, "w") as f:
            f.write(out)


def parse_ranges(text):
    """ADDR:SIZE[,ADDR:SIZE...] -> [(addr, size), ...]"""
    try:
        return [(int(a, 0), parse_size(b)) for a, b in
                (r.split(":") for r in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError("bad ranges %r" % text)


def write_stats(path, info):
    if path:
        with open(path, "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)
            f.write("\n")


# --------------------------------------------------------------------------
# commands

def cmd_save(args, tmpdir, deadline):
    live = args.guest in ("live", "live-zeroing")
    if args.uri_prefix == "exec:" and not args.exec_cmd and not args.out:
        raise Failure("save with --uri-prefix=exec: needs --out or --exec-cmd")
    if args.uri_prefix == "file:" and not args.out:
        raise Failure("save needs --out")
    if args.blob and args.blob_addr is None:
        raise Failure("--blob needs --blob-addr")
    if args.ignore_shared and not args.shared_mem:
        raise Failure("--ignore-shared needs --shared-mem")
    dio = resolve_dio(args.mode, args.out) if args.out else False

    qargs = machine_args(args, paused=True)
    if live:
        qargs += live_guest_args(args, tmpdir)
    if args.blob:
        qargs += ["-device", "loader,file=%s,addr=0x%x,force-raw=on"
                  % (os.path.abspath(args.blob), args.blob_addr)]

    # A live save can converge before the guest re-dirtied anything when
    # the host deschedules the vCPU thread for a few ms (QEMU completes as
    # soon as nothing is dirty).  Such a file lacks the resent/XBZRLE pages
    # the tests want, so try again with a fresh QEMU.
    attempts = args.attempts if live else 1
    for attempt in range(1, attempts + 1):
        vmdir = os.path.join(tmpdir, "vm%d" % attempt)
        os.mkdir(vmdir)
        info = save_once(args, qargs, dio, vmdir, deadline)
        short = live_shortfall(args, info) if live else None
        if not short:
            write_stats(args.stats, info)
            return
    raise Failure("live save converged too early in %d attempts (%s)"
                  % (attempts, short))


def live_shortfall(args, info):
    syncs = info.get("ram", {}).get("dirty-sync-count", 0)
    if syncs < args.min_syncs:
        return "dirty-sync-count %d < %d" % (syncs, args.min_syncs)
    if args.mode == "xbzrle":
        pages = info.get("xbzrle-cache", {}).get("pages", 0)
        if pages < max(args.min_xbzrle_pages, 1):
            return "xbzrle-cache pages %d < %d" % (
                pages, max(args.min_xbzrle_pages, 1))
    return None


def save_once(args, qargs, dio, tmpdir, deadline):
    """One QEMU run: write the file (and dump); return query-migrate."""
    live = args.guest in ("live", "live-zeroing")
    if args.out and args.uri_prefix == "file:" and not args.offset:
        # a stale longer file would keep its tail; QEMU does not truncate
        if os.path.exists(args.out):
            os.unlink(args.out)

    # a vCPU starved for a few ms lets the save converge early
    with Qemu(qargs, tmpdir, deadline, boost=live) as vm:
        vm.start()
        set_caps(vm, mode_caps(args.mode, "src", args))
        params = {}
        if args.mode.startswith("mapped-ram-multifd"):
            params["multifd-channels"] = args.channels
        if dio:
            params["direct-io"] = True
        if args.mode == "xbzrle":
            params["xbzrle-cache-size"] = args.xbzrle_cache
        if args.zero_page_detection:
            params["zero-page-detection"] = args.zero_page_detection
        if args.dirty_bitmap:
            add_dirty_bitmap(vm)
        if live:
            # Small bandwidth and a 1 ms downtime limit: the save cannot
            # converge while the guest keeps dirtying 8 MiB, so it iterates
            # until the hook below lifts the limit (after --min-syncs).
            params["max-bandwidth"] = args.bandwidth
            params["downtime-limit"] = 1
        if params:
            vm.cmd("migrate-set-parameters", **params)

        if args.guest != "paused":
            vm.cmd("cont")
            time.sleep(args.run_time)
        if live:
            c1 = guest_counter(vm)
            time.sleep(0.1)
            c2 = guest_counter(vm)
            if c1 is None or c1 == c2:
                raise Failure("the live guest does not seem to run (pass "
                              "counter %s -> %s)" % (c1, c2))
        elif args.guest == "paused":
            if args.dump:
                pmemsave(vm, args, args.dump)
            write_regs(vm, args.regs)

        lifted = []

        # avail-switchover-bandwidth is new in QEMU 8.2 (older peers:
        # tests/cli/0813)
        lift = {"downtime-limit": 60000}
        if (qemu_version(vm.binary) or (0,)) >= (8, 2):
            lift["avail-switchover-bandwidth"] = 1 << 30

        def converge_when_ready(info):
            if not live or lifted or live_shortfall(args, info):
                return
            vm.cmd("migrate-set-parameters", **lift)
            lifted.append(True)

        rcfile = os.path.join(tmpdir, "exec.rc")
        vm.cmd("migrate", uri=migration_uri(args, args.out, "out", rcfile))
        info = wait_migration(vm, deadline, converge_when_ready)
        if args.uri_prefix == "exec:":
            wait_exec_rc(rcfile, deadline)
        if args.guest != "paused":
            # completed => source is stopped (postmigrate): RAM is final
            if args.dump:
                pmemsave(vm, args, args.dump)
            write_regs(vm, args.regs)
        if args.dirty_bitmap:
            info["fr-dirty-bitmaps"] = dirty_bitmaps(vm)
        vm.quit()
        return info


def cmd_restore(args, tmpdir, deadline):
    mode = args.mode
    if not args.infile and not (args.uri_prefix == "exec:" and args.exec_cmd):
        raise Failure("restore needs --in (or --uri-prefix=exec: --exec-cmd)")
    if args.uri_prefix == "file:" and not os.path.isfile(args.infile):
        raise Failure("%s: no such file" % args.infile)
    if args.ignore_shared and not args.shared_mem:
        raise Failure("--ignore-shared needs --shared-mem")
    if mode == "auto":
        if args.uri_prefix != "file:":
            mode = "classic"        # mapped-ram needs a seekable file: URI
        else:
            caps = read_file_caps(args.infile, args.offset or 0)
            mode = "mapped-ram" if "mapped-ram" in caps else "classic"
    dio = resolve_dio(mode, args.infile) if args.infile else False

    with Qemu(machine_args(args, paused=True) + ["-incoming", "defer"],
              tmpdir, deadline) as vm:
        vm.start()
        set_caps(vm, mode_caps(mode, "dst", args))
        params = {}
        if mode.startswith("mapped-ram-multifd"):
            params["multifd-channels"] = args.channels
        if dio:
            params["direct-io"] = True
        if params:
            vm.cmd("migrate-set-parameters", **params)
        inc = {"uri": migration_uri(args, args.infile, "in")}
        ver = qemu_version(vm.binary)
        if ver and ver[:2] >= (9, 1):
            inc["exit-on-error"] = False    # keep QEMU up to read error-desc
        vm.cmd("migrate-incoming", **inc)
        info = wait_migration(vm, deadline)
        st = vm.cmd("query-status")
        if st.get("running") or st.get("status") == "running":
            raise Failure("the restored VM is running (status %s)"
                          % st.get("status"))
        pmemsave(vm, args, args.dump)
        write_regs(vm, args.regs)
        if args.dirty_bitmap:
            info["fr-dirty-bitmaps"] = dirty_bitmaps(vm)
        write_stats(args.stats, info)
        vm.quit()


def cmd_savevm(args, tmpdir, deadline):
    qargs = machine_args(args, paused=True)
    qargs += ["-blockdev", "driver=qcow2,node-name=disk0,file.driver=file,"
              "file.filename=%s" % os.path.abspath(args.disk)]
    if args.guest == "live":
        qargs += live_guest_args(args, tmpdir)
    if args.blob:
        qargs += ["-device", "loader,file=%s,addr=0x%x,force-raw=on"
                  % (os.path.abspath(args.blob), args.blob_addr)]
    with Qemu(qargs, tmpdir, deadline) as vm:
        vm.start()
        if args.guest == "live":
            vm.cmd("cont")
            time.sleep(args.run_time)
            vm.cmd("stop")
        if args.dump:
            pmemsave(vm, args, args.dump)
        # HMP reports failure as text, not as a QMP error
        out = vm.cmd("human-monitor-command",
                     **{"command-line": "savevm %s" % args.tag})
        if out and out.strip():
            raise Failure("savevm %s: %s" % (args.tag, out.strip()))
        vm.quit()


def cmd_version(args):
    binary = qemu_binary()
    if not shutil.which(binary):
        sys.stderr.write("%s: %s not found\n" % (PROG, binary))
        return 77
    ver = qemu_version(binary)
    if ver is None:
        sys.stderr.write("%s: cannot get the version of %s\n" % (PROG, binary))
        return 77
    print(ver[3])
    if ver[:2] < MIN_VERSION:
        sys.stderr.write("%s: QEMU %s is older than %d.%d\n"
                         % (PROG, ver[3], MIN_VERSION[0], MIN_VERSION[1]))
        return 77
    return 0


def show_stderr(exc):
    vm = getattr(exc, "frqemu_vm", None)
    if vm is None:
        return
    text = vm.stderr_text().strip()
    cmdline = " ".join(shlex.quote(a) for a in vm.argv)
    sys.stderr.write("--- QEMU command line ---\n%s\n" % cmdline)
    sys.stderr.write("--- QEMU stderr ---\n%s\n--- end ---\n"
                     % (text or "(empty)"))


# --------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp):
        sp.add_argument("--mem", type=parse_size, default=parse_size("128M"),
                        help="guest RAM size (default 128M)")
        sp.add_argument("--machine", help="machine type (default pc; "
                        "virt for aarch64)")
        sp.add_argument("--uri-prefix", choices=("file:", "exec:"),
                        default="file:")
        sp.add_argument("--exec-cmd", help="command for an exec: URI "
                        "(default: cat > OUT / cat IN)")
        sp.add_argument("--offset", type=parse_int, default=0,
                        help="file: URI offset= (bytes)")
        sp.add_argument("--channels", type=int, default=2,
                        help="multifd channels (default 2)")
        sp.add_argument("--timeout", type=float, default=120.0,
                        help="overall timeout in seconds (default 120)")
        sp.add_argument("--stats", help="write the final query-migrate "
                        "reply here (JSON)")
        sp.add_argument("--shared-mem", help="back guest RAM with a shared "
                        "memory-backend-file (id mem) at this path")
        sp.add_argument("--ignore-shared", action="store_true",
                        help="set capability x-ignore-shared (needs "
                        "--shared-mem)")
        sp.add_argument("--firmware", help="CODE,VARS: UEFI firmware "
                        "pflash images")
        sp.add_argument("--numa", type=int, default=0,
                        help="this many NUMA nodes, their RAM in blocks "
                        "ram-node0, ... (libvirt's names)")
        sp.add_argument("--dirty-bitmap", action="store_true",
                        help="a block node with a dirty bitmap, and "
                        "capability dirty-bitmaps")
        sp.add_argument("--smp", type=int, default=1,
                        help="vCPUs (default 1)")
        sp.add_argument("--regs", help="write HMP 'info registers -a' "
                        "here (with --dump's timing)")

    s = sub.add_parser("save", help="save a VM to a migration file")
    s.add_argument("--mode", choices=MODES, required=True)
    s.add_argument("--out", help="output file")
    s.add_argument("--blob", help="raw file loaded into guest RAM")
    s.add_argument("--blob-addr", type=parse_int, help="guest-physical address")
    s.add_argument("--guest", choices=("paused", "live", "live-zeroing",
                                       "firmware"),
                   default="paused",
                   help="paused (-S), live (the test guest rewrites 16..24 "
                   "MiB), live-zeroing (it also zeroes pages again) or "
                   "firmware (running, no kernel)")
    s.add_argument("--dump", help="write guest RAM (all of --mem) here")
    s.add_argument("--dump-ranges", type=parse_ranges,
                   help="ADDR:SIZE,...: dump these guest-physical ranges "
                   "instead, one after the other")
    s.add_argument("--kernel", help="live guest kernel (default: build it; "
                   "env FRQEMU_KERNEL)")
    s.add_argument("--bandwidth", type=parse_size, default=parse_size("32M"),
                   help="live: max-bandwidth per second (default 32M)")
    s.add_argument("--min-syncs", type=int, default=5,
                   help="live: dirty syncs before the save may converge")
    s.add_argument("--min-xbzrle-pages", type=int, default=4096,
                   help="live xbzrle: XBZRLE pages sent before the save may "
                   "converge (default 4096 = two rounds of the guest)")
    s.add_argument("--attempts", type=int, default=5,
                   help="live: tries when QEMU converges too early")
    s.add_argument("--run-time", type=float, default=1.0,
                   help="live, firmware: seconds the guest runs before "
                   "the save")
    s.add_argument("--xbzrle-cache", type=parse_size, default=parse_size("32M"),
                   help="xbzrle-cache-size (default 32M)")
    s.add_argument("--zero-page-detection",
                   choices=("none", "legacy", "multifd"),
                   help="the zero-page-detection parameter (none: zero "
                   "pages go as full pages)")
    common(s)

    r = sub.add_parser("restore", help="load a migration file, dump guest RAM")
    r.add_argument("--mode", choices=MODES + ("auto",), default="auto")
    r.add_argument("--in", dest="infile",
                   help="input file (optional with --exec-cmd)")
    r.add_argument("--dump", required=True, help="write guest RAM here")
    common(r)

    v = sub.add_parser("savevm", help="store an internal snapshot with "
                       "its VM state in a qcow2 image")
    v.add_argument("--disk", required=True, help="qcow2 image")
    v.add_argument("--tag", required=True, help="snapshot name")
    v.add_argument("--blob", help="raw file loaded into guest RAM")
    v.add_argument("--blob-addr", type=parse_int, help="guest-physical address")
    v.add_argument("--guest", choices=("paused", "live"), default="paused")
    v.add_argument("--kernel", help="live guest kernel (default: build it; "
                   "env FRQEMU_KERNEL)")
    v.add_argument("--run-time", type=float, default=1.0,
                   help="live: seconds the guest runs before it is stopped")
    v.add_argument("--dump", help="write guest RAM (all of --mem) here")
    common(v)

    sub.add_parser("version", help="print QEMU's version (exit 77 if "
                   "missing or < %d.%d)" % MIN_VERSION)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "version":
        return cmd_version(args)
    binary = qemu_binary()
    if not shutil.which(binary):
        sys.stderr.write("%s: %s not found\n" % (PROG, binary))
        return 77
    deadline = time.monotonic() + args.timeout
    tmpdir = tempfile.mkdtemp(prefix="frqemu-")
    old_term = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    try:
        if args.command == "save":
            cmd_save(args, tmpdir, deadline)
        elif args.command == "savevm":
            cmd_savevm(args, tmpdir, deadline)
        else:
            cmd_restore(args, tmpdir, deadline)
        return 0
    except Failure as e:
        sys.stderr.write("%s %s: error: %s\n" % (PROG, args.command, e))
        show_stderr(e)
        return 1
    except OSError as e:
        sys.stderr.write("%s %s: error: %s\n" % (PROG, args.command, e))
        show_stderr(e)
        return 1
    except KeyboardInterrupt as e:
        sys.stderr.write("%s %s: interrupted\n" % (PROG, args.command))
        show_stderr(e)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old_term)
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

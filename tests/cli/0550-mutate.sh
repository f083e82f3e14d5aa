#!/bin/sh
# Mutation test (libarchive's test_fuzz.c style): small valid files are
# damaged at random -- about 1% of their bytes flipped, a few bytes flipped,
# truncated, a range duplicated, bytes inserted -- and inspect, verify,
# checksum and convert run on each mutant under a 10 s timeout.  The only
# assertion is "no crash, no hang, a documented exit status" (inspect,
# checksum, convert: 0 or 1; verify: 0, 1, 2, 3 or 63), and that a failed
# convert leaves no temporary file behind.  A signal death, a timeout or a
# sanitizer report (exit 99: ASan/UBSan are told to use it) fails the test.
#
#   FR_SKIP_MUTATE=1     skip (exit 77)
#   FR_MUTATE_N=N        number of mutants over all fixtures (default 400)
#   FR_MUTATE_SEED=S     base seed (default 1); mutants are deterministic
#   FR_MUTATE_ONLY=FIXTURE:I  run only mutant I of FIXTURE (as printed on
#                        failure); with KEEP=1 it stays in the scratch dir
#   FR_MUTATE_JOBS=J     parallel jobs (default: CPUs, at most 4)
#
# Run it against a sanitizer build with FIXEDRAM=/path/to/asan/fixedram.
. "$TESTS_SRCDIR/lib.sh"

[ -z "${FR_SKIP_MUTATE:-}" ] || skip "FR_SKIP_MUTATE is set"
command -v python3 > /dev/null || skip "python3 is missing"

N=${FR_MUTATE_N:-400}
TIMEOUT=10
if [ "${FR_VALGRIND:-0}" = 1 ]; then
    N=${FR_MUTATE_N:-40}
    TIMEOUT=120
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99:abort_on_error=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=99:print_stacktrace=1"

# Fixtures: small blocks keep each under 100 KiB (the mapped-ram image is
# 2 MiB of mostly holes because of its 1 MiB alignment).
B=--blocks=pc.ram:64K,rom:8K
$MKSTREAM --seed=1 $B --devices=3 --resend=16 --xbzrle=16 stream.bin
$MKSTREAM --seed=2 $B --devices=3 --resend=8 --layout=mapped-ram mapped.img
$MKSTREAM --seed=3 $B --devices=3 --libvirt=raw libvirt.img
$MKSTREAM --seed=4 $B --devices=3 --resend=8 --xbzrle=8 --zstd zstd.bin
$MKSTREAM --seed=5 $B --devices=3 --no-footers --xbzrle=4 nofoot.bin
# intact fixtures verify clean (3: the image's stale data after --resend)
for f in stream.bin libvirt.img zstd.bin nofoot.bin; do
    expect_code 0 $FIXEDRAM verify "$f" > /dev/null
done
expect_code 3 $FIXEDRAM verify mapped.img > /dev/null

cat > mutate.py <<'EOF'
import os, random, shlex, signal, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

fixedram = shlex.split(os.environ["FIXEDRAM"])
n = int(os.environ["N"])
base = int(os.environ.get("FR_MUTATE_SEED", "1"))
timeout = float(os.environ["TIMEOUT"])
only = os.environ.get("FR_MUTATE_ONLY", "")
jobs = int(os.environ.get("FR_MUTATE_JOBS", "0")) or min(os.cpu_count() or 2, 4)
fixtures = ["stream.bin", "mapped.img", "libvirt.img", "zstd.bin", "nofoot.bin"]
data = {f: open(f, "rb").read() for f in fixtures}
CODES = {"inspect": {0, 1}, "verify": {0, 1, 2, 3, 63},
         "checksum": {0, 1}, "convert": {0, 1}}

def window(rnd, size):
    """Where to mutate: the whole file, or for big files a 64 KiB window at
    the start, at the end or anywhere (the structure is not in the holes)."""
    if size <= 65536:
        return 0, size
    start = rnd.choice([0, size - 65536, rnd.randrange(size - 65536)])
    return start, start + 65536

def mutate(fixture, i):
    rnd = random.Random("%d:%s:%d" % (base, fixture, i))
    b = bytearray(data[fixture])
    ops = []
    for _ in range(rnd.choice([1, 1, 1, 2])):
        op = rnd.choice(["flip1%", "flip1%", "flipfew", "flipfew",
                         "truncate", "duplicate", "insert"])
        lo, hi = window(rnd, len(b))
        if hi <= lo:
            continue
        if op == "flip1%":
            for _ in range(max(1, (hi - lo) // 100)):
                b[rnd.randrange(lo, hi)] ^= rnd.randrange(1, 256)
        elif op == "flipfew":
            for _ in range(rnd.randrange(1, 5)):
                b[rnd.randrange(lo, hi)] ^= 1 << rnd.randrange(8)
        elif op == "truncate":
            del b[rnd.randrange(lo, hi):]
        elif op == "duplicate":
            a = rnd.randrange(lo, hi)
            e = min(hi, a + rnd.randrange(1, 4096))
            at = rnd.randrange(lo, hi)
            b[at:at] = b[a:e]
        else:
            at = rnd.randrange(lo, hi)
            b[at:at] = bytes(rnd.randrange(256)
                             for _ in range(rnd.randrange(1, 17)))
        ops.append(op)
    return bytes(b), "+".join(ops)

def run(argv):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return "timeout", b""
    return p.returncode, err

def check(job):
    fixture, i = job
    mutant, how = mutate(fixture, i)
    d = "w-%s-%d" % (fixture, i)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "mutant" + os.path.splitext(fixture)[1])
    with open(path, "wb") as f:
        f.write(mutant)
    direction = ("image-to-stream" if fixture == "mapped.img"
                 else "stream-to-image")
    out = os.path.join(d, "out")
    cmds = [("inspect", ["inspect", "--map"] +
             (["--output=json"] if i % 2 else []) + [path]),
            ("verify", ["verify", "--deep", path]),
            ("checksum", ["checksum", path]),
            ("convert", ["convert", "-f", direction, path, out])]
    bad = []
    codes = []
    for name, args in cmds:
        code, err = run(fixedram + args)
        codes.append((name, code))
        if code not in CODES[name]:
            what = ("timed out after %gs" % timeout if code == "timeout"
                    else "died with signal %d" % -code if code < 0
                    else "exited %d" % code)
            bad.append("%s %s (%s)\n%s" % (name, what, " ".join(args),
                                           err.decode(errors="replace")
                                              [-3000:]))
        if name == "convert" and any(e.startswith(".fixedram-tmp")
                                     for e in os.listdir(d)):
            bad.append("convert left a temporary file behind")
    if not bad and not only:
        for e in os.listdir(d):
            os.unlink(os.path.join(d, e))
        os.rmdir(d)
    return fixture, i, how, len(mutant), bad, codes

if only:
    fx, _, idx = only.rpartition(":")
    work = [(fx, int(idx))]
else:
    work = [(fixtures[k % len(fixtures)], k // len(fixtures))
            for k in range(n)]
t0 = time.time()
failed = 0
seen = {}
with ThreadPoolExecutor(max_workers=jobs) as ex:
    for fixture, i, how, size, bad, codes in ex.map(check, work):
        for name, code in codes:
            seen.setdefault(name, {}).setdefault(code, 0)
            seen[name][code] += 1
        for msg in bad:
            failed += 1
            print("FAIL: mutant %s:%d (%s, %d bytes; reproduce with "
                  "FR_MUTATE_SEED=%d FR_MUTATE_ONLY=%s:%d KEEP=1): %s"
                  % (fixture, i, how, size, base, fixture, i, msg),
                  file=sys.stderr)
print("%d mutants of %d fixtures, %d failures, %.1fs"
      % (len(work), len(fixtures), failed, time.time() - t0))
print("exit statuses: " + "; ".join(
    "%s %s" % (name, " ".join("%s:%d" % (c, k) for c, k in
                              sorted(seen[name].items(), key=str)))
    for name in CODES if name in seen))
sys.exit(1 if failed else 0)
EOF

# temporary images of checksum/convert stay in the scratch directory
mkdir tmp
N=$N TIMEOUT=$TIMEOUT TMPDIR=$SCRATCH/tmp python3 mutate.py ||
    fail "mutants crashed, hung or gave undocumented exit statuses"

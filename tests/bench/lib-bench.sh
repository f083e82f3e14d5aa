# Sourced by the benchmark scripts.  measure CMD...: run CMD and write its
# peak RSS in KiB to $DIR/rss; GNU time gives it, python's getrusage when
# GNU time is missing.
if /usr/bin/time -f %M true > /dev/null 2>&1; then
    measure() { /usr/bin/time -f %M -o "$DIR/rss" "$@"; }
else
    measure() {
        python3 -c 'import resource, subprocess, sys
r = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(
    resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r)' "$DIR/rss" "$@"
    }
fi

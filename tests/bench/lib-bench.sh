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

# Free page reporting (virtio-balloon) hands the free memory of a VM back
# to the host, which then has to fault it in again, page by page, when the
# guest reuses it: on a VM that has it, a run right after a big deletion
# sometimes takes twice as long (on a 2-CPU VM, compact of a 1 GiB stream:
# 3 runs in 8 at 430-570 ms instead of 260 ms; none with it paused).
# pause_page_reporting turns it off for the benchmark, as root, unless
# BENCH_PAGE_REPORTING=keep; resume_page_reporting puts it back.
# PAGE_REPORTING says which, for the report.
PR_PARAM=/sys/module/page_reporting/parameters/page_reporting_order
PR_WAS=''
PAGE_REPORTING='not on this machine'
pause_page_reporting() {
    [ -e "$PR_PARAM" ] || return 0
    PAGE_REPORTING='on (BENCH_PAGE_REPORTING=keep)'
    [ "${BENCH_PAGE_REPORTING:-pause}" = keep ] && return 0
    PAGE_REPORTING='on (cannot pause it: not root?)'
    PR_WAS=$(cat "$PR_PARAM")
    # above x86's largest buddy order, so no free block qualifies; kernels
    # that refuse it keep reporting, and the report says so
    if echo 11 2> /dev/null > "$PR_PARAM"; then
        PAGE_REPORTING="paused for the run (order $PR_WAS, set to 11)"
    else
        PR_WAS=''
    fi
}
resume_page_reporting() {
    if [ -n "$PR_WAS" ]; then
        echo "$PR_WAS" > "$PR_PARAM"
        PR_WAS=''
    fi
}

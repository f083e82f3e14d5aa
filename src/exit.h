/*
 * Exit statuses: a closed, documented set (man/fixedram.1, EXIT STATUS).
 * verify follows qemu-img check, diff follows cmp.
 */
#ifndef FR_EXIT_H
#define FR_EXIT_H

enum fr_exit {
    FR_EXIT_OK = 0,
    FR_EXIT_FAIL = 1,           /* the command failed */
    FR_EXIT_USAGE = 64,         /* bad command line (EX_USAGE) */
    /* verify */
    FR_EXIT_VERIFY_INCOMPLETE = 1,  /* the check could not complete */
    FR_EXIT_VERIFY_CORRUPT = 2,
    FR_EXIT_VERIFY_LEAKS = 3,       /* only non-fatal findings */
    FR_EXIT_VERIFY_NOTMIG = 63,     /* not a QEMU migration file */
    /* diff */
    FR_EXIT_DIFF_DIFFERENT = 1,
    FR_EXIT_DIFF_TROUBLE = 2,
};

#endif

/*
 * fixedram test guest: keeps rewriting a known region of guest RAM forever,
 * so that a live migration has to re-send pages (classic), can encode them
 * as small XBZRLE deltas (xbzrle) or rewrites them in place (mapped-ram).
 *
 * Memory map (guest-physical, identity, paging off):
 *   0x00100000 ..  kernel image, stack, bss (< 64 KiB)
 *   DIRTY_BASE .. DIRTY_BASE + DIRTY_SIZE    rewritten continuously
 *   everything else (notably 0x2000000..0x2800000 where the tests load an
 *   8 MiB blob with -device loader) is never touched.
 *
 * Page layout inside the dirty region (4 KiB pages, little-endian words):
 *   +0   "FRGS"  magic
 *   +4   page index inside the region
 *   +8   pass counter (changes on every pass; only its low bytes change
 *        between two migration rounds, so XBZRLE deltas are a few bytes)
 *   +12  ~pass counter
 *   +16  .. +4095  fixed non-zero pattern, written once at start
 * frqemu.py reads word +8 of the first page ("xp") to check that the guest
 * is alive before it starts a live save.
 */

#define DIRTY_BASE 0x01000000u          /* 16 MiB */
#define DIRTY_SIZE 0x00800000u          /*  8 MiB = 2048 pages */
#define PAGE_SIZE  4096u
#define NPAGES     (DIRTY_SIZE / PAGE_SIZE)

typedef unsigned int u32;

void guest_main(void);

void guest_main(void)
{
    u32 pass = 0;
    u32 i, j;

    for (i = 0; i < NPAGES; i++) {
        volatile u32 *p = (volatile u32 *)(DIRTY_BASE + i * PAGE_SIZE);
        p[0] = 0x53475246u;             /* "FRGS" */
        p[1] = i;
        p[2] = 0;
        p[3] = ~0u;
        for (j = 4; j < PAGE_SIZE / 4; j++)
            p[j] = (i * 0x9e3779b1u) ^ (j * 0x01000193u) ^ 0xa5a5a5a5u;
    }

    for (;;) {
        pass++;
        for (i = 0; i < NPAGES; i++) {
            volatile u32 *p = (volatile u32 *)(DIRTY_BASE + i * PAGE_SIZE);
            p[2] = pass;
            p[3] = ~pass;
        }
    }
}

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
 * Modes, chosen by a word of the multiboot command line (QEMU: -kernel
 * fr-guest.elf -append frguest=MODE):
 *
 * default ("live")
 *   Page layout inside the dirty region (4 KiB pages, little-endian words):
 *     +0   "FRGS"  magic
 *     +4   page index inside the region
 *     +8   pass counter (changes on every pass; only its low bytes change
 *          between two migration rounds, so XBZRLE deltas are a few bytes)
 *     +12  ~pass counter
 *     +16  .. +4095  fixed non-zero pattern, written once at start
 *
 * frguest=zeroing ("live-zeroing")
 *   Even pages of the region behave as above.  Odd pages alternate: on
 *   every pass half of them are filled with data (every word non-zero and
 *   depending on the pass) and the other half are zeroed again, and the
 *   halves swap on the next pass (odd page 2k+1 holds data when k + pass is
 *   even).  A live save therefore sends many odd pages first with data and
 *   later as zero pages: a classic stream has PAGE records followed by ZERO
 *   records for them, a mapped-ram image ends with their bitmap bits clear
 *   while their old data stays in the file (stale data).
 *
 * In both modes frqemu.py reads word +8 of the first page ("xp") to check
 * that the guest is alive before it starts a live save.
 */

#define DIRTY_BASE 0x01000000u          /* 16 MiB */
#define DIRTY_SIZE 0x00800000u          /*  8 MiB = 2048 pages */
#define PAGE_SIZE  4096u
#define NPAGES     (DIRTY_SIZE / PAGE_SIZE)
#define MB_BOOTLOADER_MAGIC 0x2BADB002u
#define MB_INFO_CMDLINE     0x4u

typedef unsigned int u32;

void guest_main(u32 magic, u32 mbi);

static volatile u32 *page(u32 i)
{
    return (volatile u32 *)(DIRTY_BASE + i * PAGE_SIZE);
}

static void fill_fixed(u32 i)
{
    volatile u32 *p = page(i);
    u32 j;

    p[0] = 0x53475246u;                 /* "FRGS" */
    p[1] = i;
    p[2] = 0;
    p[3] = ~0u;
    for (j = 4; j < PAGE_SIZE / 4; j++)
        p[j] = (i * 0x9e3779b1u) ^ (j * 0x01000193u) ^ 0xa5a5a5a5u;
}

/* Does the multiboot command line hold the word WORD? */
static int cmdline_has(u32 magic, u32 mbi, const char *word)
{
    const char *s, *w;

    if (magic != MB_BOOTLOADER_MAGIC || mbi == 0 ||
        !(((volatile u32 *)mbi)[0] & MB_INFO_CMDLINE))
        return 0;
    s = (const char *)((volatile u32 *)mbi)[4];
    if (s == 0)
        return 0;
    while (*s) {
        while (*s == ' ')
            s++;
        for (w = word; *w && *s == *w; s++, w++)
            ;
        if (*w == 0 && (*s == ' ' || *s == 0))
            return 1;
        while (*s && *s != ' ')
            s++;
    }
    return 0;
}

static void run_live(void)
{
    u32 pass = 0;
    u32 i;

    for (i = 0; i < NPAGES; i++)
        fill_fixed(i);
    for (;;) {
        pass++;
        for (i = 0; i < NPAGES; i++) {
            volatile u32 *p = page(i);
            p[2] = pass;
            p[3] = ~pass;
        }
    }
}

static void run_zeroing(void)
{
    u32 pass = 0;
    u32 i, j;

    for (i = 0; i < NPAGES; i += 2)
        fill_fixed(i);
    for (;;) {
        pass++;
        for (i = 0; i < NPAGES; i++) {
            volatile u32 *p = page(i);
            if ((i & 1) == 0) {
                p[2] = pass;
                p[3] = ~pass;
            } else if ((((i >> 1) + pass) & 1) == 0) {
                for (j = 0; j < PAGE_SIZE / 4; j++)
                    p[j] = (i * 0x9e3779b1u) ^ (j * 0x01000193u) ^
                           (pass << 8) ^ 0x80000001u;
            } else {
                for (j = 0; j < PAGE_SIZE / 4; j++)
                    p[j] = 0;
            }
        }
    }
}

void guest_main(u32 magic, u32 mbi)
{
    if (cmdline_has(magic, mbi, "frguest=zeroing"))
        run_zeroing();
    run_live();
}

/*
 * Work split by page ranges between threads, the way multifd splits a
 * guest between channels: [0, N) is cut into pieces of CHUNK; each worker
 * takes the next piece until none is left or one fails.  Which worker
 * does a piece never changes the result: workers write disjoint ranges.
 */
#ifndef FR_PARALLEL_H
#define FR_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

/* Do piece [FIRST, FIRST+COUNT) as worker WORKER (0 <= WORKER < the
 * thread count).  Returns 0, or -1 to stop everything. */
typedef int (*fr_piece_fn)(void *ctx, int worker, uint64_t first,
                           uint64_t count);

/*
 * Run FN over [0, N) in pieces of CHUNK with THREADS workers (the calling
 * thread is worker 0; when a thread cannot be created, fewer work).
 * Returns 0, or -1 when a piece failed (pieces not started are skipped).
 */
int fr_parallel(uint64_t n, uint64_t chunk, int threads, fr_piece_fn fn,
                void *ctx);

/* One buffer of SIZE bytes per worker: BUFS[0 .. THREADS).  Returns 0,
 * or -1 when out of memory; fr_parallel_bufs_free releases them either
 * way (BUFS must start zeroed). */
int fr_parallel_bufs(uint8_t **bufs, int threads, size_t size);
void fr_parallel_bufs_free(uint8_t **bufs, int threads);

#endif

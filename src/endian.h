/*
 * Explicit byte order on byte pointers: decode into unsigned temporaries,
 * never overlay structs.
 */
#ifndef FR_ENDIAN_H
#define FR_ENDIAN_H

#include <stdint.h>

static inline uint16_t fr_be16dec(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t fr_be32dec(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t fr_be64dec(const uint8_t *p)
{
    return (uint64_t)fr_be32dec(p) << 32 | fr_be32dec(p + 4);
}

static inline uint32_t fr_le32dec(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}

static inline uint64_t fr_le64dec(const uint8_t *p)
{
    return (uint64_t)fr_le32dec(p + 4) << 32 | fr_le32dec(p);
}

static inline void fr_be16enc(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void fr_be32enc(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void fr_be64enc(uint8_t *p, uint64_t v)
{
    fr_be32enc(p, (uint32_t)(v >> 32));
    fr_be32enc(p + 4, (uint32_t)v);
}

static inline void fr_le32enc(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void fr_le64enc(uint8_t *p, uint64_t v)
{
    fr_le32enc(p, (uint32_t)v);
    fr_le32enc(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t fr_bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}

#endif

/*
 * libvirt save image header: reading and validation.  See libvirt.h for
 * the layout; integers are in the writer's native order, so like libvirt we
 * read them natively and byte-swap when the version looks swapped.
 */
#include "config.h"

#include "libvirt.h"

#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "sink.h"

static const char *const format_names[LIBVIRT_FMT_COUNT] = {
    "raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse",
};

const char *libvirt_format_name(uint32_t format)
{
    return format < LIBVIRT_FMT_COUNT ? format_names[format] : NULL;
}

const char *const *libvirt_format_decompressor(uint32_t format)
{
    static const char *const gzip[] = { "gzip", "-dc", NULL };
    static const char *const bzip2[] = { "bzip2", "-dc", NULL };
    static const char *const xz[] = { "xz", "-dc", NULL };
    static const char *const lzop[] = { "lzop", "-dc", "--ignore-warn",
                                        NULL };
    switch (format) {
    case LIBVIRT_FMT_GZIP:
        return gzip;
    case LIBVIRT_FMT_BZIP2:
        return bzip2;
    case LIBVIRT_FMT_XZ:
        return xz;
    case LIBVIRT_FMT_LZOP:
        return lzop;
    default:
        return NULL;
    }
}

bool libvirt_probe(const uint8_t *p)
{
    return memcmp(p, LIBVIRT_MAGIC_SAVE, LIBVIRT_MAGIC_LEN) == 0 ||
           memcmp(p, LIBVIRT_MAGIC_PART, LIBVIRT_MAGIC_LEN) == 0;
}

/* Copy the text of <name>...</name> (first occurrence) into OUT. */
static void find_domain_name(const char *xml, char *out, size_t size)
{
    const char *b = strstr(xml, "<name>");
    const char *e;

    out[0] = '\0';
    if (!b) {
        return;
    }
    b += strlen("<name>");
    e = strstr(b, "</name>");
    if (e && (size_t)(e - b) < size) {
        memcpy(out, b, (size_t)(e - b));
        out[e - b] = '\0';
    }
}

int libvirt_hdr_read(struct fr_src *s, struct libvirt_hdr *h)
{
    uint64_t base = fr_src_tell(s);
    uint8_t raw[LIBVIRT_HDR_SIZE];
    uint8_t *data;
    size_t xml_len;

    memset(h, 0, sizeof(*h));
    if (fr_src_read(s, raw, sizeof(raw), "libvirt save header") < 0) {
        return -1;
    }
    if (!libvirt_probe(raw)) {
        return fr_fail(s->err, FR_E_NOTMIG, base,
                       "not a libvirt save image (bad magic)");
    }
    h->complete = memcmp(raw, LIBVIRT_MAGIC_SAVE, LIBVIRT_MAGIC_LEN) == 0;
    h->version = fr_le32dec(raw + 16);
    h->data_len = fr_le32dec(raw + 20);
    h->was_running = fr_le32dec(raw + 24);
    h->format = fr_le32dec(raw + 28);
    h->cookie_offset = fr_le32dec(raw + 32);
    /* swapped when the other order makes it a smaller number: an unknown
     * version 3 is reported as 3 in either order */
    if (h->version > 2 && fr_bswap32(h->version) < h->version) {
        h->swapped = true;
        h->version = fr_bswap32(h->version);
        h->data_len = fr_bswap32(h->data_len);
        h->was_running = fr_bswap32(h->was_running);
        h->format = fr_bswap32(h->format);
        h->cookie_offset = fr_bswap32(h->cookie_offset);
    }
    if (h->version < 1 || h->version > 2) {
        return fr_fail(s->err, FR_E_UNSUPPORTED, base + 16,
                       "libvirt save image version %u is not supported "
                       "(expected 1 or 2)", h->version);
    }
    if (h->data_len == 0 || h->data_len > LIBVIRT_MAX_DATA_LEN) {
        return fr_fail(s->err, FR_E_CORRUPT, base + 20,
                       "libvirt save header: bad XML data length %u",
                       h->data_len);
    }
    if (h->format >= LIBVIRT_FMT_COUNT) {
        return fr_fail(s->err, FR_E_UNSUPPORTED, base + 28,
                       "libvirt save header: unknown image format %u",
                       h->format);
    }
    if (h->version == 1 && h->format != LIBVIRT_FMT_RAW) {
        return fr_fail(s->err, FR_E_CORRUPT, base + 28,
                       "libvirt save header: version 1 images cannot be "
                       "compressed (format %u)", h->format);
    }
    if (h->cookie_offset >= h->data_len) {
        return fr_fail(s->err, FR_E_CORRUPT, base + 32,
                       "libvirt save header: cookie offset %u is outside "
                       "the %u-byte data area", h->cookie_offset,
                       h->data_len);
    }
    data = malloc((size_t)h->data_len + 1);
    if (!data) {
        return fr_fail(s->err, FR_E_NOMEM, base + 20,
                       "out of memory for %u bytes of domain XML",
                       h->data_len);
    }
    if (fr_src_read(s, data, h->data_len, "libvirt domain XML") < 0) {
        free(data);
        return -1;
    }
    data[h->data_len] = '\0';
    xml_len = strnlen((char *)data,
                      h->cookie_offset ? h->cookie_offset : h->data_len);
    if (xml_len == 0 || xml_len == (h->cookie_offset ? h->cookie_offset
                                                     : h->data_len)) {
        free(data);
        return fr_fail(s->err, FR_E_CORRUPT, base + LIBVIRT_HDR_SIZE,
                       "libvirt save image: domain XML is %s",
                       xml_len ? "not NUL-terminated" : "empty");
    }
    h->xml = strdup((char *)data);
    if (h->cookie_offset) {
        h->cookie = strdup((char *)data + h->cookie_offset);
    }
    free(data);
    if (!h->xml || (h->cookie_offset && !h->cookie)) {
        libvirt_hdr_free(h);
        return fr_fail(s->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    find_domain_name(h->xml, h->domain, sizeof(h->domain));
    h->payload_offset = base + LIBVIRT_HDR_SIZE + h->data_len;
    return 0;
}

void libvirt_hdr_free(struct libvirt_hdr *h)
{
    free(h->xml);
    free(h->cookie);
    h->xml = h->cookie = NULL;
}

int libvirt_hdr_write(struct fr_sink *k, const struct libvirt_hdr *h,
                      uint32_t format, bool complete)
{
    uint8_t hdr[LIBVIRT_HDR_SIZE] = { 0 };
    uint8_t *data = calloc(1, h->data_len);
    size_t xml_len = strlen(h->xml);
    int ret;

    if (!data) {
        return fr_fail(k->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    memcpy(hdr, complete ? LIBVIRT_MAGIC_SAVE : LIBVIRT_MAGIC_PART,
           LIBVIRT_MAGIC_LEN);
    fr_le32enc(hdr + 16, h->version);
    fr_le32enc(hdr + 20, h->data_len);
    fr_le32enc(hdr + 24, h->was_running);
    fr_le32enc(hdr + 28, format);
    fr_le32enc(hdr + 32, h->cookie_offset);
    /* both fitted in data_len when they were read */
    memcpy(data, h->xml, xml_len);
    if (h->cookie) {
        memcpy(data + h->cookie_offset, h->cookie, strlen(h->cookie));
    }
    ret = fr_sink_write(k, hdr, sizeof(hdr));
    if (ret == 0) {
        ret = fr_sink_write(k, data, h->data_len);
    }
    free(data);
    return ret;
}

int libvirt_hdr_complete(struct fr_sink *k)
{
    return fr_sink_pwrite(k, LIBVIRT_MAGIC_SAVE, LIBVIRT_MAGIC_LEN, 0);
}

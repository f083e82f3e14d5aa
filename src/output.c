/* Output helpers: see output.h. */
#include "config.h"

#include "output.h"

#include <inttypes.h>
#include <string.h>

int fr_output_parse(const char *arg, enum fr_output *out)
{
    if (strcmp(arg, "human") == 0) {
        *out = FR_OUTPUT_HUMAN;
    } else if (strcmp(arg, "json") == 0) {
        *out = FR_OUTPUT_JSON;
    } else {
        return -1;
    }
    return 0;
}

void fr_json_init(struct fr_json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->first[0] = true;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p >= 0x7f) {
                /* names from files are bytes, not UTF-8: keep them
                 * representable and reversible */
                fprintf(f, "\\u%04x", *p);
            } else {
                fputc(*p, f);
            }
        }
    }
    fputc('"', f);
}

static void item(struct fr_json *j, const char *key)
{
    if (!j->first[j->depth]) {
        fputc(',', j->f);
    }
    j->first[j->depth] = false;
    if (j->depth > 0) {
        fprintf(j->f, "\n%*s", 2 * j->depth, "");
    }
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void begin(struct fr_json *j, const char *key, char c)
{
    item(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < FR_JSON_MAX_DEPTH) {
        j->depth++;
    }
    j->first[j->depth] = true;
}

static void end(struct fr_json *j, char c)
{
    bool empty = j->first[j->depth];
    if (j->depth > 0) {
        j->depth--;
    }
    if (!empty) {
        fprintf(j->f, "\n%*s", 2 * j->depth, "");
    }
    fputc(c, j->f);
}

void fr_json_begin_object(struct fr_json *j, const char *key)
{
    begin(j, key, '{');
}

void fr_json_end_object(struct fr_json *j)
{
    end(j, '}');
}

void fr_json_begin_array(struct fr_json *j, const char *key)
{
    begin(j, key, '[');
}

void fr_json_end_array(struct fr_json *j)
{
    end(j, ']');
}

void fr_json_string(struct fr_json *j, const char *key, const char *val)
{
    item(j, key);
    if (val) {
        put_string(j->f, val);
    } else {
        fputs("null", j->f);
    }
}

void fr_json_u64(struct fr_json *j, const char *key, uint64_t val)
{
    item(j, key);
    fprintf(j->f, "%" PRIu64, val);
}

void fr_json_bool(struct fr_json *j, const char *key, bool val)
{
    item(j, key);
    fputs(val ? "true" : "false", j->f);
}

void fr_json_null(struct fr_json *j, const char *key)
{
    item(j, key);
    fputs("null", j->f);
}

void fr_json_finish(struct fr_json *j)
{
    fputc('\n', j->f);
}

const char *fr_human_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
                                         "PiB", "EiB" };
    unsigned u = 0;
    double v = (double)bytes;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
        v /= 1024;
        u++;
    }
    if (u == 0 || v == (double)(uint64_t)v) {
        snprintf(buf, size, "%.0f %s", v, units[u]);
    } else {
        snprintf(buf, size, "%.1f %s", v, units[u]);
    }
    return buf;
}

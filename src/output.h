/*
 * Result output: --output=human|json parsing, a small streaming JSON
 * writer (pretty-printed, stable key order), and human-readable sizes.
 */
#ifndef FR_OUTPUT_H
#define FR_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum fr_output { FR_OUTPUT_HUMAN, FR_OUTPUT_JSON };

/* Parse "human" or "json"; returns 0, or -1 for anything else. */
int fr_output_parse(const char *arg, enum fr_output *out);

#define FR_JSON_MAX_DEPTH 16

struct fr_json {
    FILE *f;
    int depth;
    bool first[FR_JSON_MAX_DEPTH];
};

/* KEY is NULL inside arrays and for the top-level value. */
void fr_json_init(struct fr_json *j, FILE *f);
void fr_json_begin_object(struct fr_json *j, const char *key);
void fr_json_end_object(struct fr_json *j);
void fr_json_begin_array(struct fr_json *j, const char *key);
void fr_json_end_array(struct fr_json *j);
void fr_json_string(struct fr_json *j, const char *key, const char *val);
void fr_json_u64(struct fr_json *j, const char *key, uint64_t val);
void fr_json_bool(struct fr_json *j, const char *key, bool val);
void fr_json_null(struct fr_json *j, const char *key);
/* Close everything and end with a newline. */
void fr_json_finish(struct fr_json *j);

/* "128 MiB", "8.8 MiB", "4 KiB", "512 B" into BUF. */
const char *fr_human_size(uint64_t bytes, char *buf, size_t size);

#endif

/*
 * Unit tests for vmdesc: the strict JSON checker (valid and invalid
 * texts, escapes, surrogates, depth, bounds), every truncation of a
 * realistic vmdesc, byte mutations, body-size computation, and the field
 * layouts (vmdesc_layouts) with the x86 registers read through them.
 *
 * Every input is copied into a buffer of exactly its length so that ASan
 * catches any read past the end.
 */
#include "vmdesc.h"

#include <stdlib.h>
#include <string.h>

#include "armcpu.h"
#include "unit.h"
#include "x86cpu.h"

static uint8_t *dup_exact(const void *s, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);

    if (!b) {
        abort();
    }
    memcpy(b, s, len);
    return b;
}

static int check_n(const void *s, size_t len, struct fr_err *err)
{
    uint8_t *b = dup_exact(s, len);
    int ret;

    fr_err_clear(err);
    ret = vmdesc_check_json(b, len, 0, err);
    free(b);
    return ret;
}

static int parse_n(const void *s, size_t len, struct vmdesc *vd,
                   struct fr_err *err)
{
    uint8_t *b = dup_exact(s, len);
    int ret;

    fr_err_clear(err);
    ret = vmdesc_parse(b, len, 0, vd, err);
    free(b);
    return ret;
}

/* S is well-formed JSON (both entry points' JSON layer accepts it). */
#define EXPECT_JSON_OK(s)                                               \
    do {                                                                \
        struct fr_err e_;                                               \
        int r_ = check_n((s), sizeof(s) - 1, &e_);                      \
        EXPECT_TRUE(r_ == 0);                                           \
        if (r_) {                                                       \
            UNIT_FAIL("  input %s: %s", #s, e_.what);                   \
        }                                                               \
    } while (0)

/* S is rejected with message MSG at offset OFF. */
#define EXPECT_JSON_BAD(s, msg, off)                                    \
    do {                                                                \
        struct fr_err e_;                                               \
        EXPECT_TRUE(check_n((s), sizeof(s) - 1, &e_) == -1);            \
        EXPECT_EQ_U64(e_.kind, FR_E_CORRUPT);                           \
        EXPECT_EQ_STR(e_.what, "vmdesc: " msg);                         \
        EXPECT_EQ_U64(e_.offset, (off));                                \
    } while (0)

static void test_json_valid(void)
{
    EXPECT_JSON_OK("0");
    EXPECT_JSON_OK("-0");
    EXPECT_JSON_OK("42");
    EXPECT_JSON_OK("-1.5e10");
    EXPECT_JSON_OK("1E+2");
    EXPECT_JSON_OK("0.25e-3");
    EXPECT_JSON_OK("123456789012345678901234567890");
    EXPECT_JSON_OK("true");
    EXPECT_JSON_OK("false");
    EXPECT_JSON_OK("null");
    EXPECT_JSON_OK("\"\"");
    EXPECT_JSON_OK(" \t\r\n{} \t\r\n");
    EXPECT_JSON_OK("[]");
    EXPECT_JSON_OK("[ ]");
    EXPECT_JSON_OK("{ }");
    EXPECT_JSON_OK("[1,2,[3,{}],\"x\",true,false,null]");
    EXPECT_JSON_OK("{\"a\":{\"b\":[null]},\"a\":1}");
    EXPECT_JSON_OK("{ \"a\" : [ 1 , 2 ] , \"\" : { } }");
    /* each escape */
    EXPECT_JSON_OK("\"\\\"\"");
    EXPECT_JSON_OK("\"\\\\\"");
    EXPECT_JSON_OK("\"\\/\"");
    EXPECT_JSON_OK("\"\\b\\f\\n\\r\\t\"");
    EXPECT_JSON_OK("\"\\u0000\"");
    EXPECT_JSON_OK("\"\\u0041\\u00e9\\u20AC\\uFFFF\"");
    /* surrogate pairs: U+1F600, U+10000, U+10FFFF */
    EXPECT_JSON_OK("\"\\ud83d\\ude00\"");
    EXPECT_JSON_OK("\"\\uD800\\uDC00\"");
    EXPECT_JSON_OK("\"\\udbff\\udfff\"");
    /* raw UTF-8: 2, 3 and 4 byte forms, and DEL */
    EXPECT_JSON_OK("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"");
    EXPECT_JSON_OK("\"\xf4\x8f\xbf\xbf\"");
}

static void test_json_invalid(void)
{
    EXPECT_JSON_BAD("", "empty input", 0);
    EXPECT_JSON_BAD("  \n", "no json value", 3);
    EXPECT_JSON_BAD("01", "leading zero in number", 0);
    EXPECT_JSON_BAD("-01", "leading zero in number", 0);
    EXPECT_JSON_BAD("[00]", "leading zero in number", 1);
    EXPECT_JSON_BAD("1.", "unexpected end of input in number", 2);
    EXPECT_JSON_BAD("1.e3", "invalid number", 2);
    EXPECT_JSON_BAD(".5", "expected a value", 0);
    EXPECT_JSON_BAD("-", "unexpected end of input in number", 1);
    EXPECT_JSON_BAD("-a", "invalid number", 1);
    EXPECT_JSON_BAD("1e", "unexpected end of input in number", 2);
    EXPECT_JSON_BAD("1e+", "unexpected end of input in number", 3);
    EXPECT_JSON_BAD("1ex", "invalid number", 2);
    EXPECT_JSON_BAD("+1", "expected a value", 0);
    EXPECT_JSON_BAD("0x10", "unexpected data after the json value", 1);
    EXPECT_JSON_BAD("tru", "unexpected end of input", 3);
    EXPECT_JSON_BAD("nul", "unexpected end of input", 3);
    EXPECT_JSON_BAD("trUe", "invalid literal", 0);
    EXPECT_JSON_BAD("nan", "invalid literal", 0);
    EXPECT_JSON_BAD("truex", "unexpected data after the json value", 4);
    EXPECT_JSON_BAD("1 2", "unexpected data after the json value", 2);
    EXPECT_JSON_BAD("{} x", "unexpected data after the json value", 3);
    EXPECT_JSON_BAD("[]]", "unexpected data after the json value", 2);
    /* trailing commas and separators */
    EXPECT_JSON_BAD("[1,]", "trailing comma in array", 3);
    EXPECT_JSON_BAD("{\"a\":1,}", "trailing comma in object", 7);
    EXPECT_JSON_BAD("[,1]", "expected a value", 1);
    EXPECT_JSON_BAD("[1 2]", "expected ',' or ']' in array", 3);
    EXPECT_JSON_BAD("[1:2]", "expected ',' or ']' in array", 2);
    EXPECT_JSON_BAD("{\"a\":1 \"b\":2}", "expected ',' or '}' in object",
                    7);
    EXPECT_JSON_BAD("{\"a\" 1}", "expected ':' after key in object", 5);
    EXPECT_JSON_BAD("{a:1}", "expected string key in object", 1);
    EXPECT_JSON_BAD("{1:1}", "expected string key in object", 1);
    EXPECT_JSON_BAD("{\"a\":}", "expected a value", 5);
    EXPECT_JSON_BAD("{\"a\":1]", "expected ',' or '}' in object", 6);
    EXPECT_JSON_BAD("[1}", "expected ',' or ']' in array", 2);
    /* truncated containers */
    EXPECT_JSON_BAD("[", "unexpected end of input", 1);
    EXPECT_JSON_BAD("[1", "unexpected end of input in array", 2);
    EXPECT_JSON_BAD("[1,", "unexpected end of input", 3);
    EXPECT_JSON_BAD("{", "unexpected end of input in object", 1);
    EXPECT_JSON_BAD("{\"a\"", "unexpected end of input in object", 4);
    EXPECT_JSON_BAD("{\"a\":", "unexpected end of input", 5);
    EXPECT_JSON_BAD("{\"a\":1", "unexpected end of input in object", 6);
    /* strings */
    EXPECT_JSON_BAD("\"abc", "unterminated string", 4);
    EXPECT_JSON_BAD("\"abc\\", "unterminated string", 5);
    EXPECT_JSON_BAD("\"\\x\"", "invalid escape in string", 1);
    EXPECT_JSON_BAD("\"\\U0041\"", "invalid escape in string", 1);
    EXPECT_JSON_BAD("\"\\'\"", "invalid escape in string", 1);
    EXPECT_JSON_BAD("\"\\u12G4\"", "invalid \\u escape in string", 1);
    EXPECT_JSON_BAD("\"\\u12\"", "invalid \\u escape in string", 1);
    EXPECT_JSON_BAD("\"\\u12", "unterminated string", 5);
    EXPECT_JSON_BAD("\"\\ud800\"", "unpaired surrogate in string", 1);
    EXPECT_JSON_BAD("\"\\udc00\"", "unpaired surrogate in string", 1);
    EXPECT_JSON_BAD("\"\\ude00\\ud83d\"", "unpaired surrogate in string",
                    1);
    EXPECT_JSON_BAD("\"\\ud800x\"", "unpaired surrogate in string", 1);
    EXPECT_JSON_BAD("\"\\ud800\\n\"", "unpaired surrogate in string", 1);
    EXPECT_JSON_BAD("\"\\ud800\\u0041\"", "unpaired surrogate in string",
                    1);
    EXPECT_JSON_BAD("\"\\ud800\\ud800\"", "unpaired surrogate in string",
                    1);
    EXPECT_JSON_BAD("\"\\ud800\\uzzzz\"", "invalid \\u escape in string",
                    7);
    EXPECT_JSON_BAD("\"\\ud800\\udc", "unterminated string", 11);
    EXPECT_JSON_BAD("\"\\ud800\\", "unterminated string", 8);
    EXPECT_JSON_BAD("\"\\ud800", "unterminated string", 7);
    EXPECT_JSON_BAD("\"a\x01z\"", "control character in string", 2);
    EXPECT_JSON_BAD("\"\t\"", "control character in string", 1);
    EXPECT_JSON_BAD("\"\n\"", "control character in string", 1);
    EXPECT_JSON_BAD("\"\x1f\"", "control character in string", 1);
    EXPECT_JSON_BAD("\"\xff\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\x80\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xc0\x80\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xe0\x80\x80\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xed\xa0\x80\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xf4\x90\x80\x80\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xc3\"", "invalid utf-8 in string", 1);
    EXPECT_JSON_BAD("\"\xe2\x82", "invalid utf-8 in string", 1);
    /* not whitespace in JSON: BOM, vertical tab, form feed */
    EXPECT_JSON_BAD("\xef\xbb\xbf{}", "expected a value", 0);
    EXPECT_JSON_BAD("\v{}", "expected a value", 0);
    EXPECT_JSON_BAD("{}\f", "unexpected data after the json value", 2);
}

static void test_json_nul_and_bounds(void)
{
    static const uint8_t with_nul[] = { '[', '1', ',', 0, ']' };
    static const uint8_t str_nul[] = { '"', 'a', 0, 'b', '"' };
    static const char longer[] = "[1]garbage";
    struct fr_err e;

    EXPECT_TRUE(check_n(with_nul, sizeof(with_nul), &e) == -1);
    EXPECT_EQ_STR(e.what, "vmdesc: expected a value");
    EXPECT_EQ_U64(e.offset, 3);
    EXPECT_TRUE(check_n(str_nul, sizeof(str_nul), &e) == -1);
    EXPECT_EQ_STR(e.what, "vmdesc: control character in string");
    /* only LEN bytes count: the tail is never looked at */
    EXPECT_TRUE(check_n(longer, 3, &e) == 0);
    EXPECT_TRUE(check_n(longer, 2, &e) == -1);

    /* BASE_OFF is added to every offset */
    {
        uint8_t *b = dup_exact("[1,]", 4);
        fr_err_clear(&e);
        EXPECT_TRUE(vmdesc_check_json(b, 4, 0x1000, &e) == -1);
        EXPECT_EQ_U64(e.offset, 0x1003);
        free(b);
    }
}

static void test_json_depth(void)
{
    char buf[2 * (VMDESC_MAX_DEPTH + 2) + 16];
    struct fr_err e;
    size_t n;

    /* exactly 64 nested arrays: accepted */
    n = 0;
    for (int i = 0; i < VMDESC_MAX_DEPTH; i++) {
        buf[n++] = '[';
    }
    for (int i = 0; i < VMDESC_MAX_DEPTH; i++) {
        buf[n++] = ']';
    }
    EXPECT_TRUE(check_n(buf, n, &e) == 0);

    /* 65: rejected at the 65th bracket */
    n = 0;
    for (int i = 0; i < VMDESC_MAX_DEPTH + 1; i++) {
        buf[n++] = '[';
    }
    for (int i = 0; i < VMDESC_MAX_DEPTH + 1; i++) {
        buf[n++] = ']';
    }
    EXPECT_TRUE(check_n(buf, n, &e) == -1);
    EXPECT_EQ_STR(e.what, "vmdesc: nesting deeper than 64 levels");
    EXPECT_EQ_U64(e.offset, VMDESC_MAX_DEPTH);

    /* objects count the same: 63 arrays + 1 object ok, + 2 objects not */
    n = 0;
    for (int i = 0; i < VMDESC_MAX_DEPTH - 1; i++) {
        buf[n++] = '[';
    }
    memcpy(buf + n, "{}", 2);
    n += 2;
    for (int i = 0; i < VMDESC_MAX_DEPTH - 1; i++) {
        buf[n++] = ']';
    }
    EXPECT_TRUE(check_n(buf, n, &e) == 0);
    n = 0;
    for (int i = 0; i < VMDESC_MAX_DEPTH - 1; i++) {
        buf[n++] = '[';
    }
    memcpy(buf + n, "{\"a\":{}}", 8);
    n += 8;
    for (int i = 0; i < VMDESC_MAX_DEPTH - 1; i++) {
        buf[n++] = ']';
    }
    EXPECT_TRUE(check_n(buf, n, &e) == -1);
    EXPECT_EQ_STR(e.what, "vmdesc: nesting deeper than 64 levels");

    /* a huge unclosed nesting fails at the limit, not by recursion */
    {
        size_t big = 100000;
        char *deep = malloc(big);
        memset(deep, '[', big);
        EXPECT_TRUE(check_n(deep, big, &e) == -1);
        EXPECT_EQ_U64(e.offset, VMDESC_MAX_DEPTH);
        free(deep);
    }
}

/* ---- vmdesc_parse ---- */

#define PARSE(s, vd, e) parse_n((s), sizeof(s) - 1, (vd), (e))

/* S parses; its one device's computed size is SIZE (or unknown if -1). */
static void expect_dev_size(const char *s, size_t len, int64_t size,
                            int line)
{
    struct vmdesc vd;
    struct fr_err e;

    unit_checks++;
    if (parse_n(s, len, &vd, &e) != 0) {
        fprintf(stderr, "%s:%d: parse failed: %s\n", __FILE__, line, e.what);
        unit_failures++;
        return;
    }
    if (vd.ndevs != 1) {
        fprintf(stderr, "%s:%d: %zu devices\n", __FILE__, line, vd.ndevs);
        unit_failures++;
    } else if (size < 0 ? vd.devs[0].size_known :
               !vd.devs[0].size_known ||
               vd.devs[0].size != (uint64_t)size) {
        fprintf(stderr, "%s:%d: size %s%llu, expected %lld\n", __FILE__,
                line, vd.devs[0].size_known ? "" : "unknown ",
                (unsigned long long)vd.devs[0].size, (long long)size);
        unit_failures++;
    }
    vmdesc_free(&vd);
}

#define DEV(body) \
    "{\"page_size\":4096,\"devices\":[{\"name\":\"d\",\"instance_id\":0," \
    body "}]}"
#define EXPECT_SIZE(body, size) \
    expect_dev_size(DEV(body), sizeof(DEV(body)) - 1, (size), __LINE__)

#define EXPECT_PARSE_BAD(s, msg)                                        \
    do {                                                                \
        struct vmdesc vd_;                                              \
        struct fr_err e_;                                               \
        EXPECT_TRUE(PARSE(s, &vd_, &e_) == -1);                         \
        EXPECT_EQ_U64(e_.kind, FR_E_CORRUPT);                           \
        EXPECT_EQ_STR(e_.what, "vmdesc: " msg);                         \
        EXPECT_TRUE(vd_.devs == NULL && vd_.ndevs == 0);                \
    } while (0)

static void test_parse_basic(void)
{
    struct vmdesc vd;
    struct fr_err e;

    EXPECT_TRUE(PARSE("{\"page_size\":4096,\"devices\":[]}", &vd, &e) == 0);
    EXPECT_EQ_U64(vd.page_size, 4096);
    EXPECT_TRUE(!vd.has_configuration);
    EXPECT_EQ_U64(vd.ndevs, 0);
    vmdesc_free(&vd);

    EXPECT_TRUE(PARSE("{\"devices\":[],\"configuration\":null}", &vd,
                      &e) == 0);
    EXPECT_EQ_U64(vd.page_size, 0);
    EXPECT_TRUE(vd.has_configuration);
    vmdesc_free(&vd);

    /* names decoded, unknown keys ignored, last duplicate key wins */
    EXPECT_TRUE(PARSE("{\"x\":[{}],\"devices\":["
                      "{\"name\":\"a\\u00e9\\/b\",\"instance_id\":1,"
                      "\"instance_id\":4294967295,\"fields\":[],"
                      "\"whatever\":{\"fields\":7}},"
                      "{\"instance_id\":0,\"name\":\"\",\"fields\":[]}"
                      "]}", &vd, &e) == 0);
    EXPECT_EQ_U64(vd.ndevs, 2);
    EXPECT_EQ_STR(vd.devs[0].name, "a\xc3\xa9/b");
    EXPECT_EQ_U64(vd.devs[0].instance_id, 4294967295u);
    EXPECT_TRUE(vd.devs[0].size_known);
    EXPECT_EQ_U64(vd.devs[0].size, 0);
    EXPECT_EQ_STR(vd.devs[1].name, "");
    vmdesc_free(&vd);
    vmdesc_free(&vd);   /* freeing an empty vmdesc is fine */

    EXPECT_PARSE_BAD("[]", "top level is not an object");
    EXPECT_PARSE_BAD("{}", "no 'devices' array");
    EXPECT_PARSE_BAD("{\"devices\":{}}", "'devices' is not an array");
    EXPECT_PARSE_BAD("{\"devices\":[1]}", "'devices' entry is not an object");
    EXPECT_PARSE_BAD("{\"devices\":[{\"instance_id\":0}]}",
                     "device has no 'name'");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":1,\"instance_id\":0}]}",
                     "'name' is not a string");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\\u0000b\","
                     "\"instance_id\":0}]}",
                     "'name' contains a nul character");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\"}]}",
                     "device has no 'instance_id'");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\",\"instance_id\":\"0\"}]}",
                     "'instance_id' is not a number");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\",\"instance_id\":-1}]}",
                     "'instance_id' is negative");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\",\"instance_id\":-0}]}",
                     "'instance_id' is negative");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\",\"instance_id\":1.5}]}",
                     "'instance_id' is not an integer");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\",\"instance_id\":1e3}]}",
                     "'instance_id' is not an integer");
    EXPECT_PARSE_BAD("{\"devices\":[{\"name\":\"a\","
                     "\"instance_id\":4294967296}]}",
                     "'instance_id' is larger than 4294967295");
    EXPECT_PARSE_BAD("{\"page_size\":4294967296,\"devices\":[]}",
                     "'page_size' is larger than 4294967295");
    EXPECT_PARSE_BAD("{\"page_size\":true,\"devices\":[]}",
                     "'page_size' is not a number");
    EXPECT_PARSE_BAD(DEV("\"fields\":[{\"size\":-4}]"), "'size' is negative");
    EXPECT_PARSE_BAD(DEV("\"fields\":[{\"size\":18446744073709551616}]"),
                     "'size' is larger than 18446744073709551615");
    EXPECT_PARSE_BAD(DEV("\"fields\":[{\"size\":4,\"array_len\":2.0}]"),
                     "'array_len' is not an integer");
    EXPECT_PARSE_BAD(DEV("\"fields\":[{\"size\":4,\"index\":-1}]"),
                     "'index' is negative");
    EXPECT_PARSE_BAD(DEV("\"size\":-1"), "'size' is negative");
    EXPECT_PARSE_BAD(DEV("\"fields\":{}"), "'fields' is not an array");
    EXPECT_PARSE_BAD(DEV("\"fields\":[4]"),
                     "'fields' entry is not an object");
    EXPECT_PARSE_BAD(DEV("\"fields\":[],\"subsections\":{}"),
                     "'subsections' is not an array");
    EXPECT_PARSE_BAD(DEV("\"fields\":[],\"subsections\":[[]]"),
                     "'subsections' entry is not an object");
    EXPECT_PARSE_BAD(DEV("\"fields\":[],\"subsections\":[{\"vmsd_name\":1,"
                         "\"fields\":[]}]"),
                     "'vmsd_name' is not a string");
    /* JSON errors come through vmdesc_parse too */
    EXPECT_PARSE_BAD("{\"devices\":[],}", "trailing comma in object");
    EXPECT_PARSE_BAD("", "empty input");

    /* offsets point at the offending value, plus BASE_OFF */
    {
        static const char s[] = "{\"devices\":[{\"name\":\"a\","
                                "\"instance_id\":-1}]}";
        uint8_t *b = dup_exact(s, sizeof(s) - 1);
        fr_err_clear(&e);
        EXPECT_TRUE(vmdesc_parse(b, sizeof(s) - 1, 100, &vd, &e) == -1);
        EXPECT_EQ_U64(e.offset, 100 + strchr(s, '-') - s);
        free(b);
    }
}

static void test_parse_sizes(void)
{
    /* plain fields; "struct" contents are covered by the field's size */
    EXPECT_SIZE("\"fields\":[]", 0);
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"type\":\"uint32\","
                "\"size\":4},{\"name\":\"b\",\"type\":\"uint64\","
                "\"size\":8}]", 12);
    EXPECT_SIZE("\"fields\":[{\"name\":\"s\",\"type\":\"struct\","
                "\"struct\":{\"vmsd_name\":\"x\",\"version\":1,"
                "\"fields\":[{\"name\":\"y\",\"size\":999}],"
                "\"subsections\":[{\"vmsd_name\":\"x/z\","
                "\"fields\":[]}]},\"size\":20}]", 20);
    /* compressed array: one entry for ARRAY_LEN equal elements */
    EXPECT_SIZE("\"fields\":[{\"name\":\"r\",\"array_len\":16,"
                "\"type\":\"uint32\",\"size\":4},{\"name\":\"c\","
                "\"size\":1}]", 65);
    EXPECT_SIZE("\"fields\":[{\"name\":\"r\",\"array_len\":0,"
                "\"size\":4}]", 0);
    /* "index"-ed array: one entry per element, the last without index */
    EXPECT_SIZE("\"fields\":[{\"name\":\"e\",\"index\":0,"
                "\"type\":\"struct\",\"size\":10},{\"name\":\"e\","
                "\"index\":1,\"type\":\"struct\",\"size\":12},"
                "{\"name\":\"e\",\"type\":\"struct\",\"size\":14},"
                "{\"name\":\"f\",\"size\":1}]", 37);
    /* made-unique names are different fields */
    EXPECT_SIZE("\"fields\":[{\"name\":\"u[0]\",\"array_len\":3,"
                "\"size\":2},{\"name\":\"u[1]\",\"array_len\":3,"
                "\"size\":2}]", 12);
    /* subsections: 05, u8 len, name, be32 version, own body */
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"size\":10}],"
                "\"subsections\":[{\"vmsd_name\":\"dev/sub\","
                "\"version\":1,\"fields\":[{\"name\":\"b\","
                "\"size\":3}]}]", 10 + 2 + 7 + 4 + 3);
    /* nested subsections, and a second one at the top */
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"size\":1}],"
                "\"subsections\":["
                "{\"vmsd_name\":\"d/s1\",\"fields\":[{\"name\":\"b\","
                "\"array_len\":2,\"size\":4}],\"subsections\":["
                "{\"vmsd_name\":\"d/s1/n\",\"fields\":[{\"name\":\"c\","
                "\"size\":2}],\"subsections\":[{\"vmsd_name\":\"d/s1/n/m\","
                "\"fields\":[]}]}]},"
                "{\"vmsd_name\":\"d/s2\",\"fields\":[]}]",
                1 + (6 + 4 + 8) + (6 + 6 + 2) + (6 + 8 + 0) + (6 + 4));
    /* subsection name length counts decoded bytes */
    EXPECT_SIZE("\"fields\":[],\"subsections\":[{\"vmsd_name\":"
                "\"\\u00e9\",\"fields\":[]}]", 2 + 2 + 4);
    /* old-style devices (save_state callbacks) */
    EXPECT_SIZE("\"size\":300,\"fields\":[{\"name\":\"data\","
                "\"type\":\"buffer\",\"size\":300}]", 300);
    EXPECT_SIZE("\"size\":300", 300);
    EXPECT_SIZE("\"size\":300,\"fields\":[{\"name\":\"data\","
                "\"type\":\"buffer\",\"size\":301}]", -1);
    /* what cannot be summed */
    EXPECT_SIZE("\"vmsd_name\":\"d\"", -1);
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"type\":\"uint8\"}]", -1);
    EXPECT_SIZE("\"fields\":[],\"subsections\":[{\"fields\":[]}]", -1);
    EXPECT_SIZE("\"fields\":[],\"subsections\":[{\"vmsd_name\":\"d\"}]", -1);
    /* overflow marks the size unknown instead of failing */
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"size\":9223372036854775808,"
                "\"array_len\":2}]", -1);
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"size\":18446744073709551615},"
                "{\"name\":\"b\",\"size\":1}]", -1);
    EXPECT_SIZE("\"fields\":[{\"name\":\"a\",\"size\":9223372036854775808},"
                "{\"name\":\"b\",\"size\":9223372036854775808}]", -1);
}

static void test_parse_max_size(void)
{
    static const char s[] = DEV("\"fields\":[{\"name\":\"a\","
                                "\"size\":18446744073709551615}]");
    struct vmdesc vd;
    struct fr_err e;

    EXPECT_TRUE(PARSE(s, &vd, &e) == 0);
    EXPECT_TRUE(vd.ndevs == 1 && vd.devs[0].size_known);
    EXPECT_EQ_U64(vd.devs[0].size, UINT64_MAX);
    vmdesc_free(&vd);
}

/*
 * Arrays of pointers with NULL elements (QEMU >= 10.0), as
 * vmstate_save_state_v describes them.
 */
static void test_parse_nullptr_arrays(void)
{
    /*
     * compressible, starting non-NULL: runs 2 x struct(5), 3 x NULL,
     * 1 x struct(5).  The first entry claims the whole array (6).
     */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"array_len\":6,"
                "\"type\":\"struct\",\"size\":5},{\"name\":\"p\","
                "\"array_len\":3,\"type\":\"nullptr\",\"size\":1},"
                "{\"name\":\"p\",\"type\":\"struct\",\"size\":5}]",
                2 * 5 + 3 + 5);
    /* compressible, starting NULL: 2 x NULL, 2 x struct(5) */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"array_len\":2,"
                "\"type\":\"nullptr\",\"size\":1},{\"name\":\"p\","
                "\"array_len\":2,\"type\":\"struct\",\"size\":5}]",
                2 + 10);
    /* compressible, single NULL run after one element */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"array_len\":4,"
                "\"type\":\"uint8\",\"size\":1},{\"name\":\"p\","
                "\"array_len\":3,\"type\":\"nullptr\",\"size\":1}]", 4);
    /*
     * not compressible: one entry per element; NULL entries carry a
     * meaningless array_len.  Elements: struct(7), NULL, NULL, struct(7).
     */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"index\":0,"
                "\"type\":\"struct\",\"size\":7},{\"name\":\"p\","
                "\"array_len\":2,\"type\":\"nullptr\",\"size\":1},"
                "{\"name\":\"p\",\"array_len\":2,\"type\":\"nullptr\","
                "\"size\":1},{\"name\":\"p\",\"type\":\"struct\","
                "\"size\":7}]", 16);
    /* not compressible, all 3 NULL: array_len 3, 2, then none */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"array_len\":3,"
                "\"type\":\"nullptr\",\"size\":1},{\"name\":\"p\","
                "\"array_len\":2,\"type\":\"nullptr\",\"size\":1},"
                "{\"name\":\"p\",\"type\":\"nullptr\",\"size\":1}]", 3);
    /* a leading entry that cannot cover the later ones: unknown */
    EXPECT_SIZE("\"fields\":[{\"name\":\"p\",\"array_len\":2,"
                "\"type\":\"struct\",\"size\":5},{\"name\":\"p\","
                "\"array_len\":2,\"type\":\"nullptr\",\"size\":1}]", -1);
}

/*
 * A realistic vmdesc in QEMU's compact form: configuration, page size,
 * devices with compressed and index-ed arrays, struct fields, nested
 * subsections and an old-style device.
 */
static const char realistic[] =
    "{\"configuration\":{\"vmsd_name\":\"configuration\",\"version\":0,"
    "\"fields\":[{\"name\":\"len\",\"type\":\"uint32\",\"size\":4},"
    "{\"name\":\"name\",\"type\":\"buffer\",\"size\":14}],"
    "\"subsections\":[{\"vmsd_name\":\"configuration/capabilities\","
    "\"version\":1,\"fields\":[{\"name\":\"caps_count\","
    "\"type\":\"uint32\",\"size\":4},{\"name\":\"capabilities\","
    "\"array_len\":1,\"type\":\"capability\",\"size\":11}]}]},"
    "\"page_size\":4096,\"devices\":["
    "{\"name\":\"timer\",\"instance_id\":0,\"vmsd_name\":\"timer\","
    "\"version\":2,\"fields\":[{\"name\":\"cpu_ticks_offset\","
    "\"type\":\"int64\",\"size\":8},{\"name\":\"unused\","
    "\"type\":\"unused_buffer\",\"size\":8},{\"name\":\"cpu_clock_offset\","
    "\"type\":\"int64\",\"size\":8}]},"
    "{\"name\":\"i8259\",\"instance_id\":1,\"vmsd_name\":\"i8259\","
    "\"version\":1,\"fields\":[{\"name\":\"last_irr\",\"type\":\"uint8\","
    "\"size\":1},{\"name\":\"elcr\",\"array_len\":15,\"type\":\"uint8\","
    "\"size\":1}]},"
    "{\"name\":\"0000:00:01.1/ide\",\"instance_id\":0,"
    "\"vmsd_name\":\"ide\",\"version\":3,\"fields\":["
    "{\"name\":\"dev\",\"type\":\"struct\",\"struct\":{"
    "\"vmsd_name\":\"PCIDevice\",\"version\":2,\"fields\":["
    "{\"name\":\"config\",\"type\":\"buffer\",\"size\":256}]},"
    "\"size\":260},"
    "{\"name\":\"bmdma\",\"index\":0,\"type\":\"struct\",\"struct\":{"
    "\"vmsd_name\":\"ide bmdma\",\"version\":3,\"fields\":[]},"
    "\"size\":16},"
    "{\"name\":\"bmdma\",\"type\":\"struct\",\"struct\":{"
    "\"vmsd_name\":\"ide bmdma\",\"version\":3,\"fields\":[]},"
    "\"size\":18}],"
    "\"subsections\":[{\"vmsd_name\":\"ide/drive_pio_state\","
    "\"version\":1,\"fields\":[{\"name\":\"req_nb_sectors\","
    "\"type\":\"int32\",\"size\":4}],\"subsections\":["
    "{\"vmsd_name\":\"ide/drive_pio_state/x\",\"version\":1,"
    "\"fields\":[{\"name\":\"q\",\"type\":\"uint16\",\"size\":2}]}]}]},"
    "{\"name\":\"slirp\",\"instance_id\":0,\"size\":42,"
    "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\",\"size\":42}]},"
    "{\"name\":\"\\u0067lobalstate\",\"instance_id\":0,"
    "\"vmsd_name\":\"globalstate\",\"version\":1,\"fields\":["
    "{\"name\":\"size\",\"type\":\"uint32\",\"size\":4},"
    "{\"name\":\"runstate\",\"type\":\"buffer\",\"size\":100}]}"
    "]}";

static void test_parse_realistic(void)
{
    static const struct {
        const char *name;
        uint32_t inst;
        uint64_t size;
    } want[] = {
        { "timer", 0, 24 },
        { "i8259", 1, 16 },
        { "0000:00:01.1/ide", 0,
          260 + 16 + 18 + (2 + 19 + 4 + 4) + (2 + 21 + 4 + 2) },
        { "slirp", 0, 42 },
        { "globalstate", 0, 104 },
    };
    struct vmdesc vd;
    struct fr_err e;

    EXPECT_TRUE(PARSE(realistic, &vd, &e) == 0);
    EXPECT_EQ_U64(vd.page_size, 4096);
    EXPECT_TRUE(vd.has_configuration);
    EXPECT_EQ_U64(vd.ndevs, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < vd.ndevs && i < sizeof(want) / sizeof(want[0]);
         i++) {
        EXPECT_EQ_STR(vd.devs[i].name, want[i].name);
        EXPECT_EQ_U64(vd.devs[i].instance_id, want[i].inst);
        EXPECT_TRUE(vd.devs[i].size_known);
        EXPECT_EQ_U64(vd.devs[i].size, want[i].size);
    }
    vmdesc_free(&vd);
}

/* Every proper prefix must fail cleanly with an offset inside it. */
static void test_truncations(void)
{
    size_t len = sizeof(realistic) - 1;
    int bad = 0;

    for (size_t n = 0; n < len; n++) {
        struct vmdesc vd;
        struct fr_err e1, e2;

        if (check_n(realistic, n, &e1) != -1 ||
            parse_n(realistic, n, &vd, &e2) != -1 ||
            e1.kind != FR_E_CORRUPT || e2.kind != FR_E_CORRUPT ||
            e1.offset > n || e2.offset > n || vd.ndevs != 0 ||
            vd.devs != NULL || strncmp(e1.what, "vmdesc: ", 8) != 0) {
            UNIT_FAIL("truncation at %zu not rejected cleanly", n);
            bad++;
        }
    }
    unit_checks++;
    EXPECT_TRUE(bad == 0);
}

/* Overwrite each byte with characters that matter to JSON: no crash. */
static void test_mutations(void)
{
    static const uint8_t subst[] = { '"', '\\', '{', '}', '[', ']', ',',
                                     ':', '0', '-', 'u', 0, 0x80, 0xff,
                                     ' ' };
    size_t len = sizeof(realistic) - 1;
    uint8_t *b = malloc(len);
    unsigned ok = 0, failed = 0;

    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < sizeof(subst); j++) {
            struct vmdesc vd;
            struct fr_err e;
            int r1, r2;

            memcpy(b, realistic, len);
            b[i] = subst[j];
            fr_err_clear(&e);
            r1 = vmdesc_check_json(b, len, 0, &e);
            fr_err_clear(&e);
            r2 = vmdesc_parse(b, len, 0, &vd, &e);
            if (r2 == 0) {
                ok++;
                vmdesc_free(&vd);
            } else {
                failed++;
                if (e.kind != FR_E_CORRUPT || e.offset > len) {
                    UNIT_FAIL("mutation %zu/%zu: kind %d offset %llu", i, j,
                              (int)e.kind, (unsigned long long)e.offset);
                }
            }
            /* a JSON error is always a vmdesc_parse error too */
            if (r1 != 0 && r2 == 0) {
                UNIT_FAIL("mutation %zu/%zu: parse accepted bad json",
                          i, j);
            }
        }
    }
    free(b);
    unit_checks++;
    EXPECT_TRUE(ok > 0 && failed > 0);
}


/* The places of the fields QEMU 10 describes for an x86_64 "cpu" (cut
 * down), and the registers read from a body through them. */
static void test_layouts(void)
{
    static const char json[] =
        "{\"devices\":["
        "{\"name\":\"timer\",\"instance_id\":0,\"fields\":["
        "{\"name\":\"t\",\"type\":\"int64\",\"size\":8}]},"
        "{\"name\":\"cpu\",\"instance_id\":1,\"fields\":["
        "{\"name\":\"env.regs\",\"array_len\":16,\"type\":\"uint64\","
        "\"size\":8},"
        "{\"name\":\"env.eip\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.eflags\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.hflags\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"env.segs\",\"array_len\":6,\"type\":\"struct\","
        "\"struct\":{\"vmsd_name\":\"segment\",\"fields\":["
        "{\"name\":\"selector\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"base\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"limit\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"flags\",\"type\":\"uint32\",\"size\":4}]},"
        "\"size\":20},"
        "{\"name\":\"env.cr[0]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[2]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[3]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[4]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.efer\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"v\",\"type\":\"uint8\"},"
        "{\"name\":\"after\",\"type\":\"uint8\",\"size\":1}]},"
        "{\"name\":\"cpu\",\"instance_id\":2,\"fields\":["
        "{\"name\":\"a\",\"index\":0,\"type\":\"uint8\",\"size\":1},"
        "{\"name\":\"a\",\"type\":\"uint8\",\"size\":1}]},"
        "{\"name\":\"cpu\",\"instance_id\":3,\"fields\":["
        "{\"name\":\"env.regs\",\"array_len\":16,\"type\":\"uint64\","
        "\"size\":8},"
        "{\"name\":\"env.eip\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.eflags\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[0]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[2]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[3]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.cr[4]\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"env.segs\",\"array_len\":6,\"type\":\"buffer\","
        "\"size\":20}]}]}";
    uint8_t *b = dup_exact(json, sizeof(json) - 1);
    struct vmdesc_layout *l;
    const struct vmdesc_field *f;
    struct fr_err e = { 0 };
    struct x86_cpu cpu;
    const char *missing = NULL;
    uint8_t body[308] = { 0 };
    size_t n;

    EXPECT_TRUE(vmdesc_layouts(b, sizeof(json) - 1, 0, "cpu", &l, &n,
                               &e) == 0);
    EXPECT_EQ_U64(n, 3);
    EXPECT_EQ_U64(l[0].instance_id, 1);
    /* 10 fields and 4 members; nothing from "v" (no size) on */
    EXPECT_EQ_U64(l[0].nfields, 14);
    f = vmdesc_field_find(&l[0], "env.segs.base");
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ_U64(f->offset, 128 + 8 + 8 + 4 + 4);
    EXPECT_EQ_U64(f->stride, 20);
    EXPECT_EQ_U64(f->count, 6);
    EXPECT_EQ_U64(f->size, 8);
    f = vmdesc_field_find(&l[0], "env.efer");
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ_U64(f->offset, 148 + 120 + 32);
    EXPECT_TRUE(vmdesc_field_find(&l[0], "after") == NULL);
    /* a field split into entries per element: no place known */
    EXPECT_EQ_U64(l[1].instance_id, 2);
    EXPECT_EQ_U64(l[1].nfields, 0);

    /* RAX = 0x0102..08 (big-endian), RIP, CS, CR3, EFER.LMA, CS.L */
    for (int i = 0; i < 8; i++) {
        body[i] = (uint8_t)(i + 1);
    }
    body[128 + 7] = 0x10;                      /* rip */
    body[148 + 20 + 3] = 0x08;                 /* cs.selector */
    body[148 + 20 + 16 + 1] = 0x20;            /* cs.flags: L */
    body[268 + 7] = 0x01;                      /* cr0: PE */
    body[284 + 6] = 0x30;                      /* cr3 = 0x3000 */
    body[300 + 6] = 0x05;                      /* efer: LMA, LME */
    EXPECT_TRUE(x86_cpu_read(&l[0], body, 308, &cpu, &missing) == 0);
    EXPECT_TRUE(cpu.wide && cpu.has_efer && !cpu.has_tables);
    EXPECT_EQ_U64(cpu.regs[X86_RAX], 0x0102030405060708ull);
    EXPECT_EQ_U64(cpu.rip, 0x10);
    EXPECT_EQ_U64(cpu.segs[X86_CS].selector, 8);
    EXPECT_EQ_U64(cpu.cr3, 0x3000);
    EXPECT_EQ_U64(cpu.efer, 0x500);
    EXPECT_EQ_STR(x86_cpu_mode(&cpu), "64-bit");
    /* a body that ends before EFER: optional, still read */
    EXPECT_TRUE(x86_cpu_read(&l[0], body, 300, &cpu, &missing) == 0);
    EXPECT_TRUE(!cpu.has_efer);
    EXPECT_EQ_STR(x86_cpu_mode(&cpu), "protected-16");
    /* one that ends inside CR4: refused, naming it */
    EXPECT_TRUE(x86_cpu_read(&l[0], body, 296, &cpu, &missing) < 0);
    EXPECT_EQ_STR(missing, "env.cr[4]");
    /* not an x86 vCPU */
    EXPECT_TRUE(x86_cpu_read(&l[1], body, 300, &cpu, &missing) < 0);
    EXPECT_EQ_STR(missing, "env.regs");
    /* segments without members: named by their field */
    EXPECT_TRUE(x86_cpu_read(&l[2], body, 300, &cpu, &missing) < 0);
    EXPECT_EQ_STR(missing, "env.segs");
    vmdesc_layouts_free(l, n);

    EXPECT_TRUE(vmdesc_layouts(b, sizeof(json) - 1, 0, "none", &l, &n,
                               &e) == 0);
    EXPECT_TRUE(l == NULL && n == 0);
    free(b);
}

/* An aarch64 vCPU as QEMU 10 describes it (cut down): general registers,
 * PSTATE in "cpsr", and system registers found by their ids. */
static void test_layouts_arm(void)
{
    static const char json[] =
        "{\"devices\":[{\"name\":\"cpu\",\"instance_id\":0,\"fields\":["
        "{\"name\":\"env.regs\",\"array_len\":16,\"type\":\"uint32\","
        "\"size\":4},"
        "{\"name\":\"env.xregs\",\"array_len\":32,\"type\":\"uint64\","
        "\"size\":8},"
        "{\"name\":\"env.pc\",\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"cpsr\",\"type\":\"cpsr\",\"size\":4},"
        "{\"name\":\"env.elr_el\",\"array_len\":4,\"type\":\"uint64\","
        "\"size\":8},"
        "{\"name\":\"env.sp_el\",\"array_len\":4,\"type\":\"uint64\","
        "\"size\":8},"
        "{\"name\":\"cpreg_vmstate_array_len\",\"type\":\"int32 le\","
        "\"size\":4},"
        "{\"name\":\"cpreg_vmstate_indexes\",\"array_len\":2,"
        "\"type\":\"uint64\",\"size\":8},"
        "{\"name\":\"cpreg_vmstate_values\",\"array_len\":2,"
        "\"type\":\"uint64\",\"size\":8}]}]}";
    /* offsets: regs 0, xregs 64, pc 320, cpsr 328, elr_el 332, sp_el 364,
     * array_len 396, indexes 400, values 416, end 432 */
    static const uint8_t ttbr0_id[8] = { 0x60, 0x30, 0, 0, 0, 0x13, 0xc1,
                                         0 };
    uint8_t *b = dup_exact(json, sizeof(json) - 1);
    struct vmdesc_layout *l;
    struct fr_err e = { 0 };
    struct arm_cpu cpu;
    const char *missing = NULL;
    uint8_t body[432] = { 0 };
    char mode[16];
    size_t n;

    EXPECT_TRUE(vmdesc_layouts(b, sizeof(json) - 1, 0, "cpu", &l, &n,
                               &e) == 0);
    EXPECT_EQ_U64(n, 1);
    EXPECT_TRUE(arm_cpu_is(&l[0]));
    body[64 + 8 + 7] = 0x11;                   /* x1 */
    body[64 + 31 * 8 + 6] = 0x20;              /* sp = 0x2000 */
    body[320 + 4] = 0x40;                      /* pc = 0x40000000 */
    body[328 + 3] = 0xc5;                      /* pstate: EL1h, DAIF */
    body[328 + 2] = 0x03;
    memcpy(body + 400 + 8, ttbr0_id, 8);       /* indexes[1] */
    body[416 + 8 + 4] = 0x47;                  /* values[1] */
    EXPECT_TRUE(arm_cpu_read(&l[0], body, sizeof(body), &cpu, &missing) ==
                0);
    EXPECT_TRUE(cpu.aarch64);
    EXPECT_EQ_U64(cpu.x[1], 0x11);
    EXPECT_EQ_U64(cpu.sp, 0x2000);
    EXPECT_EQ_U64(cpu.pc, 0x40000000);
    EXPECT_EQ_U64(cpu.pstate, 0x3c5);
    EXPECT_EQ_STR(arm_cpu_mode(&cpu, mode, sizeof(mode)), "EL1h");
    /* TTBR0_EL1 = op0 3, CRn 2: 0x6030000000130000 | 3 << 14 | 2 << 7 */
    EXPECT_TRUE(cpu.has_sysreg[2] && !cpu.has_sysreg[0]);
    EXPECT_EQ_STR(arm_sysreg_names[2], "ttbr0_el1");
    EXPECT_EQ_U64(cpu.sysreg[2], 0x47000000);
    /* system registers past the body are left out, not an error */
    EXPECT_TRUE(arm_cpu_read(&l[0], body, 420, &cpu, &missing) == 0);
    EXPECT_TRUE(!cpu.has_sysreg[2]);
    /* AArch32 state (PSTATE.nRW): svc mode */
    body[328 + 3] = 0xd3;
    EXPECT_TRUE(arm_cpu_read(&l[0], body, sizeof(body), &cpu, &missing) ==
                0);
    EXPECT_TRUE(!cpu.aarch64);
    EXPECT_EQ_STR(arm_cpu_mode(&cpu, mode, sizeof(mode)), "svc");
    /* cut inside env.sp_el */
    EXPECT_TRUE(arm_cpu_read(&l[0], body, 380, &cpu, &missing) < 0);
    EXPECT_EQ_STR(missing, "env.sp_el");
    vmdesc_layouts_free(l, n);
    free(b);
}

int main(void)
{
    test_json_valid();
    test_json_invalid();
    test_json_nul_and_bounds();
    test_json_depth();
    test_parse_basic();
    test_parse_sizes();
    test_parse_max_size();
    test_parse_nullptr_arrays();
    test_parse_realistic();
    test_truncations();
    test_mutations();
    test_layouts();
    test_layouts_arm();
    return unit_done();
}

/* The ggml block fixtures of shared/fixtures/quant (made by llama.cpp's own code): index.json
 * lists, per type, the raw blocks file, the dequantised f32 file and the geometry. Shared by
 * the engine tests that read them (test_quant, test_quant_q8, test_kernels); header-only, so
 * tests/test_util stays free of the engine. */
#pragma once

#include "engine/engine.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct quant_fixture {
    char name[16];      /* "Q4_0" */
    char raw[64];       /* blocks file, relative to fixtures/quant */
    char f32[64];       /* dequantised reference, little-endian f32 */
    uint32_t type;      /* enum eng_type */
    int64_t row_length; /* elements per row */
    int64_t rows;
    size_t row_bytes; /* bytes per row of blocks */
    uint8_t *data;    /* the raw blocks (quant_fixture_load), rows * row_bytes */
};

/* Copies the value of `"key": <value>` found in [obj, end) into `out` (quotes stripped).
 * Returns 0 when the key is absent. */
static inline int qf_scan(const char *obj, const char *end, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(obj, pat);
    if (!p || p >= end) return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p < end && *p != '"' && n + 1 < cap)
            out[n++] = *p++;
    } else {
        while (p < end && (*p == '-' || (*p >= '0' && *p <= '9')) && n + 1 < cap)
            out[n++] = *p++;
    }
    out[n] = 0;
    return n > 0;
}

static inline int64_t qf_int(const char *obj, const char *end, const char *key, const char *type)
{
    char buf[32];
    if (!qf_scan(obj, end, key, buf, sizeof buf)) fail_msg("index.json: %s lacks %s", type, key);
    return strtoll(buf, NULL, 10);
}

/* The index.json entry of `type` ("Q4_0") with its geometry checked against the engine's block
 * sizes; false when index.json has none (a missing field or bad geometry fails the test). */
static inline bool quant_fixture_find(const char *type, struct quant_fixture *f)
{
    size_t len;
    char *json = tu_read_file(tu_shared("fixtures/quant/index.json"), &len);
    memset(f, 0, sizeof *f);
    bool found = false;
    for (const char *obj = strchr(json, '{'); obj; obj = strchr(obj + 1, '{')) {
        const char *end = strchr(obj, '}');
        assert_non_null(end);
        char t[16];
        if (!qf_scan(obj, end, "type", t, sizeof t) || strcmp(t, type) != 0) continue;
        snprintf(f->name, sizeof f->name, "%s", t);
        if (!qf_scan(obj, end, "raw", f->raw, sizeof f->raw) ||
            !qf_scan(obj, end, "dequantized_f32", f->f32, sizeof f->f32))
            fail_msg("index.json: %s lacks file names", type);
        f->row_length = qf_int(obj, end, "row_length", type);
        f->rows = qf_int(obj, end, "rows", type);
        const int64_t be = qf_int(obj, end, "block_elems", type);
        const int64_t bb = qf_int(obj, end, "block_bytes", type);
        f->type = ENG_TYPE_COUNT;
        for (uint32_t i = 0; i < ENG_TYPE_COUNT; i++)
            if (eng_type_name(i) && strcmp(eng_type_name(i), t) == 0) f->type = i;
        if (f->type == ENG_TYPE_COUNT) fail_msg("index.json: unknown type %s", t);
        assert_int_equal(be, eng_type_block_size(f->type));
        assert_int_equal(bb, eng_type_block_bytes(f->type));
        assert_true(f->row_length > 0 && f->row_length % be == 0 && f->rows > 0);
        f->row_bytes = (size_t)(f->row_length / be * bb);
        found = true;
        break;
    }
    free(json);
    return found;
}

/* quant_fixture_find plus the raw blocks in f->data (caller frees); f->data stays NULL when
 * index.json has no entry for `type`. */
static inline bool quant_fixture_load(const char *type, struct quant_fixture *f)
{
    if (!quant_fixture_find(type, f)) return false;
    char rel[128];
    size_t len;
    snprintf(rel, sizeof rel, "fixtures/quant/%s", f->raw);
    f->data = (uint8_t *)tu_read_file(tu_shared(rel), &len);
    assert_int_equal(len, f->row_bytes * (size_t)f->rows);
    return true;
}

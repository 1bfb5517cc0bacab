/* Helpers shared by the unit tests: locating ../shared, reading files, JSONL lines.
 * Test-only code: failures abort the test through cmocka. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* Path of `rel` inside the shared/ folder (GLMTERM_SHARED), in a static buffer. When the
 * folder is missing: fails the test when CI is set, otherwise skips it. */
const char *tu_shared(const char *rel);

/* Reads a whole file; returns a malloc'd NUL-terminated buffer, *len set. Fails the test
 * when the file cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* Writes `len` bytes to a new temporary file and returns its path (static buffer reused
 * per call index `slot` 0..7). */
const char *tu_write_temp(int slot, const void *data, size_t len);

/* Splits `buf` into lines in place; returns a malloc'd array of line pointers (NUL
 * terminated lines, empty trailing line dropped), *n set. */
char **tu_split_lines(char *buf, size_t *n);

/* A fixed-seed xorshift generator for reproducible random tests. */
uint64_t tu_rand(uint64_t *state);

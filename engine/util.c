/* Small helpers shared by the engine's source files. */
#include "engine/eng_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int eng_fail(char **why, int err, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        char *msg = NULL;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
        va_end(ap);
        free(*why);
        *why = msg;
    }
    return err;
}

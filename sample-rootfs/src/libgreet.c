/* libgreet.so.1 (file libgreet.so.1.2.0, dev link libgreet.so): the middle of the
 * chain greet -> libgreet.so.1 -> libfmt.so.1. Installed in /usr/lib/greet, which is
 * not in the loader's default path; it needs libfmt.so.1 and finds it through its
 * own DT_RUNPATH "$ORIGIN" (the directory libgreet itself was loaded from). */
#include <stdio.h>
#include "fmt.h"
#include "greet.h"

void greet(const char *who)
{
    char line[128];
    snprintf(line, sizeof line, "Hello, %s! (libgreet %s)", who, GREET_VERSION);
    fmt_print(line);
}

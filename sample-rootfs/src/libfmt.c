/* libfmt.so.1: the bottom of a library chain, greet -> libgreet.so.1 -> libfmt.so.1.
 * It lives in /usr/lib/greet (not a loader default directory) and is found only
 * through libgreet's own DT_RUNPATH "$ORIGIN": RUNPATH applies to the direct
 * dependencies of the object that carries it, so greet's RUNPATH does not help here.
 * It also calls sqrt() so the chain reaches a system library (libm.so.6), which the
 * loader finds through /etc/ld.so.cache / its default directories. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "fmt.h"

void fmt_print(const char *text)
{
    /* Frame the text with a number of stars that grows with sqrt(length). */
    int stars = (int)sqrt((double)strlen(text)) + 1;
    printf("%.*s %s %.*s\n", stars, "**********", text, stars, "**********");
}

/* /usr/bin/greet: a PIE glibc program whose library is outside the default path.
 * It needs libgreet.so.1, found through the program's DT_RUNPATH
 * "$ORIGIN/../lib/greet" (= /usr/lib/greet); libgreet then pulls in libfmt.so.1. */
#include "greet.h"

int main(int argc, char **argv)
{
    greet(argc > 1 ? argv[1] : "world");
    return 0;
}

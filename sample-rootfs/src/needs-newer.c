/* /usr/bin/needs-newer: linked against the newer libvers, it uses vers_new@VERS_2.
 * The installed libvers.so.1 only defines VERS_1, so the real loader fails with
 * "version `VERS_2' not found (required by /usr/bin/needs-newer)". */
#include <stdio.h>
#include "vers.h"

int main(void)
{
    printf("vers_old=%d vers_new=%d\n", vers_old(), vers_new());
    return 0;
}

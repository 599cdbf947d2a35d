/* /usr/bin/vers-ok: linked against the same newer libvers as needs-newer, but it uses
 * only vers_old@VERS_1, so it runs fine with the older installed libvers.so.1. */
#include <stdio.h>
#include "vers.h"

int main(void)
{
    printf("vers_old=%d\n", vers_old());
    return 0;
}

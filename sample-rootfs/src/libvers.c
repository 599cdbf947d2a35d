/* libvers.so.1: symbol versioning. This file is built twice:
 *   - old build (libvers-1.map): defines only VERS_1; this one is installed in the root.
 *   - new build (-DLIBVERS_NEW, libvers-2.map): adds vers_new@@VERS_2; it is used only
 *     at link time, so programs linked against it may require a version the installed
 *     library does not have. */
#include "vers.h"

int vers_old(void)
{
    return 1;
}

#ifdef LIBVERS_NEW
int vers_new(void)
{
    return 2;
}
#endif

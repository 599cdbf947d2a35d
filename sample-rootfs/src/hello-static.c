/* /usr/bin/hello-static: a statically linked glibc program (gcc -static):
 * no PT_INTERP and no DT_NEEDED, so it needs nothing from the root. */
#include <stdio.h>

int main(void)
{
    puts("hello from static glibc");
    return 0;
}

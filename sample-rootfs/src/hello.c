/* /usr/bin/hello: the simplest case, a PIE glibc program that needs only libc.so.6. */
#include <stdio.h>

int main(void)
{
    puts("hello from glibc");
    return 0;
}

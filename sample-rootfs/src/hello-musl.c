/* /usr/bin/hello-musl: a dynamic musl program (musl-gcc). Its PT_INTERP is
 * /lib/ld-musl-x86_64.so.1, which this glibc root deliberately lacks, so exec fails
 * with "No such file or directory" even though the file itself exists
 * (a libc mismatch / missing interpreter). */
#include <stdio.h>

int main(void)
{
    puts("hello from musl");
    return 0;
}

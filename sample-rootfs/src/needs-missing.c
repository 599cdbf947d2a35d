/* /usr/bin/needs-missing: a program whose DT_NEEDED library (libabsent.so.1) is not
 * present anywhere in the root. The real loader fails with
 * "libabsent.so.1: cannot open shared object file: No such file or directory". */
#include <stdio.h>

int absent_answer(void);

int main(void)
{
    printf("the answer is %d\n", absent_answer());
    return 0;
}

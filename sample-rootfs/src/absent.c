/* libabsent.so.1: built only so that needs-missing can be linked against it.
 * It is deliberately NOT installed into the sample root. */
int absent_answer(void)
{
    return 42;
}

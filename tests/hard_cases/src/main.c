/* A program whose only job is to carry the DT_NEEDED, RPATH and RUNPATH entries of its link line. */
int main(void) { return 0; }

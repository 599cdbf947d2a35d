/* Needs vf@VERS_2 from libv.so.1. */
extern int vf(void);
int main(void) { return vf(); }

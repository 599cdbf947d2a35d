/* libv.so.1 as the program was built against: vf is at version VERS_2 (vers_new.map). */
int vf_old(void) { return 1; }
int vf(void) { return 2; }

/* libv.so.1 as installed in the root: only VERS_1 is defined (vers_old.map). */
int vf_old(void) { return 1; }
int vf(void) { return 1; }

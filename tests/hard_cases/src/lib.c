/* A library whose only job is to exist under a name: FN is set per build (-DFN=...). */
int FN(void) { return 42; }

/* vers.h: interface of libvers.so.1. vers_old has version VERS_1; vers_new was added
 * later with version VERS_2 and exists only in the newer build of the library. */
#ifndef VERS_H
#define VERS_H
int vers_old(void);
int vers_new(void);
#endif

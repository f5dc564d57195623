/* htab - a hash table from strings to pointers. */
#ifndef TACH_HTAB_H
#define TACH_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* A hash table from strings to pointers. Keys are borrowed: they must
 * outlive the table. */
struct htab;
struct htab *htab_new(void);
void htab_free(struct htab *h);
/* Empties the table; it keeps its capacity unless that is much more than
 * it held. */
void htab_clear(struct htab *h);
/* Returns the slot for key, creating it (set to NULL) when absent. */
void **htab_slot(struct htab *h, const char *key);
void *htab_get(const struct htab *h, const char *key);
size_t htab_count(const struct htab *h);

uint64_t hash_str(const char *s, size_t n);

#endif

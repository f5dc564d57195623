/* index - the stat index, ROOT/.tach/index (internal to cache/).
 *
 * File format (integers little-endian):
 *   "TACHIDX2"        magic
 *   16 bytes          the key fingerprint (analyzer version and rules) the
 *                     reports were made with
 *   u32 count
 *   per entry: u32 path length, path, u64 size, u64 mtime_ns, u64 ctime_ns,
 *              u64 inode, 32 bytes content hash (hex), u8 flags, u32 report
 *              length, the encoded report
 * Flag 1, "racy": the file was modified less than RACY_NS before the index
 * was written, so a later write within the same timestamp tick could leave
 * its stat unchanged. A racy entry is trusted only after its content hash
 * is checked again (as git does for its index). 
 *   u64 XXH3-64 of everything before it
 * The file is written to a temporary name and renamed, so readers see the
 * old index or the new one. A torn or corrupt index is ignored whole. */
#ifndef TACH_CACHE_INDEX_H
#define TACH_CACHE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct idx_entry {
	const char *path;
	uint64_t size, mtime, ctime, ino;
	char hash[33];
	const char *blob;       /* NULL when the fingerprint differs */
	size_t bloblen;
	bool racy;              /* stat alone does not prove it unchanged */
};

#define RACY_NS 2000000000ull

struct index;

/* Loads the index; an absent or corrupt file gives an empty index. fp is
 * the current 16-hex fingerprint; blobs made under another are dropped. */
struct index *index_load(const char *path, const char *fp);
void index_free(struct index *ix);
size_t index_size(const struct index *ix);
/* The entry for path when its stat still matches, else NULL. Borrowed. */
const struct idx_entry *index_lookup(const struct index *ix, const char *path, const struct stat *st);
/* Writes a new index with the given entries (borrowed). Returns 0 or -1. */
int index_write(const char *path, const char *fp, const struct idx_entry *e, size_t n);
void idx_entry_from_stat(struct idx_entry *e, const struct stat *st);

#endif

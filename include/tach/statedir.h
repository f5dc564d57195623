/* statedir - the layout of ROOT/.tach, the state directory every tach
 * program shares. Each name below is spelled here and nowhere else in C;
 * the Python under runtime/ names no file of it, and tests/ spell the
 * paths they check.
 *
 *   .tach/                   made 0700 by whichever program needs it first
 *                            (the analysis cache, the hypervisor client)
 *   index                    the stat index: path, size, times, inode ->
 *                            content hash. cache/cache.c reads and writes it.
 *   cache/XX/KEY             the local report store, one encoded report a
 *                            key. cache/local.c writes and reads it; `tach
 *                            cache clear` removes it with index and analyze.*.
 *   analyze.json, analyze.txt  the memo of `tach analyze`'s last output in
 *                            each format (cache/memo.c writes and reads it).
 *   tests.list               the planned tests, "RESULT<TAB>NODEID" a line.
 *                            `tach gen` writes it (gen/ninja.c); tach-run
 *                            --others and tach-results read it.
 *   toxic.list               the toxic modules' paths, one a line, beside
 *                            tests.list. `tach gen` writes it; tach-run
 *                            --others reads it.
 *   t/HASH.ok                a test edge's stamp (HASH: of its node id, or
 *                            of an unreadable directory's path),
 *                            left by tach-run when every case succeeded;
 *                            Ninja compares its time.
 *   t/HASH.json              the edge's result file, written by tach-run,
 *                            read by tach-results; `tach gen` removes those
 *                            of tests that are gone.
 *   t/HASH.claims            the response file Ninja writes for the first
 *                            edge of a test file; tach-run reads it.
 *   fallback/HASH            a test the Iron Dome stopped in hypervisor mode
 *                            and tach-run ran isolated: "CLOSURE<TAB>CALL<TAB>
 *                            NODEID" (CLOSURE: the digest of its import
 *                            closure then). tach-run writes it; `tach gen`
 *                            plans the test isolated while the digest
 *                            holds, and removes it when it no longer does.
 *   t/others.ok, t/others.json, t/others.ok.d  the same for the edge that
 *                            runs what pytest collects beyond the plan (the
 *                            .d is its depfile, written by tach-run).
 *   m/N, s/HASH, env, summary, rescan  phony or never-written targets of
 *                            build.ninja (component N of the import graph,
 *                            the tests under a path, what every test
 *                            depends on, the summary, and while something
 *                            could not be read an input of the manifest
 *                            that makes Ninja regenerate it on every run);
 *                            no file is made.
 *   .ninja_log, .ninja_deps  Ninja's own, here because build.ninja says
 *                            builddir = .tach.
 *   hv.sock, hv.lock, hv.pid, hv.log  the hypervisor's socket, the lock
 *                            serialising "connect or start", its pid and
 *                            its output (include/tach/hv.h; hvclient.c
 *                            makes them, hv_base.c removes them).
 *   cache.url                the Redis URL given to `tach gen --cache` (it
 *                            may hold a password), 0600, read by the
 *                            manifest's regeneration (gen/plan.c).
 *   clean/                   the same four for the clean zygote of the
 *                            isolated runtime (tach-hv --clean).
 *   results.json, junit.xml  tach-results' default outputs
 *                            (runtime/summary_main.c), for CI to read.
 *
 * Names are relative to .tach; TACH_PATH(name) makes the path from ROOT
 * that build.ninja, run in ROOT, uses. All are string literals, so they
 * join other literals at compile time. */
#ifndef TACH_STATEDIR_H
#define TACH_STATEDIR_H

#define TACH_DIR ".tach"
#define TACH_PATH(name) TACH_DIR "/" name

#define TACH_INDEX "index"
#define TACH_CACHE "cache"
#define TACH_ANALYZE_JSON "analyze.json"
#define TACH_ANALYZE_TXT "analyze.txt"
#define TACH_TESTS_LIST "tests.list"
#define TACH_TOXIC_LIST "toxic.list"
#define TACH_TESTS "t"          /* HASH.ok, HASH.json, HASH.claims, others.* */
#define TACH_OTHERS "others"    /* t/others.ok and t/others.json */
#define TACH_FALLBACK "fallback" /* fallback/HASH */
#define TACH_CACHE_URL "cache.url"

#define TACH_CLEAN "clean"      /* clean/hv.sock, hv.lock, hv.pid, hv.log */
#define TACH_MODULES "m"        /* m/N, phony */
#define TACH_UNDER "s"          /* s/HASH, phony */
#define TACH_ENV "env"          /* phony */
#define TACH_SUMMARY "summary"  /* never written */
#define TACH_RESCAN "rescan"    /* phony, never made */
#define TACH_HV_SOCK "hv.sock"
#define TACH_HV_LOCK "hv.lock"
#define TACH_HV_PID "hv.pid"
#define TACH_HV_LOG "hv.log"
#define TACH_RESULTS_JSON "results.json"
#define TACH_JUNIT_XML "junit.xml"

#endif

// bpe.c - byte-level BPE: pre-split, training with incremental pair counts, encoding by merge
// rank, decoding, serialization (bpe.h).
#include "data/bpe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

#define N_BYTES 256
#define MAX_MERGES (1 << 24) // a file claiming more merges is refused before allocating

// ---- pre-split ----

enum { CL_LETTER, CL_DIGIT, CL_SPACE, CL_OTHER };

static int byte_class(uint8_t c) {
    if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CL_LETTER;
    if (c >= '0' && c <= '9') return CL_DIGIT;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return CL_SPACE;
    return CL_OTHER;
}

// End of the chunk that starts at i < n (bpe.h's rule).
static size_t chunk_end(const uint8_t *s, size_t i, size_t n) {
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n && byte_class(s[i + 1]) != CL_SPACE) j = i + 1;
    const int c = byte_class(s[j]);
    if (c != CL_SPACE) {
        j++;
        while (j < n && byte_class(s[j]) == c)
            j++;
        return j;
    }
    while (j < n && byte_class(s[j]) == CL_SPACE)
        j++;
    if (j < n && j - i > 1 && s[j - 1] == ' ') j--; // that space starts the next chunk
    return j;
}

static uint64_t fnv1a(const uint8_t *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t pair_key(int32_t l, int32_t r) {
    return ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
}

static size_t mix(uint64_t k) { // splitmix64 finalizer: pair keys are far from uniform
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebull;
    return (size_t)(k ^ (k >> 31));
}

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (!err || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

// ---- derived tables (shared by training and loading) ----

static int32_t rank_of(const Bpe *b, int32_t l, int32_t r) {
    const uint64_t k = pair_key(l, r);
    for (size_t h = mix(k) & (b->rank_cap - 1);; h = (h + 1) & (b->rank_cap - 1)) {
        if (b->rank_key[h] == k) return b->rank_val[h];
        if (b->rank_key[h] == 0) return -1;
    }
}

// Checks the merges and fills vocab_size, tok_off, tok_bytes and the rank table of b, whose
// specials and merges are set. Returns 0, or -1 with err.
static int build_derived(Bpe *b, char *err, size_t err_cap) {
    const int S = b->n_specials, M = b->n_merges;
    const int V = S + N_BYTES + M;
    b->vocab_size = V;
    size_t *len = xcalloc((size_t)V, sizeof *len);
    for (int i = 0; i < S; i++)
        len[i] = strlen(b->specials[i]);
    for (int x = 0; x < N_BYTES; x++)
        len[S + x] = 1;
    b->rank_cap = 16;
    while (b->rank_cap < 2 * (size_t)M)
        b->rank_cap *= 2;
    b->rank_key = xcalloc(b->rank_cap, sizeof *b->rank_key);
    b->rank_val = xcalloc(b->rank_cap, sizeof *b->rank_val);
    int rc = 0;
    for (int m = 0; m < M && rc == 0; m++) {
        const int32_t l = b->merges[2 * m], r = b->merges[2 * m + 1], t = S + N_BYTES + m;
        if (l < S || l >= t || r < S || r >= t) {
            set_err(err, err_cap,
                    "bpe merge %d is (%d, %d): ids must be bytes or earlier merges, in [%d, %d)", m,
                    (int)l, (int)r, S, (int)t);
            rc = -1;
        } else if (rank_of(b, l, r) >= 0) {
            set_err(err, err_cap, "bpe merge %d repeats the pair (%d, %d) of merge %d", m, (int)l,
                    (int)r, (int)rank_of(b, l, r));
            rc = -1;
        } else if (len[l] + len[r] > BPE_MAX_TOKEN_BYTES) {
            set_err(err, err_cap, "bpe merge %d makes a token of %zu bytes (limit %d)", m,
                    len[l] + len[r], BPE_MAX_TOKEN_BYTES);
            rc = -1;
        } else {
            len[t] = len[l] + len[r];
            const uint64_t k = pair_key(l, r);
            size_t h = mix(k) & (b->rank_cap - 1);
            while (b->rank_key[h] != 0)
                h = (h + 1) & (b->rank_cap - 1);
            b->rank_key[h] = k;
            b->rank_val[h] = m;
        }
    }
    if (rc == 0) {
        b->tok_off = xmalloc(((size_t)V + 1) * sizeof *b->tok_off);
        b->tok_off[0] = 0;
        for (int v = 0; v < V; v++)
            b->tok_off[v + 1] = b->tok_off[v] + len[v];
        b->tok_bytes = xmalloc(b->tok_off[V]);
        for (int i = 0; i < S; i++)
            memcpy(b->tok_bytes + b->tok_off[i], b->specials[i], len[i]);
        for (int x = 0; x < N_BYTES; x++)
            b->tok_bytes[b->tok_off[S + x]] = (uint8_t)x;
        for (int m = 0; m < M; m++) { // left and right are earlier ids, already written
            const int32_t l = b->merges[2 * m], r = b->merges[2 * m + 1];
            uint8_t *dst = b->tok_bytes + b->tok_off[S + N_BYTES + m];
            memcpy(dst, b->tok_bytes + b->tok_off[l], len[l]);
            memcpy(dst + len[l], b->tok_bytes + b->tok_off[r], len[r]);
        }
    }
    xfree(len);
    return rc;
}

// Checks and copies the specials into b. Returns 0, or -1 with err.
static int copy_specials(Bpe *b, const char *const *specials, int n_specials, char *err,
                         size_t err_cap) {
    if (n_specials < 0 || n_specials > BPE_MAX_SPECIALS) {
        set_err(err, err_cap, "bpe has %d specials, expected 0..%d", n_specials, BPE_MAX_SPECIALS);
        return -1;
    }
    if (n_specials > 0 && !specials) {
        set_err(err, err_cap, "bpe specials is NULL with %d specials", n_specials);
        return -1;
    }
    b->specials = xcalloc((size_t)n_specials + 1, sizeof *b->specials);
    for (int i = 0; i < n_specials; i++) {
        const char *s = specials[i];
        const size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > BPE_MAX_SPECIAL_LEN) {
            set_err(err, err_cap, "bpe special %d has %zu bytes, expected 1..%d", i, n,
                    BPE_MAX_SPECIAL_LEN);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(b->specials[j], s) == 0) {
                set_err(err, err_cap, "bpe special %d \"%s\" repeats special %d", i, s, j);
                return -1;
            }
        b->specials[i] = xstrdup(s);
        b->n_specials = i + 1;
    }
    return 0;
}

int bpe_from_arrays(Bpe *b, const char *const *specials, int n_specials, const int32_t *merges,
                    int n_merges, char *err, size_t err_cap) {
    CHECK_PTR(b);
    Bpe t;
    memset(&t, 0, sizeof t);
    int rc = copy_specials(&t, specials, n_specials, err, err_cap);
    if (rc == 0 && (n_merges < 0 || n_merges > MAX_MERGES || (n_merges > 0 && !merges))) {
        set_err(err, err_cap, "bpe has %d merges (array %s), expected 0..%d", n_merges,
                merges ? "given" : "NULL", MAX_MERGES);
        rc = -1;
    }
    if (rc == 0) {
        t.n_merges = n_merges;
        t.merges = xmalloc(2 * (size_t)n_merges * sizeof *t.merges);
        if (n_merges > 0) memcpy(t.merges, merges, 2 * (size_t)n_merges * sizeof *t.merges);
        rc = build_derived(&t, err, err_cap);
    }
    if (rc != 0) {
        bpe_free(&t);
        memset(b, 0, sizeof *b);
        return -1;
    }
    *b = t;
    return 0;
}

void bpe_free(Bpe *b) {
    if (!b) return;
    if (b->specials)
        for (int i = 0; i < b->n_specials; i++)
            xfree(b->specials[i]);
    xfree(b->specials);
    xfree(b->merges);
    xfree(b->tok_off);
    xfree(b->tok_bytes);
    xfree(b->rank_key);
    xfree(b->rank_val);
    memset(b, 0, sizeof *b);
}

// ---- training ----

typedef struct { // unique chunks of the corpus
    size_t cap, n;
    uint64_t *hash;      // (cap) 0 = empty slot (a real hash of 0 is stored as 1)
    int32_t *slot_word;  // (cap) word index
    const uint8_t **ptr; // (n) borrowed from the texts
    size_t *len;         // (n)
    int64_t *count;      // (n)
    size_t word_cap;
} WordTab;

static void words_grow_slots(WordTab *w) {
    const size_t cap = w->cap ? 2 * w->cap : 1024;
    uint64_t *hash = xcalloc(cap, sizeof *hash);
    int32_t *slot = xcalloc(cap, sizeof *slot);
    for (size_t i = 0; i < w->cap; i++) {
        if (!w->hash[i]) continue;
        size_t h = mix(w->hash[i]) & (cap - 1);
        while (hash[h])
            h = (h + 1) & (cap - 1);
        hash[h] = w->hash[i];
        slot[h] = w->slot_word[i];
    }
    xfree(w->hash);
    xfree(w->slot_word);
    w->hash = hash;
    w->slot_word = slot;
    w->cap = cap;
}

static void words_add(WordTab *w, const uint8_t *s, size_t n) {
    if (2 * (w->n + 1) > w->cap) words_grow_slots(w);
    uint64_t hv = fnv1a(s, n);
    if (hv == 0) hv = 1;
    size_t h = mix(hv) & (w->cap - 1);
    for (; w->hash[h]; h = (h + 1) & (w->cap - 1)) {
        const int32_t i = w->slot_word[h];
        if (w->hash[h] == hv && w->len[i] == n && memcmp(w->ptr[i], s, n) == 0) {
            w->count[i]++;
            return;
        }
    }
    if (w->n == w->word_cap) {
        w->word_cap = w->word_cap ? 2 * w->word_cap : 1024;
        const uint8_t **p = xmalloc(w->word_cap * sizeof *p);
        size_t *l = xmalloc(w->word_cap * sizeof *l);
        int64_t *c = xmalloc(w->word_cap * sizeof *c);
        if (w->n) {
            memcpy(p, w->ptr, w->n * sizeof *p);
            memcpy(l, w->len, w->n * sizeof *l);
            memcpy(c, w->count, w->n * sizeof *c);
        }
        xfree(w->ptr);
        xfree(w->len);
        xfree(w->count);
        w->ptr = p;
        w->len = l;
        w->count = c;
    }
    CHECK(w->n < (size_t)INT32_MAX, "too many distinct chunks (%zu)", w->n);
    w->hash[h] = hv;
    w->slot_word[h] = (int32_t)w->n;
    w->ptr[w->n] = s;
    w->len[w->n] = n;
    w->count[w->n] = 1;
    w->n++;
}

typedef struct {
    int64_t count;
    int32_t l, r;
} HeapEnt;

// The heap's order: higher count first, then the smaller (left, right).
static int heap_before(const HeapEnt *a, const HeapEnt *b) {
    if (a->count != b->count) return a->count > b->count;
    if (a->l != b->l) return a->l < b->l;
    return a->r < b->r;
}

typedef struct { // pair counts, the words holding each pair, and the max-heap
    size_t cap, n, n_alloc;
    uint64_t *key;    // (cap) pair_key, 0 = empty
    int32_t *slot;    // (cap) pair index
    int64_t *count;   // (n) weighted by word counts
    int32_t *head;    // (n) first node of the pair's word list, -1 = none
    int32_t *stamp;   // (n) last merge that touched the pair
    int32_t *l, *r;   // (n)
    int32_t *node_w;  // (n_node) word of a list node (stale nodes are allowed)
    int32_t *node_nx; // (n_node) next node, -1 = end
    size_t n_node, node_cap;
    HeapEnt *heap;
    size_t n_heap, heap_cap;
} PairTab;

static void pairs_grow_slots(PairTab *p) {
    const size_t cap = p->cap ? 2 * p->cap : 4096;
    uint64_t *key = xcalloc(cap, sizeof *key);
    int32_t *slot = xcalloc(cap, sizeof *slot);
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->key[i]) continue;
        size_t h = mix(p->key[i]) & (cap - 1);
        while (key[h])
            h = (h + 1) & (cap - 1);
        key[h] = p->key[i];
        slot[h] = p->slot[i];
    }
    xfree(p->key);
    xfree(p->slot);
    p->key = key;
    p->slot = slot;
    p->cap = cap;
}

static void *grow(void *old, size_t n_used, size_t new_cap, size_t size) {
    void *p = xmalloc(new_cap * size);
    if (n_used) memcpy(p, old, n_used * size);
    xfree(old);
    return p;
}

// Index of the pair (l, r), created with count 0 when new.
static int32_t pair_index(PairTab *p, int32_t l, int32_t r) {
    if (2 * (p->n + 1) > p->cap) pairs_grow_slots(p);
    const uint64_t k = pair_key(l, r);
    size_t h = mix(k) & (p->cap - 1);
    for (; p->key[h]; h = (h + 1) & (p->cap - 1))
        if (p->key[h] == k) return p->slot[h];
    if (p->n == p->n_alloc) {
        const size_t c = p->n_alloc ? 2 * p->n_alloc : 4096;
        p->count = grow(p->count, p->n, c, sizeof *p->count);
        p->head = grow(p->head, p->n, c, sizeof *p->head);
        p->stamp = grow(p->stamp, p->n, c, sizeof *p->stamp);
        p->l = grow(p->l, p->n, c, sizeof *p->l);
        p->r = grow(p->r, p->n, c, sizeof *p->r);
        p->n_alloc = c;
    }
    CHECK(p->n < (size_t)INT32_MAX, "too many distinct pairs (%zu)", p->n);
    const int32_t i = (int32_t)p->n++;
    p->key[h] = k;
    p->slot[h] = i;
    p->count[i] = 0;
    p->head[i] = -1;
    p->stamp[i] = -1;
    p->l[i] = l;
    p->r[i] = r;
    return i;
}

static void pair_list_add(PairTab *p, int32_t i, int32_t word) {
    if (p->n_node == p->node_cap) {
        const size_t c = p->node_cap ? 2 * p->node_cap : 4096;
        p->node_w = grow(p->node_w, p->n_node, c, sizeof *p->node_w);
        p->node_nx = grow(p->node_nx, p->n_node, c, sizeof *p->node_nx);
        p->node_cap = c;
    }
    CHECK(p->n_node < (size_t)INT32_MAX, "too many pair-list nodes (%zu)", p->n_node);
    p->node_w[p->n_node] = word;
    p->node_nx[p->n_node] = p->head[i];
    p->head[i] = (int32_t)p->n_node++;
}

static void heap_push(PairTab *p, int32_t i) {
    if (p->n_heap == p->heap_cap) {
        const size_t c = p->heap_cap ? 2 * p->heap_cap : 4096;
        p->heap = grow(p->heap, p->n_heap, c, sizeof *p->heap);
        p->heap_cap = c;
    }
    const HeapEnt e = {p->count[i], p->l[i], p->r[i]};
    size_t k = p->n_heap++;
    while (k > 0 && heap_before(&e, &p->heap[(k - 1) / 2])) {
        p->heap[k] = p->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    p->heap[k] = e;
}

static void heap_pop(PairTab *p) {
    const HeapEnt e = p->heap[--p->n_heap];
    size_t k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= p->n_heap) break;
        if (c + 1 < p->n_heap && heap_before(&p->heap[c + 1], &p->heap[c])) c++;
        if (!heap_before(&p->heap[c], &e)) break;
        p->heap[k] = p->heap[c];
        k = c;
    }
    if (p->n_heap > 0) p->heap[k] = e;
}

static void pairs_free(PairTab *p) {
    xfree(p->key);
    xfree(p->slot);
    xfree(p->count);
    xfree(p->head);
    xfree(p->stamp);
    xfree(p->l);
    xfree(p->r);
    xfree(p->node_w);
    xfree(p->node_nx);
    xfree(p->heap);
}

// Adds c times every adjacent pair of sym (n) to the counts, marking each touched by merge m.
static void count_pairs(PairTab *p, const int32_t *sym, size_t n, int64_t c, int32_t m,
                        int32_t **touched, size_t *n_touched) {
    for (size_t k = 0; k + 1 < n; k++) {
        const int32_t i = pair_index(p, sym[k], sym[k + 1]);
        p->count[i] += c;
        if (p->stamp[i] != m) {
            p->stamp[i] = m;
            (*touched)[(*n_touched)++] = i;
        }
    }
}

void bpe_train(Bpe *b, const char *const *texts, int n_texts, int vocab_size,
               const char *const *specials, int n_specials) {
    CHECK_PTR(b);
    CHECK(n_texts >= 0 && (n_texts == 0 || texts), "n_texts=%d texts=%p", n_texts,
          (const void *)texts);
    memset(b, 0, sizeof *b);
    char err[256];
    CHECK(copy_specials(b, specials, n_specials, err, sizeof err) == 0, "%s", err);
    const int S = n_specials;
    CHECK(vocab_size >= S + N_BYTES, "vocab_size=%d is below S + 256 = %d", vocab_size,
          S + N_BYTES);
    const int M_max = vocab_size - S - N_BYTES;

    WordTab w;
    memset(&w, 0, sizeof w);
    for (int t = 0; t < n_texts; t++) {
        CHECK(texts[t] != NULL, "texts[%d] is NULL", t);
        const uint8_t *s = (const uint8_t *)texts[t];
        const size_t n = strlen(texts[t]);
        for (size_t i = 0; i < n;) {
            const size_t j = chunk_end(s, i, n);
            words_add(&w, s + i, j - i);
            i = j;
        }
    }
    // Symbols of each word, shrinking in place as merges apply.
    size_t total = 0;
    for (size_t i = 0; i < w.n; i++)
        total += w.len[i];
    size_t *start = xmalloc((w.n + 1) * sizeof *start);
    size_t *wlen = xmalloc((w.n + 1) * sizeof *wlen);
    int32_t *sym = xmalloc((total + 1) * sizeof *sym);
    int32_t *wstamp = xmalloc((w.n + 1) * sizeof *wstamp);
    for (size_t i = 0, off = 0; i < w.n; i++) {
        start[i] = off;
        wlen[i] = w.len[i];
        wstamp[i] = -1;
        for (size_t k = 0; k < w.len[i]; k++)
            sym[off + k] = S + w.ptr[i][k];
        off += w.len[i];
    }
    PairTab p;
    memset(&p, 0, sizeof p);
    // Touched pairs of one merge: at most two passes over the symbols it visits; sized by growing.
    size_t touched_cap = 2 * total + 16, n_touched = 0;
    int32_t *touched = xmalloc(touched_cap * sizeof *touched);
    for (size_t i = 0; i < w.n; i++) {
        n_touched = 0;
        count_pairs(&p, sym + start[i], wlen[i], w.count[i], -1, &touched, &n_touched);
        for (size_t k = 0; k + 1 < wlen[i]; k++)
            pair_list_add(&p, pair_index(&p, sym[start[i] + k], sym[start[i] + k + 1]), (int32_t)i);
    }
    for (size_t i = 0; i < p.n; i++)
        if (p.count[i] > 0) heap_push(&p, (int32_t)i);

    int32_t *merges = xmalloc(2 * (size_t)M_max * sizeof *merges + 1);
    int M = 0;
    while (M < M_max) {
        int32_t best = -1;
        while (p.n_heap > 0) { // lazy deletion: an entry whose count is no longer current is stale
            const HeapEnt top = p.heap[0];
            const int32_t i = pair_index(&p, top.l, top.r);
            if (p.count[i] == top.count && p.count[i] > 0) {
                best = i;
                break;
            }
            heap_pop(&p);
        }
        if (best < 0 || p.count[best] < 2) break;
        heap_pop(&p);
        const int32_t l = p.l[best], r = p.r[best], t = S + N_BYTES + M;
        merges[2 * M] = l;
        merges[2 * M + 1] = r;
        n_touched = 0;
        for (int32_t node = p.head[best]; node >= 0; node = p.node_nx[node]) {
            const int32_t wi = p.node_w[node];
            if (wstamp[wi] == M) continue; // listed twice
            wstamp[wi] = M;
            int32_t *s = sym + start[wi];
            const size_t n = wlen[wi];
            int has = 0;
            for (size_t k = 0; k + 1 < n && !has; k++)
                has = s[k] == l && s[k + 1] == r;
            if (!has) continue; // a stale node: the pair left this word in an earlier merge
            if (n_touched + 2 * n > touched_cap) {
                touched_cap = 2 * (n_touched + 2 * n);
                touched = grow(touched, n_touched, touched_cap, sizeof *touched);
            }
            count_pairs(&p, s, n, -w.count[wi], M, &touched, &n_touched);
            size_t o = 0;
            for (size_t k = 0; k < n; k++) {
                if (k + 1 < n && s[k] == l && s[k + 1] == r) {
                    s[o++] = t;
                    k++;
                } else {
                    s[o++] = s[k];
                }
            }
            wlen[wi] = o;
            count_pairs(&p, s, o, w.count[wi], M, &touched, &n_touched);
            for (size_t k = 0; k + 1 < o; k++) // only pairs with t are new to this word
                if (s[k] == t || s[k + 1] == t)
                    pair_list_add(&p, pair_index(&p, s[k], s[k + 1]), wi);
        }
        for (size_t k = 0; k < n_touched; k++)
            if (p.count[touched[k]] > 0) heap_push(&p, touched[k]);
        M++;
    }
    pairs_free(&p);
    xfree(touched);
    xfree(start);
    xfree(wlen);
    xfree(sym);
    xfree(wstamp);
    xfree(w.hash);
    xfree(w.slot_word);
    xfree(w.ptr);
    xfree(w.len);
    xfree(w.count);

    b->n_merges = M;
    b->merges = merges;
    CHECK(build_derived(b, err, sizeof err) == 0, "training made a bad merge list: %s", err);
}

// ---- encoding and decoding ----

static void emit(int *ids, int cap, int *count, int id) {
    if (*count < cap) ids[*count] = id;
    CHECK(*count < INT_MAX, "more than INT_MAX tokens");
    (*count)++;
}

// Encodes one pre-split segment (no specials inside).
static void encode_segment(const Bpe *b, const uint8_t *s, size_t n, int32_t *sym, int *ids,
                           int cap, int *count) {
    const int S = b->n_specials;
    for (size_t i = 0; i < n;) {
        const size_t j = chunk_end(s, i, n);
        size_t m = j - i;
        for (size_t k = 0; k < m; k++)
            sym[k] = S + s[i + k];
        for (;;) { // merge the lowest-ranked adjacent pair everywhere, until none is a merge
            int32_t best = INT32_MAX;
            for (size_t k = 0; k + 1 < m; k++) {
                const int32_t rk = rank_of(b, sym[k], sym[k + 1]);
                if (rk >= 0 && rk < best) best = rk;
            }
            if (best == INT32_MAX) break;
            const int32_t l = b->merges[2 * best], r = b->merges[2 * best + 1];
            size_t o = 0;
            for (size_t k = 0; k < m; k++) {
                if (k + 1 < m && sym[k] == l && sym[k + 1] == r) {
                    sym[o++] = S + N_BYTES + best;
                    k++;
                } else {
                    sym[o++] = sym[k];
                }
            }
            m = o;
        }
        for (size_t k = 0; k < m; k++)
            emit(ids, cap, count, sym[k]);
        i = j;
    }
}

int bpe_encode_n(const Bpe *b, const char *text, size_t n, int flags, int *ids, int cap) {
    CHECK_PTR(b);
    CHECK(b->tok_off != NULL, "the Bpe is not trained or loaded");
    CHECK(text != NULL || n == 0, "text is NULL with n=%zu", n);
    CHECK(ids != NULL ? cap >= 0 : cap == 0, "ids=%p with cap=%d", (void *)ids, cap);
    CHECK(flags == BPE_SPECIALS_AS_BYTES || flags == BPE_ALLOW_SPECIALS, "bad flags=%d", flags);
    const uint8_t *s = (const uint8_t *)text;
    int32_t *sym = xmalloc((n + 1) * sizeof *sym);
    int count = 0;
    size_t seg = 0;
    if (flags == BPE_ALLOW_SPECIALS) {
        for (size_t i = 0; i < n;) {
            int hit = -1;
            size_t hit_len = 0;
            for (int k = 0; k < b->n_specials; k++) {
                const size_t len = b->tok_off[k + 1] - b->tok_off[k];
                if (len > hit_len && len <= n - i && memcmp(s + i, b->specials[k], len) == 0) {
                    hit = k;
                    hit_len = len;
                }
            }
            if (hit < 0) {
                i++;
                continue;
            }
            encode_segment(b, s + seg, i - seg, sym, ids, cap, &count);
            emit(ids, cap, &count, hit);
            i += hit_len;
            seg = i;
        }
    }
    encode_segment(b, s + seg, n - seg, sym, ids, cap, &count);
    xfree(sym);
    CHECK(ids == NULL || count <= cap, "the text needs %d tokens but ids has cap=%d", count, cap);
    return count;
}

int bpe_encode(const Bpe *b, const char *text, int *ids, int cap) {
    CHECK_PTR(text);
    return bpe_encode_n(b, text, strlen(text), BPE_SPECIALS_AS_BYTES, ids, cap);
}

size_t bpe_decode(const Bpe *b, const int *ids, int n, char *out, size_t cap) {
    CHECK_PTR(b);
    CHECK(b->tok_off != NULL, "the Bpe is not trained or loaded");
    CHECK(n >= 0 && (n == 0 || ids), "ids=%p n=%d", (const void *)ids, n);
    CHECK(out != NULL || cap == 0, "out is NULL with cap=%zu", cap);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const int v = ids[i];
        CHECK(v >= 0 && v < b->vocab_size, "id %d at position %d is outside [0, V=%d)", v, i,
              b->vocab_size);
        const size_t len = b->tok_off[v + 1] - b->tok_off[v];
        if (out && o + len < cap) memcpy(out + o, b->tok_bytes + b->tok_off[v], len);
        o += len;
    }
    CHECK(out == NULL || o < cap, "the decoded text needs %zu bytes + NUL but out has cap=%zu", o,
          cap);
    if (out) out[o] = '\0';
    return o;
}

// ---- the flat buffer ----

static const uint8_t MAGIC[8] = {'M', 'M', 'C', 'B', 'P', 'E', '1', '\0'};

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t bpe_save(const Bpe *b, uint8_t *buf, size_t cap) {
    CHECK_PTR(b);
    CHECK(b->tok_off != NULL, "the Bpe is not trained or loaded");
    CHECK(buf != NULL || cap == 0, "buf is NULL with cap=%zu", cap);
    size_t need = sizeof MAGIC + 8 + 8 * (size_t)b->n_merges;
    for (int i = 0; i < b->n_specials; i++)
        need += 4 + strlen(b->specials[i]);
    if (!buf) return need;
    CHECK(need <= cap, "the saved tokenizer needs %zu bytes but buf has cap=%zu", need, cap);
    uint8_t *p = buf;
    memcpy(p, MAGIC, sizeof MAGIC);
    p += sizeof MAGIC;
    put_u32(p, (uint32_t)b->n_specials);
    put_u32(p + 4, (uint32_t)b->n_merges);
    p += 8;
    for (int i = 0; i < b->n_specials; i++) {
        const size_t len = strlen(b->specials[i]);
        put_u32(p, (uint32_t)len);
        memcpy(p + 4, b->specials[i], len);
        p += 4 + len;
    }
    for (int m = 0; m < 2 * b->n_merges; m++, p += 4)
        put_u32(p, (uint32_t)b->merges[m]);
    return need;
}

int bpe_load(Bpe *b, const uint8_t *buf, size_t n, char *err, size_t err_cap) {
    CHECK_PTR(b);
    memset(b, 0, sizeof *b);
    if (!buf || n < sizeof MAGIC + 8 || memcmp(buf, MAGIC, sizeof MAGIC) != 0) {
        set_err(err, err_cap, "bpe buffer of %zu bytes does not start with \"MMCBPE1\"", n);
        return -1;
    }
    const uint32_t S = get_u32(buf + sizeof MAGIC), M = get_u32(buf + sizeof MAGIC + 4);
    if (S > BPE_MAX_SPECIALS || M > MAX_MERGES) {
        set_err(err, err_cap, "bpe buffer claims %u specials and %u merges (limits %d, %d)", S, M,
                BPE_MAX_SPECIALS, MAX_MERGES);
        return -1;
    }
    size_t off = sizeof MAGIC + 8;
    char **sp = xcalloc((size_t)S + 1, sizeof *sp);
    int rc = 0;
    for (uint32_t i = 0; i < S && rc == 0; i++) {
        const uint32_t len = off + 4 <= n ? get_u32(buf + off) : UINT32_MAX;
        if (len > BPE_MAX_SPECIAL_LEN || off + 4 + len > n) {
            set_err(err, err_cap, "bpe buffer is truncated or has a bad length in special %u", i);
            rc = -1;
            break;
        }
        sp[i] = xmalloc((size_t)len + 1);
        memcpy(sp[i], buf + off + 4, len);
        sp[i][len] = '\0';
        if (strlen(sp[i]) != len) {
            set_err(err, err_cap, "bpe special %u holds a NUL byte", i);
            rc = -1;
        }
        off += 4 + len;
    }
    if (rc == 0 && n - off != 8 * (size_t)M) {
        set_err(err, err_cap, "bpe buffer has %zu bytes after the specials, %u merges need %zu",
                n - off, M, 8 * (size_t)M);
        rc = -1;
    }
    if (rc == 0) {
        int32_t *mg = xmalloc(2 * (size_t)M * sizeof *mg + 1);
        for (size_t k = 0; k < 2 * (size_t)M; k++)
            mg[k] = (int32_t)get_u32(buf + off + 4 * k);
        rc = bpe_from_arrays(b, (const char *const *)sp, (int)S, mg, (int)M, err, err_cap);
        xfree(mg);
    }
    for (uint32_t i = 0; i < S; i++)
        xfree(sp[i]);
    xfree(sp);
    return rc;
}

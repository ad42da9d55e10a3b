// bomm_exchange.c - the large–small collaboration's transfers and the cloud's work between them
// (bomm.h); the one file of the protocol that moves data between ranks, through comm/ only:
//   up:    prototype sums and counts (exact allreduce), the uploaded rows (gathered to the cloud
//          in party order, one array per field);
//   cloud: the large model and the generators train on the uploads (rank 0);
//   down:  the large model's soft labels for each party's uploaded rows (scattered back), the
//          generators point-to-point to the hosts whose parties miss their target.
// Payload per party: its sums as floats + counts up and the prototypes + validity flags down
// (proto_reduce.h); per uploaded row the present embeddings, K soft labels, a 4-byte label (with
// bomm.upload-labels; without it no label array is sent at all) and a mask byte up and K soft
// labels down; (M − 1) generators per target it misses down. The wire
// carries padding a deployment would not (absent modalities' zero embeddings, the unused slot of
// each target block), which mpi_bytes shows.
#include <string.h>

#include "comm/deliver.h"
#include "comm/proto_reduce.h"
#include "core/die.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "protocols/bomm_impl.h"

// The first index of the largest of x[0..K) (ties: the lowest class, as align.h's pseudo-label).
static int argmax_row(const float *x, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (x[k] > x[best]) best = k;
    return best;
}

// The uploads to the cloud: b->all on rank 0.
static void gather_uploads(Bomm *b, const RoundInfo *r, const int64_t *rows) {
    Comm *c = b->env->comm;
    int P = b->P, M = b->M, D = b->D, K = b->K;
    int64_t total = 0, *n = xmalloc((size_t)P * sizeof *n);
    double *up = xcalloc((size_t)P, sizeof *up);
    for (int p = 0; p < P; p++)
        total += rows[p];
    for (int i = 0; i < b->count; i++)
        up[b->env->first + i] = bomm_upload_bytes(b, i);
    if (b->rank == 0) {
        bomm_records_reserve(&b->all, b, total + 1);
        b->all.n = total;
        xfree(b->all_soft);
        b->all_soft = xcalloc((size_t)total * K + 1, sizeof(float));
    }
    CommPay pay = {.up_bytes = up, .who = r->arrived};
    for (int p = 0; p < P; p++)
        n[p] = rows[p] * M * D;
    comm_gather_parties(c, b->up.emb, n, b->all.emb, COMM_F32, &pay);
    for (int p = 0; p < P; p++)
        n[p] = rows[p] * K;
    comm_gather_parties(c, b->up.probs, n, b->all.probs, COMM_F32, NULL);
    if (b->s.upload_labels)
        comm_gather_parties(c, b->up.label, rows, b->all.label, COMM_I32, NULL);
    else if (b->rank == 0) // the labels stay home: the SMs' predicted classes stand in (bomm.h)
        for (int64_t j = 0; j < total; j++)
            b->all.label[j] = argmax_row(b->all.probs + (size_t)j * K, K);
    comm_gather_parties(c, b->up.mask, rows, b->all.mask, COMM_U8, NULL);
    xfree(n), xfree(up);
}

// The large model's soft labels back to the parties that uploaded, into their rows' slots.
static void scatter_soft_labels(Bomm *b, const int64_t *rows) {
    int P = b->P, K = b->K;
    int64_t mine = 0, *n = xmalloc((size_t)P * sizeof *n);
    double *down = xcalloc((size_t)P, sizeof *down);
    for (int p = 0; p < P; p++)
        n[p] = rows[p] * K, down[p] = (double)rows[p] * K * sizeof(float);
    for (int i = 0; i < b->count; i++)
        mine += b->up_n[i];
    float *back = xmalloc((size_t)mine * K * sizeof(float) + 1);
    CommPay pay = {.down_bytes = down};
    comm_scatter_parties(b->env->comm, b->all_soft, n, back, COMM_F32, &pay);
    int64_t at = 0;
    for (int i = 0; i < b->count; i++)
        for (int64_t j = 0; j < b->up_n[i]; j++, at++) {
            int64_t row = b->row_off[i] + b->up_rows[(size_t)i * b->s.upload + j];
            memcpy(b->soft + (size_t)row * K, back + (size_t)at * K, (size_t)K * sizeof(float));
            b->has_soft[row] = 1;
        }
    xfree(back), xfree(n), xfree(down);
}

// The generators to the hosts whose parties miss their target.
static void deliver_generators(Bomm *b, const RoundInfo *r) {
    Comm *c = b->env->comm;
    int M = b->M;
    comm_bcast(c, b->gen_trained, (size_t)M * M, COMM_U8, 0, NULL);
    uint32_t available = bomm_gen_targets(b);
    double *down = xcalloc((size_t)b->P, sizeof *down);
    for (int p = 0; p < b->P; p++) // a target block's real generators: its M − 1 sources
        down[p] = (double)bomm_popcount8(b->party_missing[p] & available) * (M - 1) * b->gen_n *
                  sizeof(float);
    CommPay pay = {.down_bytes = down, .who = r->sampled};
    b->have_targets = deliver_blocks(c, b->gen_params, (size_t)M * b->gen_n, M, available,
                                     b->party_missing, &pay);
    for (int i = 0; i < b->count; i++) { // what the round's parties received
        int p = b->env->first + i;
        b->gen_mask[i] = r->sampled[p] ? (uint8_t)(b->party_missing[p] & available) : 0;
    }
    xfree(down);
}

void bomm_exchange(Bomm *b, const RoundInfo *r) {
    const ProtocolEnv *env = b->env;
    if (b->need_protos) {
        double *up = xcalloc((size_t)b->P, sizeof *up);
        for (int p = 0; p < b->P; p++)
            up[p] = r->arrived[p] ? proto_bytes_up(b->K, b->M, b->D) : 0;
        CommPay pay = {.up_bytes = up,
                       .down = proto_bytes_down(b->K, b->M, b->D),
                       .who = r->sampled}; // the round's parties: the others fetch them later
        proto_allreduce(env->comm, b->protos, b->valid, b->pcount, b->sums, b->counts, b->count,
                        b->K, b->M, b->D, &pay);
        bomm_protos_finish(b);
        xfree(up);
    }
    if (!b->need_upload) return;
    int64_t *rows = xmalloc((size_t)b->P * sizeof *rows);
    for (int p = 0; p < b->P; p++)
        rows[p] = bomm_upload_rows(b, p, r);
    gather_uploads(b, r, rows);
    if (b->rank == 0) {
        double t0 = timer_now_ms(), t1 = t0, t2 = t0;
        if (b->s.use_mm) {
            bomm_large_train(b, r->round);
            t1 = timer_now_ms();
            bomm_large_soft_labels(b);
            t2 = timer_now_ms();
        }
        if (b->s.fill == FILL_GEN) bomm_gen_train(b, r->round);
        log_debug("cloud: large model %.0f ms, soft labels %.0f ms, generators %.0f ms", t1 - t0,
                  t2 - t1, timer_now_ms() - t2);
    }
    if (b->s.use_mm) scatter_soft_labels(b, rows);
    if (b->s.fill == FILL_GEN) deliver_generators(b, r);
    xfree(rows);
}

// record.c - the run's series: declared once, one row per round from the statistics gathered to
// the cloud, appended to run.h5 and metrics.csv (run.h, io/runfile.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/die.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"

// Series of the metric log, in the order they appear in metrics.csv; the protocol's follow.
// test_* is the global model on the whole evaluation set; party_test_* the global model on each
// party's evaluation rows (protocol global); personal_test_* each party's own model on them
// (protocol personal). The evaluation rows are the test split or the validation carve-out
// (--eval-split): the series' split attribute names it.
enum {
    M_TRAIN_LOSS,
    M_TRAIN_ACC,
    M_TEST_LOSS,
    M_TEST_ACC,
    M_TEST_F1,
    M_TEST_AUC,
    M_TEST_AUC_HARD,
    M_PARTY_TEST_ACC_MEAN,
    M_PARTY_TEST_F1_MEAN,
    M_PARTY_TEST_AUC_MEAN,
    M_PERSONAL_TEST_ACC_MEAN,
    M_PERSONAL_TEST_F1_MEAN,
    M_PERSONAL_TEST_AUC_MEAN,
    M_PAYLOAD_UP,
    M_PAYLOAD_DOWN,
    M_MPI_SENT,
    M_MPI_RECV,
    M_ROUND_MS,
    M_COMM_MS,
    M_IO_MS,
    M_HOST_COMPUTE_MS_MAX,
    M_P_TRAIN_LOSS,
    M_P_TRAIN_ACC,
    M_P_TEST_ACC,
    M_P_TEST_F1,
    M_P_TEST_AUC,
    M_P_PERSONAL_ACC,
    M_P_PERSONAL_F1,
    M_P_PERSONAL_AUC,
    M_P_N_TRAIN,
    M_P_PAYLOAD_UP,
    M_P_PAYLOAD_DOWN,
    M_P_SAMPLED,
    M_P_ARRIVED,
    M_P_VERDICT,
    M_P_UPDATE_NORM,
    M_COUNT
};

void run_declare_series(Run *run) {
    enum { NONE, TRAIN, EVAL }; // the rows a series is computed on
    static const struct {
        const char *name;
        int per_party, varies, rows;
    } series[M_COUNT] = {
        {"train_loss", 0, 0, TRAIN},
        {"train_acc", 0, 0, TRAIN},
        {"test_loss", 0, 0, EVAL},
        {"test_acc", 0, 0, EVAL},
        {"test_macro_f1", 0, 0, EVAL},
        {"test_auc", 0, 0, EVAL},
        {"test_auc_hard", 0, 0, EVAL},
        {"party_test_acc_mean", 0, 0, EVAL},
        {"party_test_macro_f1_mean", 0, 0, EVAL},
        {"party_test_auc_mean", 0, 0, EVAL},
        {"personal_test_acc_mean", 0, 0, EVAL},
        {"personal_test_macro_f1_mean", 0, 0, EVAL},
        {"personal_test_auc_mean", 0, 0, EVAL},
        {"payload_up", 0, 0, NONE},
        {"payload_down", 0, 0, NONE},
        {"mpi_bytes_sent", 0, 1, NONE},
        {"mpi_bytes_recv", 0, 1, NONE},
        {"round_ms", 0, 1, NONE},
        {"comm_ms", 0, 1, NONE},
        {"io_ms", 0, 1, NONE},
        {"host_compute_ms_max", 0, 1, NONE},
        {"party_train_loss", 1, 0, TRAIN},
        {"party_train_acc", 1, 0, TRAIN},
        {"party_test_acc", 1, 0, EVAL},
        {"party_test_macro_f1", 1, 0, EVAL},
        {"party_test_auc", 1, 0, EVAL},
        {"personal_test_acc", 1, 0, EVAL},
        {"personal_test_macro_f1", 1, 0, EVAL},
        {"personal_test_auc", 1, 0, EVAL},
        {"party_n_train", 1, 0, TRAIN},
        {"party_payload_up", 1, 0, NONE},
        {"party_payload_down", 1, 0, NONE},
        {"party_sampled", 1, 0, NONE},
        {"party_arrived", 1, 0, NONE},
        {"party_verdict", 1, 0, NONE},
        {"party_update_norm", 1, 0, NONE},
    };
    const char *eval = holdout_role_name(run->eval_role);
    metriclog_init(&run->log);
    for (int i = 0; i < M_COUNT; i++) {
        int idx = metriclog_add(&run->log, series[i].name, series[i].per_party ? run->P : 1,
                                series[i].varies);
        CHECK(idx == i, "series order");
        metriclog_set_split(&run->log, idx,
                            series[i].rows == TRAIN  ? "train"
                            : series[i].rows == EVAL ? eval
                                                     : "");
    }
    // The defences' own, declared only when they are on (after the protocol's, whose indices
    // the protocol keeps).
    const Protocol *pr = run->method->protocol;
    if (pr->declare_series) pr->declare_series(run->proto, &run->log);
    run->m_dp_epsilon = run->m_secagg_ok = -1;
    if (run->fed.update_space) run->m_dp_epsilon = metriclog_add(&run->log, "dp_epsilon", 1, 0);
    if (run->fed.path == FED_SECAGG) run->m_secagg_ok = metriclog_add(&run->log, "secagg_ok", 1, 0);
}

// The defences' row: every party's verdict and update norm (NaN when it sent nothing), the
// (epsilon, delta) of DP after this round, whether secure aggregation succeeded.
static void record_defences(Run *run, const RoundInfo *r) {
    MetricLog *L = &run->log;
    const Federation *f = &run->fed;
    for (int p = 0; p < run->P; p++) {
        int32_t v = run->shape.aggregate ? f->verdict[p] : 0;
        metriclog_set(L, M_P_VERDICT, p, v ? (double)(v - 1) : NAN);
        metriclog_set(L, M_P_UPDATE_NORM, p, v ? f->norm[p] : NAN);
    }
    if (run->m_secagg_ok >= 0) metriclog_set(L, run->m_secagg_ok, 0, f->secagg_ok);
    if (run->m_dp_epsilon >= 0) {
        const SecurityOpts *s = &run->cfg->sec;
        RdpAccountant a;
        rdp_init(&a);
        rdp_compose(&a, f->dp_q, s->dp_noise, r->round);
        double order, eps = rdp_epsilon(&a, s->dp_delta, &order);
        metriclog_set(L, run->m_dp_epsilon, 0, eps);
        log_info("round %d: DP (epsilon %.3f, delta %g) at RDP order %g (sampling rate %.4g, "
                 "noise multiplier %g)",
                 r->round, eps, s->dp_delta, order, f->dp_q, s->dp_noise);
    }
}

void run_gather_stats(Run *run) {
    for (int i = 0; i < run->count; i++) {
        double *st = run->stats + (size_t)i * run->n_stats;
        st[ST_PAYLOAD_UP] = comm_payload(run->comm, i, COMM_UP);
        st[ST_PAYLOAD_DOWN] = comm_payload(run->comm, i, COMM_DOWN);
        if (run->shape.n_party_stats)
            run->method->protocol->party_stats(run->proto, i, st + ST_COUNT);
    }
    int64_t *per_party = xmalloc((size_t)run->P * sizeof *per_party);
    for (int p = 0; p < run->P; p++)
        per_party[p] = run->n_stats;
    comm_gather_parties(run->comm, run->stats, per_party, run->all_stats, COMM_F64, NULL);
    xfree(per_party);
}

void run_gather_meta(Run *run, int final) {
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage: %s", strerror(errno));
    int64_t kib = ru.ru_maxrss; // Linux: KiB
    log_debug("peak RSS %.1f MiB (%d parties hosted)", (double)kib / 1024.0, run->count);
    comm_gather(run->comm, &kib, 1, run->peak_rss_kib, COMM_I64, 0, NULL);
    if (final) {
        comm_gather_mpi_totals(run->comm, run->mpi_total);
        run->info.mpi_bytes = run->mpi_total;
    }
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void fmt_bytes(char *buf, size_t cap, double b) {
    if (b >= 1e9)
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, cap, "%.2f MB", b / 1e6);
    else
        snprintf(buf, cap, "%.1f kB", b / 1e3);
}

// The bytes every rank passed to MPI since the last record, summed over ranks (rank 0 sets them).
// Collective: the counts travel in a gather of their own, counted in the next round's figure.
static void mpi_round_bytes(Run *run, double *sent, double *recv) {
    uint64_t mine[2], *all = run->rank == 0 ? xmalloc((size_t)run->size * 2 * sizeof *all) : NULL;
    comm_mpi_bytes(run->comm, &mine[0], &mine[1]);
    comm_gather(run->comm, mine, 2, all, COMM_I64, 0, NULL);
    *sent = *recv = 0;
    for (int r = 0; run->rank == 0 && r < run->size; r++) {
        *sent += (double)(all[2 * r] - run->mpi_prev[2 * r]);
        *recv += (double)(all[2 * r + 1] - run->mpi_prev[2 * r + 1]);
        run->mpi_prev[2 * r] = all[2 * r], run->mpi_prev[2 * r + 1] = all[2 * r + 1];
    }
    xfree(all);
}

// The mean over the parties evaluated with first (ST_G_LOSS or ST_P_LOSS) of their accuracy,
// macro-F1 and AUC into the series from, from + 1, from + 2, and each party's into per_party,
// per_party + 1, per_party + 2. Returns the mean accuracy (NaN when no party was evaluated).
static double party_means(Run *run, int first, int from, int per_party) {
    MetricLog *L = &run->log;
    double sum[3] = {0, 0, 0};
    int cnt[3] = {0, 0, 0};
    for (int p = 0; p < run->P; p++) {
        const double *st = run->all_stats + (size_t)p * run->n_stats + first;
        if (st[2] <= 0) continue; // ST_*_N: no rows evaluated
        double v[3] = {st[1] / st[2], st[3], st[4]};
        for (int k = 0; k < 3; k++) {
            metriclog_set(L, per_party + k, p, v[k]);
            if (!isnan(v[k])) sum[k] += v[k], cnt[k]++;
        }
    }
    for (int k = 0; k < 3; k++)
        metriclog_set(L, from + k, 0, cnt[k] ? sum[k] / cnt[k] : NAN);
    return cnt[0] ? sum[0] / cnt[0] : NAN;
}

void run_record(Run *run, const RoundInfo *r, const EvalStats *global, double ms, double eta_s) {
    double mpi_sent, mpi_recv;
    mpi_round_bytes(run, &mpi_sent, &mpi_recv);
    if (run->rank != 0) return;
    MetricLog *L = &run->log;
    metriclog_next_round(L);
    double loss = 0, ok = 0, cnt = 0, up = 0, down = 0;
    for (int p = 0; p < run->P; p++) {
        const double *st = run->all_stats + (size_t)p * run->n_stats;
        loss += st[ST_TRAIN_LOSS], ok += st[ST_TRAIN_OK], cnt += st[ST_TRAIN_N];
        up += st[ST_PAYLOAD_UP], down += st[ST_PAYLOAD_DOWN];
        metriclog_set(L, M_P_TRAIN_LOSS, p, ratio(st[ST_TRAIN_LOSS], st[ST_TRAIN_N]));
        metriclog_set(L, M_P_TRAIN_ACC, p, ratio(st[ST_TRAIN_OK], st[ST_TRAIN_N]));
        metriclog_set(L, M_P_N_TRAIN, p, (double)run->n_train[p]);
        metriclog_set(L, M_P_PAYLOAD_UP, p, st[ST_PAYLOAD_UP]);
        metriclog_set(L, M_P_PAYLOAD_DOWN, p, st[ST_PAYLOAD_DOWN]);
        metriclog_set(L, M_P_SAMPLED, p, r->sampled[p]);
        metriclog_set(L, M_P_ARRIVED, p, r->arrived[p]);
    }
    record_defences(run, r);
    double party_acc = NAN, personal_acc = NAN, gacc = NAN;
    if (r->evaluated) {
        party_acc = party_means(run, ST_G_LOSS, M_PARTY_TEST_ACC_MEAN, M_P_TEST_ACC);
        personal_acc = party_means(run, ST_P_LOSS, M_PERSONAL_TEST_ACC_MEAN, M_P_PERSONAL_ACC);
        if (global->n > 0) {
            gacc = (double)global->correct / (double)global->n;
            metriclog_set(L, M_TEST_LOSS, 0, global->loss_sum / (double)global->n);
            metriclog_set(L, M_TEST_ACC, 0, gacc);
            metriclog_set(L, M_TEST_F1, 0, global->macro_f1);
            metriclog_set(L, M_TEST_AUC, 0, global->auc);
            metriclog_set(L, M_TEST_AUC_HARD, 0, global->auc_hard);
        }
    }
    metriclog_set(L, M_TRAIN_LOSS, 0, ratio(loss, cnt));
    metriclog_set(L, M_TRAIN_ACC, 0, ratio(ok, cnt));
    metriclog_set(L, M_PAYLOAD_UP, 0, up);
    metriclog_set(L, M_PAYLOAD_DOWN, 0, down);
    metriclog_set(L, M_MPI_SENT, 0, mpi_sent);
    metriclog_set(L, M_MPI_RECV, 0, mpi_recv);
    metriclog_set(L, M_ROUND_MS, 0, ms);
    metriclog_set(L, M_COMM_MS, 0, run->comm_ms);
    metriclog_set(L, M_IO_MS, 0, run->io_ms);
    metriclog_set(L, M_HOST_COMPUTE_MS_MAX, 0, run->host_ms_max);
    char note[128] = "";
    const Protocol *pr = run->method->protocol;
    if (pr->record) { // the protocol's own per-party statistics, (P, n_party_stats)
        int k = run->shape.n_party_stats;
        double *ps = xmalloc((size_t)run->P * (size_t)k * sizeof *ps + 1);
        for (int p = 0; p < run->P; p++)
            memcpy(ps + (size_t)p * k, run->all_stats + (size_t)p * run->n_stats + ST_COUNT,
                   (size_t)k * sizeof *ps);
        pr->record(run->proto, L, ps, r->evaluated, note, sizeof note);
        xfree(ps);
    }
    char ub[32], db[32], accs[160] = "";
    fmt_bytes(ub, sizeof ub, up);
    fmt_bytes(db, sizeof db, down);
    if (r->evaluated) // global: the whole set, the parties' rows; personal: the parties' own
        snprintf(accs, sizeof accs, " | acc %.3f | parties %.3f | personal %.3f%s", gacc, party_acc,
                 personal_acc, note);
    // At most ~10 round lines a second beyond the first rounds, the evaluated ones and the last
    // (--log-level=debug prints every round): rounds of a millisecond otherwise print a thousand
    // lines a second, and after mpirun forwards a SIGTERM it stops draining the ranks' output, so
    // rank 0 blocked on a full pipe, missed the stop agreement's grace and lost its checkpoint.
    double now = timer_now_ms();
    int line = r->round <= 3 || r->round == r->rounds || r->evaluated || now - run->line_ms >= 100;
    (line ? log_info : log_debug)(
        "round %d/%d | loss %.4f%s | up %s | down %s | %.0f ms | eta %.0fs", r->round, r->rounds,
        metriclog_last(L, M_TRAIN_LOSS, 0), accs, ub, db, ms, eta_s);
    if (line) run->line_ms = now;
    double w0 = timer_now_ms();
    runfile_append(run->runfile, L, &run->info);
    run->io_ms = timer_now_ms() - w0; // the next row's, with the checkpoint's (run.c)
}

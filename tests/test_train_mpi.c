/* Data parallelism: `mpirun -np 2 mslam-trainer train --batch-size B` takes the same steps as one
 * process with --batch-size 2B (text pairs likewise with --text-batch; gradients summed by allreduce, every loss normalised over the
 * global batch, data sharded by rank, only rank 0 writing), up to the order of float sums; so
 * does `mpirun -np 2 ... --batch-size B/2 --accumulate 2`, and with --dropout 2 ranks take the
 * steps of one process of 2 micro-batches (test_train_run: batches of 4 those of 2 x 2), as do
 * 2 ranks pre-training (--task pretrain; for BEST-RQ's targets those of one process of 2B).
 * Ctrl-C on mpirun (which forwards SIGTERM to the ranks) makes rank 0 write a checkpoint at a step
 * both ranks agreed on, and `mpirun ... --resume` continues from it.
 * Skipped (77) when mpirun is not installed or the trainer was built without MPI.
 * Usage: test_train_mpi PATH-OF-mslam-trainer */
#include "checkpoint.h"
#include "dist.h"
#include "model.h"
#include "testutil.h"
#include "train_fixture.h"
#include "util.h"

#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *find_mpirun(void) {
    static char path[4096];
    const char *env = getenv("PATH");
    char *dirs = str_dup(env ? env : "/usr/bin:/bin");
    for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof path, "%s/mpirun", d);
        if (access(path, X_OK) == 0) {
            free(dirs);
            return path;
        }
    }
    free(dirs);
    return NULL;
}

#define OPTIONS                                                                                       \
    "--steps 4 --warmup 2 --d-model 32 --heads 2 --ff 64 --kernel 5 --sub-channels 8 --speech-layers 1 " \
    "--shared-layers 1 --decoder-layers 1 --threads 1 --log-every 1 --stats-items 12 --lr 3e-3"

/* "mpirun ... -np 2 TRAINER train ..." with the tiny model of OPTIONS on manifest into out, then
 * `more` (a shell command line) */
static char *mpi_train_command(const char *mpirun, const char *trainer, const char *manifest, const char *out,
                               const char *more) {
    /* --oversubscribe: CI machines may have fewer cores than ranks; as root OpenMPI refuses to
     * start without --allow-run-as-root */
    return str_printf("'%s' --allow-run-as-root --oversubscribe -np 2 '%s' train --data '%s' --out '%s' "
                      "--batch-size 4 " OPTIONS " %s",
                      mpirun, trainer, manifest, out, more);
}

static void test_interrupt(const char *mpirun, const char *trainer, const char *manifest) {
    char *out = str_printf("%s/interrupted", fixture_dir()), *log = str_printf("%s/train.jsonl", out);
    /* later options win. A line every 100 steps: after Ctrl-C mpirun stops reading the ranks'
     * output, and a rank printing every one of this model's ~500 steps a second fills the pipe
     * before mpirun's SIGTERM comes a second later, blocks in the write and is killed (1 run in
     * 3 or so with --log-every 1). No periodic checkpoint: the one found is the interrupt's. */
    char *cmd =
        mpi_train_command(mpirun, trainer, manifest, out, "--steps 100000 --log-every 100 --save-every 1000000");
    char *exec_cmd = str_printf("exec %s", cmd);
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", exec_cmd, NULL};
    /* mpirun SIGKILLs the ranks still running odls_base_sigkill_timeout seconds (1) after it
     * forwarded the signal: time enough for this model's step and checkpoint */
    int status = fixture_interrupt(argv, log, 2, SIGINT);
    /* mpirun's own status is 1 once it has ended the job on a signal, whatever the ranks returned */
    CHECK(status >= 0 && WIFEXITED(status), "mpirun ran until the log had 2 lines, then ended after Ctrl-C (%d)",
          status);
    char *ckpt = checkpoint_latest(out);
    mslam_model *m = NULL;
    train_position pos = {0};
    int state = 0;
    CHECK(ckpt && checkpoint_load(ckpt, &m, &pos, &state) == 0 && state && pos.step >= 2 && pos.world_size == 2,
          "rank 0 wrote a checkpoint of 2 processes at the step reached: %s", ckpt ? ckpt : "none");
    char more[64];
    snprintf(more, sizeof more, "--steps 100000 --resume --stop-at %ld", pos.step + 1);
    char *resume = mpi_train_command(mpirun, trainer, manifest, out, more);
    CHECK(system(resume) == 0, "resumes: %s", resume);
    char *next = checkpoint_path(out, pos.step + 1);
    CHECK(access(next, F_OK) == 0, "one more step: %s", next);
    /* each rank its own --out (OpenMPI's rank variable), one with the checkpoint, one without (a
     * folder on each node's disk): both refuse to resume, where one resumed, the other started
     * afresh and their collectives waited for each other forever */
    char *empty = str_printf("%s/interrupted-1", fixture_dir()), *apart_out = str_printf("%s/interrupted-0", fixture_dir());
    CHECK(rename(out, apart_out) == 0 && mkdir_p(empty) == 0, "the folders apart");
    char *apart = str_printf("timeout 60 '%s' --allow-run-as-root --oversubscribe -np 2 sh -c 'exec \"$0\" \"$@\" "
                             "--out %s/interrupted-$OMPI_COMM_WORLD_RANK' '%s' train --data '%s' --batch-size 4 " OPTIONS
                             " --steps 100000 --resume > %s/apart.log 2>&1",
                             mpirun, fixture_dir(), trainer, manifest, fixture_dir());
    int apart_status = system(apart);
    char *apart_log = NULL, *apart_log_path = str_printf("%s/apart.log", fixture_dir());
    size_t n;
    CHECK(read_file(apart_log_path, 1 << 20, &apart_log, &n) == 0 &&
              WIFEXITED(apart_status) && WEXITSTATUS(apart_status) != 0 && WEXITSTATUS(apart_status) != 124 &&
              strstr(apart_log, "find different checkpoints"),
          "ranks that see different checkpoints refuse to resume, without hanging (%d): %s", apart_status,
          apart_log ? apart_log : "");
    free(apart_log), free(apart_log_path), free(apart), free(empty), free(apart_out);
    mslam_model_free(m);
    free(out), free(log), free(cmd), free(exec_cmd), free(ckpt), free(resume), free(next);
}

/* A damaged newest checkpoint: every process refuses to resume, naming it and the checkpoint a
 * resume takes once it is moved away, without hanging and without deleting anything; none
 * resumes from the older one on its own. */
static void test_damaged(const char *mpirun, const char *trainer, const char *manifest) {
    char *out = str_printf("%s/damaged", fixture_dir()), *log_path = str_printf("%s/damaged.log", fixture_dir());
    char *two = checkpoint_path(out, 2), *four = checkpoint_path(out, 4);
    char *cmd = mpi_train_command(mpirun, trainer, manifest, out, "--save-every 2");
    CHECK(system(cmd) == 0 && truncate(four, 1000) == 0, "two processes, checkpoints at steps 2 and 4: %s", cmd);
    char *more = str_printf("--save-every 2 --steps 6 --resume > '%s' 2>&1", log_path);
    char *resume = mpi_train_command(mpirun, trainer, manifest, out, more);
    char *timed = str_printf("timeout 60 %s", resume);
    int status = system(timed);
    char *log = NULL;
    size_t n = 0;
    CHECK(read_file(log_path, 1 << 20, &log, &n) == 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
              WEXITSTATUS(status) != 124 && strstr(log, "is damaged") && strstr(log, two) &&
              access(four, F_OK) == 0 && access(two, F_OK) == 0,
          "two processes refuse to resume from a damaged checkpoint, without hanging (%d): %s", status, log ? log : "");
    free(out), free(log_path), free(two), free(four), free(cmd), free(more), free(resume), free(timed), free(log);
}

/* Processes whose --data gives other usable rows (a node lacking a file, a manifest edited on one
 * disk) would each take its share of another epoch order: refused by all, without hanging. */
static void test_rows_apart(const char *mpirun, const char *trainer, const char *manifest) {
    char *text = NULL, *rows0 = str_printf("%s/rows-0.tsv", fixture_dir()), *rows1 = str_printf("%s/rows-1.tsv", fixture_dir());
    size_t n = 0;
    CHECK(read_file(manifest, 1 << 20, &text, &n) == 0 && write_file_atomic(rows0, text, n) == 0, "rows-0.tsv");
    /* rank 1's manifest lacks the first row */
    char *second = strchr(strchr(text, '\n') + 1, '\n');
    size_t header = (size_t)(strchr(text, '\n') + 1 - text);
    GString *fewer = g_string_new_len(text, (gssize)header);
    g_string_append(fewer, second + 1);
    CHECK(write_file_atomic(rows1, fewer->str, fewer->len) == 0, "rows-1.tsv");
    char *cmd = str_printf("timeout 60 '%s' --allow-run-as-root --oversubscribe -np 2 sh -c 'exec \"$0\" \"$@\" "
                           "--data %s/rows-$OMPI_COMM_WORLD_RANK.tsv' '%s' train --out '%s/rows-apart' --batch-size 4 "
                           OPTIONS " > %s/rows-apart.log 2>&1",
                           mpirun, fixture_dir(), trainer, fixture_dir(), fixture_dir());
    int status = system(cmd);
    char *log = NULL, *log_path = str_printf("%s/rows-apart.log", fixture_dir());
    CHECK(read_file(log_path, 1 << 20, &log, &n) == 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
              WEXITSTATUS(status) != 124 && strstr(log, "24 usable rows of --data") &&
              strstr(log, "23 usable rows of --data"),
          "ranks whose --data gives other rows refuse to train, without hanging (%d): %s", status, log ? log : "");
    g_string_free(fewer, TRUE);
    free(text), free(rows0), free(rows1), free(cmd), free(log), free(log_path);
}

int main(int argc, char **argv) {
    const char *mpirun = find_mpirun();
    if (!mpirun) {
        printf("mpirun not found: skipped\n");
        return 77;
    }
    if (strstr(dist_backend(), "without MPI")) { /* such a trainer refuses to run as one of several */
        printf("built without MPI: skipped\n");
        return 77;
    }
    if (argc < 2) return 2;
    const char *manifest = fixture_write(8, 0);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_train_mpi");
    /* OpenMPI's session folders (8 MB each, under TMPDIR) inside the fixture, which goes at the
     * end: an interrupted mpirun leaves its own, and /tmp/ompi.* had grown by one every few runs */
    char *mpi_tmp = str_printf("%s/mpi-tmp", fixture_dir());
    CHECK(mkdir_p(mpi_tmp) == 0 && setenv("TMPDIR", mpi_tmp, 1) == 0, "TMPDIR for mpirun: %s", mpi_tmp);
    char *one = str_printf("%s/one", fixture_dir()), *two = str_printf("%s/two", fixture_dir());
    /* text pairs too (--text-data): 4 per step in all */
    char *cmd1 = str_printf("'%s' train --data '%s' --out '%s' --batch-size 8 --text-data '%s' --text-batch 4 " OPTIONS,
                            argv[1], manifest, one, manifest);
    char *more = str_printf("--text-data '%s' --text-batch 2", manifest);
    char *cmd2 = mpi_train_command(mpirun, argv[1], manifest, two, more);
    CHECK(system(cmd1) == 0, "one process: %s", cmd1);
    CHECK(system(cmd2) == 0, "two processes: %s", cmd2);
    fixture_compare_runs(one, two, 4, "2 ranks x 4 vs 1 rank x 8");
    /* two ranks and two micro-batches each: the same step again */
    char *four = str_printf("%s/four", fixture_dir());
    char *more4 = str_printf("--text-data '%s' --text-batch 1 --batch-size 2 --accumulate 2", manifest);
    char *cmd4 = mpi_train_command(mpirun, argv[1], manifest, four, more4);
    CHECK(system(cmd4) == 0, "two processes of two micro-batches: %s", cmd4);
    fixture_compare_runs(one, four, 4, "2 ranks x 2 micro-batches x 2 vs 1 rank x 8");
    free(four), free(more4), free(cmd4);
    /* with dropout too: each utterance's masks follow its place in the global batch, so 2 ranks
     * take the steps of one process of 2 micro-batches */
    char *drop1 = str_printf("%s/drop1", fixture_dir()), *drop2 = str_printf("%s/drop2", fixture_dir());
    char *cmd_drop1 = str_printf("'%s' train --data '%s' --out '%s' --batch-size 4 --accumulate 2 --dropout 0.2 " OPTIONS,
                                 argv[1], manifest, drop1);
    char *cmd_drop2 = mpi_train_command(mpirun, argv[1], manifest, drop2, "--dropout 0.2");
    CHECK(system(cmd_drop1) == 0, "one process of 2 micro-batches with dropout: %s", cmd_drop1);
    CHECK(system(cmd_drop2) == 0, "two processes with dropout: %s", cmd_drop2);
    fixture_compare_runs(drop1, drop2, 4, "dropout 0.2: 2 ranks x 4 vs 1 rank x 2 micro-batches x 4");
    free(drop1), free(drop2), free(cmd_drop1), free(cmd_drop2);
    /* pre-training: the diversity loss is one per micro-batch (pretrain.h), as wav2vec 2.0's is one
     * per device, so 2 ranks take the steps of one process of 2 micro-batches; every mask and
     * distractor follows the item's place in the global batch */
    char *pt1 = str_printf("%s/pt1", fixture_dir()), *pt2 = str_printf("%s/pt2", fixture_dir());
    char *pt_options = str_printf("--task pretrain --codes 8 --distractors 4 --mask-prob 0.3 --mask-span 2 "
                                  "--text-data '%s' --text-batch 2",
                                  manifest);
    char *cmd_pt1 = str_printf("'%s' train --data '%s' --out '%s' --batch-size 4 --accumulate 2 %s " OPTIONS, argv[1],
                               manifest, pt1, pt_options);
    char *cmd_pt2 = mpi_train_command(mpirun, argv[1], manifest, pt2, pt_options);
    CHECK(system(cmd_pt1) == 0, "one process of 2 micro-batches pre-training: %s", cmd_pt1);
    CHECK(system(cmd_pt2) == 0, "two processes pre-training: %s", cmd_pt2);
    fixture_compare_runs(pt1, pt2, 4, "pre-training: 2 ranks x 4 vs 1 rank x 2 micro-batches x 4");
    free(pt1), free(pt2), free(pt_options), free(cmd_pt1), free(cmd_pt2);
    /* BEST-RQ's targets (--quantizer random) have no diversity loss: 2 ranks take the steps of
     * one process of the whole batch */
    char *rq1 = str_printf("%s/rq1", fixture_dir()), *rq2 = str_printf("%s/rq2", fixture_dir());
    /* --text-batch is per process and micro-batch: 4 SpanBERT rows a step in both runs */
    const char *rq_options = "--task pretrain --quantizer random --no-specaug --codes 8 --mask-prob 0.3 --mask-span 2";
    char *cmd_rq1 = str_printf("'%s' train --data '%s' --out '%s' --batch-size 8 --text-data '%s' --text-batch 4 %s "
                               OPTIONS, argv[1], manifest, rq1, manifest, rq_options);
    char *rq_more = str_printf("%s --text-data '%s' --text-batch 2", rq_options, manifest);
    char *cmd_rq2 = mpi_train_command(mpirun, argv[1], manifest, rq2, rq_more);
    CHECK(system(cmd_rq1) == 0, "one process pre-training for BEST-RQ's targets: %s", cmd_rq1);
    CHECK(system(cmd_rq2) == 0, "two processes pre-training for BEST-RQ's targets: %s", cmd_rq2);
    fixture_compare_runs(rq1, rq2, 4, "BEST-RQ: 2 ranks x 4 vs 1 rank x 8");
    free(rq1), free(rq2), free(rq_more), free(cmd_rq1), free(cmd_rq2);
    test_interrupt(mpirun, argv[1], manifest);
    test_rows_apart(mpirun, argv[1], manifest);
    test_damaged(mpirun, argv[1], manifest);
    free(one), free(two), free(cmd1), free(cmd2), free(more), free(mpi_tmp);
    fixture_remove();
    return test_result("test_train_mpi");
}

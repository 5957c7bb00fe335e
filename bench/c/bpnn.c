/* bench/bpnn.py in C: the same network, the same arithmetic in the same
 * order, the same answer.  Usage: bpnn N_IN N_HIDDEN N_OUT ITERATIONS
 * Prints the answer as a Python tuple, then "seconds <time of the work>". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long lcg_state;

static double uniform(double low, double high)
{
    lcg_state = (lcg_state * 48271) % 2147483647;
    return low + (high - low) * ((double)lcg_state / 2147483647.0);
}

static double **matrix(int rows, int cols)
{
    double **m = malloc(rows * sizeof *m);
    for (int i = 0; i < rows; i++)
        m[i] = calloc(cols, sizeof **m);
    return m;
}

static double dsigmoid(double y) { return 1.0 - y * y; }

static int n_in, n_hidden, n_out;
static double *act_in, *act_hidden, *act_out;
static double **w_in, **w_out, **c_in, **c_out;

static void update(const double *inputs)
{
    for (int i = 0; i < n_in - 1; i++)
        act_in[i] = inputs[i];
    for (int j = 0; j < n_hidden; j++) {
        double total = 0.0;
        for (int i = 0; i < n_in; i++)
            total += act_in[i] * w_in[i][j];
        act_hidden[j] = tanh(total);
    }
    for (int k = 0; k < n_out; k++) {
        double total = 0.0;
        for (int j = 0; j < n_hidden; j++)
            total += act_hidden[j] * w_out[j][k];
        act_out[k] = tanh(total);
    }
}

static double back_propagate(const double *targets, double rate, double momentum)
{
    double out_deltas[n_out], hidden_deltas[n_hidden];
    for (int k = 0; k < n_out; k++)
        out_deltas[k] = dsigmoid(act_out[k]) * (targets[k] - act_out[k]);
    for (int j = 0; j < n_hidden; j++) {
        double error = 0.0;
        for (int k = 0; k < n_out; k++)
            error += out_deltas[k] * w_out[j][k];
        hidden_deltas[j] = dsigmoid(act_hidden[j]) * error;
    }
    for (int j = 0; j < n_hidden; j++) {
        double *row_w = w_out[j], *row_c = c_out[j], a = act_hidden[j];
        for (int k = 0; k < n_out; k++) {
            double change = out_deltas[k] * a;
            row_w[k] += rate * change + momentum * row_c[k];
            row_c[k] = change;
        }
    }
    for (int i = 0; i < n_in; i++) {
        double *row_w = w_in[i], *row_c = c_in[i], a = act_in[i];
        for (int j = 0; j < n_hidden; j++) {
            double change = hidden_deltas[j] * a;
            row_w[j] += rate * change + momentum * row_c[j];
            row_c[j] = change;
        }
    }
    double error = 0.0;
    for (int k = 0; k < n_out; k++)
        error += 0.5 * pow(targets[k] - act_out[k], 2.0); /* CPython's float ** */
    return error;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s N_IN N_HIDDEN N_OUT ITERATIONS\n", argv[0]);
        return 2;
    }
    int inputs = atoi(argv[1]);
    n_hidden = atoi(argv[2]);
    n_out = atoi(argv[3]);
    int iterations = atoi(argv[4]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    n_in = inputs + 1; /* the bias node */
    act_in = malloc(n_in * sizeof(double));
    act_hidden = malloc(n_hidden * sizeof(double));
    act_out = malloc(n_out * sizeof(double));
    for (int i = 0; i < n_in; i++) act_in[i] = 1.0;
    for (int j = 0; j < n_hidden; j++) act_hidden[j] = 1.0;
    for (int k = 0; k < n_out; k++) act_out[k] = 1.0;
    w_in = matrix(n_in, n_hidden);
    w_out = matrix(n_hidden, n_out);
    c_in = matrix(n_in, n_hidden);
    c_out = matrix(n_hidden, n_out);
    lcg_state = 12345;
    for (int i = 0; i < n_in; i++)
        for (int j = 0; j < n_hidden; j++)
            w_in[i][j] = uniform(-0.2, 0.2);
    for (int j = 0; j < n_hidden; j++)
        for (int k = 0; k < n_out; k++)
            w_out[j][k] = uniform(-2.0, 2.0);

    /* every bit pattern; targets: parity, majority, first bit, last bit */
    int n_patterns = 1 << inputs;
    double **pin = matrix(n_patterns, inputs), **pout = matrix(n_patterns, 4);
    for (int p = 0; p < n_patterns; p++) {
        double ones = 0.0;
        for (int b = 0; b < inputs; b++) {
            pin[p][b] = (double)((p >> b) & 1);
            ones += pin[p][b];
        }
        pout[p][0] = (double)((int)ones % 2);
        pout[p][1] = ones * 2 > inputs ? 1.0 : 0.0;
        pout[p][2] = pin[p][0];
        pout[p][3] = pin[p][inputs - 1];
    }

    double error = 0.0;
    for (int it = 0; it < iterations; it++) {
        error = 0.0;
        for (int p = 0; p < n_patterns; p++) {
            update(pin[p]);
            error += back_propagate(pout[p], 0.05, 0.1);
        }
    }
    int right = 0;
    for (int p = 0; p < n_patterns; p++) {
        update(pin[p]);
        int all = 1;
        for (int k = 0; k < n_out; k++)
            if ((act_out[k] > 0.5) != (pout[p][k] > 0.5))
                all = 0;
        right += all;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("(%.9f, %d)\n", error, right);
    printf("seconds %.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return 0;
}

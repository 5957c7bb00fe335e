/* bench/nbody.py in C: the same system, the same arithmetic in the same
 * order, the same answer.  Usage: nbody STEPS
 * Prints the answer as a Python tuple, then "seconds <time of the work>". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 6

/* orbit radius (AU), mass (solar masses), starting angle, tilt */
static const double planets[N - 1][4] = {
    {0.72, 2.45e-6, 0.3, 0.010},
    {1.00, 3.00e-6, 1.9, 0.000},
    {5.20, 9.55e-4, 4.1, 0.023},
    {9.58, 2.86e-4, 2.7, 0.043},
    {19.2, 4.37e-5, 5.5, 0.013},
};

/* x, y, z, vx, vy, vz, mass: the layout of the Python lists */
static double bodies[N][7];

static void make_system(void)
{
    double gm_sun = 4.0 * M_PI * M_PI;
    for (int k = 0; k < 7; k++) bodies[0][k] = 0.0;
    bodies[0][6] = gm_sun;
    for (int p = 0; p < N - 1; p++) {
        double radius = planets[p][0], mass = planets[p][1];
        double angle = planets[p][2], tilt = planets[p][3];
        double speed = sqrt(gm_sun / radius);
        double *b = bodies[p + 1];
        b[0] = radius * cos(angle);
        b[1] = radius * sin(angle) * cos(tilt);
        b[2] = radius * sin(angle) * sin(tilt);
        b[3] = -speed * sin(angle);
        b[4] = speed * cos(angle) * cos(tilt);
        b[5] = speed * cos(angle) * sin(tilt);
        b[6] = mass * gm_sun;
    }
    double px = 0.0, py = 0.0, pz = 0.0;
    for (int i = 0; i < N; i++) {
        px += bodies[i][3] * bodies[i][6];
        py += bodies[i][4] * bodies[i][6];
        pz += bodies[i][5] * bodies[i][6];
    }
    bodies[0][3] = -px / bodies[0][6];
    bodies[0][4] = -py / bodies[0][6];
    bodies[0][5] = -pz / bodies[0][6];
}

static double energy(void)
{
    double e = 0.0;
    for (int i = 0; i < N; i++) {
        double *b = bodies[i];
        e += 0.5 * b[6] * (b[3] * b[3] + b[4] * b[4] + b[5] * b[5]);
        for (int j = i + 1; j < N; j++) {
            double *c = bodies[j];
            double dx = b[0] - c[0], dy = b[1] - c[1], dz = b[2] - c[2];
            e -= b[6] * c[6] / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(double dt, long steps)
{
    for (long s = 0; s < steps; s++) {
        for (int i = 0; i < N; i++) {
            double *b = bodies[i];
            for (int j = i + 1; j < N; j++) {
                double *c = bodies[j];
                double dx = b[0] - c[0], dy = b[1] - c[1], dz = b[2] - c[2];
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * sqrt(d2));
                double mb = b[6] * mag, mc = c[6] * mag;
                b[3] -= dx * mc;
                b[4] -= dy * mc;
                b[5] -= dz * mc;
                c[3] += dx * mb;
                c[4] += dy * mb;
                c[5] += dz * mb;
            }
        }
        for (int i = 0; i < N; i++) {
            double *b = bodies[i];
            b[0] += dt * b[3];
            b[1] += dt * b[4];
            b[2] += dt * b[5];
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s STEPS\n", argv[0]);
        return 2;
    }
    long steps = atol(argv[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    make_system();
    double before = energy();
    advance(0.001, steps);
    double after = energy();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("(%.9f, %.9f)\n", before, after);
    printf("seconds %.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return 0;
}

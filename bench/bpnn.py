"""Back-propagation neural network: a three-layer net trained with momentum.

The kind of program Psyco was first shown on: weights in lists of lists of
floats, a tanh sigmoid, forward pass, error back-propagation with a learning
rate and a momentum term, over many patterns and iterations.  Initial weights
come from a small linear congruential generator of our own, so every Python
(and bench/c/bpnn.c) starts from bit-identical numbers.
"""

import math


class Lcg:
    """Park-Miller style generator: the same sequence on every Python."""

    def __init__(self, seed):
        self.state = seed

    def uniform(self, low, high):
        self.state = (self.state * 48271) % 2147483647
        return low + (high - low) * (self.state / 2147483647.0)


def matrix(rows, cols, fill=0.0):
    return [[fill] * cols for _ in range(rows)]


def dsigmoid(y):
    """Derivative of tanh, given its output."""
    return 1.0 - y * y


class NeuralNet:
    def __init__(self, n_in, n_hidden, n_out, rng):
        self.n_in = n_in + 1  # one more input: the bias node
        self.n_hidden = n_hidden
        self.n_out = n_out
        self.act_in = [1.0] * self.n_in
        self.act_hidden = [1.0] * n_hidden
        self.act_out = [1.0] * n_out
        self.w_in = matrix(self.n_in, n_hidden)
        self.w_out = matrix(n_hidden, n_out)
        for i in range(self.n_in):
            for j in range(n_hidden):
                self.w_in[i][j] = rng.uniform(-0.2, 0.2)
        for j in range(n_hidden):
            for k in range(n_out):
                self.w_out[j][k] = rng.uniform(-2.0, 2.0)
        # last change of every weight, for the momentum term
        self.c_in = matrix(self.n_in, n_hidden)
        self.c_out = matrix(n_hidden, n_out)

    def update(self, inputs):
        act_in, act_hidden, act_out = self.act_in, self.act_hidden, self.act_out
        w_in, w_out = self.w_in, self.w_out
        n_in, n_hidden, n_out = self.n_in, self.n_hidden, self.n_out
        for i in range(n_in - 1):
            act_in[i] = inputs[i]
        for j in range(n_hidden):
            total = 0.0
            for i in range(n_in):
                total += act_in[i] * w_in[i][j]
            act_hidden[j] = math.tanh(total)
        for k in range(n_out):
            total = 0.0
            for j in range(n_hidden):
                total += act_hidden[j] * w_out[j][k]
            act_out[k] = math.tanh(total)
        return act_out

    def back_propagate(self, targets, rate, momentum):
        act_in, act_hidden, act_out = self.act_in, self.act_hidden, self.act_out
        w_in, w_out = self.w_in, self.w_out
        c_in, c_out = self.c_in, self.c_out
        n_in, n_hidden, n_out = self.n_in, self.n_hidden, self.n_out
        out_deltas = [0.0] * n_out
        for k in range(n_out):
            out_deltas[k] = dsigmoid(act_out[k]) * (targets[k] - act_out[k])
        hidden_deltas = [0.0] * n_hidden
        for j in range(n_hidden):
            error = 0.0
            for k in range(n_out):
                error += out_deltas[k] * w_out[j][k]
            hidden_deltas[j] = dsigmoid(act_hidden[j]) * error
        for j in range(n_hidden):
            row_w, row_c, a = w_out[j], c_out[j], act_hidden[j]
            for k in range(n_out):
                change = out_deltas[k] * a
                row_w[k] += rate * change + momentum * row_c[k]
                row_c[k] = change
        for i in range(n_in):
            row_w, row_c, a = w_in[i], c_in[i], act_in[i]
            for j in range(n_hidden):
                change = hidden_deltas[j] * a
                row_w[j] += rate * change + momentum * row_c[j]
                row_c[j] = change
        error = 0.0
        for k in range(n_out):
            error += 0.5 * (targets[k] - act_out[k]) ** 2
        return error

    def train(self, patterns, iterations, rate=0.05, momentum=0.1):
        error = 0.0
        for _ in range(iterations):
            error = 0.0
            for inputs, targets in patterns:
                self.update(inputs)
                error += self.back_propagate(targets, rate, momentum)
        return error


def make_patterns(n_in, n_out):
    """Every bit pattern of n_in inputs; targets: parity, majority, first bit..."""
    patterns = []
    for p in range(2 ** n_in):
        bits = [float((p >> b) & 1) for b in range(n_in)]
        ones = sum(bits)
        targets = [float(int(ones) % 2), 1.0 if ones * 2 > n_in else 0.0, bits[0], bits[-1]]
        patterns.append((bits, targets[:n_out]))
    return patterns


def bpnn(n_in, n_hidden, n_out, iterations):
    """Train a fresh net; return its final error and how many patterns it gets right."""
    net = NeuralNet(n_in, n_hidden, n_out, Lcg(12345))
    patterns = make_patterns(n_in, n_out)
    error = net.train(patterns, iterations)
    right = 0
    for inputs, targets in patterns:
        out = net.update(inputs)
        if all((o > 0.5) == (t > 0.5) for o, t in zip(out, targets)):
            right += 1
    return round(error, 9), right


SIZES = {"full": (6, 16, 4, 400), "quick": (6, 16, 4, 100)}
EXPECTED = {"quick": (17.421568212, 26), "full": (1.285719847, 63)}


def main(size="full"):
    return bpnn(*SIZES[size])

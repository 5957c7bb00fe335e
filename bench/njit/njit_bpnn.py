"""Numba variant of bench/bpnn.py: weights in 2-D NumPy arrays, @njit training.

Initial weights and patterns are made by bench/bpnn.py itself (plain Python,
not timed apart), so both start from the same numbers; training and the
final check are compiled.
"""

import math

import bpnn
import numpy as np
from numba import njit


@njit(cache=False)
def update(inputs, act_in, act_hidden, act_out, w_in, w_out):
    n_in, n_hidden = w_in.shape
    n_out = w_out.shape[1]
    for i in range(n_in - 1):
        act_in[i] = inputs[i]
    for j in range(n_hidden):
        total = 0.0
        for i in range(n_in):
            total += act_in[i] * w_in[i, j]
        act_hidden[j] = math.tanh(total)
    for k in range(n_out):
        total = 0.0
        for j in range(n_hidden):
            total += act_hidden[j] * w_out[j, k]
        act_out[k] = math.tanh(total)


@njit(cache=False)
def back_propagate(targets, act_in, act_hidden, act_out, w_in, w_out, c_in, c_out,
                   rate, momentum):
    n_in, n_hidden = w_in.shape
    n_out = w_out.shape[1]
    out_deltas = np.zeros(n_out)
    for k in range(n_out):
        out_deltas[k] = (1.0 - act_out[k] * act_out[k]) * (targets[k] - act_out[k])
    hidden_deltas = np.zeros(n_hidden)
    for j in range(n_hidden):
        error = 0.0
        for k in range(n_out):
            error += out_deltas[k] * w_out[j, k]
        hidden_deltas[j] = (1.0 - act_hidden[j] * act_hidden[j]) * error
    for j in range(n_hidden):
        a = act_hidden[j]
        for k in range(n_out):
            change = out_deltas[k] * a
            w_out[j, k] += rate * change + momentum * c_out[j, k]
            c_out[j, k] = change
    for i in range(n_in):
        a = act_in[i]
        for j in range(n_hidden):
            change = hidden_deltas[j] * a
            w_in[i, j] += rate * change + momentum * c_in[i, j]
            c_in[i, j] = change
    error = 0.0
    for k in range(n_out):
        error += 0.5 * (targets[k] - act_out[k]) ** 2
    return error


@njit(cache=False)
def train(inputs, targets, w_in, w_out, iterations, rate, momentum):
    n_in, n_hidden = w_in.shape
    n_out = w_out.shape[1]
    act_in = np.ones(n_in)
    act_hidden = np.ones(n_hidden)
    act_out = np.ones(n_out)
    c_in = np.zeros((n_in, n_hidden))
    c_out = np.zeros((n_hidden, n_out))
    error = 0.0
    for _ in range(iterations):
        error = 0.0
        for p in range(inputs.shape[0]):
            update(inputs[p], act_in, act_hidden, act_out, w_in, w_out)
            error += back_propagate(targets[p], act_in, act_hidden, act_out, w_in, w_out,
                                    c_in, c_out, rate, momentum)
    right = 0
    for p in range(inputs.shape[0]):
        update(inputs[p], act_in, act_hidden, act_out, w_in, w_out)
        good = True
        for k in range(n_out):
            if (act_out[k] > 0.5) != (targets[p, k] > 0.5):
                good = False
        if good:
            right += 1
    return error, right


def main(size: str = "full") -> tuple:
    n_in, n_hidden, n_out, iterations = bpnn.SIZES[size]
    net = bpnn.NeuralNet(n_in, n_hidden, n_out, bpnn.Lcg(12345))
    patterns = bpnn.make_patterns(n_in, n_out)
    inputs = np.array([p[0] for p in patterns])
    targets = np.array([p[1] for p in patterns])
    error, right = train(inputs, targets, np.array(net.w_in), np.array(net.w_out),
                         iterations, 0.05, 0.1)
    return round(error, 9), right

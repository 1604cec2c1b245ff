"""Brute-force definitions at small n: the oracles every fast transform is tested against."""

from __future__ import annotations

import itertools
import math

import numpy as np


def subsets(mask: int):
    """All T ⊆ mask (as bitmasks)."""
    t = mask
    while True:
        yield t
        if t == 0:
            return
        t = (t - 1) & mask


def popcount(x: int) -> int:
    return bin(x).count("1")


def mobius(v: np.ndarray) -> np.ndarray:
    """I(S) = Σ_{T⊆S} (-1)^{|S|-|T|} v(T), written out."""
    out = np.zeros_like(v)
    for s in range(len(v)):
        out[s] = sum((-1) ** (popcount(s) - popcount(t)) * v[t] for t in subsets(s))
    return out


def or_interactions(v: np.ndarray) -> np.ndarray:
    """I_or(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} v(N∖T) for S ≠ ∅; I_or(∅) = v(∅)."""
    full = len(v) - 1
    out = np.zeros_like(v)
    for s in range(1, len(v)):
        out[s] = -sum((-1) ** (popcount(s) - popcount(t)) * v[full ^ t] for t in subsets(s))
    out[0] = v[0]
    return out


def matching_rhs(i_and: np.ndarray, i_or: np.ndarray) -> np.ndarray:
    """Σ_{S⊆T} I_and(S) + I_or(∅) + Σ_{S≠∅, S∩T≠∅} I_or(S), for every T."""
    out = np.zeros_like(i_and)
    for t in range(len(i_and)):
        out[t] = sum(i_and[s] for s in subsets(t)) + i_or[0]
        out[t] += sum(i_or[s] for s in range(1, len(i_or)) if s & t)
    return out


def shapley_by_permutations(v: np.ndarray, n: int) -> np.ndarray:
    """φ_i = average over player orders of i's marginal contribution."""
    phi = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for order in perms:
        t = 0
        for i in order:
            phi[i] += v[t | 1 << i] - v[t]
            t |= 1 << i
    return phi / len(perms)


def banzhaf_by_marginals(v: np.ndarray, n: int) -> np.ndarray:
    """β_i = 2^{-(n-1)} Σ_{T∌i} v(T ∪ i) - v(T)."""
    beta = np.zeros(n)
    for i in range(n):
        beta[i] = sum(v[t | 1 << i] - v[t] for t in range(2**n) if not t >> i & 1)
    return beta / 2 ** (n - 1)


def pairwise_sii(v: np.ndarray, n: int) -> np.ndarray:
    """I_ij = Σ_{T⊆N∖{i,j}} |T|!(n-|T|-2)!/(n-1)! Δ_ij v(T) (Grabisch & Roubens 1999)."""
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            pair = 1 << i | 1 << j
            total = 0.0
            for t in range(2**n):
                if t & pair:
                    continue
                k = popcount(t)
                w = math.factorial(k) * math.factorial(n - k - 2) / math.factorial(n - 1)
                total += w * (v[t | pair] - v[t | 1 << i] - v[t | 1 << j] + v[t])
            out[i, j] = total
    return out

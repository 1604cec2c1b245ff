"""Linear operators of the AND-OR problem: matrix-free O(n·2^n) butterflies (docs/method.md §2-3).

In the value domain the unknowns are ``p = v_and`` and ``r = v_or`` with ``p + r = v + q``:

* ``M p = and_interactions(p)`` (Möbius), ``O r = or_interactions(r)`` (here in the dtype of
  their input, without validation);
* ``Z = M^{-1}`` (subset sums) and ``B = O^{-1}`` give universal matching ``v + q = Z x + B y``
  for AND interactions ``x`` and OR interactions ``y``;
* their transposes ``Mᵀ``, ``Oᵀ``, ``Zᵀ``, ``Bᵀ`` are butterflies too, written out (the
  transposes ``jax.linear_transpose`` derives ran about 1.5x slower on CPU);
* ``gram_inverse(p) = (MᵀW²M + I)^{-1} p`` in closed form for the order weights
  ``W = diag(w^|S|)``: ``MᵀW²M = ⊗ᵢ [[1+w²,-w²],[-w²,w²]]`` is a Kronecker product, so it is
  diagonal in the Kronecker basis ``U = ⊗ᵢ U₁`` of the 2×2 factor's eigenvectors, applied by
  rotation butterflies;
* ``and_or(z) = (M z₀, O z₁)`` for ``z`` of shape ``(..., 2, 2**n)`` in one set of butterfly
  passes (``O`` is a Möbius transform of the reversed vector), its transpose ``and_or_T``, and
  ``gram_inverse_pair`` likewise: a program that uses them holds half as many butterflies
  (the PDHG step does up to ``n = 12``: ``_pdhg.PAIRED_MAX_N``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from interjax._caches import cached
from interjax._core import (
    butterfly,
    mobius,
    or_inverse_transform,
    or_transform,
    subset_sums_raw,
    superset_sums_raw,
)
from interjax.masks import orders

__all__ = ["Operators", "operators"]


def _rotate(v: jax.Array, n: int, m2) -> jax.Array:
    """Apply ``⊗ᵢ m2`` (a 2×2 matrix acting on the pair ``(T, T ∪ {i})``) over all n bits."""
    (a, b), (c, d) = m2
    return butterfly(v, n, lambda lo, hi: (a * lo + b * hi, c * lo + d * hi))


def mobius_T(lam: jax.Array, n: int) -> jax.Array:
    """``Mᵀ λ = ⊗ᵢ [[1, -1], [0, 1]] λ``: ``(Mᵀλ)(T) = Σ_{S⊇T} (-1)^{|S|-|T|} λ(S)``.

    Written as butterflies: ``jax.linear_transpose`` of :func:`mobius` turns each pass's
    ``stack`` into pads, which XLA's CPU backend ran about 1.5x slower."""
    return butterfly(lam, n, lambda lo, hi: (lo - hi, hi))


def or_transform_T(lam: jax.Array, n: int) -> jax.Array:
    """``Oᵀ λ``: ``O r = -M F r + (r(∅) + r(N)) e_∅`` (``F`` reverses), so
    ``Oᵀ λ = -F Mᵀ λ + λ(∅) (e_∅ + e_N)``."""
    return _or_T_from(mobius_T(lam, n), lam[..., :1])


def _or_T_from(mt: jax.Array, lam0: jax.Array) -> jax.Array:
    """``Oᵀλ`` from ``Mᵀλ`` and ``λ(∅)`` (shape ``(..., 1)``)."""
    out = 0.0 - jnp.flip(mt, -1)
    size = out.shape[-1]
    ends = (jnp.arange(size) == 0) | (jnp.arange(size) == size - 1)
    return out + jnp.where(ends, lam0, 0.0)


def or_inverse_T(lam: jax.Array, n: int) -> jax.Array:
    """``Bᵀ λ``: ``B y = F Z (-y + (Σy + y(∅)) e_∅)``, so with ``u = Zᵀ F λ`` (superset sums)
    ``(Bᵀλ)(∅) = u(∅)`` and ``(Bᵀλ)(S) = u(∅) - u(S)`` for ``S ≠ ∅``."""
    u = superset_sums_raw(jnp.flip(lam, -1), n)
    u0 = u[..., :1]
    return jnp.where(jnp.arange(u.shape[-1]) == 0, u0, u0 - u)


class Operators:
    """The operators for one ``n`` (vectors of length ``2**n``, float64)."""

    def __init__(self, n: int):
        self.n = n
        self._grams = {}  # order weight -> (U, Uᵀ, eigenvalues) of the weighted Gram
        # the transforms in the dtype of their input (the solver may iterate in float32)
        self.M = lambda p: mobius(p, n)
        self.O = lambda r: or_transform(r, n)
        self.Z = lambda x: subset_sums_raw(x, n)
        self.B = lambda y: or_inverse_transform(y, n)
        self.MT = lambda lam: mobius_T(lam, n)
        self.OT = lambda lam: or_transform_T(lam, n)
        self.ZT = lambda lam: superset_sums_raw(lam, n)
        self.BT = lambda lam: or_inverse_T(lam, n)

    def and_or(self, z: jax.Array, stacked: bool = True) -> jax.Array:
        """``(M z₀, O z₁)`` for ``z`` of shape ``(..., 2, 2**n)``: both by one Möbius transform
        of ``(z₀, reversed z₁)`` (the arithmetic of :func:`mobius` and :func:`or_transform`),
        or with ``stacked=False`` one by one."""
        if not stacked:
            return jnp.stack([self.M(z[..., 0, :]), self.O(z[..., 1, :])], axis=-2)
        m = mobius(jnp.stack([z[..., 0, :], jnp.flip(z[..., 1, :], -1)], axis=-2), self.n)
        o = (0.0 - m[..., 1, :]).at[..., 0].set(z[..., 1, 0])
        return jnp.stack([m[..., 0, :], o], axis=-2)

    def and_or_T(self, lam: jax.Array, stacked: bool = True) -> jax.Array:
        """``(Mᵀ λ₀, Oᵀ λ₁)``: the transpose of :meth:`and_or`."""
        if not stacked:
            return jnp.stack([self.MT(lam[..., 0, :]), self.OT(lam[..., 1, :])], axis=-2)
        mt = mobius_T(lam, self.n)
        return jnp.stack([mt[..., 0, :], _or_T_from(mt[..., 1, :], lam[..., 1, :1])], axis=-2)

    def gram_inverse_pair(
        self,
        g: jax.Array,
        shift: float = 1.0,
        stacked: bool = True,
        weight: float = 1.0,
        factors=None,
    ):
        """``(gram_inverse(g₀), gram_inverse_reversed(g₁))`` for ``g`` of shape
        ``(..., 2, 2**n)``, in one set of rotation passes (or one by one)."""
        if factors is None:
            factors = self.gram_factors(weight, shift)
        if not stacked:
            return jnp.stack(
                [
                    self.gram_inverse(g[..., 0, :], factors=factors),
                    self.gram_inverse_reversed(g[..., 1, :], factors=factors),
                ],
                axis=-2,
            )
        h = jnp.stack([g[..., 0, :], jnp.flip(g[..., 1, :], -1)], axis=-2)
        h = self.gram_inverse(h, factors=factors)
        return jnp.stack([h[..., 0, :], jnp.flip(h[..., 1, :], -1)], axis=-2)

    def gram_inverse(
        self, p: jax.Array, shift: float = 1.0, weight: float = 1.0, factors=None
    ) -> jax.Array:
        """``(MᵀW²M + shift·I)^{-1} p`` in O(n·2^n), with ``W = diag(weight^|S|)`` weighing the
        interaction of ``S`` (default 1: ``(MᵀM + shift·I)^{-1}``); ``factors`` (from
        :meth:`gram_factors`, may be traced) replace ``shift`` and ``weight``."""
        u, ut, scale = self.gram_factors(weight, shift) if factors is None else factors
        return _rotate(jnp.asarray(scale, p.dtype) * _rotate(p, self.n, ut), self.n, u)

    def gram_inverse_reversed(
        self, r: jax.Array, shift: float = 1.0, weight: float = 1.0, factors=None
    ) -> jax.Array:
        """``(RMᵀW²MR + shift·I)^{-1} r``: the same Gram for ``M∘R`` (R reverses bit order);
        ``O`` is ``-M∘R`` up to its ∅ entry, so this is a near-inverse of ``OᵀW²O + I``."""
        return jnp.flip(self.gram_inverse(jnp.flip(r, -1), shift, weight, factors), -1)

    def gram_factors(self, weight: float = 1.0, shift: float = 1.0):
        """``(U₁, U₁ᵀ, 1 / (eigenvalues + shift))`` of ``(MᵀW²M + shift·I)^{-1} = U diag Uᵀ``
        (``U = ⊗ᵢ U₁``; the 2×2 factors as nested lists of floats, which keep the dtype of the
        vectors they rotate). ``MᵀW²M = ⊗ᵢ M₁ᵀ diag(1, w²) M₁ = ⊗ᵢ [[1 + w², -w²],
        [-w², w²]]`` is a Kronecker product, diagonal in the basis ``⊗ᵢ U₁`` of the 2×2
        factor's eigenvectors, where its eigenvalue at index ``S`` is ``e₁^|S| e₀^(n-|S|)``
        (bit 0 → first, 1 → second)."""
        weight = float(weight)
        if weight not in self._grams:
            w2 = weight * weight
            eigvals, eigvecs = np.linalg.eigh(np.array([[1.0 + w2, -w2], [-w2, w2]]))
            k = orders(self.n)
            eigs = eigvals[1] ** k * eigvals[0] ** (self.n - k)
            self._grams[weight] = (eigvecs.tolist(), eigvecs.T.tolist(), eigs)
        u, ut, eigs = self._grams[weight]
        return u, ut, 1.0 / (eigs + float(shift))


@cached("solve.operators")
def operators(n: int) -> Operators:
    return Operators(n)

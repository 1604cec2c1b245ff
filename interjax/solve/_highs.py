"""The AND-OR extraction as an explicit linear program, solved by HiGHS (reference solver).

Variables are the AND interactions ``x`` and OR interactions ``y`` (split into positive and
negative parts), and the problem is (docs/method.md §3)

    min ‖x‖₁ + ‖y‖₁   s.t.   v - τ ≤ Z x + B y ≤ v + τ,

where ``Z x`` is the subset-sum (zeta) transform (``v_and = Z I_and``) and ``B y`` the inverse OR
transform (``v_or = B I_or``), so the constraint is universal matching with error ``|q| ≤ τ``.
Both transforms are written with one block of variables per butterfly stage
(``w_{i+1} = B_i w_i``, two or three nonzeros per row, O(n·2^n) nonzeros in all), which is what
makes HiGHS usable beyond n = 8. This is an independent reference for tests and benchmarks: it
needs SciPy (``pip install 'interjax[dev]'``) and is far slower than the default solver.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from interjax._core import num_players_of

__all__ = ["LPSolution", "solve_lp_highs"]


@dataclasses.dataclass(frozen=True)
class LPSolution:
    """HiGHS's optimum: ``and_``, ``or_`` interactions (unfolded), ``objective`` and status."""

    and_: np.ndarray
    or_: np.ndarray
    objective: float
    status: str
    seconds: float
    duals: np.ndarray  # multipliers of the matching rows (upper minus lower side)
    code: int = 0  # SciPy's status: 0 optimal, 1 iteration or time limit, 4 numerical trouble


def _zeta_stages(n: int, inputs, nvar: int, row0: int):
    """Equality rows for ``w_{i+1} = B_i w_i`` (i = 0..n-1), one new variable block per stage.

    ``w_0[T] = Σ_k sign_k · var[offset_k + T]`` for ``inputs = [(offset_k, sign_k), ...]``.
    Stage rows: ``w_{i+1}[T] - w_i[T] - [i ∈ T] · w_i[T - 2^i] = 0``.
    Returns ``(rows, cols, vals, next_row, last_block_offset, next_free_column)``.
    """
    size = 2**n
    idx = np.arange(size)
    rows, cols, vals = [], [], []
    cur = list(inputs)
    r = row0
    for i in range(n):
        new, nvar = nvar, nvar + size
        hi = idx[(idx >> i) & 1 == 1]
        rows.append(r + idx)
        cols.append(new + idx)
        vals.append(np.ones(size))
        for offset, sign in cur:
            rows += [r + idx, r + hi]
            cols += [offset + idx, offset + hi - 2**i]
            vals += [np.full(size, -sign), np.full(hi.size, -sign)]
        r += size
        cur = [(new, 1.0)]
    return rows, cols, vals, r, cur[0][0], nvar


def solve_lp_highs(
    v, tau: float = 0.0, *, time_limit: float | None = None, method: str = "highs"
) -> LPSolution:
    """Solve the AND-OR L1 problem for one value vector ``v`` (length 2**n) with HiGHS.

    ``method`` is SciPy's HiGHS choice: ``"highs"`` (HiGHS picks), ``"highs-ds"`` (dual simplex)
    or ``"highs-ipm"`` (interior point with crossover; about 3x quicker at n = 10 and the one
    that finishes at n = 12 in about a minute). ``time_limit`` (seconds) stops HiGHS early; the
    returned ``status`` then says so and ``objective`` is not the optimum.
    """
    import time

    import scipy.sparse as sp
    from scipy.optimize import linprog

    v = np.asarray(v, np.float64)
    size = v.shape[-1]
    if v.ndim != 1 or size < 1 or size & (size - 1):
        raise ValueError(f"solve_lp_highs takes one value vector of length 2**n, got {v.shape}")
    n = num_players_of(size)
    # columns: x+ x- y+ y- (4·size), then m = C y (size), then one block per butterfly stage
    xp, xm, yp, ym, m0 = 0, size, 2 * size, 3 * size, 4 * size
    nvar = 5 * size
    idx = np.arange(size)
    rows, cols, vals, r, z_last, nvar = _zeta_stages(n, [(xp, 1.0), (xm, -1.0)], nvar, 0)
    # m = C y: m_S + y_S = 0 (S ≠ ∅); m_∅ - Σ_S y_S = 0, with y = y+ - y-
    ne = idx[1:]
    rows += [r + ne, r + ne, r + ne]
    cols += [m0 + ne, yp + ne, ym + ne]
    vals += [np.ones(ne.size), np.ones(ne.size), -np.ones(ne.size)]
    rows += [np.full(1, r), np.full(size, r), np.full(size, r)]
    cols += [np.array([m0]), yp + idx, ym + idx]
    vals += [np.ones(1), -np.ones(size), np.ones(size)]
    r += size
    ur, uc, uv, r, u_last, nvar = _zeta_stages(n, [(m0, 1.0)], nvar, r)
    rows, cols, vals = rows + ur, cols + uc, vals + uv
    n_eq = r
    a_eq = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_eq, nvar)
    )
    # matching rows: (Z x)[T] + u[N∖T] within v[T] ± τ
    full = size - 1
    ub_rows = np.concatenate([idx, idx])
    ub_cols = np.concatenate([z_last + idx, u_last + (full ^ idx)])
    match = sp.csr_matrix((np.ones(2 * size), (ub_rows, ub_cols)), shape=(size, nvar))
    a_ub = sp.vstack([match, -match]).tocsr()
    b_ub = np.concatenate([v + tau, -(v - tau)])
    c = np.zeros(nvar)
    c[: 4 * size] = 1.0
    bounds = [(0, None)] * (4 * size) + [(None, None)] * (nvar - 4 * size)
    options = {"presolve": True}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    t0 = time.perf_counter()
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=np.zeros(n_eq),
        bounds=bounds,
        method=method,
        options=options,
    )
    seconds = time.perf_counter() - t0
    if res.x is None:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    z = res.x
    marg = np.asarray(res.ineqlin.marginals)
    return LPSolution(
        z[xp : xp + size] - z[xm : xm + size],
        z[yp : yp + size] - z[ym : ym + size],
        float(res.fun),
        str(res.message),
        seconds,
        marg[:size] - marg[size:],
        int(res.status),
    )

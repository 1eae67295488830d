"""The MMoE paper's synthetic data with a controllable task correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["mmoe_synthetic"]


def mmoe_synthetic(
    num_rows: int,
    input_dim: int = 100,
    correlation: float = 0.5,
    scale: float = 1.0,
    num_sines: int = 10,
    noise_std: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate two regression tasks whose weight vectors have cosine ``p``.

    Ma et al., KDD 2018, Section 3.2: draw orthogonal unit vectors ``u1, u2``;
    ``w1 = c u1``, ``w2 = c (p u1 + sqrt(1 - p^2) u2)``; ``x ~ N(0, I)``;
    ``y_i = w_i.x + sum_j sin(alpha_j w_i.x + beta_j) + eps_i`` with the same
    ``alpha_j, beta_j ~ N(0, 1)`` for both tasks. Defaults follow PLE's
    reproduction (``c = 1``, ``m = 10``); the noise is read as a standard
    deviation of 0.01.

    Args:
        num_rows: Rows to draw.
        input_dim: Input dimension ``d`` (default 100, the MMoE paper's).
        correlation: Task correlation ``p`` in [-1, 1] (default 0.5).
        scale: ``c`` (default 1).
        num_sines: ``m`` (default 10).
        noise_std: Standard deviation of ``eps`` (default 0.01).
        seed: Seed of the generator (default 0).

    Returns:
        Columns ``x0 .. x{d-1}`` (float32) and labels ``y1``, ``y2`` (float64).

    Raises:
        ValueError: ``correlation`` outside [-1, 1] or ``input_dim < 2``.
    """
    if not -1.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must be in [-1, 1], got {correlation!r}")
    if input_dim < 2:
        raise ValueError(
            f"input_dim must be >= 2 for two orthogonal vectors, got {input_dim!r}"
        )
    rng = np.random.default_rng(seed)

    # Orthonormalise two Gaussian vectors (QR) to get u1 orthogonal to u2.
    basis, _ = np.linalg.qr(rng.standard_normal((input_dim, 2)))
    u1, u2 = basis[:, 0], basis[:, 1]
    w1 = scale * u1
    w2 = scale * (correlation * u1 + np.sqrt(1.0 - correlation**2) * u2)
    alpha, beta = rng.standard_normal(num_sines), rng.standard_normal(num_sines)

    x = rng.standard_normal((num_rows, input_dim))
    labels = []
    for w in (w1, w2):
        z = x @ w
        waves = np.sin(np.outer(z, alpha) + beta).sum(axis=1) if num_sines else 0.0
        labels.append(z + waves + rng.normal(0.0, noise_std, num_rows))

    frame = pd.DataFrame(
        x.astype(np.float32), columns=[f"x{i}" for i in range(input_dim)]
    )
    frame["y1"], frame["y2"] = labels
    return frame

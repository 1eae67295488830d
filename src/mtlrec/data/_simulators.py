"""Simulated data sets with known ground truth: an ad funnel and a ranked feed."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "FUNNEL_STEP_NAMES",
    "ad_funnel_synthetic",
    "funnel_step_names",
    "position_feed_synthetic",
]

FUNNEL_STEP_NAMES = ("click", "application", "approval", "activation")

# Conditional pass rates of the funnel steps at an average impression.
_STEP_RATES = (0.25, 0.35, 0.45, 0.55)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def funnel_step_names(num_steps: int) -> list[str]:
    """Label names of a funnel: click, application, approval, activation, step5..."""
    return [
        FUNNEL_STEP_NAMES[t] if t < len(FUNNEL_STEP_NAMES) else f"step{t + 1}"
        for t in range(num_steps)
    ]


def ad_funnel_synthetic(
    num_rows: int,
    num_steps: int = 4,
    num_fields: int = 6,
    vocab_size: int = 30,
    seed: int = 0,
) -> pd.DataFrame:
    """Impressions passing a chain of conversion steps, as in credit-card ads.

    Each row has ``num_fields`` categorical fields ``c0..`` (uniform ids) and
    two numeric columns ``x0, x1`` (standard normal). Step ``t`` passes with
    the conditional probability ``sigmoid(b_t + sum_f E_f[c_f, t] + w_t . x)``
    where the field effects ``E`` are correlated across steps (a shared part
    plus a step part), so the steps are related tasks. A row reaches step
    ``t`` only if it passed step ``t - 1``: ``y_t = y_{t-1} * Bernoulli(p_t)``.
    Later steps' rates are ``0.35, 0.45, 0.55`` of the previous step's
    positives at an average impression (click 0.25).

    Args:
        num_rows: Impressions to draw.
        num_steps: Funnel length ``>= 2`` (default 4: click, application,
            approval, activation; later steps are ``step5..``).
        num_fields: Categorical fields (default 6).
        vocab_size: Ids per field (default 30).
        seed: Seed of the generator (default 0).

    Returns:
        Columns ``c0..``, ``x0, x1``, one 0/1 label per step, and
        ``true_p_{step}``, each step's true end-to-end probability.

    Raises:
        ValueError: ``num_steps < 2``.
    """
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2 for a funnel, got {num_steps!r}")
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab_size, size=(num_rows, num_fields))
    x = rng.standard_normal((num_rows, 2))

    shared = rng.normal(0.0, 0.6, size=(num_fields, vocab_size, 1))
    own = rng.normal(0.0, 0.4, size=(num_fields, vocab_size, num_steps))
    effects = shared + own  # (fields, vocab, steps)
    weights = rng.normal(0.0, 0.5, size=(2, num_steps))
    rates = [_STEP_RATES[min(t, len(_STEP_RATES) - 1)] for t in range(num_steps)]
    biases = np.log(np.asarray(rates) / (1 - np.asarray(rates)))
    logits = biases + x @ weights
    for f in range(num_fields):
        logits = logits + effects[f, ids[:, f]]
    conditional = _sigmoid(logits)  # (N, steps)

    passed = rng.random((num_rows, num_steps)) < conditional
    labels = np.cumprod(passed, axis=1)
    joint = np.cumprod(conditional, axis=1)
    frame = pd.DataFrame(ids, columns=[f"c{f}" for f in range(num_fields)])
    frame["x0"], frame["x1"] = x[:, 0], x[:, 1]
    for t, name in enumerate(funnel_step_names(num_steps)):
        frame[name] = labels[:, t].astype(np.int64)
        frame[f"true_p_{name}"] = joint[:, t]
    return frame


def position_feed_synthetic(
    num_lists: int,
    list_size: int = 10,
    num_items: int = 500,
    examination_power: float = 1.0,
    policy_noise: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """A feed whose clicks mix true relevance with position-dependent examination.

    Users belong to 20 groups, each preferring one of 10 item categories.
    An item has an id, a category, a hidden quality and a visible
    ``freshness`` score. True relevance is
    ``r = sigmoid(2 * [category preferred] + quality - 1.5)``; freshness has
    no effect on it. A logging policy ranks each list by
    ``1.5 * freshness + 0.5 * logit(r) + noise``, so freshness decides much of
    the position. The user examines position ``k`` (1-based) with
    probability ``1 / k ** examination_power`` and clicks an examined item
    with probability ``r``; a click is liked with probability
    ``sigmoid(2 * quality)``. A model that does not know the position learns
    that fresh items are clicked more, which is position bias; a shallow
    position tower can absorb it.

    Args:
        num_lists: Lists (requests) to draw.
        list_size: Items per list (default 10).
        num_items: Catalogue size (default 500).
        examination_power: Exponent ``eta`` of ``1 / k ** eta`` (default 1).
        policy_noise: Standard deviation of the policy's noise (default 0.5).
        seed: Seed of the generator (default 0).

    Returns:
        One row per shown item: ``list_id, user_group, item_id, category,
        freshness, position`` (1-based), labels ``click`` and ``like``
        (``like <= click``), ``relevance`` (the true ``r``) and
        ``relevant`` (a click drawn as if every position were examined).
    """
    rng = np.random.default_rng(seed)
    category = rng.integers(0, 10, size=num_items)
    quality = rng.normal(0.0, 1.0, size=num_items)
    freshness = rng.normal(0.0, 1.0, size=num_items)
    preferred = rng.integers(0, 10, size=20)

    rows = num_lists * list_size
    group = np.repeat(rng.integers(0, 20, size=num_lists), list_size)
    item = np.concatenate(
        [rng.choice(num_items, size=list_size, replace=False) for _ in range(num_lists)]
    )
    relevance_logit = 2.0 * (category[item] == preferred[group]) + quality[item] - 1.5
    relevance = _sigmoid(relevance_logit)

    # Rank each list by the logging policy's score (best first).
    policy = 1.5 * freshness[item] + 0.5 * relevance_logit
    policy = (policy + rng.normal(0.0, policy_noise, size=rows)).reshape(
        num_lists, list_size
    )
    order = np.argsort(-policy, axis=1)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(1, list_size + 1), axis=1)
    position = position.reshape(-1)

    examined = rng.random(rows) < 1.0 / position.astype(np.float64) ** examination_power
    attracted = rng.random(rows) < relevance
    click = examined & attracted
    like = click & (rng.random(rows) < _sigmoid(2.0 * quality[item]))
    return pd.DataFrame(
        {
            "list_id": np.repeat(np.arange(num_lists), list_size),
            "user_group": group,
            "item_id": item,
            "category": category[item],
            "freshness": freshness[item],
            "position": position,
            "click": click.astype(np.int64),
            "like": like.astype(np.int64),
            "relevance": relevance,
            "relevant": (rng.random(rows) < relevance).astype(np.int64),
        }
    )

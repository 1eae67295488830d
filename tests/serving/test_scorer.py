"""Tests of mtlrec/serving/_scorer.py: one body in, predictions and score out."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from mtlrec import load_run, predict
from mtlrec.serving import RequestError, Scorer


@pytest.fixture(scope="module")
def scorer(mmoe_run):
    return Scorer(load_run(mmoe_run))


def test_score_rows_adds_the_fused_score(scorer, mmoe_run, rows):
    frame = rows.iloc[20:25]
    checked = scorer.parse(
        json.dumps({"rows": json.loads(frame.to_json(orient="records"))}).encode()
    )
    scores = scorer.score_rows(checked)
    assert list(scores) == ["click", "buy", "buy@entire", "dwell", "score"]
    expected = predict(mmoe_run, frame)
    for name in ("click", "buy", "buy@entire", "dwell"):
        np.testing.assert_allclose(scores[name], expected[name], atol=1e-6)
    np.testing.assert_allclose(
        scores["score"], expected["click"] * expected["buy@entire"] ** 0.5, rtol=1e-5
    )


def test_score_body_is_the_json_answer(scorer, rows):
    body = json.dumps({"rows": json.loads(rows.iloc[:2].to_json(orient="records"))})
    answer = scorer.score_body(body.encode())
    assert set(answer) == {"predictions", "score"}
    assert all(isinstance(v, float) for v in answer["score"])
    assert [len(v) for v in answer["predictions"].values()] == [2, 2, 2, 2]


def test_parse_applies_the_run_limits(scorer, rows):
    row = json.loads(rows.iloc[:1].to_json(orient="records"))[0]
    with pytest.raises(RequestError, match="more than serving.max_batch_rows=8"):
        scorer.parse(json.dumps({"rows": [row] * 9}).encode())


def body_of(frame) -> bytes:
    return json.dumps({"rows": json.loads(frame.to_json(orient="records"))}).encode()


def test_a_domain_model_is_scored_with_each_row_domain(m3oe_run, rows):
    scorer = Scorer(load_run(m3oe_run))
    frame = rows.iloc[:8]
    assert frame["city"].nunique() > 1  # rows of several domains in one call

    scores = scorer.score_rows(scorer.parse(body_of(frame)))

    expected = predict(m3oe_run, frame)
    for name in ("click", "buy", "buy@entire", "dwell"):
        np.testing.assert_allclose(scores[name], expected[name], atol=1e-6)
    # Another domain for the same features gives other scores.
    moved = frame.assign(city=np.where(frame["city"] == "nice", "lyon", "nice"))
    other = scorer.score_rows(scorer.parse(body_of(moved)))
    assert not np.allclose(other["click"], scores["click"])


@pytest.mark.parametrize(
    ("city", "message"),
    [(None, "needs its domain in 'city'"), ("brest", "was not trained on")],
)
def test_a_missing_or_unseen_domain_is_refused(m3oe_run, rows, city, message):
    scorer = Scorer(load_run(m3oe_run))
    frame = rows.iloc[:3].copy()
    frame.loc[frame.index[1], "city"] = city

    with pytest.raises(RequestError, match=message) as caught:
        scorer.parse(body_of(frame))

    assert caught.value.status == 422 and caught.value.field == "rows[1].city"


def test_a_run_with_a_history_feature_is_refused(mmoe_run):
    run = load_run(mmoe_run)
    sequence = SimpleNamespace(name="recent_items")
    run = dataclasses.replace(
        run, feature_map=dataclasses.replace(run.feature_map, sequence=sequence)
    )

    with pytest.raises(NotImplementedError, match="history feature 'recent_items'"):
        Scorer(run)

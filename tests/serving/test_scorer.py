"""Tests of mtlrec/serving/_scorer.py: one body in, predictions and score out."""

import json

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

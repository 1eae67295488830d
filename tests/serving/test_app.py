"""Tests of mtlrec/serving/_app.py through FastAPI's test client."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from mtlrec import predict
from mtlrec.serving import create_app

FEATURES = ["city", "item", "device", "price", "age"]


def _records(frame):
    return json.loads(frame.to_json(orient="records"))


def test_health(client):
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_predict_equals_mtlrec_predict(client, mmoe_run, rows):
    frame = rows.iloc[:8]
    response = client.post("/predict", json={"rows": _records(frame)})
    assert response.status_code == 200
    body = response.json()
    expected = predict(mmoe_run, frame)
    assert list(body["predictions"]) == ["click", "buy", "buy@entire", "dwell"]
    for name, values in body["predictions"].items():
        np.testing.assert_allclose(values, expected[name], atol=1e-6)
    # The run's config fuses click * (buy@entire) ** 0.5.
    fused = expected["click"] * np.sqrt(expected["buy@entire"])
    np.testing.assert_allclose(body["score"], fused, rtol=1e-5)


def test_predict_handles_unseen_null_and_omitted_values(client, mmoe_run, rows):
    sent = [
        {"city": "atlantis", "item": 99, "device": None, "price": None},
        {"city": "paris", "item": 3, "device": "ios", "age": 30, "extra": [1]},
    ]
    response = client.post("/predict", json={"rows": sent})
    assert response.status_code == 200
    # The same rows as a file would give them: NaN where a value is absent.
    frame = pd.DataFrame(
        {
            "city": ["atlantis", "paris"],
            "item": [99, 3],
            "device": [math.nan, "ios"],
            "price": [math.nan, math.nan],
            "age": [math.nan, 30.0],
        }
    )
    expected = predict(mmoe_run, frame)
    for name, values in response.json()["predictions"].items():
        np.testing.assert_allclose(values, expected[name], atol=1e-6)


def _without(row, key):
    return {k: v for k, v in row.items() if k != key}


BAD_REQUESTS = [
    ("malformed JSON", lambda row: b'{"rows": [{"city": ', 400, None),
    ("missing feature", lambda row: [_without(row, "city")], 422, "rows[0].city"),
    (
        "object for a scalar",
        lambda row: [{**row, "city": {"x": 1}}],
        422,
        "rows[0].city",
    ),
    (
        "list for a scalar",
        lambda row: [{**row, "device": ["ios"]}],
        422,
        "rows[0].device",
    ),
    ("string for a number", lambda row: [{**row, "price": "9"}], 422, "rows[0].price"),
    ("too many rows", lambda row: [row] * 9, 422, "rows"),
    ("rows not a list", lambda row: row, 422, "rows"),
    ("row not an object", lambda row: [row, 7], 422, "rows[1]"),
]


@pytest.mark.parametrize(("what", "make", "status", "field"), BAD_REQUESTS)
def test_bad_requests_get_a_json_4xx(client, rows, what, make, status, field):
    good = _records(rows.iloc[:1])[0]
    body = make(good)
    content = body if isinstance(body, bytes) else json.dumps({"rows": body})
    response = client.post("/predict", content=content)
    assert response.status_code == status, what
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"]
    # The service still answers afterwards.
    assert client.post("/predict", json={"rows": [good]}).status_code == 200


def test_missing_feature_message_names_it(client, rows):
    row = _records(rows.iloc[:1])[0]
    del row["device"]
    response = client.post("/predict", json={"rows": [row]})
    assert response.json()["error"] == {
        "message": "row 0 lacks the categorical feature 'device'; every row needs "
        "it (send null for an unknown value)",
        "field": "rows[0].device",
    }


def test_body_over_the_limit_is_413(client):
    response = client.post("/predict", content=b" " * 4097)
    assert response.status_code == 413
    assert (
        "more than serving.max_body_bytes=4096" in response.json()["error"]["message"]
    )


def test_streamed_body_over_the_limit_is_413(client):
    # No Content-Length header: the limit is enforced while reading.
    chunks = (b" " * 1024 for _ in range(5))
    response = client.post("/predict", content=chunks)
    assert response.status_code == 413
    assert "serving.max_body_bytes=4096" in response.json()["error"]["message"]


def test_metadata(client, mmoe_run):
    body = client.get("/metadata").json()
    assert body["model"]["name"] == "mmoe"
    assert [t["name"] for t in body["tasks"]] == ["click", "buy", "dwell"]
    assert body["predictions"] == ["click", "buy", "buy@entire", "dwell"]
    assert [f["name"] for f in body["features"]["categorical"]] == FEATURES[:3]
    assert [f["name"] for f in body["features"]["numeric"]] == FEATURES[3:]
    assert body["score"] == {
        "type": "weighted_product",
        "weights": {"click": 1.0, "buy@entire": 0.5},
    }
    assert body["limits"] == {"max_batch_rows": 8, "max_body_bytes": 4096}
    saved = json.loads((mmoe_run / "metrics.json").read_text())
    assert body["metrics"] == saved
    assert body["version"]["mtlrec"] == "0.1.0"


def test_unexpected_failure_is_a_json_500(mmoe_run, rows, monkeypatch, test_client):
    from mtlrec.serving import _scorer

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_scorer, "predict_scores", broken)
    with test_client(create_app(mmoe_run)) as client:
        response = client.post("/predict", json={"rows": _records(rows.iloc[:1])})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "internal error: boom"


def test_create_app_refuses_a_missing_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a trained run"):
        create_app(tmp_path)


def test_overrides_change_the_serving_section(mmoe_run, rows, test_client):
    app = create_app(
        mmoe_run,
        ["serving.score.type=weighted_sum", "serving.score.weights={dwell: 2}"],
    )
    frame = rows.iloc[:3]
    with test_client(app) as client:
        body = client.post("/predict", json={"rows": _records(frame)}).json()
        weights = client.get("/metadata").json()["score"]
    assert weights == {"type": "weighted_sum", "weights": {"dwell": 2.0}}
    expected = predict(mmoe_run, frame)
    np.testing.assert_allclose(body["score"], 2 * expected["dwell"], rtol=1e-5)


@pytest.mark.parametrize(
    ("override", "error", "message"),
    [
        ("model.num_experts=2", ValueError, "may only set serving.\\* keys"),
        ("serving.score.weights={like: 1}", ValueError, "does not predict"),
    ],
)
def test_overrides_are_checked(mmoe_run, override, error, message):
    with pytest.raises(error, match=message):
        create_app(mmoe_run, [override])

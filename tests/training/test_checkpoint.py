"""Tests of atomic weight and JSON writes."""

from __future__ import annotations

import json
import stat

import pytest
import torch
from safetensors.torch import load_file

from mtlrec.training import _checkpoint, load_weights, save_weights
from mtlrec.training._checkpoint import write_json_atomic


def state():
    return {"a.weight": torch.randn(3, 2), "b.bias": torch.arange(4.0)}


def test_round_trip_and_plain_safetensors(tmp_path):
    original = state()

    save_weights(original, tmp_path / "run" / "model.safetensors")

    for loaded in (
        load_weights(tmp_path / "run" / "model.safetensors"),
        load_file(str(tmp_path / "run" / "model.safetensors")),
    ):
        assert set(loaded) == set(original)
        for key, value in original.items():
            assert torch.equal(loaded[key], value)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["model.safetensors"]


def test_non_contiguous_tensors_are_saved(tmp_path):
    tensor = torch.randn(3, 4).T

    save_weights({"t": tensor}, tmp_path / "w.safetensors")

    assert torch.equal(load_weights(tmp_path / "w.safetensors")["t"], tensor)


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"
    save_weights(state(), target)
    before = target.read_bytes()

    def broken(tensors, path):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(_checkpoint, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_weights(state(), target)

    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"weights file .* does not exist"):
        load_weights(tmp_path / "none.safetensors")


def test_json_written_atomically(tmp_path):
    _checkpoint.write_json_atomic(tmp_path / "m.json", {"auc": 0.5, "none": None})
    _checkpoint.write_json_atomic(tmp_path / "m.json", {"auc": 0.75})

    assert json.loads((tmp_path / "m.json").read_text()) == {"auc": 0.75}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_atomic_files_get_the_permissions_of_a_plain_write(tmp_path):
    # The temporary file is private (0600); the finished file is not.
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    save_weights({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    (tmp_path / "plain.txt").write_text("x")

    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    for name in ("a.json", "w.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == plain

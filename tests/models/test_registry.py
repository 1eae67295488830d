"""Tests of the model registry."""

from __future__ import annotations

import pytest

from mtlrec.models import (
    ESMM,
    MMoE,
    MMoEConfig,
    get_model_class,
    get_model_config_class,
    list_models,
    register,
)


def test_built_in_models_are_registered_sorted():
    names = list(list_models())

    assert names == sorted(names)
    assert {"esmm", "mmoe", "omoe", "ple", "shared_bottom", "single_task"} <= set(names)
    assert list_models()["esmm"] is ESMM


def test_lookup_by_name():
    assert get_model_class("mmoe") is MMoE
    assert get_model_config_class("mmoe") is MMoEConfig


def test_unknown_model_name():
    with pytest.raises(KeyError, match=r"unknown model name 'nope'.*'mmoe'"):
        get_model_class("nope")


def test_registering_a_name_twice():
    with pytest.raises(ValueError, match=r"'mmoe' is already registered"):
        register("mmoe")(MMoE)

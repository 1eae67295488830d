"""Multi-task models and their registry.

Importing this package registers every built-in model.
"""

from mtlrec.models._base import ModelSpec, MultiTaskModel, TaskSpec
from mtlrec.models._esmm import ESMM, ESMMConfig
from mtlrec.models._mmoe import MMoE, MMoEConfig
from mtlrec.models._omoe import OMoE, OMoEConfig
from mtlrec.models._ple import PLE, PLEConfig
from mtlrec.models._registry import (
    get_model_class,
    get_model_config_class,
    list_models,
    register,
)
from mtlrec.models._shared_bottom import SharedBottom, SharedBottomConfig
from mtlrec.models._single_task import SingleTask, SingleTaskConfig

__all__ = [
    "ESMM",
    "ESMMConfig",
    "MMoE",
    "MMoEConfig",
    "ModelSpec",
    "MultiTaskModel",
    "OMoE",
    "OMoEConfig",
    "PLE",
    "PLEConfig",
    "SharedBottom",
    "SharedBottomConfig",
    "SingleTask",
    "SingleTaskConfig",
    "TaskSpec",
    "get_model_class",
    "get_model_config_class",
    "list_models",
    "register",
]

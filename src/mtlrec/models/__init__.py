"""Multi-task models and their registry.

Importing this package registers every built-in model.
"""

from mtlrec.models._aitm import AITM, AITMConfig
from mtlrec.models._base import ModelSpec, MultiTaskModel, TaskSpec
from mtlrec.models._dtn import DTN, DTNConfig
from mtlrec.models._esmm import ESMM, ESMMConfig
from mtlrec.models._m3oe import M3oE, M3oEConfig
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
from mtlrec.models._uba_svr import UBASVR, UBASVRConfig
from mtlrec.models._youtube import YouTubeMMoE, YouTubeMMoEConfig

__all__ = [
    "AITM",
    "AITMConfig",
    "DTN",
    "DTNConfig",
    "M3oE",
    "M3oEConfig",
    "UBASVR",
    "UBASVRConfig",
    "YouTubeMMoE",
    "YouTubeMMoEConfig",
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

"""Training: run a declared model's entrypoint on a dataset version, evaluate, register; and the one
path from a registered version's lineage back to its training.

The entrypoint is ``module:function`` called as ``function(train_df, params)``; it returns a
fitted estimator with the scikit-learn API. If the function declares any of the keyword
arguments ``target``, ``features`` or ``sample_weight`` they are passed too. Nothing is
registered unless training, evaluation and persistence all succeed.

The steps, each usable alone (``ctx`` is a :class:`~modelward.Workspace` or any
:class:`TrainingContext`):

* :func:`train` fits a spec on a dataset version and returns a :class:`Trained` (nothing registered);
* :func:`register` records it as the next version, unless an identical training is registered;
* :func:`rebuild` turns a registered version back into its spec, dataset rows and the same
  train/evaluation split, from its typed :class:`Lineage`;
* :func:`reproduce` retrains a version from its lineage and compares predictions.

Retraining a champion on new data with the same recipe::

    champion = rebuild(ws, ws.registry.get("credit", "champion"))
    challenger = train(ws, champion.spec, new_dataset, sample_weight="weight")
    version = register(ws, "credit", challenger)
"""

from __future__ import annotations

from modelward.training._context import TrainingContext
from modelward.training._evaluate import evaluate, predict_proba
from modelward.training._fit import (
    MIN_HOLDOUT_ROWS,
    Prepared,
    TrainingResult,
    fit,
    index_hash,
    infer_signature,
    prepare,
    resolve_entrypoint,
)
from modelward.training._lineage import (
    CodeReference,
    DatasetLineage,
    Environment,
    EvaluationLineage,
    Lineage,
    LineageError,
)
from modelward.training._rebuild import Rebuilt, rebuild, spec_of
from modelward.training._reproduce import ReproduceReport, reproduce
from modelward.training._train import Trained, load_model, record_importance, register, train

__all__ = [
    "MIN_HOLDOUT_ROWS",
    "CodeReference",
    "DatasetLineage",
    "Environment",
    "EvaluationLineage",
    "Lineage",
    "LineageError",
    "Prepared",
    "Rebuilt",
    "ReproduceReport",
    "Trained",
    "TrainingContext",
    "TrainingResult",
    "evaluate",
    "fit",
    "index_hash",
    "infer_signature",
    "load_model",
    "predict_proba",
    "prepare",
    "rebuild",
    "record_importance",
    "register",
    "reproduce",
    "resolve_entrypoint",
    "spec_of",
    "train",
]

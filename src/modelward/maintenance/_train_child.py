"""``python -m modelward.maintenance._train_child``: the training subprocess (see
:mod:`modelward.maintenance.trainer`). A module of its own, so that running it does not re-import the
module that defines :func:`~modelward.maintenance.trainer.main`."""

from __future__ import annotations

from modelward.maintenance.trainer import main

if __name__ == "__main__":
    raise SystemExit(main())

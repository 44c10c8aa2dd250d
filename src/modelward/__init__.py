"""modelward: keeps machine-learning models healthy after they ship."""

from modelward.errors import ModelwardError

__version__ = "0.1.0"

__all__ = ["ModelwardError", "__version__"]

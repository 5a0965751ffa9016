"""l2gpu: rent GPUs by the second and settle on Layer 2."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("l2gpu")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

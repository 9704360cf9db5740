"""OctoPrint usage collector: a small tracking server for anonymous usage reports."""

from .app import create_app
from .config import Config

__all__ = ["Config", "create_app"]
__version__ = "0.1.0"

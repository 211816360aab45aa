import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracles import MODELS_DIR  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if not MODELS_DIR.is_dir():
        skip = pytest.mark.skip(reason=f"shared models not found at {MODELS_DIR}")
        for item in items:
            if "models" in item.keywords:
                item.add_marker(skip)

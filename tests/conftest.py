import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracles  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if not oracles.MODELS_AVAILABLE:
        skip = pytest.mark.skip(reason=oracles.MODELS_SKIP_REASON)
        for item in items:
            if item.get_closest_marker("models"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """While a test without the `models` marker runs (setup, call, teardown), oracles.model_path fails."""
    oracles.unmarked_test = None if item.get_closest_marker("models") else item.nodeid
    try:
        return (yield)
    finally:
        oracles.unmarked_test = None

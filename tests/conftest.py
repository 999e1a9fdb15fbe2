import os

import pytest


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """A private model cache for the session: the official weights are imported into it once.

    Set PADDLE_PP_TEST_MODELS to reuse a cache across runs (CI points it at a directory it keeps).
    """
    path = os.environ.get("PADDLE_PP_TEST_MODELS") or str(tmp_path_factory.mktemp("models"))
    old = os.environ.get("PADDLE_PP_MODELS")
    os.environ["PADDLE_PP_MODELS"] = path
    yield path
    if old is None:
        os.environ.pop("PADDLE_PP_MODELS", None)
    else:
        os.environ["PADDLE_PP_MODELS"] = old

import numpy as np
import pytest
from helpers import SAMPLES, DaskPrograms
from hypothesis import settings
from PIL import Image

# The test command leaves no files in the repository: no example database.
settings.register_profile("no-database", database=None)
settings.load_profile("no-database")


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def camera():
    """The grey 'camera' photograph from samples/, as a uint8 array."""
    with Image.open(SAMPLES / "camera.png") as image:
        return np.asarray(image)


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """One Dask cluster for the session, as separate programs (so that no socket of it is
    open in this process): a scheduler and two workers of one thread, all on 127.0.0.1,
    working in a folder of their own, stopped at the end. The scheduler does not retry a
    file whose worker died, so that imgconv's own single retry is what the tests count."""
    pytest.importorskip("distributed")
    cluster = DaskPrograms(tmp_path_factory.mktemp("dask-workers"),
                           env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    try:
        yield cluster
    finally:
        cluster.close()

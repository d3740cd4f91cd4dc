import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES

@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def camera():
    """The grey 'camera' photograph from samples/, as a uint8 array."""
    with Image.open(SAMPLES / "camera.png") as image:
        return np.asarray(image)

"""Settings for benchmark servers: the production settings plus the floor endpoint's URLs."""

import warnings

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# The API never serves static files; collectstatic is not part of a benchmark.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

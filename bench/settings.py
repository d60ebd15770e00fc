"""Settings for benchmark servers: the production settings plus the floor endpoint's URLs."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

"""Settings for the demo and for a developer's checkout: the secret key is generated under var/."""

from tuangou.config.env import demo_secret_key, env_bool
from tuangou.config.settings.base import *  # noqa: F403
from tuangou.config.settings.base import SECRET_KEY

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = SECRET_KEY or demo_secret_key()

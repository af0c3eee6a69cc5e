"""tfzoo: classic TensorFlow tutorial models as TFX production pipelines.

Dependencies are pinned in requirements.lock (install that first); this file only makes the
project's packages importable (TFX's executors import models.common from module files) and
installs the `tfzoo` command.
"""
from setuptools import find_packages, setup

setup(
    name='tfzoo',
    version='0.1.0',
    python_requires='>=3.9,<3.11',
    packages=find_packages(include=['pipelines', 'pipelines.*', 'components', 'components.*',
                                    'models', 'models.*']),
    entry_points={'console_scripts': ['tfzoo=pipelines.cli:console']},
)

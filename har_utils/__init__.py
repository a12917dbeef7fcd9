"""har_utils: the core that notebooks 01-06 stand on, in layers each importing only those below
(``[tool.importlinter]`` in ``pyproject.toml`` checks it): study_results; paper; evaluation,
eda, plots; training; models, data; signals; foundation: io, provenance, threads, config,
backend (JAX, set before any module imports Keras; a user's ``KERAS_BACKEND`` wins).
The studies, the pipeline and the ``har`` command are ``har_studies``, which imports this.
"""

from . import backend as _backend

_backend.use_default()

__version__ = "0.1.0"

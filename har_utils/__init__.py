"""har_utils: the shared code behind the CNN-LSTM HAR companion notebooks.

In layers, each importing only the ones below it (``[tool.importlinter]`` in ``pyproject.toml``
checks it, imports inside functions included):

- running: :mod:`.cli` (the ``har`` command line) over :mod:`.pipeline` (papermill runs,
  staleness, publishing);
- reporting: :mod:`.reporting` (the tables the notebooks show, the generated blocks of the
  README and ``docs/``);
- studies: :mod:`.experiments` (the experiment runner, protocol cv, the zoo, the ablation study)
  and :mod:`.deploy` (TFLite export, runtime, FLOPs, streaming, the benchmark, ``har predict``),
  independent of each other;
- the core the notebooks stand on: :mod:`.data` (the dataset API and its two sources,
  downloads, features), :mod:`.signals` (filters, gravity split, windows), :mod:`.models`,
  :mod:`.training`, :mod:`.threads`, :mod:`.evaluation`, :mod:`.eda`, :mod:`.plots`,
  :mod:`.paper` (the transcribed numbers and the audit);
- foundation: :mod:`.config` (paths and constants), :mod:`.io` (checksums, atomic writes,
  errors), :mod:`.provenance` (what produced a result), :mod:`.backend` (the Keras backend:
  JAX for training, set here before any module imports Keras; a user's ``KERAS_BACKEND`` wins).
"""

from . import backend as _backend

_backend.use_default()

__version__ = "0.1.0"

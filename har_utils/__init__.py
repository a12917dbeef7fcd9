"""har_utils: the core that notebooks 01-06 stand on, in layers, each importing only the ones
below it (``[tool.importlinter]`` in ``pyproject.toml`` checks it, imports inside functions
included, and that no two modules import each other):

- :mod:`.study_results`: the tables of the studies' committed results (JSON in, tables out);
- :mod:`.paper`: the paper's transcribed numbers and their audit (notebooks 03, 05 and 06
  render it; it imports nothing but the foundation);
- :mod:`.evaluation`, :mod:`.eda`, :mod:`.plots`; below them :mod:`.training` (seeded
  training, saving), then :mod:`.models` (the registry, the paper's CNN-LSTM) and :mod:`.data`
  (the dataset API, its two sources, downloads, features), then :mod:`.signals` (filters,
  gravity split, windows);
- foundation: :mod:`.io` (checksums, atomic writes, ``HarError``), :mod:`.provenance` (what
  produced a result), :mod:`.threads` (this process's compute threads, set before the backend
  starts), :mod:`.config` (paths and constants) and :mod:`.backend` (the Keras backend: JAX,
  set here before any module imports Keras; a user's ``KERAS_BACKEND`` wins).

The studies (the runner and its training options, the zoo's models, protocol cv, ablations,
deployment), their reporting, the pipeline and the ``har`` command are the package
``har_studies``, which imports this one, never the reverse.
"""

from . import backend as _backend

_backend.use_default()

__version__ = "0.1.0"

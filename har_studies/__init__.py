"""har_studies: the studies built on har_utils (runner, protocol cv, model zoo, ablations,
deployment), their reporting, the notebook pipeline and the ``har`` command; it imports
har_utils, never the reverse.

In layers, each importing only the ones below it (``[tool.importlinter]`` in ``pyproject.toml``
checks it, imports inside functions included):

- running: :mod:`.cli` (the ``har`` command line; ``python -m har_studies``) over
  :mod:`.pipeline` (papermill runs, staleness, publishing);
- :mod:`.reporting` (the generated blocks of the README and ``docs/``) and :mod:`.profiles`
  (a profile's values checked against the notebooks' parameters);
- the studies: :mod:`.experiments` (the experiment runner, protocol cv, the zoo, the ablation
  study) and :mod:`.deploy` (TFLite export, runtime, FLOPs, streaming, the benchmark,
  ``har predict``), independent of each other;
- :mod:`.backends` (the Keras backend a study requires), :mod:`.folders` (output folders
  checked before work starts), :mod:`.constants` (the study notebooks and profiles),
  :mod:`.input_layers` (layers inside the studies' models) and :mod:`.zoo_models` (the zoo's models, registered in ``har_utils.models`` on import).

Importing it imports :mod:`har_utils`, which sets the Keras backend (JAX) first.
"""

import har_utils as _har_utils  # noqa: F401  (the Keras backend, set before anything else)

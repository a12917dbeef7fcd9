"""Deployment: the trained model outside the notebooks (a study; the core never imports it).

- :mod:`.export`: TFLite export at a fixed batch size, float32, dynamic-range or int8 (a
  conversion that may crash runs in a child process, ``python -m har_studies.deploy _export``);
- :mod:`.runtime`: :class:`~.runtime.TFLiteRunner` (an exported file on one thread), the Keras
  ways to call a model, and :func:`~.runtime.measure` (median latency of one batch);
- :mod:`.flops`: FLOPs per window and the energy estimates made from them;
- :mod:`.streaming`: a day of 50 Hz recording filtered, windowed and classified, timed;
- :mod:`.benchmark`: the deployment benchmark of notebook 08 and ``benchmarks/bench_deploy.py``;
- :mod:`.predict`: classify a recording window by window (``har predict``) and HAPT timelines.

Import the module you need (``from har_studies.deploy import export``): nothing is imported here,
so ``har predict`` checks its input before TensorFlow starts. The export, the runtime, the FLOPs
and the benchmark run Keras on TensorFlow (the TFLite converter needs it; the project trains on
JAX and saves portable ``.keras`` files): importing one of them sets that backend, or says how
to get it when the process already runs Keras on another (:func:`har_utils.backend.require`).
``har predict`` runs a ``.keras`` model on whatever backend the process has.
"""

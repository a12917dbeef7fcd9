"""Deployment: TFLite export, runtime and timing, FLOPs, a day of recording, the benchmark of
notebook 08, and ``har predict`` (a study; the core never imports it).

Nothing is imported here, so ``har predict`` checks its input before TensorFlow starts. Export,
runtime, FLOPs and the benchmark need Keras on TensorFlow (:func:`har_utils.backend.require`).
"""

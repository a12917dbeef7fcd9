"""Deployment: TFLite export, runtime, FLOPs, a day of recording, notebook 08's benchmark and
``har predict`` (a study). Nothing is imported here, so ``har predict`` checks its input before
TensorFlow starts; the TFLite modules need Keras on TensorFlow (``har_studies.backends.require``)."""

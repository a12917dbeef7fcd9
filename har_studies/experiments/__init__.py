"""Studies that train many models: one runner (:mod:`.runner`; :mod:`.scheduler` checks a Dask
scheduler's address), the cross-validation protocol (:mod:`.cv`), the model zoo (:mod:`.zoo`),
the ablation study (:mod:`.ablations`) and beyond the paper (:mod:`.beyond`, with
:mod:`.failures`, the evidence on the subjects that fail); :mod:`.compare` pairs two models by
test subject (for protocol cv and beyond the paper). The core, ``har_utils``, never imports
this package, and this package never imports :mod:`har_studies.deploy`, the reporting or the
command line."""

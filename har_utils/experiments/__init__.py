"""Studies that train many models: one runner (:mod:`.runner`), the cross-validation protocol
(:mod:`.cv`), the model zoo (:mod:`.zoo`) and the ablation study (:mod:`.ablations`). The core of the notebooks never
imports this package, and this package never imports :mod:`har_utils.deploy`, the reporting
or the command line."""

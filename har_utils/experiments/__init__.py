"""Studies that train many models: one runner (:mod:`.runner`), the cross-validation protocol
(:mod:`.cv`), the model zoo (:mod:`.zoo`), the ablation study (:mod:`.ablations`) and the
converter of the zoo's older run files (:mod:`.convert`). The core of the notebooks never
imports this package, and this package never imports :mod:`har_utils.deploy`, the reporting
or the command line."""

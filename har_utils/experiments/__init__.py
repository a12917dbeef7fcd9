"""Studies that train many models: one runner (:mod:`.runner`), the cross-validation
protocol (:mod:`.cv`) and the ablation study (:mod:`.ablations` and its ``ablations_*``
modules). The core of the notebooks never imports this package."""

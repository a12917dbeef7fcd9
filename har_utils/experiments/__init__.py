"""Studies that train many models: one runner (:mod:`.runner`) and the cross-validation
protocol (:mod:`.cv`). The core of the notebooks never imports this package."""

"""har_utils: the shared code behind the CNN-LSTM HAR companion notebooks.

One concern per module: ``config`` (paths and constants), ``io`` (checksums, atomic writes,
errors), ``signals`` (filters, gravity split, windows), ``uci`` and ``hapt`` (the two data
sources), ``download`` (verified, resumable downloads), ``data`` (the dataset API, cache,
splits, fidelity), ``features`` (window features for EDA and classical baselines) and
``provenance`` (what produced a result).
"""

__version__ = "0.1.0"

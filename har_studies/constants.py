"""Names every layer of the studies shares: the study notebooks, their profiles and the beyond
study's saved model."""

#: Study notebooks: run by their own targets (``make ablations``, ``make deploy``), never by
#: ``make reproduce`` or ``make publish``; not part of the pipeline's notebooks.
STUDY_NOTEBOOKS: tuple[str, ...] = ("07_ablations", "08_deployment", "09_beyond")
#: Profiles of the full studies, in the order of ``STUDY_NOTEBOOKS``: like ``paper``, they write
#: the committed ``results/`` and ``figures/`` (only their own files, e.g. ``results/ablations/``).
STUDY_PROFILES: tuple[str, ...] = ("ablations", "deploy", "beyond")
#: The beyond study's chosen configuration, saved as results/models/<this>.keras by
#: ``har beyond export`` (measured by the deployment benchmark, used by ``har predict``).
BEYOND_MODEL: str = "beyond"
#: The watch-model study's shipped network, saved as results/models/<this>.keras by
#: ``har small export`` (measured by the deployment benchmark, ``har predict --model small``).
SMALL_MODEL: str = "small"

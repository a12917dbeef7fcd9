"""``python -m har_studies.deploy _export JOB_JSON``: the child process in which
:func:`har_studies.deploy.export.export_tflite` runs a conversion that may crash (internal)."""

import sys

from .export import main

sys.exit(main())

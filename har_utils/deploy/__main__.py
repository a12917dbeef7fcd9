"""``python -m har_utils.deploy _export JOB_JSON``: the child process in which
:func:`har_utils.deploy.export.export_tflite` runs a conversion that may crash (internal)."""

import sys

from .export import main

sys.exit(main())

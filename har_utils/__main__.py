"""``python -m har_utils ...``: the ``har`` command line (:mod:`har_utils.cli`)."""

from .cli import main

main(prog_name="python -m har_utils")

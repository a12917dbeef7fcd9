"""``python -m har_studies ...``: the ``har`` command line (:mod:`har_studies.cli`)."""

from .cli import main

main(prog_name="python -m har_studies")

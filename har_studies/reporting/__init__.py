"""Reporting: the generated blocks of README.md and ``docs/``, read from results files (never
computed here): :mod:`.report` (tables), :mod:`.blocks` (the paper's path), :mod:`.study_blocks`
(the studies), :mod:`.docs` (writes them; ``har readme``). No study and nothing of the core
imports it.
"""

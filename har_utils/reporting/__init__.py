"""Reporting: the tables the notebooks show and the generated blocks of README.md and ``docs/``,
read from the results files of the paper's path and of the studies (never computed here).

- :mod:`.report`: tables built from results files (notebooks 04-06, and the blocks below);
- :mod:`.blocks`: the blocks of the paper's path (commands, notebook index, headline result,
  audit, data, timings, benchmarks);
- :mod:`.study_blocks`: the blocks of the studies (zoo, protocol cv, ablations, deployment);
- :mod:`.docs`: renders the blocks into the files (``har readme``, ``make readme``).

It may read every study; no study and nothing of the core imports it.
"""

"""Reporting: the generated blocks of README.md and ``docs/``, read from the results files of
the paper's path and of the studies (never computed here).

- :mod:`.report`: tables built from results files for the blocks below (the ones notebooks 05
  and 06 show are :mod:`har_utils.study_results`);
- :mod:`.blocks`: the blocks of the paper's path (commands, notebook index, headline result,
  audit, data, timings, benchmarks);
- :mod:`.study_blocks`: the blocks of the studies (zoo, protocol cv, ablations, deployment);
- :mod:`.docs`: renders the blocks into the files (``har readme``, ``make readme``).

It may read every study; no study and nothing of the core imports it.
"""

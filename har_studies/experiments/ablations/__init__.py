"""The ablation study around ``cnn_lstm_paper`` under protocol cv (notebook 07).

Commands (:mod:`har_studies.cli`)::

    har ablations cost                      # results/ablations/cv_cost_table.csv
    har ablations run --stage select        # screen, confirm, combine, choose: cv_choice.json
    har ablations run --stage final         # after committing the choice: tested, cv_summary.json
    har ablations summary

Every factor is screened on 3 of protocol cv's folds for 50 epochs (JAX, no test), the points
ahead of the paper's configuration confirmed on all 7 folds, the confirmed factors combined,
the best chosen on the folds and tested once beside the paper's configuration over the same
seeds (:mod:`.converged`). The retired early-stopping study's summary is kept for one
comparison (:func:`.converged.undertraining`). The names notebook 07 uses are importable here.
"""

from __future__ import annotations

from .converged import (BASELINE, SMOKE, Plan, choice_path, early_stopping_path, read_json, run,
                        summary_path)
from .studies import STUDIES, studies_table
from .tables import (combination_table, finals_table, screen_figure, screen_table,
                     undertraining_table)

__all__ = ["BASELINE", "SMOKE", "STUDIES", "Plan", "choice_path", "combination_table",
           "early_stopping_path", "finals_table", "read_json", "run", "screen_figure",
           "screen_table", "studies_table", "summary_path", "undertraining_table"]

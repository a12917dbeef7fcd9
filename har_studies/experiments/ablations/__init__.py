"""The ablation study around ``cnn_lstm_paper`` (notebook 07, ``make ablations``).

Commands (:mod:`har_studies.cli`)::

    har ablations screen --cost; har ablations screen --workers 2
    har ablations run --study filters --seeds 0,1,2 --max-epochs 100 --workers 2
    har ablations select --seeds 0,1,2 --max-epochs 100 --workers 2
    har ablations final --seeds 0,1,2,3,4 --max-epochs 100 --workers 2
    har ablations summary
    har ablations list

``screen``: every factor under protocol cv (:mod:`.converged`, 3 folds x 50 epochs, JAX, no
test: ``results/ablations/cv_screen.json``); ``run``: the early-stopping one-factor studies;
``select``: choose on validation, train the combined candidates; ``final``: the chosen
configuration and the paper's over the same seeds, tested once; ``summary``: ``results/ablations/summary.json``; ``list``: what is stored and the cost
of the rest. The names notebook 07 uses are importable from here.
"""

from __future__ import annotations

from .estimates import listing
from .selection import final_runs, load_selection, run_selection
from .studies import STUDIES, execute, plan
from .summary import (load_summary, outcome_table, plot_study, selection_table, studies_table,
                      summary_path, table, write_summary)

__all__ = ["STUDIES", "execute", "final_runs", "listing", "load_selection", "load_summary",
           "outcome_table", "plan", "plot_study", "run_selection", "selection_table",
           "studies_table", "summary_path", "table", "write_summary"]

"""The ablation study around ``cnn_lstm_paper`` (notebook 07, ``make ablations``).

Commands (:mod:`har_utils.cli`)::

    har ablations run --study filters --seeds 0,1,2 --max-epochs 100 --workers 2
    har ablations select --seeds 0,1,2 --max-epochs 100 --workers 2
    har ablations final --seeds 0,1,2,3,4 --max-epochs 100 --workers 2
    har ablations summary
    har ablations list

``run``: the one-factor studies; ``select``: choose on validation, train the combined
candidates (``selection.json``); ``final``: the chosen configuration and the paper's over the
same seeds, tested once; ``summary``: ``results/ablations/summary.json``; ``list``: studies,
runs, what is stored and the estimated cost of the rest. Every run goes through the one
experiment runner (``results/runs/<key>.json``); nothing is committed for you.

The package: :mod:`.studies` (studies, points and their runs on the runner, the study's index),
:mod:`.selection` (choice on validation only, combined candidates, final runs), :mod:`.summary`
(summary, tables, figures) and :mod:`.estimates` (cost estimates, the listing). The study's functions are importable from here:
``from har_utils.experiments import ablations``, then ``ablations.plan(...)``.
"""

from __future__ import annotations

from .estimates import (estimate_seconds, full_study_estimate, listing, typical_epochs,
                      typical_overhead)
from .selection import (candidate_run, choose, combined_runs, final_runs, load_selection,
                        mean_std, rank_points, run_selection, select, selection_path)
from .studies import (BASE_MODEL, BASELINE, CHANNEL_SETS, COMBINED, FINAL, FINAL_SEEDS,
                      MAX_COMBINED, MAX_EPOCHS, N_VALIDATION_SUBJECTS, PATIENCE, STUDIES, STUDY,
                      STUDY_SEEDS, TARGET_ACCURACY, TRAIN_KEYS, VALIDATION_FIELDS, Point, Study,
                      ablation_run, ablations_dir, channel_set, conv_fits, execute, index_path,
                      load_index, load_validation, make_run, model_hparams, model_point,
                      overrides, parse_name, plan, points_text, record, run_name, study_names,
                      train_point, trained_here, unique_runs, validation_scores,
                      validation_view)
from .summary import (factor_table, indexed_results, load_summary, outcome_table, plot_study,
                      selection_table, studies_table, summarize, summary_path, table, test_row,
                      trained_best_epochs, write_summary)

__all__ = [
    "BASE_MODEL", "BASELINE", "CHANNEL_SETS", "COMBINED", "FINAL", "FINAL_SEEDS",
    "MAX_COMBINED", "MAX_EPOCHS", "N_VALIDATION_SUBJECTS", "PATIENCE", "STUDIES", "STUDY",
    "STUDY_SEEDS", "TARGET_ACCURACY", "TRAIN_KEYS", "VALIDATION_FIELDS", "Point", "Study",
    "ablation_run", "ablations_dir", "candidate_run", "channel_set", "choose", "combined_runs",
    "conv_fits", "estimate_seconds", "execute", "factor_table", "final_runs",
    "full_study_estimate", "index_path", "indexed_results", "listing", "load_index",
    "load_selection", "load_summary", "load_validation", "make_run", "mean_std",
    "model_hparams", "model_point", "outcome_table", "overrides", "parse_name", "plan",
    "plot_study", "points_text", "rank_points", "record", "run_name", "run_selection",
    "select", "selection_path", "selection_table", "studies_table", "study_names",
    "summarize", "summary_path", "table", "test_row", "train_point", "trained_best_epochs",
    "trained_here", "typical_epochs", "typical_overhead", "unique_runs", "validation_scores",
    "validation_view", "write_summary"]

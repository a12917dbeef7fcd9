"""The ablation study around ``cnn_lstm_paper`` (notebook 07, ``make ablations``).

A re-export of :mod:`har_utils.experiments.ablations` (studies, points and their runs on the
one experiment runner), :mod:`~har_utils.experiments.ablations_select` (choice on validation
only, combined candidates, final runs), :mod:`~har_utils.experiments.ablations_report`
(summary, tables, figures) and :mod:`~har_utils.experiments.ablations_cli` (cost estimates,
listing), so ``from har_utils import ablations`` keeps working; ``python -m har_utils.ablations``
runs ``har ablations`` (:mod:`har_utils.cli`). ``run_jobs`` and ``final_jobs`` are the former
names of :func:`execute` and :func:`final_runs`.
"""

from __future__ import annotations

from .experiments.ablations import (BASE_MODEL, BASELINE, CHANNEL_SETS, COMBINED, FINAL,
                                    FINAL_SEEDS, MAX_COMBINED, MAX_EPOCHS,
                                    N_VALIDATION_SUBJECTS, PATIENCE, STUDIES, STUDY,
                                    STUDY_SEEDS, TARGET_ACCURACY, TRAIN_KEYS,
                                    VALIDATION_FIELDS, Point, Study, ablation_run,
                                    ablations_dir, channel_set, conv_fits, execute, index_path,
                                    load_index, load_validation, make_run, model_hparams,
                                    model_point, overrides, parse_name, plan, points_text,
                                    record, run_name, study_names, train_point, trained_here,
                                    unique_runs, validation_scores, validation_view)
from .experiments.ablations_cli import (estimate_seconds, full_study_estimate, listing,
                                        typical_epochs, typical_overhead)
from .experiments.ablations_report import (factor_table, indexed_results, load_summary,
                                           outcome_table, plot_study, selection_table,
                                           studies_table, summarize, summary_path, table,
                                           test_row, trained_best_epochs, write_summary)
from .experiments.ablations_select import (candidate_run, choose, combined_runs, final_runs,
                                           load_selection, mean_std, rank_points,
                                           run_selection, select, selection_path)

#: Former names (notebook 07).
run_jobs = execute
final_jobs = final_runs

__all__ = [
    "BASE_MODEL", "BASELINE", "CHANNEL_SETS", "COMBINED", "FINAL", "FINAL_SEEDS",
    "MAX_COMBINED", "MAX_EPOCHS", "N_VALIDATION_SUBJECTS", "PATIENCE", "STUDIES", "STUDY",
    "STUDY_SEEDS", "TARGET_ACCURACY", "TRAIN_KEYS", "VALIDATION_FIELDS", "Point", "Study",
    "ablation_run", "ablations_dir", "candidate_run", "channel_set", "choose", "combined_runs",
    "conv_fits", "estimate_seconds", "execute", "factor_table", "final_jobs", "final_runs",
    "full_study_estimate", "index_path", "indexed_results", "listing", "load_index",
    "load_selection", "load_summary", "load_validation", "make_run", "mean_std",
    "model_hparams", "model_point", "outcome_table", "overrides", "parse_name", "plan",
    "plot_study", "points_text", "rank_points", "record", "run_jobs", "run_name",
    "run_selection", "select", "selection_path", "selection_table", "studies_table",
    "study_names", "summarize", "summary_path", "table", "test_row", "train_point",
    "trained_best_epochs", "trained_here", "typical_epochs", "typical_overhead", "unique_runs",
    "validation_scores", "validation_view", "write_summary"]

if __name__ == "__main__":
    from har_utils.cli import ablations_group

    ablations_group()

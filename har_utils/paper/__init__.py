"""The paper's printed numbers, what other works report, our reading of its ambiguities, and
an audit of the paper against itself.

``resources/paper_reported.json`` holds every number the paper (Alshammari and Albalawi, ETASR
14(6), 2024, doi 10.48084/etasr.9255) prints in its text, each with its section; cells that only
a figure holds (Fig. 6 off the diagonal) are ``status: "not in the text"``.
``resources/literature.json`` holds what the works cited in Table II themselves report, apart
from what the paper prints. ``resources/paper_decisions.csv`` records each ambiguity of the
paper and what we chose.

:func:`audit` decides each finding (a)-(h): a claim the paper makes, and whether its own printed
numbers support it (``holds``), contradict it (``fails``) or lack what is needed (``cannot
check``, naming what is missing). Every number in a finding is computed from the JSON files.

The package: :mod:`.records` (loading and validating the three files), :mod:`.findings` (the
audit), :mod:`.arithmetic` (what rounded numbers allow; the definitions beside sklearn's) and
:mod:`.comparison` (Table II beside its sources; which of our models re-runs which row).
Everything is importable from here: ``from har_utils import paper``, then ``paper.audit(...)``,
``paper.load_reported()``, ...
"""

from __future__ import annotations

from .arithmetic import (TABLE1_HALF_WIDTH, correct_needed, evaluate_definition,
                         example_confusion, f1_range, macro_recall_bounds, standard_metrics,
                         what_it_defines)
from .comparison import (EXTRA_ROWS, NOT_RERUN, TABLE2_ROWS, comparison_rows, paper_row,
                         reported_by_model, reported_number)
from .findings import (CHECKS, DEFINITIONS, METRICS, VERDICTS, Finding, audit,
                       check_averages, check_cm_accuracy, check_definitions,
                       check_f1_consistency, check_headline_is_test, check_recall_vs_cm,
                       check_table2_sources, check_test_held_out, findings_table)
from .records import (DECISION_COLUMNS, DECISIONS_CSV, IDENTIFICATIONS, LITERATURE_FIELDS,
                      LITERATURE_JSON, LITERATURE_STATUSES, OPTIONAL_FIELDS, REPORTED_JSON,
                      REQUIRED_FIELDS, SOURCES, STATUSES, UNITS, entry, load_decisions,
                      load_literature, load_reported, reported, reported_text,
                      shipped_literature, shipped_reported)

__all__ = [
    "CHECKS", "DECISIONS_CSV", "DECISION_COLUMNS", "DEFINITIONS", "EXTRA_ROWS", "Finding",
    "IDENTIFICATIONS", "LITERATURE_FIELDS", "LITERATURE_JSON", "LITERATURE_STATUSES",
    "METRICS", "NOT_RERUN", "OPTIONAL_FIELDS", "REPORTED_JSON", "REQUIRED_FIELDS", "SOURCES",
    "STATUSES", "TABLE1_HALF_WIDTH", "TABLE2_ROWS", "UNITS", "VERDICTS", "audit",
    "check_averages", "check_cm_accuracy", "check_definitions", "check_f1_consistency",
    "check_headline_is_test", "check_recall_vs_cm", "check_table2_sources",
    "check_test_held_out", "comparison_rows", "correct_needed", "entry", "evaluate_definition",
    "example_confusion", "f1_range", "findings_table", "load_decisions", "load_literature",
    "load_reported", "macro_recall_bounds", "paper_row", "reported", "reported_by_model",
    "reported_number", "reported_text", "shipped_literature", "shipped_reported",
    "standard_metrics", "what_it_defines"]

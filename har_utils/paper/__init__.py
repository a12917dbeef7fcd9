"""The paper's printed numbers (``resources/paper_reported.json``), what the works of its Table II
report (``literature.json``), our reading of its ambiguities (``paper_decisions.csv``) and the
audit of the paper against itself (:func:`audit`, findings (a)-(h)).
Everything is importable from here: ``from har_utils import paper``, then ``paper.audit(...)``.
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

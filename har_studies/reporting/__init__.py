"""Reporting: the generated blocks of README.md and ``docs/``, read from results files (never
computed here); no study and nothing of the core imports it."""

"""Drills are collected from scenarios/*.yaml: one test per scenario, marked with its schedule.

Run them with ``pytest drills -m monthly`` (or daily/weekly/quarterly, or ``-m drill`` for all).
The stack comes up once per session (``--stack``), results go to ``--report-dir``.
"""

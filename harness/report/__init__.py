"""HTML drill reports: a run's index, one page per drill, the trend over runs.

Entry points: :func:`harness.report.render.render_run`, :func:`harness.report.render.render_trend`,
:func:`harness.report.metrics.capture_metrics`.
"""

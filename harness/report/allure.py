"""Attach a drill's timeline, write-up and HTML page to the running allure test.

A no-op unless allure-pytest is installed *and* collecting results (``--alluredir``)
*and* a test is running: drills run outside pytest must not depend on allure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.drill.results import DrillResult
from harness.report.markdown import writeup_markdown
from harness.report.writeup import build_writeup

log = logging.getLogger(__name__)


def _allure() -> Any | None:
    """The ``allure`` module when an allure-pytest listener is registered, else None."""
    try:
        import allure
        from allure_commons import plugin_manager
    except ImportError:
        return None
    if not any(hasattr(plugin, "allure_logger") for plugin in plugin_manager.get_plugins()):
        return None
    return allure


def allure_active() -> bool:
    return _allure() is not None


def attach_drill(result: DrillResult, page: Path) -> None:
    """Attach the timeline (JSON), the incident write-up (Markdown) and the drill page (HTML)."""
    allure = _allure()
    if allure is None:
        return
    name = f"{result.scenario} #{result.iteration}"
    timeline = "[\n" + ",\n".join(e.model_dump_json() for e in result.timeline) + "\n]\n"
    kinds = allure.attachment_type
    try:
        allure.attach(timeline, name=f"{name} timeline", attachment_type=kinds.JSON)
        allure.attach(
            writeup_markdown(build_writeup(result)),
            name=f"{name} incident write-up",
            attachment_type=kinds.TEXT,
        )
        if page.is_file():
            allure.attach.file(str(page), name=f"{name} report", attachment_type=kinds.HTML)
    except KeyError:
        # allure-pytest is collecting but no test or fixture is running (nothing to attach to).
        log.warning("allure is active but no test is running; drill %s not attached", name)

"""The report as one self-contained HTML file: the same guarded data the terminal shows.

It renders only what `summary()` returned for the reader's role, so it can never show
more than the JSON does; the template autoescapes everything it prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("worksignal.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.1%}"
    env.filters["count"] = lambda v: "–" if v is None else f"{v:,}"
    return env


def render_html(data: dict[str, Any]) -> str:
    template = "self.html.j2" if data["role"] == "employee" else "report.html.j2"
    weeks = data.get("weeks") or []
    peak = max((w["conversations"] for w in weeks), default=0)
    return _environment().get_template(template).render(data=data, peak_week=peak)


def write_html(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")

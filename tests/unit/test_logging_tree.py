"""Every module logs through the configured `gbp` tree (JSON formatter, redaction), never
through a logger of its own that nothing configures."""
import pathlib
import re

APP = pathlib.Path(__file__).resolve().parents[2] / "app"


def test_every_logger_of_the_app_is_in_the_gbp_tree():
    strays = []
    for path in sorted(APP.rglob("*.py")):
        if path.name == "logs.py":  # the one place that configures the tree (and the root above it)
            continue
        text = path.read_text()
        for match in re.finditer(r"getLogger\(([^)]*)\)", text):
            if not re.fullmatch(r"""["']gbp(\.[\w.]+)?["']""", match.group(1).strip()):
                strays.append(f"{path.relative_to(APP.parent)}: getLogger({match.group(1)})")
        if "current_app.logger" in text or re.search(r"\bapp\.logger\b", text):
            strays.append(f"{path.relative_to(APP.parent)}: Flask's app logger")
    assert not strays, strays

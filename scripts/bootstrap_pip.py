"""Install pip into a venv made with --without-pip (Debian without python3-venv, not root).

Fetches pip's newest wheel from PyPI and runs pip from inside the wheel to install itself.
"""
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

meta = json.load(urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60))
wheel = next(u for u in meta["urls"] if u["filename"].endswith(".whl"))
path = Path(tempfile.mkdtemp()) / wheel["filename"]
path.write_bytes(urllib.request.urlopen(wheel["url"], timeout=120).read())
subprocess.run([sys.executable, str(path / "pip"), "install", "-q", str(path)], check=True)

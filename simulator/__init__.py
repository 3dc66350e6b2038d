"""A runnable fake of the Gemini Business web API (../shared/upstream-protocol.md).

Run it with `python -m simulator --port 8765`, or build the WSGI app in-process with
`create_app()`. Replies are deterministic: see `simulator.replies.reply_for`.
"""

from .app import create_app

__all__ = ["create_app"]

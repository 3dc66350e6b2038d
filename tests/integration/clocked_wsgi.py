"""wsgi.py with a clock the test moves: the real app in real gunicorn workers, but the account
pool (cooldowns, quota days, daily limits) and the admin listing read the time as real time
plus the seconds written in the file CLOCK_OFFSET_FILE names. Everything else (JWTs, store
expiry, timeouts) keeps real time, so the simulator still accepts the proxy's tokens.

It also serves every kind of model (SERVED_KINDS = all KINDS), whatever the catalogue serves
today, so the quota tests can count and cool image and video requests by their kind.

    Gunicorn(env | {"CLOCK_OFFSET_FILE": path}, app="tests.integration.clocked_wsgi:app")
"""
import os
import time

from app import create_app, start_background
from app.upstream import models

models.SERVED_KINDS = frozenset(models.KINDS)


class FileClock:
    def __init__(self, path: str):
        self.path = path

    def __call__(self) -> float:
        try:
            with open(self.path, encoding="ascii") as handle:
                offset = float(handle.read().strip() or 0)
        except FileNotFoundError:
            offset = 0.0
        return time.time() + offset


app = create_app()
clock = FileClock(os.environ["CLOCK_OFFSET_FILE"])
app.extensions["gbp"].pool.clock = clock
app.extensions["gbp.admin"].clock = clock
start_background(app)

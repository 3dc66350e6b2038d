"""Fixtures shared by the unit tests."""
import pytest


class Clock:
    """A wall clock that moves only when a test says so: clock.now += seconds."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()

"""The dashboard's definitions that are plain data: which states are open work."""

import re

from engine.read.kpis import WORKABLE
from engine.storage.models import OPEN_SQL
from workflows.denial import State


def test_open_work_is_every_state_but_the_finished_ones() -> None:
    listed = set(re.findall(r"'(\w+)'", OPEN_SQL))
    assert listed == {s.value for s in State} - {"closed", "resolved", "written_off"}
    assert set(WORKABLE) <= listed  # the stuck list reads the open-work index

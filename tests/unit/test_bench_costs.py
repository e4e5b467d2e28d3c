"""bench.costs switches features off by replacing named functions and dropping named indexes:
if one is renamed, the cost table must fail to build, not silently price nothing."""

from bench.costs import READ_INDEXES, VARIANTS, _drop_read_indexes
from engine.config import Settings
from engine.storage import store


def test_every_switch_replaces_a_function_that_exists_and_puts_it_back() -> None:
    settings = Settings(transitions_topic="t")
    switches = [s for s in VARIANTS.values() if s not in (None, _drop_read_indexes)]
    assert len(switches) == len(VARIANTS) - 2
    for switch in switches:
        patches = switch(settings)
        assert patches, switch.__name__
        for patch in patches:
            target = patch.getter()
            original = getattr(target, patch.attribute)  # AttributeError once renamed
            with patch:
                assert getattr(target, patch.attribute) is not original
            assert getattr(target, patch.attribute) is original


def test_the_dropped_indexes_are_the_denials_tables_own() -> None:
    names = {index.name for index in store.DENIALS.indexes}
    assert set(READ_INDEXES) | {f"{name}_sqlite" for name in READ_INDEXES} <= names

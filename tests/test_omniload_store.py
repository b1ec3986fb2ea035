"""omniload.store: strategies on hand-made staging tables, state, interval filter, rollback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from omniload import load, store
from omniload.errors import RunError
from omniload.interval import Interval
from omniload.uri import DestTable

SOURCE = "posthog://127.0.0.1:1/1/persons"
STAGE = store.stage_schema_name(SOURCE, "main.persons")


def _stage(path: Path, rows: list[tuple], extra: str = "") -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGE}")
        con.execute(
            f"CREATE TABLE {STAGE}.persons (id VARCHAR PRIMARY KEY, name VARCHAR, "
            f"last_seen_at TIMESTAMP{extra})"
        )
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {STAGE}.persons VALUES ({marks})", rows)


def _plan(strategy: str = "merge", **kw) -> load.ApplyPlan:
    base = {
        "stage_schema": STAGE,
        "stage_table": "persons",
        "dest": DestTable("main", "persons"),
        "strategy": strategy,
        "primary_key": ("id",),
        "skip_existing_ids": False,
        "source_key": SOURCE,
        "incremental_key": "last_seen_at",
    }
    base.update(kw)
    return load.ApplyPlan(**base)


def _rows(path: Path, table: str = "main.persons") -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT id, name FROM {table} ORDER BY id").fetchall()


def _schemas(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}


T1 = datetime(2026, 1, 1)
T2 = datetime(2026, 1, 2)
T3 = datetime(2026, 1, 3)


def test_merge_upserts_and_saves_state(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1), ("b", "B", T2)])
    assert load.apply(db, _plan(new_state={"bookmarks": {"x": 1}})) == 2
    assert STAGE not in _schemas(db)
    _stage(db, [("b", "B2", T3), ("c", "C", T3)])
    assert load.apply(db, _plan(new_state={"bookmarks": {"x": 2}})) == 2
    assert _rows(db) == [("a", "A"), ("b", "B2"), ("c", "C")]
    with duckdb.connect(str(db)) as con:
        assert store.read_state(con, SOURCE, "main.persons") == {"bookmarks": {"x": 2}}
        assert store.read_state(con, SOURCE, "main.other") is None


def test_append_immutable_skips_known_ids(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1), ("b", "B", T2)])
    load.apply(db, _plan("append", skip_existing_ids=True))
    _stage(db, [("b", "B", T2), ("c", "C", T3)])
    assert load.apply(db, _plan("append", skip_existing_ids=True)) == 1
    assert _rows(db) == [("a", "A"), ("b", "B"), ("c", "C")]


def test_append_mutable_inserts_all(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1)])
    load.apply(db, _plan("append"))
    _stage(db, [("a", "A2", T2)])
    assert load.apply(db, _plan("append")) == 1
    assert _rows(db) == [("a", "A"), ("a", "A2")]


def test_replace_swaps_table_and_adds_columns(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1), ("b", "B", T2)])
    load.apply(db, _plan(dest=DestTable("s1", "p")))
    _stage(db, [("z", "Z", T3, 5)], extra=", score INTEGER")
    assert load.apply(db, _plan("replace", dest=DestTable("s1", "p"))) == 1
    assert _rows(db, "s1.p") == [("z", "Z")]
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name='s1'")
        assert [r[0] for r in tables.fetchall()] == ["p"]


def test_new_columns_are_added_on_merge(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1)])
    load.apply(db, _plan())
    _stage(db, [("b", "B", T2, 7)], extra=", score INTEGER")
    load.apply(db, _plan())
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute("SELECT id, score FROM main.persons ORDER BY id").fetchall()
    assert got == [("a", None), ("b", 7)]


def test_interval_filter_is_half_open_and_drops_nulls(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1), ("b", "B", T2), ("c", "C", T3), ("n", "N", None)])
    window = Interval(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    assert load.apply(db, _plan(interval=window)) == 1
    assert _rows(db) == [("b", "B")]


def test_failed_apply_leaves_table_and_state(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1)])
    load.apply(db, _plan(new_state={"v": 1}))
    _stage(db, [("b", "B", T2)])
    with pytest.raises(RunError, match="primary key"):
        load.apply(db, _plan(primary_key=("nope",), new_state={"v": 2}))
    assert _rows(db) == [("a", "A")]
    with duckdb.connect(str(db)) as con:
        assert store.read_state(con, SOURCE, "main.persons") == {"v": 1}


def test_replace_failing_after_swap_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "d.duckdb"
    _stage(db, [("a", "A", T1)])
    load.apply(db, _plan(new_state={"v": 1}))
    _stage(db, [("b", "B", T2)])

    def boom(*_args):  # runs after DROP old + RENAME new, before COMMIT
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(store, "write_state", boom)
    with pytest.raises(RunError, match="disk full"):
        load.apply(db, _plan("replace", new_state={"v": 2}))
    monkeypatch.undo()
    assert _rows(db) == [("a", "A")]
    with duckdb.connect(str(db)) as con:
        assert store.read_state(con, SOURCE, "main.persons") == {"v": 1}
        names = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name='main'")
        assert [r[0] for r in names.fetchall()] == ["persons"]


def test_prepare_drops_leftover_stage_and_creates_its_own(tmp_path: Path) -> None:
    """Under the destination lock every other staging schema is a dead run's."""
    db = tmp_path / "sub" / "dir" / "d.duckdb"
    db.parent.mkdir(parents=True)
    _stage(db, [("a", "A", T1)])
    mine = store.stage_schema_name(SOURCE, "main.persons")
    assert mine != STAGE
    assert mine.startswith(store.stage_prefix(SOURCE, "MAIN.Persons"))
    assert store.prepare(db, SOURCE, DestTable("main", "persons"), mine) is None
    assert STAGE not in _schemas(db)
    assert mine in _schemas(db)


def test_missing_parent_folder_is_created(tmp_path: Path) -> None:
    db = tmp_path / "x" / "y" / "d.duckdb"
    assert store.prepare(db, SOURCE, DestTable("main", "t"), STAGE) is None
    assert db.exists()


def test_file_named_like_schema_is_unambiguous(tmp_path: Path) -> None:
    db = tmp_path / "posthog.duckdb"
    _stage(db, [("a", "A", T1)])
    load.apply(db, _plan(dest=DestTable("posthog", "persons")))
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute('SELECT id FROM "posthog"."posthog"."persons"').fetchall()
    assert got == [("a",)]


def _stage_unkeyed(path: Path, rows: list[tuple]) -> None:
    """A staging table as the target now writes it: no key, every record one row, in order."""
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGE}")
        con.execute(
            f"CREATE TABLE {STAGE}.persons (id VARCHAR, name VARCHAR, last_seen_at TIMESTAMP)"
        )
        for row in rows:  # one INSERT per row: rowid follows the order read
            con.execute(f"INSERT INTO {STAGE}.persons VALUES (?, ?, ?)", row)


def test_staged_rows_must_be_the_records_relayed(tmp_path: Path) -> None:
    """Fewer (or more) staged rows than records relayed: nothing applied, bookmark kept."""
    db = tmp_path / "d.duckdb"
    _stage_unkeyed(db, [("a", "A", T1)])
    load.apply(db, _plan(new_state={"v": 1}, expected_rows=1))
    for staged, relayed in ((1, 2), (2, 1)):
        _stage_unkeyed(db, [("b", "B", T2), ("c", "C", T3)][:staged])
        with pytest.raises(RunError, match=f"the target staged {staged} of the {relayed} rows"):
            load.apply(db, _plan(new_state={"v": 2}, expected_rows=relayed))
        assert _rows(db) == [("a", "A")]
        with duckdb.connect(str(db)) as con:
            assert store.read_state(con, SOURCE, "main.persons") == {"v": 1}
            con.execute(f"DROP SCHEMA {STAGE} CASCADE")


def test_repeats_of_the_taps_key_keep_the_last_row_read(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage_unkeyed(db, [("a", "A1", T1), ("b", "B", T1), ("a", "A2", T2), ("a", "A3", T3)])
    assert load.apply(db, _plan(expected_rows=4)) == 2
    assert _rows(db) == [("a", "A3"), ("b", "B")]


@pytest.mark.parametrize(("strategy", "skip"), [("merge", False), ("append", True)])
def test_non_unique_override_key_fails_where_the_key_is_used(
    tmp_path: Path, strategy: str, skip: bool
) -> None:
    db = tmp_path / "d.duckdb"
    _stage_unkeyed(db, [("a", "same", T1), ("b", "same", T2), ("c", "other", T3)])
    plan = _plan(strategy, primary_key=("name",), key_overridden=True, skip_existing_ids=skip,
                 new_state={"v": 1})  # fmt: skip
    with pytest.raises(RunError, match="--primary-key name is not unique in the data read: 1 key"):
        load.apply(db, plan)
    with duckdb.connect(str(db)) as con:
        assert store.read_state(con, SOURCE, "main.persons") is None
    assert "persons" not in {r[0] for r in _tables(db)}


def test_append_and_replace_keep_every_row_of_a_non_unique_key(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    for strategy in ("append", "replace"):
        _stage_unkeyed(db, [("a", "same", T1), ("b", "same", T2)])
        load.apply(db, _plan(strategy, primary_key=("name",), key_overridden=True))
        assert _rows(db) == [("a", "same"), ("b", "same")]


def _tables(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        sql = "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        return con.execute(sql).fetchall()


def test_state_key_ignores_the_case_of_the_dest_table(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _stage_unkeyed(db, [("a", "A", T1)])
    load.apply(db, _plan(dest=DestTable("Main", "Persons"), new_state={"v": 1}))
    with duckdb.connect(str(db)) as con:
        assert store.read_state(con, SOURCE, "main.persons") == {"v": 1}
        assert con.execute("SELECT dest_table FROM _omniload.state").fetchall() == [
            ("main.persons",)
        ]

"""The admission's decisions the writer completes (``Pending``): whether an id is new
and its source's count of new ids, in the transaction that stores its report."""

from __future__ import annotations

import pytest
from testkit import count_rows, new_id, open_test_store, uuids

from tracking_collector.store import BatchWriter, Pending, Report, Stored

BURST = "source_burst"


def pending(token: str, budget: int = 1, **reasons) -> Pending:
    return Pending(
        day="2026-11-29",
        source="cohort-a",
        token=token,
        budget=budget,
        if_known=reasons.get("if_known"),
        if_new=reasons.get("if_new"),
        if_burst=BURST,
    )


def report(instance: str, decision: Pending, **fields) -> Report:
    return Report(instance, "startup", 1.0, cohort="cohort-a", fields=fields,
                  pending=decision)  # fmt: skip


@pytest.fixture
def writer(db):
    store = open_test_store(db)
    writer = BatchWriter(store)
    yield writer
    writer.close()
    store.close()


def test_new_ids_of_a_source_are_counted_and_past_its_budget_held(writer):
    first, second = new_id(), new_id()
    assert writer.add(report(first, pending("t1"))).result(10) == Stored(None, True, 1)
    assert writer.add(report(second, pending("t2"))).result(10) == Stored(BURST, True, 2)
    assert uuids(writer.store, held=True) == [second]


def test_a_known_instance_uses_no_budget_and_gets_its_known_reason(writer):
    known = new_id()
    writer.add(report(known, pending("t1"))).result(10)
    again = report(known, pending("t1", budget=0, if_known="implausible:x"))
    assert writer.add(again).result(10) == Stored("implausible:x", False, 0)
    assert count_rows(writer.store, "source_new") == 1


def test_a_new_id_is_noted_only_with_its_report_all_or_nothing(writer):
    # A report the store cannot take (a field value that is not text) is refused,
    # and its new id does not use its source's budget.
    refused = report(new_id(), pending("t1"), x=b"not text")
    with pytest.raises(TypeError):
        writer.add(refused).result(10)
    assert count_rows(writer.store, "source_new") == 0
    assert writer.add(report(new_id(), pending("t2"))).result(10) == Stored(None, True, 1)


def test_reports_of_one_new_instance_in_one_batch_count_it_once(db):
    store = open_test_store(db)
    instance = new_id()
    stored = store.add_many([report(instance, pending("t1"))] * 3)
    assert stored == [Stored(None, True, 1)] * 3
    assert count_rows(store, "source_new") == 1
    store.close()


def test_a_sources_new_ids_are_counted_only_just_past_its_budget(db):
    store = open_test_store(db)
    ids = [new_id() for _ in range(6)]
    stored = [store.add_many([report(i, pending(f"t{n}", budget=2))])[0]
              for n, i in enumerate(ids)]  # fmt: skip
    assert [s.created for s in stored] == [1, 2, 3, 3, 3, 3]
    assert [s.held for s in stored] == [None, None, BURST, BURST, BURST, BURST]
    assert count_rows(store, "source_new") == 6
    store.close()


def test_the_writer_tells_which_decided_reports_created_their_instance(writer):
    # A decided report (no Pending: its process knew the id) whose instance row
    # the batch created: the instance was forgotten meanwhile (by another process).
    known, other = new_id(), new_id()
    decided = Report(known, "ping", 1.0, cohort="cohort-a")
    first = writer.add(decided)
    also = writer.add(Report(other, "ping", 1.0, cohort="cohort-a"))
    assert first.result(10).new and also.result(10).new
    assert writer.add(decided).result(10) == Stored(None, False, 0)
    writer.forget(known).result(10)
    assert writer.add(decided).result(10) == Stored(None, True, 0)


def test_completing_a_recreated_instance_counts_its_budget_and_holds_it(writer):
    writer.add(report(new_id(), pending("t1"))).result(10)
    returned = new_id()
    writer.add(Report(returned, "ping", 1.0, cohort="cohort-a")).result(10)
    # Completed as a new id of its source: the second of a budget of 1.
    completed = writer.complete(returned, pending("t2")).result(10)
    assert completed == Stored(BURST, True, 2)
    assert writer.store.instance(returned).held == BURST
    assert count_rows(writer.store, "source_new") == 2


@pytest.mark.parametrize("backend", ["postgresql"])
def test_one_batch_counts_every_sources_new_ids_in_one_statement(db, monkeypatch):
    # Each statement inside the batch's transaction is a round trip of its
    # pipeline: the sources' counts are one, however many sources.
    from tracking_collector.store import postgres

    store = open_test_store(db)
    store.add_many([report(new_id(), pending("t0"))])  # cohort-a: 1 so far
    counts = []
    rows = postgres._PgCursor.rows

    def counted(self, sql, args=()):
        if "source_new" in sql and "count(" in sql.lower():
            counts.append(sql)
        return rows(self, sql, args)

    monkeypatch.setattr(postgres._PgCursor, "rows", counted)

    def of(source: str, token: str, day: str = "2026-11-29") -> Report:
        decision = pending(token)._replace(source=source, day=day)
        return Report(new_id(), "ping", 1.0, cohort=source, pending=decision)

    batch = [of("cohort-a", "t1"), of("cohort-b", "t2"), of("cohort-c", "t3"),
             of("cohort-c", "t4"), of("cohort-a", "t5", day="2026-11-30")]  # fmt: skip
    stored = store.add_many(batch)
    assert len(counts) == 1
    assert [s.created for s in stored] == [2, 1, 2, 2, 1]
    assert [s.held for s in stored] == [BURST, None, BURST, BURST, None]
    store.close()

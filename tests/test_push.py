"""ChunkPusher's reconciliation rule, against the emulator over HTTP."""

from __future__ import annotations

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.retry import RetryPolicy
from importer.emulator.server import EmulatorServer
from importer.push import ChunkPusher, Planned
from tests.phone_samples import e164, valid_mobiles


def planned_rows(run: str, count: int) -> list[Planned]:
    rows = []
    for seq, local in enumerate(valid_mobiles(count)):
        ref = f"{run}-{seq}"
        target = CallTarget(target=e164(local)[1:], custom_data={"var_ImportRef": ref})
        rows.append(Planned(seq, e164(local), target, ref))
    return rows


def pusher_for(server: EmulatorServer) -> tuple[DialerClient, ChunkPusher, str]:
    client = DialerClient(Settings(api_url=server.base_url, account_code="demo"))
    code = server.demo.campaigns["Hot leads"]
    policy = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02)
    return client, ChunkPusher(client, code, policy=policy, ref_key="var_ImportRef"), code


def test_a_request_that_never_arrived_is_resent(emulator: EmulatorServer) -> None:
    _client, pusher, _code = pusher_for(emulator)
    rows = planned_rows("r1", 3)
    assert pusher.reconcile_unknown(rows) == {0: False, 1: False, 2: False}


def test_a_processed_request_is_never_resent_even_if_a_number_was_dialled(
    emulator: EmulatorServer,
) -> None:
    client, pusher, code = pusher_for(emulator)
    rows = planned_rows("r2", 3)
    client.add_calls_bulk(code, [p.target for p in rows])  # the "unanswered" request
    client.remove_call(code, rows[1].target.target)  # the dialer already called this one
    assert pusher.reconcile_unknown(rows) == {0: True, 1: True, 2: True}
    outcomes: dict[int, object] = {}
    assert pusher._reconcile(rows, outcomes) == []
    assert "dialled" in outcomes[1].reason  # type: ignore[attr-defined]
    assert sorted(emulator.pending_phones(code)) == sorted(
        p.target.target for p in rows if p.seq != 1
    )


def test_the_reference_tells_our_row_from_the_same_number_pending_already(
    emulator: EmulatorServer,
) -> None:
    client, pusher, code = pusher_for(emulator)
    rows = planned_rows("r3", 1)
    client.add_call(code, CallTarget(target=rows[0].target.target))  # pending, another ref
    assert pusher.reconcile_unknown(rows) == {0: False}

"""What a pool worker sends back when its stage fails, and when a lost tracking server is said as one."""

from __future__ import annotations

import pickle

import pytest


def test_an_error_a_worker_cannot_send_back_is_sent_without_its_chain_or_as_its_type_and_message():
    """Prefect's process pool sends a failed stage's error back pickled with the errors it was raised during."""
    import cloudpickle
    import requests

    from cleargate.errors import ServiceError
    from flows.stage_task import portable_errors

    with open(__file__, "rb") as body:  # an upload cut short: the request's body is an open file
        lost = requests.ConnectionError("Connection aborted.", request=requests.Request("PUT", "http://x", data=body)
                                        .prepare())
        with pytest.raises(TypeError):
            pickle.dumps(lost)
        with pytest.raises(RuntimeError, match=r"requests.exceptions.ConnectionError: Connection aborted."), \
                portable_errors():
            raise lost
        with pytest.raises(ServiceError, match="server gone") as said, portable_errors():
            try:
                raise lost
            except requests.ConnectionError:
                raise ServiceError("server gone") from None
        assert said.value.__context__ is None and cloudpickle.loads(cloudpickle.dumps(said.value)).args == (
            "server gone",)
    with pytest.raises(ValueError, match="kept as it is"), portable_errors():
        raise ValueError("kept as it is")


def test_a_connection_lost_mid_call_is_told_as_the_server_gone_even_if_its_port_still_answers():
    import requests

    from cleargate.tracking.store import _connection_lost

    try:
        try:
            raise requests.ConnectionError("reset by peer")
        except requests.ConnectionError as exc:
            raise RuntimeError("MLflow's wrapper") from exc
    except RuntimeError as wrapped:
        assert _connection_lost(wrapped)
    assert not _connection_lost(ValueError("a bug, not the server"))

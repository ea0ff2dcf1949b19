"""`vaern worker` outside a queue set-up says what to configure instead of waiting for nothing.
(The worker at work: tests/test_cluster.py.)"""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner

from vaern.cli import main
from vaern.config import Config
from vaern.worker import default_name


def test_a_worker_with_the_local_queue_says_how_to_set_up_the_postgres_queue(
    make_config: Callable[..., Config],
) -> None:
    config = make_config()
    result = CliRunner().invoke(main, ["-c", str(config.source), "worker"])
    assert result.exit_code == 2
    assert "set `queue: postgres`" in result.stderr


def test_a_worker_is_named_after_its_machine_and_process() -> None:
    import os
    import socket

    assert default_name() == f"{socket.gethostname()}-{os.getpid()}"

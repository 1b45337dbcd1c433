"""Stopping a waitress server that serves in a thread of its own (the collector's ingest, the testbed's APIs).

Not part of the spine: it imports waitress, which only the HTTP-serving parts load.
"""

from __future__ import annotations

import threading
from typing import Any

from waitress import wasyncore


def stop_waitress(server: Any, thread: threading.Thread | None, *, timeout: float = 10) -> None:
    """Close the listening socket and every connection in the loop's own thread, then the workers.

    waitress queues the close under its trigger's lock but writes the wake-up byte after releasing it:
    a request worker's own pull (a response just sent) can wake the loop first, which then runs the
    close, the trigger's pipe included, and our write finds the pipe closed (EBADF). That is the
    close having happened, not a failure.
    """
    if thread is not None and thread.is_alive():
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            if server._map:
                raise
        thread.join(timeout)
    else:
        wasyncore.close_all(server._map)
    server.task_dispatcher.shutdown(timeout=5)

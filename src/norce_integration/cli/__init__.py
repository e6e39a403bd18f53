"""The ``norce-integration`` command line (click; rich for progress bars and tables).

::

    norce-integration demo                      the end-to-end demo on the embedded emulator
    norce-integration emulator                  serve a local Norce
    norce-integration import full|delta|plan    run a source adapter
    norce-integration jobs list|show|watch|rerun
    norce-integration events serve              webhook receiver and workers
    norce-integration events dead-letters list|replay
    norce-integration state show|reset-watermark
    norce-integration ops serve                 the operations console (needs [ops])
    norce-integration orders serve|list|replay  the Order Receiver and its journal

``main`` is the click group (the console script's entry point).
"""

from __future__ import annotations

# Importing the command modules registers their commands on ``main``.
from . import _demo_cmd as _demo_cmd
from . import _emulator_cmd as _emulator_cmd
from . import _events_cmd as _events_cmd
from . import _import_cmd as _import_cmd
from . import _jobs_cmd as _jobs_cmd
from . import _state_cmd as _state_cmd
from ._app import main
from ._ops_cmd import ops_group
from ._orders_cmd import orders_group


main.add_command(ops_group)
main.add_command(orders_group)


__all__ = ["main"]

"""The end-to-end demo behind ``norce-integration demo``: readable example code.

* :mod:`.catalogue`: the source side, three :class:`~norce_integration.patterns.SourceAdapter`
  subclasses reading an ERP's CSV export;
* :mod:`.target`: the target side, a :class:`~norce_integration.patterns.TargetAdapter`
  writing a search index as JSON Lines;
* :mod:`.story`: the wiring, from the first full import to the last Query lookup.
"""

from __future__ import annotations

from .story import DemoSummary, run_demo


__all__ = ["DemoSummary", "run_demo"]

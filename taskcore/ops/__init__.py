"""Operations: logging, health, ``taskcore info`` and Prometheus metrics.

A small package beside the engine. It subscribes to the engine's events and reads storage only
through :class:`~taskcore.queue.Queue` and :class:`~taskcore.backend.Backend`; the engine never
imports it. Import the submodules directly:

* :mod:`taskcore.ops.settings`: the ``worker_logging``/``scheduler_logging`` levels and the
  ``health`` thresholds of :class:`~taskcore.config.Settings`;
* :mod:`taskcore.ops.logs`: log lines for job outcomes, lifecycle and storage outages, and the
  CLI's text/JSON log configuration;
* :mod:`taskcore.ops.stats`: this process's job counters and durations (feeds the metrics);
* :mod:`taskcore.ops.health`: the ok/warn/fail verdict of ``app.health()`` and ``taskcore health``;
* :mod:`taskcore.ops.info`: what ``taskcore info`` shows;
* :mod:`taskcore.ops.metrics`: the Prometheus exposition (needs the ``metrics`` extra).

This file imports nothing, so :mod:`taskcore.config` can import the settings models without a
cycle.
"""

from __future__ import annotations

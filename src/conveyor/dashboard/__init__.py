"""The live dashboard at /_conveyor/ui: the pipeline drawn from the live resources, its queues, workers,
functions, alarms, recent uploads and log tail, updated over server-sent events, with actions."""

from conveyor.dashboard.board import Dashboard, Wiring
from conveyor.dashboard.trail import LogTee
from conveyor.dashboard.web import DashboardWeb

__all__ = ["Dashboard", "DashboardWeb", "LogTee", "Wiring"]

"""Conveyor: the upload-processing architecture on one machine, over the real AWS wire protocols."""

__version__ = "0.1.0"

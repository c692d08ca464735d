"""Makhzan: live, barcode-driven inventory wired into the point of sale."""

__version__ = "0.1.0"

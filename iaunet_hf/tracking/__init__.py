"""Tracking: IAUnet as the appearance model of multi-object trackers (boxmot's interfaces, no boxmot import)."""

from .encoder import IAUnetEncoder

__all__ = ["IAUnetEncoder"]

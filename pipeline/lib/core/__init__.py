"""Foundations every layer may use: the clock, HTTP, image decoding, the object store."""

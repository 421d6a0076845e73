"""Media types of Tessera's HTTP bodies, in a module of their own so that HTTP clients (a light
check, a sequencer's post) name them without importing the encoder and numpy."""

from __future__ import annotations

UPLOAD_MEDIA_TYPE = "application/vnd.tessera.encoded-blob"
"""The media type of a pre-encoded upload (`da.upload`, specs/das-core.md, Pre-encoded uploads)."""

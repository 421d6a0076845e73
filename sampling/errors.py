"""Typed errors of the light client: one root (`SamplingError`); the drivers' errors
(`sampling.client.errors`) subclass it too."""

from __future__ import annotations


class SamplingError(Exception):
    """Root of every error raised by `sampling/`."""


class InvalidSamplingParameter(SamplingError):
    """Raised when a sampling parameter is out of its range (a target confidence not strictly
    between 0 and 1, served columns that cannot rebuild a row, a capacity below 1); `name` is the
    parameter, `value` what was given, `reason` the rule it broke."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason

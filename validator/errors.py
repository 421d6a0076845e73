"""Typed errors of the validator layer: one root (`ValidatorError`), one subclass per failure.

No message here ever carries a secret key or a password: errors name the field, the file or the kind
of key material that was wrong, never its value.
"""

from __future__ import annotations


class ValidatorError(Exception):
    """Root of every error raised by `validator/`.

    Errors may cross process boundaries, so subclasses that take their own constructor arguments
    record them in `_reduce_args` for pickling.
    """

    _reduce_args: tuple[object, ...] | None = None

    def __reduce__(self) -> tuple[type[ValidatorError], tuple[object, ...]]:
        return (type(self), self._reduce_args if self._reduce_args is not None else self.args)


class InvalidKeyMaterial(ValidatorError):
    """Raised when a value does not decode to BLS key material: not bytes, wrong length, not a curve
    point in the subgroup, a secret of zero or not below the curve order, an empty aggregate.

    `kind` names what was expected ("pubkey", "signature", "secret key", "seed", ...); the message
    never quotes the offending value.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind}: {reason}")
        self._reduce_args = (kind, reason)
        self.kind = kind
        self.reason = reason


class InvalidKeystore(ValidatorError):
    """Raised when a keystore is malformed or unsupported (bad JSON, missing or mistyped field,
    unknown kdf/checksum/cipher, wrong version, out-of-range parameters); names the field.

    `path` is the file the keystore came from, when there was one.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        where = f" {path}" if path is not None else ""
        super().__init__(f"invalid keystore{where}: {reason}")
        self._reduce_args = (reason, path)
        self.reason = reason
        self.path = path


class WrongPassword(ValidatorError):
    """Raised when a keystore's checksum does not match: the password is wrong or the ciphertext
    was altered (EIP-2335 cannot tell the two apart)."""

    def __init__(self, keystore_uuid: str | None = None) -> None:
        which = f" {keystore_uuid}" if keystore_uuid else ""
        super().__init__(f"keystore{which}: checksum mismatch (wrong password or corrupted ciphertext)")
        self._reduce_args = (keystore_uuid,)
        self.keystore_uuid = keystore_uuid


class KeystoreNotFound(ValidatorError):
    """Raised when a keystore file to read does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(f"keystore file not found: {path}")
        self._reduce_args = (path,)
        self.path = path


class KeystoreExists(ValidatorError):
    """Raised when writing a keystore would replace an existing file and `overwrite` was not given."""

    def __init__(self, path: str) -> None:
        super().__init__(f"refusing to overwrite existing keystore file: {path}")
        self._reduce_args = (path,)
        self.path = path


class PasswordUnavailable(ValidatorError):
    """Raised when no keystore password can be obtained: a configured password file is missing or
    unreadable, nothing is configured and there is no TTY to prompt on, or prompted entries differ."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"keystore password unavailable: {reason}")
        self._reduce_args = (reason,)
        self.reason = reason


class InvalidPreset(ValidatorError):
    """Raised when a preset parameter is out of range or a preset name is unknown; names the field."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid preset {field}={value!r}: {reason}")
        self._reduce_args = (field, value, reason)
        self.field = field
        self.value = value
        self.reason = reason


class InvalidCoreConfig(ValidatorError):
    """Raised when a `CoreConfig` timeout, backoff or count is out of range; names the field."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid core config {field}={value!r}: {reason}")
        self._reduce_args = (field, value, reason)
        self.field = field
        self.value = value
        self.reason = reason


class MalformedCertificate(ValidatorError):
    """Raised when certificate bytes do not decode (length, offset, bitlist delimiter, limits)."""


class MalformedVote(ValidatorError):
    """Raised when an attestation or ballot from the wire does not decode."""


class RegistryError(ValidatorError):
    """Raised when the registry refuses a change or cannot be read; says which record and why."""


class UnknownValidator(RegistryError):
    """Raised when a registry operation names a validator that is not registered."""

    def __init__(self, validator: int) -> None:
        super().__init__(f"validator {validator} is not registered")
        self._reduce_args = (validator,)
        self.validator = validator


class UnknownEpoch(RegistryError):
    """Raised when the registry has no seed for the epoch asked about."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"the registry has no seed for epoch {epoch}")
        self._reduce_args = (epoch,)
        self.epoch = epoch


class RegistryUnavailable(RegistryError):
    """Raised when a registry read fails in a way the port does not type (a backend's own exception,
    e.g. an HTTP 503 from an RPC): the daemon treats it as the registry not answering, for now."""


class ApiFailure(ValidatorError):
    """Raised when a validator's HTTP API answers with an error or cannot be reached; `code` is the
    API's JSON error code (`not_found`, `service_unavailable`, `too_many_requests`, ...) or
    `unreachable` / `http_error` / `invalid_answer`; `retry_after` the seconds the node asked to wait,
    if it did; `details` the error object's other fields (a code's own fields, such as a payment
    refusal's `held` or `covered`), as the node sent them."""

    def __init__(
        self,
        code: str,
        message: str,
        retry_after: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self._reduce_args = (code, message, retry_after, details)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.details: dict[str, object] = dict(details or {})


class NodeBusy(ValidatorError):
    """Raised when a node's encode-and-disperse queue is full, or the posting account holds its fair
    `share` of it (when given): the blob was not taken; post it again after `retry_after` seconds
    (HTTP 429 with Retry-After)."""

    def __init__(self, queued: int, retry_after: int, share: int | None = None) -> None:
        if share is None:
            message = f"{queued} blobs are queued for encoding and dispersal; retry in {retry_after} s"
        else:
            message = (
                f"this account holds its fair share ({share}) of the {queued} blobs queued here; "
                f"retry in {retry_after} s"
            )
        super().__init__(message)
        self._reduce_args = (queued, retry_after, share)
        self.queued = queued
        self.retry_after = retry_after
        self.share = share


class InsufficientStorage(ValidatorError):
    """Raised when this node will not take data for lack of disk: free space is below its threshold,
    or a write just failed because the disk (or the process's file-size limit) is full (HTTP 507;
    custody pushes are refused). `free_bytes` is None when the cause was a failed write."""

    def __init__(self, free_bytes: int | None, min_free_bytes: int, detail: str) -> None:
        super().__init__(f"insufficient storage: {detail}")
        self._reduce_args = (free_bytes, min_free_bytes, detail)
        self.free_bytes = free_bytes
        self.min_free_bytes = min_free_bytes
        self.detail = detail


class BlobExpired(ValidatorError):
    """Raised when a blob's data was pruned: its epoch left the availability window (HTTP 410 with
    when it expired). `expired_at` is unix seconds."""

    def __init__(self, data_root_hex: str, epoch: int, expired_at: float) -> None:
        super().__init__(f"blob {data_root_hex} of epoch {epoch} expired (pruned at {expired_at:.0f})")
        self._reduce_args = (data_root_hex, epoch, expired_at)
        self.data_root_hex = data_root_hex
        self.epoch = epoch
        self.expired_at = expired_at


class RetrievalBusy(ValidatorError):
    """Raised when a node already rebuilds as many blobs as it allows at once and the one asked for
    is not among them: ask again after `retry_after` seconds (HTTP 429 with Retry-After)."""

    def __init__(self, running: int, retry_after: int) -> None:
        super().__init__(f"{running} blobs are being rebuilt; retry in {retry_after} s")
        self._reduce_args = (running, retry_after)
        self.running = running
        self.retry_after = retry_after


class DevnetError(ValidatorError):
    """Raised when a local devnet cannot be created, started or reached; the message says what to do."""


class CoreDidNotSettle(ValidatorError):
    """Raised when the inputs a validator core causes on itself do not settle within a step bound
    (a bug in the core: local follow-ups must end)."""

    def __init__(self, validator: int, max_steps: int) -> None:
        super().__init__(f"validator {validator}: local inputs did not settle within {max_steps} steps")
        self._reduce_args = (validator, max_steps)
        self.validator = validator
        self.max_steps = max_steps


class StoreOfAnotherProtocol(ValidatorError):
    """Raised when a node's store file was written under another header Merkle tree (`stored`: the
    `MAX_ROWS_PER_BLOB` it recorded, None when it recorded none) than this build's (`expected`): its
    data roots are another protocol's. The file is left unchanged; the node starts only with a new data
    dir (move the old one aside)."""

    def __init__(self, path: str, stored: str | None, expected: int) -> None:
        had = "no header tree shape" if stored is None else f"MAX_ROWS_PER_BLOB = {stored}"
        super().__init__(
            f"the node store {path} was written by another protocol version ({had}; this build has "
            f"MAX_ROWS_PER_BLOB = {expected}): its data roots are not this protocol's. Start with a new "
            f"data_dir, or move the old one aside; the file was not changed"
        )
        self._reduce_args = (path, stored, expected)
        self.path = path
        self.stored = stored
        self.expected = expected

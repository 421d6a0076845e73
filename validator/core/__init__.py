"""The validator protocol core: a deterministic state machine the daemon and `fuzz/` both drive."""

from validator.core.inputs import (
    AttestationReceived,
    BlobDispersing,
    CustodyReceived,
    CustodyStored,
    EpochContextKnown,
    Input,
    SamplesReceived,
    Tick,
)
from validator.core.machine import CoreConfig, ValidatorCore
from validator.core.outputs import (
    AttestationCounted,
    AttestationRejected,
    Attested,
    CertificateFormed,
    CustodyRejected,
    DutyFailed,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SampleRejected,
    SendAttestation,
    StoreCustody,
)

__all__ = [
    "AttestationCounted",
    "AttestationReceived",
    "AttestationRejected",
    "Attested",
    "BlobDispersing",
    "CertificateFormed",
    "CoreConfig",
    "CustodyReceived",
    "CustodyRejected",
    "CustodyStored",
    "DutyFailed",
    "EpochContextKnown",
    "Input",
    "Output",
    "PublishCertificate",
    "PushCustody",
    "RequestSamples",
    "SampleRejected",
    "SamplesReceived",
    "SendAttestation",
    "StoreCustody",
    "Tick",
    "ValidatorCore",
]

"""The consensus fuzzer: a Hypothesis state machine over real validator cores and a hostile world.

In-flight messages are a Hypothesis `Bundle`: each step the fuzzer delivers one (in any order),
duplicates one (delivers without consuming), drops one, lets time pass, partitions a node, or has
a Byzantine validator send a forged or misdirected attestation. After every step the safety
invariants of specs/consensus.md (S1-S6) are checked; at the end, when the network delivered and
the disperser was honest, liveness (L1) is checked: the network heals and every message in flight is
delivered within a sample timeout until a certificate forms (bounded).
"""

from __future__ import annotations

import dataclasses

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from da.constants import CELLS_PER_ROW
from da.types import ColumnIndex, DataRoot, RowIndex
from fuzz.byzantine import DisperserPolicy, NodeBehaviour
from fuzz.invariants import STATS, check_safety, record_event
from fuzz.sim import Envelope, SimNetwork, corrupt_sample
from fuzz.world import get_blobs, get_keys, get_kzg
from validator.core import (
    MAX_CUSTODY_CELLS_PER_PUSH,
    BlobDispersing,
    CoreConfig,
    CustodyReceived,
    DutyFailed,
    StoreCustody,
    ValidatorCore,
)
from validator.custody import compute_member_custody
from validator.keys import compute_proof_of_possession
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.types import Epoch, EpochContext, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_ballot, compute_genesis_seed, compute_next_seed

CHAIN_ID = 7
PRESET = DEVNET
SAMPLE_TIMEOUT_S = 2.0
CORE_CONFIG = CoreConfig(sample_timeout_s=SAMPLE_TIMEOUT_S, custody_timeout_s=30.0)
LAST_REPUSH_S = CORE_CONFIG.repush_after_s * 2 ** (CORE_CONFIG.custody_repushes - 1)
"""L1 assumes the network heals (GST) no later than the aggregator's last custody re-push."""
DRAIN_SECONDS = 480.0
"""Simulated time the final drain may take: past every backoff, resume and custody re-push of the
core's default `CoreConfig` (re-pushes at 45, 90 and 180 s; duties resume after 30, 60, 120 s)."""
ADVERSARIAL = [b for b in NodeBehaviour if b is not NodeBehaviour.HONEST]
CHUNK_LIMITS = (1, 70, MAX_CUSTODY_CELLS_PER_PUSH)
"""`max_custody_cells_per_push` of a run: one row a push; two rows of a one-slot member's 32 columns
and one row of a wider member's; the default (a devnet member's whole custody in one push)."""
BLOB_ORDER = (1, 0)
BYZANTINE_PUSHES = (
    "partial-row",
    "duplicate-cell",
    "foreign-column",
    "row-beyond",
    "corrupt-cell",
    "one-row-only",
    "other-epoch",
)


def build_context(epoch: int, seed: Seed, slots: list[int], outsider: int) -> EpochContext:
    """An epoch context: validator i has slots[i] slots; `outsider` has stake but no slot."""
    keys = get_keys()
    stakes = [count * PRESET.STAKE_PER_SLOT for count in slots] + [PRESET.STAKE_PER_SLOT // 2]
    records = tuple(
        ValidatorRecord(
            ValidatorIndex(i), keys[i].pubkey, compute_proof_of_possession(keys[i]), stake, "", ()
        )
        for i, stake in enumerate(stakes)
        if stake > 0
    )
    ballots = tuple(
        compute_ballot(keys[r.index], r.index, CHAIN_ID, Epoch(epoch), seed)
        for r in records
        if r.index != outsider
    )
    return EpochContext(CHAIN_ID, Epoch(epoch), seed, records, ballots)


class ConsensusMachine(RuleBasedStateMachine):
    """One blob, N validators (some Byzantine), an aggregator, a possibly hostile disperser."""

    messages = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        STATS.machines += 1
        self.world: SimNetwork | None = None
        self.inflight: dict[int, Envelope] = {}
        self.lossy = False
        self.hostile_network = False
        self.partitioned: set[ValidatorIndex] = set()

    # --- setup ---------------------------------------------------------------------------------------

    @initialize(target=messages, data=st.data())
    def setup(self, data: st.DataObject) -> object:
        count = data.draw(st.integers(4, 10), label="validators")
        slots_0 = data.draw(
            st.lists(st.integers(0, 2), min_size=count, max_size=count), label="slots epoch 0"
        )
        change = data.draw(st.lists(st.integers(-1, 1), min_size=count, max_size=count), label="stake change")
        slots_1 = [max(0, s + c) for s, c in zip(slots_0, change, strict=True)]
        slots_0[0], slots_1[0] = max(slots_0[0], 1), max(slots_1[0], 1)  # some stake in both epochs
        outsider = count
        seed_0 = compute_genesis_seed(CHAIN_ID, data.draw(st.binary(min_size=1, max_size=4), label="entropy"))
        context_0 = build_context(0, seed_0, slots_0, outsider)
        seed_1 = compute_next_seed(seed_0, Epoch(0), context_0.ballots)
        contexts = {0: context_0, 1: build_context(1, seed_1, slots_1, outsider)}
        epoch = data.draw(st.sampled_from([0, 1]), label="blob epoch")
        quorums = compute_quorums(contexts[epoch], PRESET, verify_ballots=False)
        quorum = quorums[data.draw(st.integers(0, len(quorums) - 1), label="quorum")]
        behaviours = self._draw_behaviours(data, count, quorum)
        behaviours[ValidatorIndex(outsider)] = NodeBehaviour.SIGN_ANYTHING
        honest = [v for v, b in behaviours.items() if b is NodeBehaviour.HONEST]
        aggregator = data.draw(st.sampled_from(honest), label="aggregator")
        disperser = self._draw_disperser(data, quorum)
        self.hostile_network = data.draw(st.booleans(), label="hostile network")
        # The three-row blob first (the one chunked pushes need), the one-row blob second.
        blob = get_blobs()[data.draw(st.sampled_from(BLOB_ORDER), label="blob")]
        limit = data.draw(st.sampled_from(CHUNK_LIMITS), label="max custody cells per push")
        config = dataclasses.replace(CORE_CONFIG, max_custody_cells_per_push=limit)
        keys = get_keys()
        cores = {
            ValidatorIndex(i): ValidatorCore(
                ValidatorIndex(i),
                keys[i],
                PRESET,
                get_kzg(),
                nonce=b"fuzz-%d" % i,
                config=config,
            )
            for i in range(count + 1)
        }
        self.world = SimNetwork(
            preset=PRESET,
            keys=keys,
            contexts=contexts,
            blobs={blob.data_root: blob},
            cores=cores,
            behaviours=behaviours,
            disperser=disperser,
        )
        self.world.start()
        self.quorum = quorum
        self.aggregator = aggregator
        self.data_root = blob.data_root
        self.epoch = epoch
        note(f"quorum {quorum.index} of epoch {epoch}: {len(quorum.slots)} slots, members {quorum.members}")
        note(f"behaviours { ({int(k): v.value for k, v in behaviours.items()}) }; disperser {disperser}")
        record_event(f"quorum slots: {len(quorum.slots)}")
        record_event(f"disperser honest: {disperser.honest}")
        record_event(f"network hostile: {self.hostile_network}")
        record_event(f"blob rows: {blob.header.row_count}, max custody cells per push: {limit}")
        first = self.world.step_core(aggregator, BlobDispersing(blob.header, Epoch(epoch), quorum.index))
        return self._send(first)

    def _draw_behaviours(
        self, data: st.DataObject, count: int, quorum: object
    ) -> dict[ValidatorIndex, NodeBehaviour]:
        """Adversaries hold at most floor(Q/3) of the blob quorum's slots (the model of specs/)."""
        slots_of = {m: len(quorum.slots_of(m)) for m in quorum.members}  # type: ignore[attr-defined]
        budget = len(quorum.slots) // 3  # type: ignore[attr-defined]
        behaviours: dict[ValidatorIndex, NodeBehaviour] = {}
        for index in range(count):
            node = ValidatorIndex(index)
            behaviour = data.draw(
                st.sampled_from(ADVERSARIAL)
                if data.draw(st.booleans(), label=f"byzantine {index}")
                else st.just(NodeBehaviour.HONEST),
                label=f"behaviour {index}",
            )
            weight = slots_of.get(node, 0)
            if behaviour is not NodeBehaviour.HONEST and weight > budget:
                behaviour = NodeBehaviour.HONEST
            budget -= weight if behaviour is not NodeBehaviour.HONEST else 0
            behaviours[node] = behaviour
        if not any(b is NodeBehaviour.HONEST for b in behaviours.values()):
            behaviours[ValidatorIndex(0)] = NodeBehaviour.HONEST
        return behaviours

    def _draw_disperser(self, data: st.DataObject, quorum: object) -> DisperserPolicy:
        if not data.draw(st.booleans(), label="hostile disperser"):
            return DisperserPolicy()
        members = list(quorum.members)  # type: ignore[attr-defined]
        return DisperserPolicy(
            skip=frozenset(
                data.draw(st.lists(st.sampled_from(members), max_size=len(members)), label="skip")
            ),
            withheld=frozenset(
                ColumnIndex(c)
                for c in data.draw(st.lists(st.integers(0, CELLS_PER_ROW - 1), max_size=8), label="withheld")
            ),
            corrupt=frozenset(data.draw(st.lists(st.sampled_from(members), max_size=2), label="corrupt")),
        )

    # --- the network ---------------------------------------------------------------------------------

    def _send(self, envelopes: list[Envelope]) -> object:
        for envelope in envelopes:
            self.inflight[envelope.ident] = envelope
        return multiple(*envelopes)

    def _deliver(self, envelope: Envelope) -> list[Envelope]:
        assert self.world is not None
        if envelope.dest in self.partitioned:
            record_event("delivery: lost in partition")
            self.lossy = True
            return []
        record_event(f"delivery: {type(envelope.payload).__name__}")
        payload = envelope.payload
        if isinstance(payload, CustodyReceived):
            rows = {sample.row for sample in payload.samples}
            whole = len(rows) == payload.header.row_count
            record_event("custody push: every row" if whole else "custody push: a chunk of some rows")
        return self.world.deliver(envelope)

    @precondition(lambda self: self.world is not None)
    @rule(target=messages, envelope=consumes(messages))
    def deliver(self, envelope: Envelope) -> object:
        """Deliver any one message (reordering); one already delivered in bulk arrives again."""
        if self.inflight.pop(envelope.ident, None) is None:
            record_event("network: late duplicate")
        return self._send(self._deliver(envelope))

    @precondition(lambda self: self.world is not None and bool(self.inflight))
    @rule(target=messages, count=st.integers(1, 24))
    def deliver_oldest(self, count: int) -> object:
        """Deliver the `count` oldest messages in order: how a healthy network makes progress."""
        sent: list[Envelope] = []
        for _ in range(min(count, len(self.inflight))):
            sent += self._deliver(self.inflight.pop(min(self.inflight)))
        return self._send(sent)

    @precondition(lambda self: self.world is not None)
    @rule(target=messages, envelope=messages)
    def duplicate(self, envelope: Envelope) -> object:
        record_event("network: duplicate")
        return self._send(self._deliver(envelope))

    @precondition(lambda self: self.world is not None and self.hostile_network)
    @rule(envelope=consumes(messages))
    def drop(self, envelope: Envelope) -> None:
        record_event("network: drop")
        self.inflight.pop(envelope.ident, None)
        self.lossy = True

    @precondition(lambda self: self.world is not None and self.hostile_network)
    @rule(target=messages, seconds=st.sampled_from([0.5, SAMPLE_TIMEOUT_S + 0.1]))
    def wait(self, seconds: float) -> object:
        """Time passes while messages are still in flight (a network slower than the timeouts)."""
        assert self.world is not None
        record_event("network: delay past timeouts")
        self.lossy = True
        return self._send(self.world.tick(seconds))

    @precondition(lambda self: self.world is not None and self.hostile_network)
    @rule(data=st.data())
    def partition(self, data: st.DataObject) -> None:
        assert self.world is not None
        node = data.draw(st.sampled_from(sorted(self.world.cores)), label="partition node")
        record_event("network: partition")
        self.partitioned.symmetric_difference_update({node})

    @precondition(lambda self: self.world is not None)
    @rule(target=messages, data=st.data())
    def byzantine_attestation(self, data: st.DataObject) -> object:
        """A Byzantine validator signs without custody, for a wrong root/epoch/quorum, or as someone else."""
        assert self.world is not None
        liars = sorted(v for v, b in self.world.behaviours.items() if b is not NodeBehaviour.HONEST)
        if not liars:
            return multiple()
        signer = data.draw(st.sampled_from(liars), label="signer")
        kind = data.draw(
            st.sampled_from(["no-custody", "wrong-root", "wrong-epoch", "wrong-quorum", "impersonate"]),
            label="kind",
        )
        record_event(f"byzantine attestation: {kind}")
        claimed = signer
        root, epoch, quorum = self.data_root, self.epoch, int(self.quorum.index)
        if kind == "wrong-root":
            root = DataRoot(bytes(32))
        elif kind == "wrong-epoch":
            epoch = 1 - epoch
        elif kind == "wrong-quorum":
            quorum += 1
        elif kind == "impersonate":
            claimed = data.draw(st.sampled_from(sorted(self.world.cores)), label="claimed")
        envelope = self.world.forge_attestation(signer, claimed, root, epoch, quorum, self.aggregator)
        return self._send([envelope])

    @precondition(lambda self: self.world is not None)
    @rule(target=messages, data=st.data())
    def byzantine_push(self, data: st.DataObject) -> object:
        """An adversary pushes an honest member a chunk of its custody that is wrong (a partial row, a
        duplicated cell, a foreign column, a row past the blob, a corrupt cell), right but of one
        row only (sent again by `duplicate`, it never completes custody), or right but naming the
        other epoch to a member already working on the blob (front-running a member with no duty
        yet is the known gap 4 of specs/consensus.md, and would deny L1)."""
        assert self.world is not None
        world = self.world
        liars = sorted(v for v, b in world.behaviours.items() if b is not NodeBehaviour.HONEST)
        members = [m for m in self.quorum.members if world.is_honest(m)]
        if not liars or not members:
            return multiple()
        pusher = data.draw(st.sampled_from(liars), label="pusher")
        to = data.draw(st.sampled_from(members), label="pushed")
        kind = data.draw(st.sampled_from(BYZANTINE_PUSHES), label="push kind")
        blob = world.blobs[self.data_root]
        columns = sorted(compute_member_custody(self.quorum, self.data_root, world.preset)[to])
        row = data.draw(st.integers(0, blob.header.row_count - 1), label="push row")
        cells = [blob.get_column(column)[row] for column in columns]
        epoch = self.epoch
        if kind == "partial-row":
            cells = cells[1:]
        elif kind == "duplicate-cell":
            cells.append(cells[0])
        elif kind == "foreign-column":
            foreign = next((c for c in range(CELLS_PER_ROW) if c not in columns), None)
            if foreign is not None:
                cells[0] = blob.get_column(ColumnIndex(foreign))[row]
        elif kind == "row-beyond":
            cells = [dataclasses.replace(c, row=RowIndex(blob.header.row_count)) for c in cells]
        elif kind == "corrupt-cell":
            cells[0] = corrupt_sample(cells[0])
        elif kind == "other-epoch":
            if self.data_root not in world.cores[to].duties:
                return multiple()
            epoch = 1 - epoch
        record_event(f"byzantine push: {kind}")
        push = CustodyReceived(pusher, blob.header, Epoch(epoch), self.quorum.index, tuple(cells))
        return self._send([Envelope(to, push, pusher)])

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def safety(self) -> None:
        if self.world is None:
            return
        violations = check_safety(self.world)
        assert not violations, violations

    CHECK_LIVENESS = True
    """L1 at the end of each run; a subclass may check safety alone (see fuzz/hunt.py's control)."""

    def teardown(self) -> None:
        if self.world is None:
            return
        if self.world.certificates():
            record_event("outcome: certified")
        stores: dict[int, int] = {}
        for node, _ in self.world.events(StoreCustody):
            stores[node] = stores.get(node, 0) + 1
        if any(count > 1 for count in stores.values()):
            record_event("custody: a member stored its custody in several chunks")
        if not self.CHECK_LIVENESS:
            return
        if not self.world.disperser.honest:
            record_event("liveness: not applicable (hostile disperser)")
            return
        if len(self.quorum.slots) < PRESET.QUORUM_SLOTS:
            record_event("liveness: not applicable (small quorum)")
            return
        if self.world.now > LAST_REPUSH_S:
            record_event("liveness: not applicable (the network healed after the last re-push)")
            return
        if self.lossy or self.partitioned:
            record_event("liveness: checked after drops, partitions or delays")
        self.partitioned.clear()  # the network heals (GST): from now on every message arrives in time
        self._drain()
        STATS.checks["L1"] += 1
        failures = [f"{node}: {o.reason.value}: {o.detail}" for node, o in self.world.events(DutyFailed)]  # type: ignore[attr-defined]
        assert self.world.certificates(), f"L1: no certificate although the network delivered; {failures}"
        violations = check_safety(self.world)
        assert not violations, violations

    def _drain(self) -> None:
        """After GST: deliver every message in flight, then let one sample timeout pass, until a
        certificate forms or `DRAIN_SECONDS` of simulated time are over."""
        assert self.world is not None
        for _ in range(int(DRAIN_SECONDS / (SAMPLE_TIMEOUT_S + 0.1)) + 1):
            while self.inflight:
                envelope = self.inflight.pop(min(self.inflight))
                for follow in self.world.deliver(envelope):
                    self.inflight[follow.ident] = follow
            if self.world.certificates():
                return
            for follow in self.world.tick(SAMPLE_TIMEOUT_S + 0.1):
                self.inflight[follow.ident] = follow


TestConsensus = ConsensusMachine.TestCase

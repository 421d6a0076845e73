"""Gossip over py-libp2p's GossipSub: tri-state validation, paced publishes, drained subscribers.

What py-libp2p does by default and what this module tells it (DESIGN.md section 5):
- spam protection drops more than 10 messages/s per topic and peer, our own publishes included: the limit
  is raised to `gossip_max_messages_per_topic_per_second` and our publishes are paced below it;
- each peer has a 32-RPC outbound queue that drops when full: a publish waits while any queue is above
  `publish_queue_high_water` (the queue exposes no "space available" event, so this wait steps in 1 ms
  increments, bounded by `publish_timeout`);
- a subscription is a 32-message channel that drops when full: one task per topic drains it at once into
  a `subscriber_buffer`-sized channel per subscriber, counting what it has to drop;
- topic validators are accept/reject only: ACCEPT maps to accept, IGNORE and REJECT to reject; REJECT
  lowers the forwarding peer's score, IGNORE spends its `IgnoreBudget` (past it, its messages are
  dropped unvalidated and each lowers its score), and pubsub's validation cache keeps only ACCEPT
  and REJECT (what was not judged may be judged when it comes again);
- validation runs in worker threads (`gossip_validation_threads`; the certificate validator reads the
  registry, which may block on an RPC), at most `gossip_validation_queue` messages at once: past it a
  message is dropped unjudged and counted (`gossip_validation_dropped`), never queued on the trio thread;
- a message published before the topic's mesh is grafted goes to no one: a publish also waits (bounded)
  for a mesh when some peer subscribes to the topic;
- message ids are content hashes (`compute_message_id`), so one message relayed by many peers is one id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
import trio
from libp2p.abc import IHost, ISubscriptionAPI
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub, ValidationCache, ValidationResult
from libp2p.tools.anyio_service import background_trio_service

from network.config import NetworkConfig
from network.connections import EventCounter
from network.errors import PublishFailed, ServiceNotRunning
from network.gossip_budget import IgnoreBudget
from network.gossip_rules import compute_certificate_message_judgement, compute_message_id
from network.pacing import TokenBucket
from network.peers import Clock, PeerGuard
from network.ports import CertificateValidator
from network.scoring import Offence
from network.types import GossipMessage, Judgement, MessageId, PeerName, Verdict

if TYPE_CHECKING:
    # trio-typing's stubs (a libp2p dependency) shadow trio's own annotations; TaskStatus lives there.
    from trio_typing import TaskStatus

log = structlog.get_logger(__name__)

PACING_STEP_SECONDS = 0.001
PUBSUB_VALIDATION_CACHE_SECONDS = 300
PUBSUB_VALIDATION_CACHE_SIZE = 1000


class _JudgedOnlyCache(ValidationCache):
    """pubsub's validation cache (by message id, a content hash), minus the messages this node did not
    judge: dropped past the queue or a peer's budget, or IGNOREd. Caching those would refuse the same
    certificate from every honest peer for the cache's lifetime."""

    def __init__(self) -> None:
        super().__init__(PUBSUB_VALIDATION_CACHE_SECONDS, PUBSUB_VALIDATION_CACHE_SIZE)
        self.unjudged: set[bytes] = set()

    def put(self, msg_id: bytes, result: ValidationResult) -> None:
        """Cache `result` unless the validator marked `msg_id` unjudged (the mark is spent here, and
        a copy's result cached meanwhile is dropped too)."""
        if msg_id in self.unjudged:
            self.unjudged.discard(msg_id)
            self._remove(msg_id)
            return
        super().put(msg_id, result)


class GossipService:
    """Owns the Pubsub/GossipSub pair of one host; build it before the host connects to anyone."""

    def __init__(
        self,
        host: IHost,
        config: NetworkConfig,
        guard: PeerGuard,
        certificate_validator: CertificateValidator | None = None,
        clock: Clock = time.time,
        events: EventCounter | None = None,
    ) -> None:
        self._config = config
        self.events = events or EventCounter()
        self._budget = IgnoreBudget(
            config.gossip_ignored_per_peer_per_second,
            config.gossip_ignored_burst,
            config.score_params.max_peers,
        )
        self._validation_threads = trio.CapacityLimiter(config.gossip_validation_threads)
        self._validating = 0
        self._judging: set[MessageId] = set()
        """Ids being judged: pubsub marks a message seen only after its validation, so a copy that
        arrives meanwhile from another peer would be judged (and delivered) a second time."""
        self._guard = guard
        self._clock = clock
        self._certificate_validator = certificate_validator
        self._bucket = TokenBucket(config.publish_rate_per_second, burst=config.publish_queue_high_water)
        self._publish_lock = trio.Lock()
        self._subscribers: dict[str, list[trio.MemorySendChannel[GossipMessage]]] = {
            config.certificate_topic: [],
        }
        self.dropped: dict[str, int] = dict.fromkeys(self._subscribers, 0)
        self.router = GossipSub(
            protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=config.gossip_degree,
            degree_low=config.gossip_degree_low,
            degree_high=config.gossip_degree_high,
            heartbeat_interval=config.gossip_heartbeat_seconds,
            spam_protection_enabled=True,
            max_messages_per_topic_per_second=config.gossip_max_messages_per_topic_per_second,
        )
        self.pubsub = Pubsub(
            host,
            self.router,
            strict_signing=True,
            msg_id_constructor=_message_id_of,
            allowed_topics=frozenset(self._subscribers),
            # Every message reaches our validator at once; it applies the bound (and drops past it).
            max_concurrent_validator_count=config.gossip_validation_queue + config.gossip_validation_threads,
            validation_timeout=config.gossip_validation_timeout,
        )
        self._cache = _JudgedOnlyCache()
        self.pubsub.validation_cache = self._cache
        self.pubsub.set_topic_validator(config.certificate_topic, self._validate_certificate, True)
        self._running = False

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this node subscribes to."""
        return tuple(self._subscribers)

    def subscribe(self, topic: str) -> trio.MemoryReceiveChannel[GossipMessage]:
        """A channel of every accepted message on `topic` (own publishes included), from now on."""
        if topic not in self._subscribers:
            raise PublishFailed(topic, "not a Tessera topic")
        send, receive = trio.open_memory_channel[GossipMessage](self._config.subscriber_buffer)
        self._subscribers[topic].append(send)
        return receive

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run pubsub and the router, subscribe to every topic and drain it, until cancelled."""
        try:
            async with background_trio_service(self.pubsub), background_trio_service(self.router):
                await self.pubsub.wait_until_ready()
                async with trio.open_nursery() as nursery:
                    for topic in self._subscribers:
                        subscription = await self.pubsub.subscribe(topic)
                        nursery.start_soon(self._drain, topic, subscription)
                    self._running = True
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            self._running = False
            for senders in self._subscribers.values():
                for sender in senders:
                    sender.close()
            self.pubsub.seen_messages.stop()  # it owns a thread

    async def _drain(self, topic: str, subscription: ISubscriptionAPI) -> None:
        async for message in subscription:
            delivered = GossipMessage(
                topic=topic,
                data=bytes(message.data),
                message_id=_message_id_of(message),
                author=PeerName(str(ID(message.from_id))),
            )
            for sender in list(self._subscribers[topic]):
                try:
                    sender.send_nowait(delivered)
                except trio.WouldBlock:
                    self.dropped[topic] += 1
                    log.warning(
                        "gossip subscriber full, message dropped", topic=topic, dropped=self.dropped[topic]
                    )
                except trio.BrokenResourceError:
                    self._subscribers[topic].remove(sender)

    # --- Publishing ---------------------------------------------------------------------------------

    async def publish_certificate(self, certificate: bytes) -> MessageId:
        """Announce a certificate (opaque bytes); returns its message id."""
        return await self.publish(self._config.certificate_topic, certificate)

    async def publish(self, topic: str, data: bytes) -> MessageId:
        """Publish `data` on `topic`, paced so that neither peers' spam limits nor our queues drop it."""
        if not self._running:
            raise ServiceNotRunning("gossip is not running")
        if topic not in self._subscribers:
            raise PublishFailed(topic, "not a Tessera topic")
        judgement = await self._judge_in_thread(data)
        if judgement.verdict is not Verdict.ACCEPT:
            outcome = "ignored" if judgement.verdict is Verdict.IGNORE else "rejected"
            raise PublishFailed(topic, f"peers would drop it ({outcome}: {judgement.reason})")
        async with self._publish_lock:
            try:
                with trio.fail_after(self._config.publish_timeout):
                    await trio.sleep(self._bucket.reserve(trio.current_time()))
                    while not self._ready_to_send(topic):
                        await trio.sleep(PACING_STEP_SECONDS)
            except trio.TooSlowError as error:
                raise PublishFailed(
                    topic, f"no mesh, or peers' queues full, for {self._config.publish_timeout:g} s"
                ) from error
            await self.pubsub.publish(topic, data)
        return compute_message_id(topic, data)

    def _ready_to_send(self, topic: str) -> bool:
        """No outbound queue near full, and a mesh to send to if any peer subscribes to `topic`."""
        deepest = max((len(queue) for queue in self.pubsub.peer_queues.values()), default=0)
        if deepest >= self._config.publish_queue_high_water:
            return False
        return bool(self.router.mesh.get(topic)) or not self.pubsub.peer_topics.get(topic)

    # --- Validation -----------------------------------------------------------------------------------

    def _judge(self, data: bytes) -> Judgement:
        """The rules of the certificate topic, the only Tessera topic (blocking: a worker thread)."""
        return compute_certificate_message_judgement(data, self._clock(), self._certificate_validator)

    async def _judge_in_thread(self, data: bytes) -> Judgement:
        # trio-typing's stubs (a libp2p dependency) still call abandon_on_cancel `cancellable`.
        judgement: Judgement = await trio.to_thread.run_sync(  # type: ignore[call-arg]
            self._judge, data, limiter=self._validation_threads, abandon_on_cancel=True
        )
        return judgement

    @property
    def validating(self) -> int:
        """Messages being judged or waiting for a worker thread now."""
        return self._validating

    def _drop_unjudged(self, message: rpc_pb2.Message, kind: str, peer: PeerName) -> bool:
        self._cache.unjudged.add(_message_id_of(message))
        self.events.add(kind)
        log.debug("gossip dropped", peer=peer, reason=kind)
        return False

    async def _validate(self, topic: str, forwarder: ID, message: rpc_pb2.Message) -> bool:
        peer = PeerName(str(forwarder))
        ours = forwarder == self.pubsub.my_id
        if not ours and self._budget.is_exhausted(peer, self._clock()):
            self._guard.penalize(peer, Offence.GOSSIP_FLOOD)
            return self._drop_unjudged(message, "gossip_rate_limited", peer)
        message_id = _message_id_of(message)
        if message_id in self._judging:
            return False  # a copy: the first one's verdict decides (and replaces what pubsub caches now)
        if self._validating >= self._config.gossip_validation_queue:
            return self._drop_unjudged(message, "gossip_validation_dropped", peer)
        self._validating += 1
        self._judging.add(message_id)
        try:
            judgement = await self._judge_in_thread(bytes(message.data))
        finally:
            self._validating -= 1
            self._judging.discard(message_id)
        if judgement.verdict is Verdict.ACCEPT:
            return True
        if judgement.verdict is Verdict.REJECT:
            self.events.add("gossip_rejected")
            if not ours:
                self._guard.penalize(peer, Offence.GOSSIP_REJECT)
        else:
            self._cache.unjudged.add(_message_id_of(message))
            self.events.add("gossip_ignored")
            if not ours:
                self._budget.charge(peer, self._clock())
        # Debug only: a peer decides how many of these lines it makes us write (the counts are metrics).
        log.debug(
            "gossip dropped", topic=topic, peer=peer, verdict=judgement.verdict.value, reason=judgement.reason
        )
        return False

    async def _validate_certificate(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        return await self._validate(self._config.certificate_topic, forwarder, message)

    def lift_ended_bans(self, is_banned: Callable[[PeerName], bool]) -> None:
        """Forget bans that have ended (and full IGNORE budgets): the blacklist holds banned peers only."""
        for peer in [p for p in self.pubsub.blacklisted_peers if not is_banned(PeerName(str(p)))]:
            self.pubsub.blacklisted_peers.discard(peer)
        self._budget.prune(self._clock())

    @property
    def tracked_peers(self) -> int:
        """Peers with a gossip ban or an IGNORE budget held."""
        return len(self.pubsub.blacklisted_peers) + len(self._budget)

    def ban(self, peer: ID) -> None:
        """Stop exchanging gossip with `peer`: its messages are dropped and its new pubsub streams
        refused. The service cuts its connection right after (`network.host.cut_off`), and pubsub
        forgets the peer on that disconnect. `Pubsub.add_to_blacklist` is not used: the teardown task
        it starts deletes the peer's entry after an await, and raises `KeyError` (crashing pubsub and
        with it the node) when the disconnect removed the entry first."""
        self.pubsub.blacklisted_peers.add(peer)


def _message_id_of(message: rpc_pb2.Message) -> MessageId:
    topic = message.topicIDs[0] if message.topicIDs else ""
    return compute_message_id(topic, bytes(message.data))

"""Gossip over py-libp2p's GossipSub: tri-state validation, paced publishes, drained subscribers.

What py-libp2p does by default and what this module tells it (DESIGN.md section 5):
- spam protection drops more than 10 messages/s per topic and peer, our own publishes included: the limit
  is raised to `gossip_max_messages_per_topic_per_second` and our publishes are paced below it;
- each peer has a 32-RPC outbound queue that drops when full: a publish waits while any queue is above
  `publish_queue_high_water` (the queue exposes no "space available" event, so this wait steps in 1 ms
  increments, bounded by `publish_timeout`);
- a subscription is a 32-message channel that drops when full: one task per topic drains it at once into
  a `subscriber_buffer`-sized channel per subscriber, counting what it has to drop;
- topic validators are accept/reject only: ACCEPT maps to accept, IGNORE and REJECT to reject, and only
  REJECT lowers the forwarding peer's score;
- a message published before the topic's mesh is grafted goes to no one: a publish also waits (bounded)
  for a mesh when some peer subscribes to the topic;
- message ids are content hashes (`compute_message_id`), so one message relayed by many peers is one id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
import trio
from libp2p.abc import IHost, ISubscriptionAPI
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from network.config import NetworkConfig
from network.errors import PublishFailed, ServiceNotRunning
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


class GossipService:
    """Owns the Pubsub/GossipSub pair of one host; build it before the host connects to anyone."""

    def __init__(
        self,
        host: IHost,
        config: NetworkConfig,
        guard: PeerGuard,
        certificate_validator: CertificateValidator | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._config = config
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
        )
        self.pubsub.set_topic_validator(config.certificate_topic, self._validate_certificate, False)
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
        judgement = self._judge(data)
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
        """The rules of the certificate topic, the only Tessera topic."""
        return compute_certificate_message_judgement(data, self._clock(), self._certificate_validator)

    def _validate(self, topic: str, forwarder: ID, message: rpc_pb2.Message) -> bool:
        judgement = self._judge(bytes(message.data))
        peer = PeerName(str(forwarder))
        if judgement.verdict is Verdict.REJECT and forwarder != self.pubsub.my_id:
            self._guard.penalize(peer, Offence.GOSSIP_REJECT)
        if judgement.verdict is not Verdict.ACCEPT:
            log.info(
                "gossip dropped",
                topic=topic,
                peer=peer,
                verdict=judgement.verdict.value,
                reason=judgement.reason,
            )
        return judgement.verdict is Verdict.ACCEPT

    def _validate_certificate(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        return self._validate(self._config.certificate_topic, forwarder, message)

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

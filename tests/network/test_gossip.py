"""Gossip on real hosts: delivery under a burst, tri-state validation over the wire, penalties for REJECT."""

from __future__ import annotations

import pytest
import trio

from network.errors import PublishFailed
from network.service import NetworkService, open_services
from network.types import GossipMessage, Verdict
from tests.network.conftest import FAST

pytestmark = pytest.mark.anyio


class PrefixCertificateValidator:
    """Certificates starting with b"BAD" are invalid, b"OLD" are stale, anything else is valid."""

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        if data.startswith(b"BAD"):
            return Verdict.REJECT
        if data.startswith(b"OLD"):
            return Verdict.IGNORE
        return Verdict.ACCEPT


def _ring(count: int) -> list[NetworkService]:
    return [NetworkService(FAST, certificate_validator=PrefixCertificateValidator()) for _ in range(count)]


async def _connect_ring(nodes: list[NetworkService], topic: str) -> None:
    for index, node in enumerate(nodes):
        await node.connect(nodes[(index + 1) % len(nodes)].listen_addrs[0])
    for index, node in enumerate(nodes):
        for neighbour in (nodes[(index + 1) % len(nodes)], nodes[index - 1]):
            await node.gossip.pubsub.wait_for_subscription(neighbour.host.get_id(), topic, timeout=5)
        await node.gossip.pubsub.wait_for_mesh(
            nodes[(index + 1) % len(nodes)].host.get_id(), topic, timeout=5
        )


async def _collect(
    channel: trio.MemoryReceiveChannel[GossipMessage], into: list[GossipMessage], want: int
) -> None:
    async for message in channel:
        into.append(message)
        if len(into) >= want:
            return


async def test_a_burst_of_200_messages_reaches_every_subscriber_of_a_5_node_ring() -> None:
    nodes = _ring(5)
    count = 200
    async with open_services(nodes):
        topic = nodes[0].config.certificate_topic
        channels = [node.subscribe(topic) for node in nodes]
        await _connect_ring(nodes, topic)
        received: list[list[GossipMessage]] = [[] for _ in nodes]
        payloads = [f"certificate {i:04d}".encode() for i in range(count)]
        with trio.move_on_after(30):
            async with trio.open_nursery() as nursery:
                for channel, bucket in zip(channels, received, strict=True):
                    nursery.start_soon(_collect, channel, bucket, count)
                for payload in payloads:
                    await nodes[0].publish_certificate(payload)
        dropped = [sum(node.gossip.dropped.values()) for node in nodes]
        author = nodes[0].peer_id
    for bucket in received:
        assert sorted(message.data for message in bucket) == payloads
        assert {message.author for message in bucket} == {author}
        assert len({message.message_id for message in bucket}) == count
    assert dropped == [0] * 5


async def test_ignored_gossip_is_dropped_quietly_and_rejected_gossip_penalizes_the_sender() -> None:
    sender, receiver = _ring(2)
    async with open_services([sender, receiver]):
        topic = sender.config.certificate_topic
        channel = receiver.subscribe(topic)
        await _connect_ring([sender, receiver], topic)
        with pytest.raises(PublishFailed, match="rejected"):
            await sender.publish_certificate(b"BAD one")
        with pytest.raises(PublishFailed, match="ignored"):
            await sender.publish_certificate(b"OLD one")
        sender.gossip.pubsub.remove_topic_validator(topic)  # from here on it sends what it likes
        offender = sender.peer_id
        with trio.fail_after(5):
            await sender.gossip.pubsub.publish(topic, b"OLD one")
            await sender.gossip.pubsub.publish(topic, b"GOOD one")
            after_ignored = (await channel.receive()).data  # messages from one peer arrive in order
            score_after_ignored = receiver.guard.score(offender)
            await sender.gossip.pubsub.publish(topic, b"BAD one")
            await sender.gossip.pubsub.publish(topic, b"GOOD two")
            after_rejected = (await channel.receive()).data
            score_after_rejected = receiver.guard.score(offender)
    assert after_ignored == b"GOOD one"
    assert score_after_ignored == 0
    assert after_rejected == b"GOOD two"
    assert score_after_rejected < 0


async def test_the_certificate_topic_is_the_only_topic() -> None:
    (node,) = _ring(1)
    async with open_services([node]):
        assert node.gossip.topics == (node.config.certificate_topic,)
        for topic in ("/tessera/devnet/blob_header/1/ssz", "/tessera/devnet/other/1/ssz"):
            with pytest.raises(PublishFailed, match="not a Tessera topic"):
                node.subscribe(topic)
            with pytest.raises(PublishFailed, match="not a Tessera topic"):
                await node.gossip.publish(topic, b"x")

"""The broker's Redis channel keeps one redis-py client (config/redis_transport.py), and node messages still reach
the list the worker reads."""

import base64
import json

import pytest

from config.celery import app as celery_app
from config.redis_transport import Channel
from engine.dispatch import dispatch
from tests.private_services import RedisServer, celery_broker


def test_it_uses_one_client_for_every_command(private_redis: RedisServer):
    with celery_broker(private_redis.url), celery_app.producer_or_acquire() as producer:
        channel = producer.channel
        assert isinstance(channel, Channel)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()


def test_it_takes_a_new_client_when_the_pool_was_replaced(private_redis: RedisServer):
    with celery_broker(private_redis.url), celery_app.producer_or_acquire() as producer:
        channel = producer.channel
        with channel.conn_or_acquire() as before:
            pass
        channel._disconnect_pools()  # what kombu does in a forked child
        with channel.conn_or_acquire() as after:
            assert after is not before
            assert after.connection_pool is channel.pool
            assert after.ping()


def test_it_passes_a_given_client_through(private_redis: RedisServer):
    given = private_redis.client()
    with (
        celery_broker(private_redis.url),
        celery_app.producer_or_acquire() as producer,
        producer.channel.conn_or_acquire(given) as client,
    ):
        assert client is given


@pytest.mark.django_db
def test_node_messages_reach_the_default_queue_without_a_declaration(private_redis: RedisServer):
    with celery_broker(private_redis.url):
        dispatch([41, 42])

    broker = private_redis.client()
    sent = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
    assert [message["headers"]["task"] for message in sent] == ["engine.tasks.execute_node"] * 2
    assert sorted(json.loads(base64.b64decode(message["body"]))[0][0] for message in sent) == [41, 42]
    assert sorted(message["headers"]["argsrepr"] for message in sent) == ["(41,)", "(42,)"]
    assert {message["headers"]["kwargsrepr"] for message in sent} == {"{}"}
    assert {message["properties"]["delivery_info"]["routing_key"] for message in sent} == {"celery"}
    # Celery would otherwise have declared the queue, which kombu records as its binding.
    assert not broker.exists("_kombu.binding.celery")

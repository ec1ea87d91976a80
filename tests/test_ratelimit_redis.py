"""The login limit works with Redis as the shared store (several app servers, one counter)."""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # CI starts Redis; a missing server is a failure, not a skip
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield client
    client.close()


def test_failed_logins_are_counted_in_redis_across_app_instances(app_factory, users, redis_client):
    # Flask-Limiter keeps the first key prefix it is given for the process, so it is fixed here.
    prefix = "pilotbase-test"
    for key in redis_client.scan_iter(match=f"*{prefix}*"):
        redis_client.delete(key)
    settings = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    first, second = app_factory(**settings), app_factory(**settings)  # two "servers"
    email = users["firm"].email
    for i in range(10):
        app = first if i % 2 else second
        response = app.test_client().post("/login", data={"email": email, "password": "wrong-password!"})
        assert response.status_code == 200
    assert first.test_client().post("/login", data={"email": email, "password": "wrong-password!"}).status_code == 429
    keys = [k.decode() for k in redis_client.scan_iter(match=f"*{prefix}*")]
    assert keys, "the counters should live in Redis"
    for key in keys:
        redis_client.delete(key)

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_checks_the_database(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_healthz_reports_an_unreachable_redis(client, settings):
    from tuangou.core import views

    views._redis.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        views._redis.cache_clear()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


@pytest.mark.redis
def test_healthz_checks_redis_when_configured(client, settings):
    import os

    from tuangou.core import views

    views._redis.cache_clear()
    settings.REDIS_URL = os.environ["REDIS_URL"]
    response = client.get("/healthz")
    views._redis.cache_clear()
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"

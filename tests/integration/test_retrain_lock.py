"""The scheduled-retraining guard against the real Redis: two retrainings never run at once."""


import pytest

from colog.core.settings import Settings
from colog.services.train.scheduled import RetrainLock, retrain_once

pytestmark = pytest.mark.integration


def test_retrain_lock_admits_one_holder_and_releases_only_its_own(redis_server):
    redis_server.delete(RetrainLock(redis_server).key)
    with RetrainLock(redis_server) as first:
        assert first.held
        with RetrainLock(redis_server) as second:
            assert not second.held
        assert redis_server.exists(first.key)  # the second did not free the first one's lock
    assert not redis_server.exists(first.key)
    with RetrainLock(redis_server) as third:
        assert third.held


def test_retrain_once_is_off_by_default(redis_server):
    assert "off" in retrain_once(None, Settings(), redis_server)["skipped"]

"""The local three-member etcd 3.4 cluster (on 127.0.0.1) the etcd modules are tested against."""
import pytest

import local_etcd


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One cluster per test file, stopped after it."""
    local = local_etcd.LocalEtcdCluster(tmp_path_factory.mktemp("etcd"))
    try:
        yield local.start()
    finally:
        local.stop()


@pytest.fixture
def restored(cluster):
    """After the test: frozen members continued, stopped ones started, the cluster healthy again."""
    yield
    cluster.restore()

"""The certificate files are checked before any connection, and each refusal says why."""
import os

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import etcd_gateway
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdConfigError


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name in ("ca", "cert", "key"):
        paths[name] = tmp_path / (name + ".pem")
        paths[name].write_text("x")
    return {name: str(path) for name, path in paths.items()}


def test_readable_files_pass(files):
    etcd_gateway.check_tls_files(files["ca"], files["cert"], files["key"])


def test_a_missing_file_is_named(files, tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(EtcdConfigError, match="^key_file: %s does not exist or is not a file$" % missing):
        etcd_gateway.check_tls_files(files["ca"], files["cert"], missing)
    with pytest.raises(EtcdConfigError, match="does not exist or is not a file"):
        etcd_gateway.check_tls_files(str(tmp_path), None, None)


def test_a_folder_only_root_may_enter_asks_for_become(files, monkeypatch):
    # kubespray's /etc/ssl/etcd/ssl is 0700 root: a normal user's stat fails there.
    real_stat = os.stat

    def stat_as_a_normal_user(path, *args, **kwargs):
        if path == files["cert"]:
            raise PermissionError(13, "Permission denied", path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(etcd_gateway.os, "stat", stat_as_a_normal_user)
    with pytest.raises(EtcdConfigError, match=r"^cert_file: .* cannot be reached as user \S+ \(permission denied "
                                              r"on its folder\); etcd's certificates are root's: run with become$"):
        etcd_gateway.check_tls_files(files["ca"], files["cert"], files["key"])


def test_an_unreadable_file_asks_for_become(files, monkeypatch):
    monkeypatch.setattr(etcd_gateway.os, "access", lambda path, mode: path != files["key"])
    with pytest.raises(EtcdConfigError, match=r"^key_file: .* is not readable by user \S+; .* run with become$"):
        etcd_gateway.check_tls_files(files["ca"], files["cert"], files["key"])

"""The errors both backends raise: the classes callers tell apart, and messages that say what to fix."""
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdConnectionError,
    EtcdError,
    EtcdTimeoutError,
    EtcdTLSError,
    ca_verify_error,
    client_cert_rejected_error,
    refused_error,
    timeout_error,
)


def test_a_timeout_is_a_connection_error_that_names_the_timeout():
    error = timeout_error("https://10.0.0.12:2379", "status", 1.0)
    assert isinstance(error, EtcdTimeoutError) and isinstance(error, EtcdConnectionError)
    assert str(error) == ("no answer from https://10.0.0.12:2379 (status) within 1.0 s (timeout): the member may be "
                          "stopped, frozen or cut off")


def test_refused_asks_whether_etcd_runs():
    error = refused_error("https://10.0.0.12:2379", "member list")
    assert isinstance(error, EtcdConnectionError) and "is etcd running" in str(error)


def test_tls_errors_name_the_option_to_fix():
    assert "check ca_file /ca.pem" in str(ca_verify_error("https://e:2379", "status", "bad", "/ca.pem"))
    missing = client_cert_rejected_error("https://e:2379", "status", "alert", None)
    assert isinstance(missing, EtcdTLSError) and "set cert_file and key_file" in str(missing)
    wrong = client_cert_rejected_error("https://e:2379", "status", "alert", "/c.pem")
    assert "did not accept the client certificate /c.pem" in str(wrong) and isinstance(wrong, EtcdError)

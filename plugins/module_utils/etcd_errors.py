# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The errors both etcd backends (etcd_gateway, etcd_pyclient) raise, each message
saying what to fix.

Python 3.8, standard library only: modules run this on managed nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class EtcdError(Exception):
    """Any failure talking to etcd; the message says what to fix."""


class EtcdConfigError(EtcdError):
    """Bad options (a missing certificate file, a malformed endpoint): fix the input."""


class EtcdConnectionError(EtcdError):
    """Nothing answered at the endpoint (refused, unreachable, reset)."""


class EtcdTimeoutError(EtcdConnectionError):
    """The endpoint did not answer within the timeout (stopped, frozen, partitioned)."""


class EtcdTLSError(EtcdError):
    """The TLS handshake failed: wrong CA, rejected client certificate, name mismatch."""


class EtcdRequestError(EtcdError):
    """etcd answered with an error (e.g. 'etcdserver: not leader')."""


class EtcdClientUnavailable(EtcdError):
    """The chosen backend's library is not installed."""


# Failures both backends report, worded once so the result reads the same whatever the backend.
def timeout_error(endpoint, operation, timeout):
    return EtcdTimeoutError("no answer from %s (%s) within %.1f s (timeout): the member may be stopped, "
                            "frozen or cut off" % (endpoint, operation, timeout))


def refused_error(endpoint, operation):
    return EtcdConnectionError("connection refused by %s (%s): is etcd running and listening there?"
                               % (endpoint, operation))


def ca_verify_error(endpoint, operation, detail, ca_file):
    return EtcdTLSError("TLS: certificate verify failed for %s (%s: %s): check ca_file %s is the CA that "
                        "signed etcd's server certificate" % (endpoint, operation, detail, ca_file))


def hostname_mismatch_error(endpoint, operation, detail):
    return EtcdTLSError("TLS: etcd's server certificate at %s (%s) does not name the endpoint's host (%s): use "
                        "an endpoint whose host name or IP address is in the certificate"
                        % (endpoint, operation, detail))


def client_cert_rejected_error(endpoint, operation, detail, cert_file):
    if cert_file is None:
        return EtcdTLSError("TLS: %s (%s) requires a client certificate and none was given (%s): set "
                            "cert_file and key_file" % (endpoint, operation, detail))
    return EtcdTLSError("TLS: %s (%s) did not accept the client certificate %s (%s): cert_file must be a "
                        "client certificate signed by etcd's CA" % (endpoint, operation, cert_file, detail))

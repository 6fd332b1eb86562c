# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A small client for etcd v3.4's JSON gateway, over HTTPS with client certificates.

Python 3.8, standard library only: it runs on managed nodes where nothing may
be installed. It speaks the backend interface of etcd_client_ops (normalized
data: member ids as 16-digit hex strings, 64-bit integers as int) and raises the
EtcdError types of etcd_errors, each with a message that says what to fix.

The gateway encodes 64-bit integers as JSON strings and omits fields whose value
is zero or empty (no "leader" key when there is no leader, no "errors" key when
there are none), so every field is read with a default.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import http.client
import json
import os
import pwd
import socket
import ssl
import stat
from urllib.parse import urlsplit

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import DEFAULT_TIMEOUT
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdConfigError,
    EtcdConnectionError,
    EtcdRequestError,
    EtcdTLSError,
    ca_verify_error,
    client_cert_rejected_error,
    hostname_mismatch_error,
    refused_error,
    timeout_error,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id, parse_member_id
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_metrics import parse_etcd_metrics

# TLS alerts a server sends when it refuses our client certificate (or its absence).
_CLIENT_CERT_REJECTED_REASONS = (
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
)
_HOSTNAME_MISMATCH_VERIFY_CODE = 62
# The largest answer the kit asks etcd for is /metrics, 100-300 kB for a 3.4 or 3.5
# member. 4 MiB is far above any of etcd's answers and still small for a node's
# memory; a larger answer is not etcd's, and is not read to its end.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def _user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "uid %d" % os.geteuid()


def check_tls_files(ca_file, cert_file, key_file):
    """Name the option whose file is missing or unreadable, before any connection is tried."""
    for option, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if path is None:
            if option == "ca_file":
                raise EtcdConfigError("ca_file is required: the CA that signed etcd's server certificates")
            continue
        try:
            mode = os.stat(path).st_mode
        except PermissionError:
            raise EtcdConfigError("%s: %s cannot be reached as user %s (permission denied on its folder); "
                                  "etcd's certificates are root's: run with become" % (option, path, _user()))
        except OSError:
            raise EtcdConfigError("%s: %s does not exist or is not a file" % (option, path))
        if not stat.S_ISREG(mode):
            raise EtcdConfigError("%s: %s does not exist or is not a file" % (option, path))
        if not os.access(path, os.R_OK):
            raise EtcdConfigError("%s: %s is not readable by user %s; etcd's certificates are root's: "
                                  "run with become" % (option, path, _user()))
    if (cert_file is None) != (key_file is None):
        raise EtcdConfigError("cert_file and key_file go together: give both or neither")


def make_ssl_context(ca_file, cert_file=None, key_file=None):
    """A client context that verifies etcd's certificate and host name and presents ours."""
    check_tls_files(ca_file, cert_file, key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verification and check_hostname on by default
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=ca_file)
    except (ssl.SSLError, ValueError) as error:
        raise EtcdConfigError("ca_file: %s is not a PEM CA certificate (%s)" % (ca_file, error)) from error
    if cert_file is not None:
        try:
            context.load_cert_chain(certfile=cert_file, keyfile=key_file)
        except ssl.SSLError as error:
            if "KEY_VALUES_MISMATCH" in str(error):
                raise EtcdConfigError("key_file: %s is not the key of cert_file %s" % (key_file, cert_file)) from error
            raise EtcdConfigError("cert_file/key_file: %s / %s are not a PEM certificate and its key (%s)"
                                  % (cert_file, key_file, error)) from error
    return context


def parse_endpoint(endpoint):
    """'https://host:port' -> (host, port); anything else is a config error."""
    parts = urlsplit(endpoint)
    try:
        port = parts.port
    except ValueError as error:
        raise EtcdConfigError("endpoint %r has an invalid port" % (endpoint,)) from error
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise EtcdConfigError("endpoint %r must look like https://HOST:PORT (etcd's client URL with TLS)"
                              % (endpoint,))
    return parts.hostname, port or 2379


def _int(value):
    return int(value) if value not in (None, "") else 0


def _read_at_most(response, limit):
    """Up to limit bytes of response's body; read(amount) may return less than asked before the end."""
    chunks, size = [], 0
    while size < limit:
        chunk = response.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class EtcdGatewayClient:
    """One etcd endpoint's JSON gateway. Each request opens its own connection."""

    def __init__(self, endpoint, ca_file, cert_file=None, key_file=None, timeout=DEFAULT_TIMEOUT, context=None):
        self.endpoint = endpoint.rstrip("/")
        self.host, self.port = parse_endpoint(self.endpoint)
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.timeout = timeout
        self.context = context or make_ssl_context(ca_file, cert_file, key_file)

    def close(self):
        """Nothing stays open between requests."""

    # -- transport ----------------------------------------------------------
    def _exchange(self, operation, method, path, body=None, timeout=None):
        """(HTTP response, body bytes) of one request, or an EtcdError naming operation."""
        timeout = self.timeout if timeout is None else timeout
        connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.context)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = _read_at_most(response, MAX_RESPONSE_BYTES + 1)
        except Exception as error:
            raise self._translate(error, operation, timeout) from error
        finally:
            connection.close()
        if len(data) > MAX_RESPONSE_BYTES:
            raise EtcdRequestError("%s (%s) answered HTTP %d with more than %d bytes, more than any answer of etcd's; "
                                   "check that the endpoint is etcd's client URL and that nothing in between "
                                   "rewrites its answers" % (self.endpoint, operation, response.status,
                                                             MAX_RESPONSE_BYTES))
        return response, data

    def request(self, operation, method, path, body=None, timeout=None):
        """The decoded JSON answer of one gateway request, or an EtcdError naming operation."""
        response, data = self._exchange(operation, method, path, body, timeout)
        try:
            answer = json.loads(data.decode("utf-8")) if data else {}
        except ValueError as error:
            raise EtcdRequestError("%s (%s) answered HTTP %d with something that is not JSON: %r"
                                   % (self.endpoint, operation, response.status, data[:200])) from error
        if response.status != 200:
            message = (answer.get("message") or answer.get("error")) if isinstance(answer, dict) else None
            raise EtcdRequestError("%s (%s) failed: HTTP %d: %s"
                                   % (self.endpoint, operation, response.status, message or data[:200]))
        return answer

    def _translate(self, error, operation, timeout):
        endpoint = self.endpoint
        if isinstance(error, ssl.SSLCertVerificationError):
            if error.verify_code == _HOSTNAME_MISMATCH_VERIFY_CODE:
                return hostname_mismatch_error(endpoint, operation, error.verify_message)
            return ca_verify_error(endpoint, operation, error.verify_message, self.ca_file)
        if isinstance(error, ssl.SSLEOFError):
            # etcd (Go) hangs up right after its alert when it refuses the client
            # certificate; whether the alert or the EOF arrives first is a race.
            return client_cert_rejected_error(endpoint, operation, "server closed the connection during the TLS "
                                              "handshake", self.cert_file)
        if isinstance(error, ssl.SSLError):
            if error.reason in _CLIENT_CERT_REJECTED_REASONS:
                return client_cert_rejected_error(endpoint, operation, error.reason, self.cert_file)
            return EtcdTLSError("TLS: handshake with %s (%s) failed: %s" % (endpoint, operation, error.reason or error))
        if isinstance(error, socket.timeout):
            return timeout_error(endpoint, operation, timeout)
        if isinstance(error, ConnectionRefusedError):
            return refused_error(endpoint, operation)
        if isinstance(error, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
            # With TLS 1.3 a server that refuses our certificate may just hang up
            # after the handshake, so name that likely cause.
            return EtcdConnectionError("%s (%s) closed the connection (%s); if it happens on every request, etcd "
                                       "may be refusing the client certificate: check cert_file and key_file"
                                       % (endpoint, operation, type(error).__name__))
        if isinstance(error, OSError) and error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return EtcdConnectionError("%s (%s) is unreachable: %s" % (endpoint, operation, error.strerror))
        if isinstance(error, socket.gaierror):
            return EtcdConnectionError("cannot resolve the host of %s (%s): %s" % (endpoint, operation, error))
        return EtcdConnectionError("%s (%s) failed: %s: %s" % (endpoint, operation, type(error).__name__, error))

    # -- the backend interface ----------------------------------------------
    def status(self):
        answer = self.request("status", "POST", "/v3/maintenance/status", {})
        leader = _int(answer.get("leader"))
        return {
            "responder_id": format_member_id(answer.get("header", {}).get("member_id", 0)),
            "version": answer.get("version") or None,
            "db_size": _int(answer.get("dbSize")),
            "leader_id": format_member_id(leader) if leader else None,
            "raft_index": _int(answer.get("raftIndex")),
            "raft_term": _int(answer.get("raftTerm")),
            "applied_index": _int(answer.get("raftAppliedIndex")),
            "errors": [str(error).strip() for error in answer.get("errors", [])],
        }

    def member_list(self):
        answer = self.request("member list", "POST", "/v3/cluster/member/list", {})
        members = [{
            "id": format_member_id(member["ID"]),
            "name": member.get("name") or None,
            "peer_urls": list(member.get("peerURLs", [])),
            "client_urls": list(member.get("clientURLs", [])),
        } for member in answer.get("members", [])]
        return {"responder_id": format_member_id(answer.get("header", {}).get("member_id", 0)),
                "members": members}

    def alarms(self):
        answer = self.request("alarm list", "POST", "/v3/maintenance/alarm", {"action": "GET"})
        # An empty answer is "{}": no header, no alarms key.
        return [{"member_id": format_member_id(alarm.get("memberID", 0)), "alarm": alarm.get("alarm", "NONE")}
                for alarm in answer.get("alarms", [])]

    def move_leader(self, target_id, timeout=None):
        self.request("move leader", "POST", "/v3/maintenance/transfer-leadership",
                     {"targetID": str(parse_member_id(target_id))}, timeout=timeout)

    def health(self):
        """etcd's own /health ({"health": "true"}); note that 3.4 counts alarms here too."""
        answer = self.request("health", "GET", "/health")
        return {"health": answer.get("health") == "true", "reason": answer.get("reason", "")}

    def metrics_text(self):
        """etcd's Prometheus counters, as the text its client URL serves at /metrics."""
        response, data = self._exchange("metrics", "GET", "/metrics")
        if response.status != 200:
            raise EtcdRequestError("%s (metrics) failed: HTTP %d: %r" % (self.endpoint, response.status, data[:200]))
        return data.decode("utf-8", "replace")

    def metrics(self):
        return parse_etcd_metrics(self.metrics_text())


def gateway_client_factory(ca_file, cert_file, key_file, timeout=DEFAULT_TIMEOUT):
    """open_client(endpoint) for etcd_client_ops.collect_health, sharing one TLS context."""
    context = make_ssl_context(ca_file, cert_file, key_file)

    def open_client(endpoint):
        return EtcdGatewayClient(endpoint, ca_file, cert_file, key_file, timeout, context=context)

    return open_client

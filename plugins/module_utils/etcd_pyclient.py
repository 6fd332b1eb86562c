# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The controller-side backend: etcd's gRPC API through the python-etcd3 API.

Prefers `pyetcd` (PyPI etcd-sdk-python, the maintained fork), accepts `etcd3`.
It speaks the same backend interface as etcd_gateway and must return exactly the
same normalized data, so it uses the raw gRPC stubs: the high-level API drops
fields (raftAppliedIndex, errors) and has no MoveLeader wrapper. etcd serves its
counters (metrics()) only over HTTPS, so those are read as etcd_gateway reads them.

The protobuf definitions shipped with pyetcd 0.0.7 predate etcd 3.4: their
StatusResponse has no raftAppliedIndex (7), errors (8) or dbSizeInUse (9). The
server still sends them and protobuf keeps them as unknown fields, which
_proto_field() reads by field number.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import DEFAULT_TIMEOUT
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdClientUnavailable,
    EtcdConnectionError,
    EtcdRequestError,
    EtcdTLSError,
    ca_verify_error,
    client_cert_rejected_error,
    hostname_mismatch_error,
    refused_error,
    timeout_error,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import (
    EtcdGatewayClient,
    check_tls_files,
    make_ssl_context,
    parse_endpoint,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import (
    ALARM_NAMES,
    format_member_id,
    parse_member_id,
)

# gRPC's C core logs handshake failures straight to stderr; they are reported
# here as exceptions instead. Only effective before grpc is first imported.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

ETCD_LIBRARY = None
ETCD_IMPORT_ERROR = None
try:
    import pyetcd as ETCD_LIBRARY
except Exception as error:  # ImportError, or a protobuf version clash at import time
    ETCD_IMPORT_ERROR = error
    try:
        import etcd3 as ETCD_LIBRARY
    except Exception as fallback_error:
        ETCD_IMPORT_ERROR = "pyetcd: %s; etcd3: %s" % (error, fallback_error)
        ETCD_LIBRARY = None

if ETCD_LIBRARY is not None:
    import grpc

# StatusResponse field numbers in etcd 3.4's rpc.proto.
_STATUS_RAFT_APPLIED_INDEX = 7
_STATUS_ERRORS = 8


def require_library():
    if ETCD_LIBRARY is None:
        raise EtcdClientUnavailable(
            "backend=etcd3 needs the python-etcd3 API on the controller: pip install etcd-sdk-python "
            "(import pyetcd; it needs protobuf >= 5.27.2), or use backend=gateway, which needs nothing "
            "installed (import error: %s)" % ETCD_IMPORT_ERROR)
    return ETCD_LIBRARY


def _unknown_fields(message):
    """{field number: [values]} of the fields this protobuf schema does not know."""
    try:
        from google.protobuf.unknown_fields import UnknownFieldSet
        fields = UnknownFieldSet(message)
    except ImportError:  # protobuf < 4.22
        fields = message.UnknownFields()
    found = {}
    for field in fields:
        found.setdefault(field.field_number, []).append(field.data)
    return found


def _proto_field(message, name, number, repeated=False):
    """A field by name when the schema knows it, else by number from the unknown fields."""
    if name in message.DESCRIPTOR.fields_by_name:
        value = getattr(message, name)
        return list(value) if repeated else value
    values = _unknown_fields(message).get(number, [])
    if repeated:
        return [value.decode("utf-8") if isinstance(value, bytes) else value for value in values]
    return values[-1] if values else 0


class EtcdGrpcClient:
    """One etcd endpoint over gRPC. Close it: it owns a channel."""

    def __init__(self, endpoint, ca_file, cert_file=None, key_file=None, timeout=DEFAULT_TIMEOUT):
        library = require_library()
        self.endpoint = endpoint.rstrip("/")
        host, port = parse_endpoint(self.endpoint)
        check_tls_files(ca_file, cert_file, key_file)
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.timeout = timeout
        self.rpc = library.etcdrpc
        self.client = library.client(host=host, port=port, ca_cert=ca_file, cert_key=key_file,
                                     cert_cert=cert_file, timeout=timeout)

    def close(self):
        self.client.close()

    def _call(self, operation, stub, method, request, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        try:
            return getattr(stub, method)(request, timeout)
        except grpc.RpcError as error:
            raise self._translate(error, operation, timeout) from None

    def _translate(self, error, operation, timeout):
        code = error.code()
        details = error.details() or ""
        endpoint = self.endpoint
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return timeout_error(endpoint, operation, timeout)
        if code == grpc.StatusCode.UNAVAILABLE:
            if "CERTIFICATE_VERIFY_FAILED" in details:
                return ca_verify_error(endpoint, operation, details, self.ca_file)
            if "not in peer certificate" in details:
                return hostname_mismatch_error(endpoint, operation, details)
            # The server's alert for a refused client certificate reaches gRPC
            # as a record it cannot decrypt.
            if any(text in details for text in ("TSI_DATA_CORRUPTED", "BAD_CERTIFICATE", "CERTIFICATE_REQUIRED")):
                return client_cert_rejected_error(endpoint, operation, details, self.cert_file)
            if "andshake" in details:
                return EtcdTLSError("TLS: handshake with %s (%s) failed: %s" % (endpoint, operation, details))
            if "Connection refused" in details:
                return refused_error(endpoint, operation)
            return EtcdConnectionError("%s (%s) is unavailable: %s" % (endpoint, operation, details))
        return EtcdRequestError("%s (%s) failed: %s: %s" % (endpoint, operation, code.name, details))

    # -- the backend interface ----------------------------------------------
    def status(self):
        answer = self._call("status", self.client.maintenancestub, "Status", self.rpc.StatusRequest())
        return {
            "responder_id": format_member_id(answer.header.member_id),
            "version": answer.version or None,
            "db_size": int(answer.dbSize),
            "leader_id": format_member_id(answer.leader) if answer.leader else None,
            "raft_index": int(answer.raftIndex),
            "raft_term": int(answer.raftTerm),
            "applied_index": int(_proto_field(answer, "raftAppliedIndex", _STATUS_RAFT_APPLIED_INDEX)),
            "errors": [error.strip() for error in _proto_field(answer, "errors", _STATUS_ERRORS, repeated=True)],
        }

    def member_list(self):
        answer = self._call("member list", self.client.clusterstub, "MemberList", self.rpc.MemberListRequest())
        members = [{
            "id": format_member_id(member.ID),
            "name": member.name or None,
            "peer_urls": list(member.peerURLs),
            "client_urls": list(member.clientURLs),
        } for member in answer.members]
        return {"responder_id": format_member_id(answer.header.member_id), "members": members}

    def alarms(self):
        request = self.rpc.AlarmRequest(action=self.rpc.AlarmRequest.GET, memberID=0, alarm=self.rpc.NONE)
        answer = self._call("alarm list", self.client.maintenancestub, "Alarm", request)
        return [{"member_id": format_member_id(alarm.memberID),
                 "alarm": ALARM_NAMES.get(int(alarm.alarm), str(alarm.alarm))}
                for alarm in answer.alarms]

    def move_leader(self, target_id, timeout=None):
        request = self.rpc.MoveLeaderRequest(targetID=parse_member_id(target_id))
        self._call("move leader", self.client.maintenancestub, "MoveLeader", request, timeout)

    def metrics(self):
        # etcd serves its counters over HTTPS only, not gRPC: read them as the gateway does.
        client = EtcdGatewayClient(self.endpoint, self.ca_file, self.cert_file, self.key_file, self.timeout)
        return client.metrics()


def grpc_client_factory(ca_file, cert_file, key_file, timeout=DEFAULT_TIMEOUT):
    """open_client(endpoint) for etcd_client_ops.collect_health."""
    require_library()
    # gRPC only notices a bad PEM or a key that does not match at the first
    # call, with a vague message; Python's ssl names the culprit now.
    make_ssl_context(ca_file, cert_file, key_file)

    def open_client(endpoint):
        return EtcdGrpcClient(endpoint, ca_file, cert_file, key_file, timeout)

    return open_client

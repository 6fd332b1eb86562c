# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What every etcd module takes to reach etcd (documented in doc_fragments/etcd.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdConfigError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import gateway_client_factory
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_pyclient import grpc_client_factory

BACKENDS = {"gateway": gateway_client_factory, "etcd3": grpc_client_factory}


def connection_argument_spec(with_backend=True):
    """The argument_spec entries of the etcd connection, to update a module's own spec with."""
    spec = dict(
        endpoints=dict(type="list", elements="str", required=True),
        ca_file=dict(type="path", required=True),
        cert_file=dict(type="path", required=True),
        key_file=dict(type="path", required=True),
        timeout=dict(type="float", default=1.0),
    )
    if with_backend:
        spec["backend"] = dict(type="str", choices=sorted(BACKENDS), default="gateway")
    return spec


def client_factory(params):
    """open_client(endpoint) for the module's parameters (backend, TLS files, timeout).
    EtcdConfigError for a timeout that is not positive or a TLS file that is missing."""
    if not math.isfinite(params["timeout"]) or params["timeout"] <= 0:
        raise EtcdConfigError("timeout must be a positive, finite number of seconds, got %s" % params["timeout"])
    factory = BACKENDS[params.get("backend") or "gateway"]
    return factory(params["ca_file"], params["cert_file"], params["key_file"], params["timeout"])

# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""How the kit's etcd modules reach etcd: one description for all of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - etcd client URLs to ask, for example V(https://10.0.0.11:2379). One that answers is enough to find
        the members; every member is then asked on its own advertised client URL.
      - Playbooks usually give the connection once, as module_defaults for C(group/sre.etcd_kernel.etcd).
    type: list
    elements: str
    required: true
  ca_file:
    description: CA certificate that signed etcd's server certificates (kubespray V(/etc/ssl/etcd/ssl/ca.pem)).
    type: path
    required: true
  cert_file:
    description: Client certificate etcd accepts (kubespray V(/etc/ssl/etcd/ssl/admin-<host>.pem)).
    type: path
    required: true
  key_file:
    description: Key of O(cert_file) (kubespray V(/etc/ssl/etcd/ssl/admin-<host>-key.pem)).
    type: path
    required: true
  timeout:
    description:
      - Seconds to wait for each request. Requests to different members run in parallel, so a stopped or
        frozen member costs about one timeout, not one per request.
    type: float
    default: 1.0
"""

    BACKEND = r"""
options:
  backend:
    description:
      - V(gateway) talks to etcd 3.4's JSON gateway over HTTPS with the Python standard library, so it
        runs on any managed node with nothing installed.
      - V(etcd3) uses gRPC through the python-etcd3 API (PyPI C(etcd-sdk-python), import C(pyetcd), or
        C(etcd3)); meant for the controller or an execution environment. Both give the same result.
    type: str
    choices: [gateway, etcd3]
    default: gateway
"""

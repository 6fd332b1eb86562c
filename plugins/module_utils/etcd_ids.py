# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""etcd's member ids and alarm names as the kit writes them.

Results carry member ids as 16-digit lower-case hex strings, as etcdctl prints
them; etcd's requests take numbers, and its JSON gateway sends decimal strings.
Python 3.8, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# etcd's AlarmType enum (3.4); the gRPC backend receives the numbers.
ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


def format_member_id(number):
    """An etcd member id (an int, or the decimal string the gateway sends) as etcdctl prints it."""
    return "%016x" % int(number)


def parse_member_id(hex_id):
    """A member id from our results (16 hex digits) as the number etcd's requests want."""
    text = str(hex_id).strip()
    if not re.match(r"^[0-9a-fA-F]{1,16}$", text):
        raise ValueError("member id must be up to 16 hex digits as etcdctl prints it, got %r" % (hex_id,))
    return int(text, 16)

"""The lab's own small etcd v3 JSON-gateway client (HTTPS with a client certificate).

The lab's monitor and writer are witnesses of what the kit does, so they do not
share the kit's client code: a bug there must not hide itself here.
"""
import base64
import http.client
import json
import ssl
from urllib.parse import urlsplit


class EtcdHTTPError(Exception):
    """A failed call; connection_failed when no answer came at all (refused, reset,
    timed out), as opposed to an answer with an error status."""

    def __init__(self, message, connection_failed=False):
        super().__init__(message)
        self.connection_failed = connection_failed


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class Client:
    def __init__(self, tls, timeout=1.0):
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=tls["ca"])
        self.context.load_cert_chain(tls["cert"], tls["key"])

    def call(self, url, path, body=None):
        """POST body (or GET when body is None) to url+path; the decoded JSON answer."""
        parts = urlsplit(url)
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                 context=self.context)
        try:
            if body is None:
                connection.request("GET", path)
            else:
                connection.request("POST", path, json.dumps(body),
                                   {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise EtcdHTTPError("%s%s: %s" % (url, path, error or type(error).__name__),
                                connection_failed=True) from error
        finally:
            connection.close()
        if response.status != 200:
            raise EtcdHTTPError("%s%s: HTTP %d %s" % (url, path, response.status, payload[:200]))
        return json.loads(payload)

    def status(self, url):
        return self.call(url, "/v3/maintenance/status", {})

    def members(self, url):
        return self.call(url, "/v3/cluster/member/list", {}).get("members", [])

    def alarms(self, url):
        return self.call(url, "/v3/maintenance/alarm", {"action": "GET"}).get("alarms", [])

    def set_alarm(self, url, member_id, alarm, active):
        action = "ACTIVATE" if active else "DEACTIVATE"
        return self.call(url, "/v3/maintenance/alarm",
                         {"action": action, "memberID": member_id, "alarm": alarm})

    def put(self, url, key, value):
        return self.call(url, "/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def get(self, url, key):
        """(value, lease id) of key, or None when it is absent."""
        kvs = self.call(url, "/v3/kv/range", {"key": b64(key)}).get("kvs") or []
        return (unb64(kvs[0].get("value", "")), kvs[0].get("lease", "0")) if kvs else None

    def revoke(self, url, lease_id):
        """End a lease now, exactly as if its TTL had run out: its keys go with it."""
        return self.call(url, "/v3/lease/revoke", {"ID": lease_id})

    def keys_with_prefix(self, url, prefix):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        answer = self.call(url, "/v3/kv/range",
                           {"key": b64(prefix), "range_end": b64(end), "keys_only": True})
        return [unb64(kv["key"]) for kv in answer.get("kvs", [])]

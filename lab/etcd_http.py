"""The lab's own small etcd v3 JSON-gateway client (HTTPS with a client certificate).

The lab's monitor and writer are witnesses of what the kit does, so they do not
share the kit's client code: a bug there must not hide itself here.
"""
import base64
import http.client
import json
import ssl
import threading
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


# How a kept connection fails on its next call when the member closed it (while it sat
# idle, or by going down).
CLOSED_KEPT = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ssl.SSLEOFError,
               ssl.SSLZeroReturnError)


class _KeptConnectionClosed(Exception):
    """A kept connection the member had closed."""


class Client:
    """keep_alive: each thread keeps its connection to each member open between calls, as
    the API server keeps its connections to etcd (the writer and the monitor call many
    times a second: a TLS handshake per call would cost etcd more than the calls do)."""

    def __init__(self, tls, timeout=1.0, keep_alive=False):
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.context = ssl.create_default_context(cafile=tls["ca"])
        self.context.load_cert_chain(tls["cert"], tls["key"])
        self._local = threading.local()

    def close(self):
        """Close this thread's kept connections."""
        for connection in self._kept().values():
            connection.close()
        self._kept().clear()

    def _kept(self):
        """This thread's open connections, by (host, port)."""
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        return self._local.connections

    def call(self, url, path, body=None):
        """POST body (or GET when body is None) to url+path; the decoded JSON answer."""
        parts = urlsplit(url)
        address = (parts.hostname, parts.port)
        kept = self._kept().pop(address, None)
        if kept is not None:
            # A kept connection that fails at once was closed, by a member that dropped it
            # while it sat idle or by one that went down: the call goes again on a new
            # connection, which tells the two apart. (Sending a call twice is harmless
            # here: the writer's put writes the same key and value again.) A call that
            # times out is not sent again: the member is up and answers nothing.
            try:
                return self._exchange(kept, address, url, path, body, reused=True)
            except _KeptConnectionClosed:
                pass
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                 context=self.context)
        return self._exchange(connection, address, url, path, body, reused=False)

    def _exchange(self, connection, address, url, path, body, reused):
        try:
            if body is None:
                connection.request("GET", path)
            else:
                connection.request("POST", path, json.dumps(body),
                                   {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            if reused and isinstance(error, CLOSED_KEPT):
                raise _KeptConnectionClosed() from error
            raise EtcdHTTPError("%s%s: %s" % (url, path, error or type(error).__name__),
                                connection_failed=True) from error
        if self.keep_alive and not response.will_close:
            self._kept()[address] = connection
        else:
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

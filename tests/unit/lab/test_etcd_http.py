"""The lab's witness client keeps its connections, and a connection the server dropped while
idle costs a new connection, never a failed call. Against a real HTTPS server on loopback
with the lab's certificates (client certificates required, as etcd's are)."""
import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lab import certs
from lab.etcd_http import Client, EtcdHTTPError


class StatusServer(ThreadingHTTPServer):
    """Answers every POST with etcd's status shape; counts the connections it accepted."""
    daemon_threads = True

    def __init__(self, context, answer_after_s=0.0):
        self.context = context
        self.answer_after_s = answer_after_s
        self.accepted = []
        super().__init__(("127.0.0.1", 0), StatusHandler)

    def get_request(self):
        connection, address = self.socket.accept()
        connection = self.context.wrap_socket(connection, server_side=True)
        self.accepted.append(connection)
        return connection, address

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a call that timed out) leaves its handler writing into a closed connection

    def drop_connections(self):
        """Close every connection now, as a server closes the ones that sat idle."""
        for connection in self.accepted:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.server_address[1]


class StatusHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as etcd's gateway answers

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.answer_after_s)
        body = json.dumps({"leader": "2"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca = str(folder / "ca")
    server_dir = certs.make_host_certs(ca, str(folder / "server"), "member1", "127.0.0.1")
    client = certs.make_client_cert(ca, str(folder / "client"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile="%s/ca.pem" % server_dir)
    context.load_cert_chain("%s/member-member1.pem" % server_dir, "%s/member-member1-key.pem" % server_dir)
    context.verify_mode = ssl.CERT_REQUIRED
    return {"server": context, "client": client}


@pytest.fixture
def serve(tls):
    servers = []

    def start(answer_after_s=0.0):
        server = StatusServer(tls["server"], answer_after_s)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def kept(tls, serve):
    """A server and a keep-alive client that has called it once: one connection kept."""
    server = serve()
    client = Client(tls["client"], keep_alive=True)
    client.status(server.url)
    return server, client


def wait_until_closed_by_server(client, server):
    """Until the server's close has reached the client's kept connection (it reads as
    readable then: the end of the stream)."""
    connection = client._kept()[("127.0.0.1", server.server_address[1])]
    assert select.select([connection.sock], [], [], 5.0)[0], "the server's close never reached the client"


def test_a_keep_alive_client_calls_many_times_on_one_connection(tls, serve):
    server = serve()
    client = Client(tls["client"], keep_alive=True)
    assert [client.status(server.url)["leader"] for _ in range(5)] == ["2"] * 5
    assert len(server.accepted) == 1


def test_a_client_without_keep_alive_connects_for_each_call(tls, serve):
    server = serve()
    client = Client(tls["client"])
    for _ in range(3):
        client.status(server.url)
    assert len(server.accepted) == 3


def test_a_connection_the_server_dropped_while_idle_costs_a_new_connection_not_a_failed_call(kept):
    server, client = kept
    server.drop_connections()
    wait_until_closed_by_server(client, server)
    assert client.status(server.url)["leader"] == "2"
    assert len(server.accepted) == 2


def test_a_kept_connection_to_a_member_that_went_down_fails_the_call(kept):
    server, client = kept
    server.shutdown()
    server.server_close()
    server.drop_connections()  # the member went down: its connections and its port are gone
    with pytest.raises(EtcdHTTPError) as failure:
        client.status(server.url)
    assert failure.value.connection_failed


def test_each_thread_keeps_connections_of_its_own(tls, serve):
    server = serve()
    client = Client(tls["client"], keep_alive=True)
    threads = [threading.Thread(target=lambda: [client.status(server.url) for _ in range(3)]) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.accepted) == 2


def test_a_kept_connection_that_stops_answering_fails_the_call_and_is_not_kept(tls, serve):
    server = serve()
    client = Client(tls["client"], timeout=0.3, keep_alive=True)
    client.status(server.url)
    server.answer_after_s = 1.0  # a frozen member: the connection stays open, nothing answers
    with pytest.raises(EtcdHTTPError) as failure:
        client.status(server.url)
    assert failure.value.connection_failed
    server.answer_after_s = 0.0
    assert client.status(server.url)["leader"] == "2"
    assert len(server.accepted) == 2

"""The outbound client against real servers on loopback: SSRF corpus, redirects, pinning, caps.

Nothing here may reach beyond 127.0.0.0/8 or ::1: an audit hook aborts any other connect before it happens.
"""

import ipaddress
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.errors import NodeError, NonRetryableError
from engine.outbound import BlockedDestination, OutboundResponse, check_destination, parse_allowlist, request
from tests.eventually import eventually

_connects: list[Any] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or _connects is None:
        return
    address = args[1]
    _connects.append(address)
    host = address[0] if isinstance(address, tuple) else ""
    parsed = ipaddress.ip_address(host.split("%")[0]) if host else None
    if parsed is None or not (parsed.is_loopback or parsed.is_unspecified):
        # Raised before the syscall, so the packet never leaves.
        raise RuntimeError(f"test guard: refused a connect to {address!r}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def connects() -> Iterator[list[Any]]:
    """Every socket.connect the code under test makes, in order."""
    global _connects
    _connects = []
    yield _connects
    _connects = None


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _has_ipv6_loopback()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Respond = Callable[[BaseHTTPRequestHandler], None]


def reply(status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Type": "text/plain", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "Recorder"

    def handle_one(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        self.close_connection = True
        self.server.routes.get(self.path.split("?")[0], self.server.respond)(self)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_one

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read what the server recorded, not its log."""


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, respond: Respond, tls: ssl.SSLContext | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.requests: list[Seen] = []
        self.connections: list[Any] = []
        self.routes: dict[str, Respond] = {}
        self.respond = respond
        super().__init__((host, port), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hanging up mid-stream (size cap, TLS refusal) is the point of those tests

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections.append(client_address)
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@dataclass
class Servers:
    started: list[Recorder] = field(default_factory=list)

    def start(
        self, respond: Respond | None = None, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> Recorder:
        server = Recorder(host, port, respond or reply(), tls)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.started.append(server)
        return server


@pytest.fixture
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    for server in running.started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def canary(servers: Servers) -> Recorder:
    return servers.start()


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Fake DNS for *.test names (a list of answers, one per lookup, the last repeating); real lookups otherwise."""
    real = socket.getaddrinfo
    answers: dict[str, Any] = {"lookups": []}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            answers["lookups"].append(host)
            queue = answers[host]
            ips = queue.pop(0) if len(queue) > 1 else queue[0]
            return [info for ip in ips for info in real(ip, port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- (1) the SSRF corpus: every form of "this machine" is refused and the canary hears nothing ---

LOOPBACK_FORMS = [
    ("127.0.0.1", "loopback"),
    ("localhost", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f000001", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("0.0.0.0", "unspecified"),  # noqa: S104
]


@pytest.mark.parametrize(("host", "reason"), LOOPBACK_FORMS)
def test_it_refuses_every_form_of_loopback_without_contacting_the_canary(canary, connects, host, reason):
    with pytest.raises(BlockedDestination) as refused:
        request("GET", f"http://user:hunter2@{host}:{canary.port}/probe?token=s3cret")

    assert reason in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert "s3cret" not in str(refused.value)
    assert refused.value.code == "blocked_destination"
    assert not refused.value.retryable
    assert canary.connections == []
    assert connects == []


@pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
def test_it_refuses_ipv6_loopback_without_contacting_the_canary(servers, connects):
    canary = servers.start(host="::1")

    with pytest.raises(BlockedDestination, match="loopback"):
        request("GET", f"http://[::1]:{canary.port}/")

    assert canary.connections == []
    assert connects == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://127.0.0.1/", "dict://127.0.0.1:11211/", "data:text/plain,hi"],
)
def test_it_refuses_schemes_other_than_http(connects, url):
    with pytest.raises(BlockedDestination, match="scheme is not allowed"):
        request("GET", url)

    assert connects == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
    ],
)
def test_it_refuses_internal_addresses_before_opening_any_socket(connects, url, reason):
    with pytest.raises(BlockedDestination, match=reason):
        request("POST", url, body=b"x")

    assert connects == []


# --- the address rules, checked by resolution alone (no connection is ever attempted) ---


@pytest.mark.parametrize(
    "address",
    [
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "::",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "fd00:ec2::254",
        "100.100.100.200",
        "172.16.0.1",
        "169.254.0.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "0.1.2.3",
        "192.0.2.1",
    ],
)
def test_it_refuses_non_global_addresses(address):
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(BlockedDestination):
        check_destination(f"http://{literal}/")


def test_it_admits_public_addresses(resolver):
    resolver["public.test"] = [["93.184.216.34", "2606:4700::1111"]]

    assert check_destination("http://93.184.216.34/") == [ipaddress.ip_address("93.184.216.34")]
    assert check_destination("https://[2606:4700::1111]/x") == [ipaddress.ip_address("2606:4700::1111")]
    assert len(check_destination("https://public.test/")) == 2


def test_it_refuses_a_host_when_any_answer_is_internal(resolver):
    resolver["mixed.test"] = [["93.184.216.34", "127.0.0.1"]]

    with pytest.raises(BlockedDestination, match=r"mixed\.test \(127\.0\.0\.1\) is a loopback address"):
        check_destination("http://mixed.test/")


def test_it_admits_metadata_only_through_an_exact_entry(resolver):
    resolver["metadata.test"] = [["169.254.169.254"]]

    for url, broad in [
        ("http://169.254.169.254/", "169.254.0.0/16"),
        ("http://100.100.100.200/", "100.64.0.0/10"),
        ("http://[fd00:ec2::254]/", "fd00::/8"),
        ("http://metadata.test/", "metadata.test"),
    ]:
        with pytest.raises(BlockedDestination, match="cloud metadata address; add it to an exact allowlist entry"):
            check_destination(url, [broad])

    assert check_destination("http://169.254.169.254/", ["169.254.169.254"]) == [
        ipaddress.ip_address("169.254.169.254")
    ]
    assert check_destination("http://[fd00:ec2::254]/", ["[fd00:ec2::254]:80"]) == [
        ipaddress.ip_address("fd00:ec2::254")
    ]


def test_it_lets_the_allowlist_admit_internal_hosts(resolver):
    resolver["intranet.test"] = [["10.1.2.3"]]

    assert check_destination("http://10.0.0.1/", ["10.0.0.0/8"]) == [ipaddress.ip_address("10.0.0.1")]
    assert check_destination("http://10.0.0.5:8080/", ["10.0.0.5"]) == [ipaddress.ip_address("10.0.0.5")]
    assert check_destination("http://intranet.test:9000/", ["intranet.test"]) == [ipaddress.ip_address("10.1.2.3")]
    assert check_destination("http://intranet.test/", ["10.1.2.0/24"]) == [ipaddress.ip_address("10.1.2.3")]
    with pytest.raises(BlockedDestination, match="private"):
        check_destination("http://intranet.test/", ["other.test", "10.9.0.0/16"])


def test_it_admits_only_the_default_ports_unless_allowlisted(resolver):
    resolver["public.test"] = [["93.184.216.34"]]

    assert check_destination("http://93.184.216.34:443/")
    with pytest.raises(BlockedDestination, match=r"port 8080 on 93\.184\.216\.34 is not allowed"):
        check_destination("http://93.184.216.34:8080/")
    with pytest.raises(BlockedDestination, match="port 8080"):
        check_destination("http://public.test:8080/", ["public.test:8443"])

    assert check_destination("http://93.184.216.34:8080/", ["93.184.216.34:8080"])
    assert check_destination("http://public.test:8080/", ["public.test"])
    assert check_destination("https://public.test:8443/", ["public.test:8443"])


# --- (2) redirects: every hop is checked before connecting ---


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{canary}/stolen",
        "http://localhost:{canary}/stolen",
        "http://2130706433:{canary}/",
        "//127.0.0.1:{canary}/scheme-relative",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_it_refuses_a_redirect_to_an_internal_host(servers, canary, connects, location):
    allowed = servers.start(reply(302, b"", {"Location": location.format(canary=canary.port)}))

    with pytest.raises(BlockedDestination):
        request("GET", f"http://127.0.0.1:{allowed.port}/start", allowlist=[f"127.0.0.1:{allowed.port}"])

    assert len(allowed.requests) == 1
    assert canary.connections == []
    assert {address[1] for address in connects} == {allowed.port}


# --- (3) the allowlisted happy path ---


def test_it_sends_a_get_and_returns_the_response(servers, connects):
    server = servers.start(reply(200, '{"ok": "é"}'.encode(), {"Content-Type": "application/json; charset=utf-8"}))

    response = request(
        "get",
        f"http://127.0.0.1:{server.port}/items?page=2",
        headers={"X-Trace": "abc", "Host": "internal.example"},
        allowlist=[f"127.0.0.1:{server.port}"],
    )

    assert response == OutboundResponse(200, response.headers, b'{"ok": "\xc3\xa9"}', response.url)
    assert response.url == f"http://127.0.0.1:{server.port}/items?page=2"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"ok": "é"}
    assert response.text() == '{"ok": "é"}'
    [seen] = server.requests
    assert (seen.method, seen.path, seen.body) == ("GET", "/items?page=2", b"")
    assert seen.headers["x-trace"] == "abc"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert connects == [("127.0.0.1", server.port)]


def test_it_sends_a_post_with_body_and_headers(servers):
    server = servers.start(reply(201, b"created"))

    response = request(
        "POST",
        f"http://127.0.0.1:{server.port}/hook",
        headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
        body='{"a": 1}',
        allowlist=[f"127.0.0.1:{server.port}"],
    )

    assert (response.status, response.text()) == (201, "created")
    [seen] = server.requests
    assert (seen.method, seen.body) == ("POST", b'{"a": 1}')
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["authorization"] == "Bearer t"


def test_it_returns_error_statuses_instead_of_raising(servers):
    server = servers.start(reply(503, b"busy"))

    response = request("GET", f"http://127.0.0.1:{server.port}/", allowlist=["127.0.0.1"])

    assert (response.status, response.body) == (503, b"busy")


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (303, "POST", ("GET", b"")),
        (302, "POST", ("GET", b"")),
        (301, "POST", ("GET", b"")),
        (307, "POST", ("POST", b"payload")),
        (308, "PUT", ("PUT", b"payload")),
        (302, "PUT", ("PUT", b"payload")),
    ],
)
def test_it_follows_redirects_like_a_browser(servers, status, method, expected):
    server = servers.start()
    server.routes["/start"] = reply(status, b"", {"Location": "/next"})

    response = request(
        method,
        f"http://127.0.0.1:{server.port}/start",
        headers={"Content-Type": "text/plain", "Authorization": "Bearer t"},
        body=b"payload",
        allowlist=[f"127.0.0.1:{server.port}"],
    )

    assert response.url == f"http://127.0.0.1:{server.port}/next"
    first, second = server.requests
    assert (first.method, first.body) == (method, b"payload")
    assert (second.method, second.path, second.body) == (*expected[:1], "/next", expected[1])
    assert second.headers["authorization"] == "Bearer t"
    assert ("content-type" in second.headers) == (expected[0] != "GET")


def test_it_drops_credentials_when_a_redirect_changes_host(servers, resolver):
    resolver["other.test"] = [["127.0.0.1"]]
    target = servers.start()
    origin = servers.start(reply(307, b"", {"Location": f"http://other.test:{target.port}/landed"}))

    request(
        "POST",
        f"http://127.0.0.1:{origin.port}/",
        headers={"Authorization": "Bearer t", "Cookie": "s=1", "X-Keep": "yes"},
        body=b"x",
        allowlist=[f"127.0.0.1:{origin.port}", f"other.test:{target.port}"],
    )

    [seen] = target.requests
    assert "authorization" not in seen.headers
    assert "cookie" not in seen.headers
    assert seen.headers["x-keep"] == "yes"
    assert seen.headers["host"] == f"other.test:{target.port}"
    assert seen.body == b"x"


def test_it_stops_after_max_redirects(servers):
    server = servers.start(reply(302, b"", {"Location": "/again"}))

    with pytest.raises(NonRetryableError) as refused:
        request("GET", f"http://127.0.0.1:{server.port}/", allowlist=["127.0.0.1"], max_redirects=2)

    assert refused.value.code == "too_many_redirects"
    assert len(server.requests) == 3


# --- pinning: the connection goes to the address that was checked ---


def test_it_connects_to_the_checked_address_even_if_dns_changes_its_answer(servers, resolver, connects):
    server = servers.start()
    for _ in range(20):
        try:
            rebound = servers.start(host="127.0.0.2", port=server.port)
            break
        except OSError:
            server = servers.start()
    resolver["pinned.test"] = [["127.0.0.1"], ["127.0.0.2"]]

    response = request("GET", f"http://pinned.test:{server.port}/", allowlist=[f"pinned.test:{server.port}"])

    assert response.status == 200
    assert resolver["lookups"] == ["pinned.test"]
    assert server.requests[0].headers["host"] == f"pinned.test:{server.port}"
    assert rebound.connections == []
    assert connects == [("127.0.0.1", server.port)]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=pinned.test",
                "-addext",
                "subjectAltName=DNS:pinned.test",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"openssl could not make a test certificate: {error}")
    return cert, key


def test_it_pins_https_while_sending_the_hostname_for_sni_and_verification(servers, resolver, certificate, settings):
    cert, key = certificate
    names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda _socket, name, _context: names.append(name)
    server = servers.start(tls=tls)
    settings.OUTBOUND_CA_BUNDLE = str(cert)
    resolver["pinned.test"] = [["127.0.0.1"]]
    resolver["other.test"] = [["127.0.0.1"]]

    response = request("GET", f"https://pinned.test:{server.port}/secure", allowlist=["pinned.test", "other.test"])

    assert response.status == 200
    assert names == ["pinned.test"]
    assert server.requests[0].headers["host"] == f"pinned.test:{server.port}"
    # The certificate is checked against the name asked for, not the pinned IP.
    with pytest.raises(NodeError, match=r"could not connect to other\.test") as failed:
        request("GET", f"https://other.test:{server.port}/secure", allowlist=["pinned.test", "other.test"])
    assert failed.value.code == "connection_error"
    assert len(server.requests) == 1


# --- (4) size cap and (5) time cap ---

# How long a fake server holds a response open for a client that does not give up on its own: a bound
# for a broken client, so the test fails instead of hanging; a working client never waits for it.
HOLD_S = 10


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Set by the test once the request has returned; a held response ends then (or at HOLD_S)."""
    event = threading.Event()
    yield event
    event.set()  # after a failed test too, so no handler thread is left writing


def stream_until(released: threading.Event) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        give_up = time.monotonic() + HOLD_S
        while not released.is_set() and time.monotonic() < give_up:
            handler.wfile.write(b"x" * 10_000)  # raises once the client has hung up
            handler.wfile.flush()

    return respond


def declare_huge_until(released: threading.Event) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "50000000")
        handler.end_headers()
        handler.wfile.flush()
        released.wait(HOLD_S)

    return respond


@pytest.mark.parametrize("respond", [stream_until, declare_huge_until])
def test_it_stops_reading_past_max_bytes(servers, released, respond):
    server = servers.start(respond(released))

    # The body never ends before the request returns, so returning at all proves the client stopped
    # early; one that read on would meet its own time limit instead and raise a timeout.
    with pytest.raises(NonRetryableError) as refused:
        request(
            "GET", f"http://127.0.0.1:{server.port}/", allowlist=["127.0.0.1"], max_bytes=50_000, timeout_s=HOLD_S / 2
        )
    released.set()

    assert refused.value.code == "response_too_large"
    assert "more than 50000 bytes" in str(refused.value)


def test_it_accepts_a_body_of_exactly_max_bytes(servers):
    server = servers.start(reply(200, b"y" * 1000))

    assert len(request("GET", f"http://127.0.0.1:{server.port}/", allowlist=["127.0.0.1"], max_bytes=1000).body) == 1000


def slow(seconds: float, then: Respond) -> Respond:
    """The outside world's latency: answer `then` after `seconds`."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        then(handler)

    return respond


def held(released: threading.Event, then: Respond) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        released.wait(HOLD_S)
        then(handler)

    return respond


def test_it_times_out_a_slow_server(servers, released):
    server = servers.start(held(released, reply()))
    started = time.monotonic()

    # The answer comes only after the request has returned, so it can only have returned by its own limit.
    with pytest.raises(NodeError) as failed:
        request("GET", f"http://127.0.0.1:{server.port}/", allowlist=["127.0.0.1"], timeout_s=0.5)
    released.set()

    assert (failed.value.code, failed.value.retryable) == ("timeout", True)
    assert time.monotonic() - started >= 0.4  # a loaded machine only makes this longer


def test_it_counts_the_time_limit_across_redirect_hops(servers):
    # Each hop answers within the 0.5 s limit on its own, both together do not: a limit counted per hop
    # would follow the redirect and succeed. The first hop is the shorter so it has room to spare on a
    # loaded machine, where the second hop must still be reached.
    server = servers.start(slow(0.4, reply()))
    server.routes["/start"] = slow(0.2, reply(302, b"", {"Location": "/next"}))

    with pytest.raises(NodeError) as failed:
        request("GET", f"http://127.0.0.1:{server.port}/start", allowlist=["127.0.0.1"], timeout_s=0.5)

    assert failed.value.code == "timeout"
    eventually(lambda: [seen.path for seen in server.requests] == ["/start", "/next"], message="/next was not asked")


def test_it_reports_a_refused_connection_as_retryable():
    port = free_port()

    with pytest.raises(NodeError) as failed:
        request("GET", f"http://127.0.0.1:{port}/", allowlist=[f"127.0.0.1:{port}"])

    assert (failed.value.code, failed.value.retryable) == ("connection_error", True)


# --- (6) allowlist parsing and (7) the port rule ---


def test_it_parses_the_documented_allowlist_forms():
    entries = parse_allowlist(
        [
            "api.example.com",
            "10.0.0.5",
            "10.0.0.0/8",
            "127.0.0.1:8081",
            "[::1]:9000",
            "example.com:8443",
            " ::1 ",
            "[fd00::/8]",
            "Bücher.Example.",
        ]
    )

    assert [(e.host, str(e.network) if e.network else None, e.port) for e in entries] == [
        ("api.example.com", None, None),
        (None, "10.0.0.5/32", None),
        (None, "10.0.0.0/8", None),
        (None, "127.0.0.1/32", 8081),
        (None, "::1/128", 9000),
        ("example.com", None, 8443),
        (None, "::1/128", None),
        (None, "fd00::/8", None),
        ("xn--bcher-kva.example", None, None),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "  ",
        ":80",
        "example.com:",
        "example.com:0",
        "example.com:99999",
        "example.com:http",
        "10.0.0.1/8",
        "10.0.0.0/33",
        "exa mple.com",
        "-bad.com",
        "http://example.com",
        "127.1",
        "0x7f000001",
        "[::1",
        "[]:80",
        "a:b:c:d",
        "*.example.com",
    ],
)
def test_it_rejects_malformed_allowlist_entries(entry):
    with pytest.raises(ValueError, match=r"allowlist entry .* is invalid"):
        parse_allowlist([entry])


def test_it_refuses_a_malformed_allowlist_at_request_time():
    with pytest.raises(NonRetryableError) as refused:
        request("GET", "http://93.184.216.34/", allowlist=["not a host"])

    assert refused.value.code == "invalid_allowlist"


def test_it_admits_only_the_allowlisted_port(servers):
    allowed, other = servers.start(), servers.start()

    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is a loopback address"):
        request("GET", f"http://127.0.0.1:{other.port}/", allowlist=[f"127.0.0.1:{allowed.port}"])
    assert request("GET", f"http://127.0.0.1:{allowed.port}/", allowlist=[f"127.0.0.1:{allowed.port}"]).status == 200
    assert request("GET", f"http://127.0.0.1:{other.port}/", allowlist=["127.0.0.0/8"]).status == 200

    assert len(allowed.requests) == 1
    assert len(other.requests) == 1


def test_it_decodes_text_with_the_declared_charset():
    latin = OutboundResponse(200, {"content-type": "text/plain; charset=ISO-8859-1"}, "café".encode("latin-1"), "u")
    unknown = OutboundResponse(200, {"content-type": "text/plain; charset=nope"}, b"caf\xc3\xa9 \xff", "u")

    assert latin.text() == "café"
    assert unknown.text() == "café \ufffd"

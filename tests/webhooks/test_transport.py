"""The SSRF guard and the HTTP client, against a real receiver on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from webhooks import transport


@pytest.fixture
def public_only(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hook", "url_scheme"),
        ("example.com/hook", "url_scheme"),
        ("https:///hook", "url_invalid"),
        ("https://user:pass@example.com/hook", "url_credentials"),
        ("https://example.com:99999/hook", "url_invalid"),
        ("https://no-such-host.invalid/hook", "host_unresolvable"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url, code):
    with pytest.raises(transport.UrlRefused) as refused:
        transport.url_resolve(url, allow_private=True)

    assert refused.value.code == code


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
        "[fd00::1]",
        "[::ffff:127.0.0.1]",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(host):
    with pytest.raises(transport.UrlRefused) as refused:
        transport.url_resolve(f"https://{host}/hook", allow_private=False)

    assert refused.value.code == "address_not_public"


def test_a_public_address_is_allowed():
    target = transport.url_resolve("https://93.184.215.14:8443/a?b=1", allow_private=False)

    assert (target.address, target.port, target.path) == ("93.184.215.14", 8443, "/a?b=1")


def test_a_name_with_any_private_address_is_refused(monkeypatch):
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)

    with pytest.raises(transport.UrlRefused) as refused:
        transport.url_resolve("https://mixed.example/hook", allow_private=False)

    assert refused.value.code == "address_not_public"


def test_the_guard_refuses_before_any_connection(receiver, public_only):
    with pytest.raises(transport.UrlRefused):
        transport.post(receiver.url(), body=b"{}", headers={})

    assert receiver.received == []


def test_the_connection_goes_to_the_address_checked_once(receiver, monkeypatch):
    # A name that resolves once to the receiver; a second look-up (rebinding) would fail.
    real = socket.getaddrinfo
    lookups = []

    def resolve_once(host, *args, **kwargs):
        if host == "hooks.example.test":
            lookups.append(host)
            if len(lookups) > 1:
                raise socket.gaierror("looked up twice")
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve_once)

    answer = transport.post(
        f"http://hooks.example.test:{receiver.port}/hook", body=b"{}", headers={}
    )

    assert answer.status == 204
    assert lookups == ["hooks.example.test"]
    assert receiver.at("/hook")[0].headers["host"] == f"hooks.example.test:{receiver.port}"


def test_redirects_are_not_followed(receiver):
    receiver.behave("/hook", "redirect")

    answer = transport.post(receiver.url(), body=b"{}", headers={})

    assert answer.status == 302
    assert [r.path for r in receiver.received] == ["/hook"]


def test_the_answer_is_read_up_to_the_cap(receiver, settings):
    settings.WEBHOOKS_MAX_RESPONSE_BYTES = 10_000
    receiver.behave("/hook", "big")

    answer = transport.post(receiver.url(), body=b"{}", headers={})

    assert (answer.status, len(answer.body), answer.truncated) == (200, 10_000, True)


def test_a_hanging_receiver_is_cut_off_by_the_read_timeout(receiver, quick_timeouts):
    receiver.behave("/hook", "hang")

    answer = transport.post(receiver.url(), body=b"{}", headers={})

    assert (answer.status, answer.error) == (None, "read timeout")
    assert answer.latency_ms < 1500


def test_a_dripping_answer_is_cut_off_by_the_total_deadline(receiver, quick_timeouts):
    receiver.behave("/hook", "drip")

    answer = transport.post(receiver.url(), body=b"{}", headers={})

    assert answer.status == 200
    assert answer.truncated
    assert answer.error == "the answer took too long to read; cut off"
    assert answer.latency_ms < 3000


def test_a_closed_connection_is_an_error_not_an_answer(receiver):
    receiver.behave("/hook", "close")

    answer = transport.post(receiver.url(), body=b"{}", headers={})

    assert answer.status is None
    assert answer.error.startswith("connection closed")


def test_a_refused_connection_is_an_error(receiver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed

    answer = transport.post(f"http://127.0.0.1:{port}/hook", body=b"{}", headers={})

    assert answer.status is None
    assert "refused" in answer.error.lower()

"""Standard Webhooks signatures: the specification's own example, and our receiver's verifier."""

from __future__ import annotations

import base64
import time

from tests.webhooks.receiver import verify
from webhooks import signing


def test_the_specifications_example_signature():
    # The example of the Standard Webhooks specification (and its reference libraries' tests).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    result = signing.signature(
        secret=secret,
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )

    assert result == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = signing.secret_generate(), signing.secret_generate()

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_every_secret_signs_and_each_signature_verifies_alone():
    old, new = signing.secret_generate(), signing.secret_generate()
    body = b'{"type":"points.earned"}'
    now = int(time.time())

    headers = signing.headers(secrets=[new, old], msg_id="e-1", timestamp=now, body=body)

    assert headers["webhook-id"] == "e-1"
    assert headers["webhook-timestamp"] == str(now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(secret=new, headers=headers, body=body)
    assert verify(secret=old, headers=headers, body=body)
    assert not verify(secret=signing.secret_generate(), headers=headers, body=body)
    assert not verify(secret=new, headers=headers, body=body + b" ")

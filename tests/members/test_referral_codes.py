"""Referral codes: drawn one at a time (enrolment) or by the thousand (the historical import)."""

from __future__ import annotations

from members.services import (
    REFERRAL_ALPHABET,
    REFERRAL_CODE_LENGTH,
    referral_code_generate,
    referral_codes_generate,
)


def test_codes_in_bulk_have_the_same_form_as_one_at_a_time():
    codes = referral_codes_generate(2_000)
    one = referral_code_generate()

    assert len(codes) == 2_000
    assert {len(code) for code in [*codes, one]} == {REFERRAL_CODE_LENGTH}
    assert set("".join(codes)) | set(one) <= set(REFERRAL_ALPHABET)
    # 31^8 codes: 2,000 draws repeat one with a probability of about 2e-6.
    assert len(set(codes)) == 2_000
    # Every letter of the alphabet is used (each is missing with probability ~ (30/31)^16000).
    assert set("".join(codes)) == set(REFERRAL_ALPHABET)


def test_no_codes_for_nobody():
    assert referral_codes_generate(0) == []

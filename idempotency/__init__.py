"""The storefront API's idempotency records: the stored answer to a `POST` sent with an
`Idempotency-Key`, kept at least 24 hours (`docs/api.md`).

The bottom layer: cross-cutting API bookkeeping that imports none of our apps, so that
`config.api.idempotency` (the DRF plumbing every idempotent view goes through) and `members`'
erasure (which scrubs stored answers naming a member) both depend on it downward.
"""

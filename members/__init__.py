"""Members: who takes part in the program — identity, enrolment, status, contact, consent, erasure.

The lowest app: it imports none of `loyalty`, `rewards` or `campaigns`. It also owns the two
cross-cutting pieces every app above needs and that depend on nothing else: the `Actor` who does a
thing (staff user, API key, system job) and the audit log of who changed what.
"""

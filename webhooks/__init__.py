"""Webhooks: endpoints, Standard Webhooks signing, deliveries of the outbox's events, the SSRF
guard and the delivery log. The top of the layering: it reads every app's events, nothing imports
it."""

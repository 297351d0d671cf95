"""Adapters: each port (store, queue, mailer, secrets, clock) with its AWS implementation and
a local one. The local ones are product features: the runner uses them, not only the tests."""

"""The local runner: the real handlers on embedded moto, a virtual clock and an outbox."""

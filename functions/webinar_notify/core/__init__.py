"""The pure core: series, registrations, calendar entries and messages. No I/O here."""

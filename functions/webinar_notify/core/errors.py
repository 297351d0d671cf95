"""The exception hierarchy, drawn once.

    WebinarNotifyError
    ├── InvalidInputError        bad input from outside: answered with a 4xx, nothing changes
    │   ├── SeriesFileError      a series file or document with a bad field
    │   ├── PayloadError         a webhook body that is not what the provider promised (400)
    │   ├── SignatureError       missing, malformed, stale or wrong signature (401)
    │   ├── PayloadTooLargeError over the body size limit (413)
    │   └── NotFoundError        unknown series, provider or session (404)
    ├── RetryableError           a transient condition: the message goes back to the queue
    └── StaleJobError            a queued email about something gone (a cancelled session):
                                 dropped, not retried
"""


class WebinarNotifyError(Exception):
    """Base of every error this package raises on purpose."""

    language = ""  # the reader's language, when known where it was raised (a page's error)


class InvalidInputError(WebinarNotifyError):
    """Input from outside is wrong; the caller gets a 4xx and nothing is stored."""

    status = 400


class SeriesFileError(InvalidInputError):
    """A series document has a bad field; the message names it."""


class PayloadError(InvalidInputError):
    status = 400


class SignatureError(InvalidInputError):
    status = 401


class PayloadTooLargeError(InvalidInputError):
    status = 413


class NotFoundError(InvalidInputError):
    status = 404


class NotConfiguredError(InvalidInputError):
    """This deployment lacks what the request needs (a user pool, a job queue): a 503."""

    status = 503


class RetryableError(WebinarNotifyError):
    """Try again later: another worker holds the delivery, or a dependency throttled us."""


class StaleJobError(WebinarNotifyError):
    """The email is about something that no longer exists; sending it would mislead."""

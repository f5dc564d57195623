"""Authentication."""
import crypto_utils


def login(user):
    return crypto_utils.digest(user)

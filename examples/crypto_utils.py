import ctypes
import hashlib

_libc = ctypes.CDLL(None)


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1000).hex()

import ctypes


def digest(data):
    return data

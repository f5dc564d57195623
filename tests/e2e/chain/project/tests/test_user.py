import os

from auth import login
from models import User


def test_login():
    assert login(User())

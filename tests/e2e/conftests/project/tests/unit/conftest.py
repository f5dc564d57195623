import socket
import pytest

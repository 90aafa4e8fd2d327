"""Unit tests reach no network: tests/conftest.py has pytest-socket refuse every socket to them."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_a_unit_test_that_opens_a_socket_fails():
    # Given a unit test, When it opens a socket, even to loopback, Then pytest-socket refuses it
    with pytest.raises(SocketBlockedError), pytest.warns(UserWarning, match="socket.socket"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_unit_test_that_resolves_a_name_fails():
    # Given a unit test, When it resolves a name, Then the lookup is refused before any packet is sent
    with pytest.raises(SocketBlockedError), pytest.warns(UserWarning, match="socket.getaddrinfo"):
        socket.getaddrinfo("example.com", 443)

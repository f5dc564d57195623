# -*- coding: latin-1 -*-
NAME = "café crème"
import socket

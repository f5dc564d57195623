from lib.net import client

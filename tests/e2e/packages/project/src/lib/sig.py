import lib.deep.a
from concurrent import futures

from util import run

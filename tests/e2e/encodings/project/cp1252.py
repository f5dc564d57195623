# vim: set fileencoding=cp1252 :
# “quoted”

from ctypes import CDLL

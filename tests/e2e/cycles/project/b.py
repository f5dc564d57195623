import a
import c
